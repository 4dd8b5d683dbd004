//! `?limit=&cursor=` on every list, and the `{items, next_cursor}` envelope.

use axum::extract::FromRequestParts;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use picshare_store::{PageRequest, RankedKey, RankedRequest};
use serde::Deserialize;
use uuid::Uuid;

use aes::Aes128;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};

use crate::AppState;
use crate::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{22}$")]
    pub cursor: Option<String>,
}

/// A validated page request; bad `limit` or `cursor` → 400.
#[derive(Debug, Clone, Copy)]
pub struct Paging(pub PageRequest);

impl FromRequestParts<AppState> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Query(params) = Query::<PageParams>::from_request_parts(parts, state).await?;
        let limit = checked_limit(params.limit)?;
        let after = match params.cursor.as_deref() {
            None => None,
            Some(cursor) => Some(state.cursors.decode(cursor).ok_or_else(bad_cursor)?),
        };
        Ok(Paging(PageRequest { after, limit }))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankedPageParams {
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{43}$")]
    pub cursor: Option<String>,
}

/// A validated page request of a ranked list (search); bad `limit` or `cursor` → 400.
#[derive(Debug, Clone, Copy)]
pub struct RankedPaging(pub RankedRequest);

impl FromRequestParts<AppState> for RankedPaging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Query(params) = Query::<RankedPageParams>::from_request_parts(parts, state).await?;
        let limit = checked_limit(params.limit)?;
        let after = match params.cursor.as_deref() {
            None => None,
            Some(cursor) => Some(state.cursors.decode_ranked(cursor).ok_or_else(bad_cursor)?),
        };
        Ok(RankedPaging(RankedRequest { after, limit }))
    }
}

fn checked_limit(limit: Option<i64>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(limit) if (1..=i64::from(MAX_LIMIT)).contains(&limit) => Ok(limit as u32),
        Some(_) => Err(ApiError::validation(
            StatusCode::BAD_REQUEST,
            "limit",
            "must be between 1 and 100",
        )),
    }
}

fn bad_cursor() -> ApiError {
    ApiError::validation(StatusCode::BAD_REQUEST, "cursor", "is not a valid cursor")
}

/// Cursors are row keys (UUIDv7, whose first 48 bits are a millisecond timestamp) encrypted
/// with AES under a key derived from the signing key: opaque to clients, so a cursor tells
/// nobody when someone followed or liked, and the same on every instance.
pub struct Cursors {
    cipher: Aes128,
}

impl Cursors {
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            cipher: Aes128::new(&GenericArray::clone_from_slice(&key[..16])),
        }
    }

    pub fn encode(&self, key: Uuid) -> String {
        let mut block = GenericArray::clone_from_slice(key.as_bytes());
        self.cipher.encrypt_block(&mut block);
        URL_SAFE_NO_PAD.encode(block)
    }

    fn decode(&self, cursor: &str) -> Option<Uuid> {
        let bytes = decode_cursor_bytes(cursor)?;
        let mut block = GenericArray::clone_from_slice(&bytes);
        self.cipher.decrypt_block(&mut block);
        Uuid::from_slice(&block).ok()
    }

    /// A ranked list's position (rank, score, row key) in two blocks, the second chained to
    /// the first (CBC with a zero IV), so no part of it reads alone.
    pub fn encode_ranked(&self, key: RankedKey) -> String {
        let mut first = [0u8; 16];
        first[0] = key.rank;
        first[8..].copy_from_slice(&key.score.to_bits().to_be_bytes());
        let mut first = GenericArray::from(first);
        self.cipher.encrypt_block(&mut first);
        let mut second = GenericArray::from(*key.id.as_bytes());
        for (byte, chained) in second.iter_mut().zip(first.iter()) {
            *byte ^= chained;
        }
        self.cipher.encrypt_block(&mut second);
        let mut both = [0u8; 32];
        both[..16].copy_from_slice(&first);
        both[16..].copy_from_slice(&second);
        URL_SAFE_NO_PAD.encode(both)
    }

    /// The position a cursor names. As with row cursors, any 43 characters of the alphabet name
    /// one (a cursor not made here names an arbitrary place in the list: a rank past the last
    /// is the end, a score that is not a number counts as 0).
    fn decode_ranked(&self, cursor: &str) -> Option<RankedKey> {
        if cursor.len() != 43 {
            return None;
        }
        let bytes: [u8; 32] = CURSOR_DECODER.decode(cursor).ok()?.try_into().ok()?;
        let chained = GenericArray::clone_from_slice(&bytes[..16]);
        let mut first = chained;
        self.cipher.decrypt_block(&mut first);
        let mut second = GenericArray::clone_from_slice(&bytes[16..]);
        self.cipher.decrypt_block(&mut second);
        for (byte, chained) in second.iter_mut().zip(chained.iter()) {
            *byte ^= chained;
        }
        let score = f64::from_bits(u64::from_be_bytes(first[8..].try_into().ok()?));
        Some(RankedKey {
            rank: first[0],
            score: if score.is_nan() { 0.0 } else { score },
            id: Uuid::from_slice(&second).ok()?,
        })
    }
}

/// Any 22 URL-safe base64 characters name a position (the two spare bits are ignored), so every
/// cursor the documented pattern admits is accepted.
const CURSOR_DECODER: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

fn decode_cursor_bytes(cursor: &str) -> Option<[u8; 16]> {
    if cursor.len() != 22 {
        return None;
    }
    CURSOR_DECODER.decode(cursor).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursors = Cursors::new([3; 32]);
        let key = Uuid::now_v7();
        assert_eq!(cursors.decode(&cursors.encode(key)), Some(key));
        assert!(cursors.decode("not a cursor").is_none());
        assert!(cursors.decode("AAAA").is_none());
        assert!(
            cursors.decode("ZZZZZZZZZZZZZZZZZZZZZZ").is_some(),
            "any 22 characters of the alphabet"
        );
    }

    #[test]
    fn ranked_cursors_round_trip_and_any_of_the_pattern_names_a_position() {
        let cursors = Cursors::new([3; 32]);
        let key = RankedKey {
            rank: 2,
            score: -12.5,
            id: Uuid::now_v7(),
        };
        let cursor = cursors.encode_ranked(key);
        assert_eq!(cursor.len(), 43);
        assert_eq!(cursors.decode_ranked(&cursor), Some(key));
        assert!(cursors.decode_ranked(&"Z".repeat(43)).is_some());
        assert!(cursors.decode_ranked(&"A".repeat(22)).is_none());
        assert!(
            cursors
                .decode_ranked(&format!("{}!", "A".repeat(42)))
                .is_none()
        );
    }

    #[test]
    fn cursors_of_keys_a_millisecond_apart_share_nothing() {
        let cursors = Cursors::new([3; 32]);
        let first = Uuid::now_v7();
        let mut later = *first.as_bytes();
        later[5] = later[5].wrapping_add(1); // one millisecond on
        let (a, b) = (
            cursors.encode(first),
            cursors.encode(Uuid::from_bytes(later)),
        );
        assert_ne!(a[..6], b[..6], "no shared prefix gives the time away");
        assert_ne!(
            Cursors::new([4; 32]).encode(first),
            a,
            "another deployment's key"
        );
        let plain = URL_SAFE_NO_PAD.encode(first.as_bytes());
        assert_ne!(a, plain);
    }
}
