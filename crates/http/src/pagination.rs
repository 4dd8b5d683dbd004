//! `?limit=&cursor=` on every list, and the `{items, next_cursor}` envelope.

use axum::extract::FromRequestParts;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use picshare_store::PageRequest;
use serde::Deserialize;
use uuid::Uuid;

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

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(params) = Query::<PageParams>::from_request_parts(parts, state).await?;
        let limit = match params.limit {
            None => DEFAULT_LIMIT,
            Some(limit) if (1..=i64::from(MAX_LIMIT)).contains(&limit) => limit as u32,
            Some(_) => {
                return Err(ApiError::validation(
                    StatusCode::BAD_REQUEST,
                    "limit",
                    "must be between 1 and 100",
                ));
            }
        };
        let after = match params.cursor.as_deref() {
            None => None,
            Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| {
                ApiError::validation(StatusCode::BAD_REQUEST, "cursor", "is not a valid cursor")
            })?),
        };
        Ok(Paging(PageRequest { after, limit }))
    }
}

pub fn encode_cursor(key: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// Any 22 URL-safe base64 characters name a position (the two spare bits are ignored), so every
/// cursor the documented pattern admits is accepted.
const CURSOR_DECODER: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

fn decode_cursor(cursor: &str) -> Option<Uuid> {
    if cursor.len() != 22 {
        return None;
    }
    let bytes = CURSOR_DECODER.decode(cursor).ok()?;
    Uuid::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let key = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(key)), Some(key));
        assert!(decode_cursor("not a cursor").is_none());
        assert!(decode_cursor("AAAA").is_none());
        assert!(
            decode_cursor("ZZZZZZZZZZZZZZZZZZZZZZ").is_some(),
            "any 22 characters of the alphabet"
        );
    }
}
