//! Links to media variants. Public media — avatars, and the images of public posts by public
//! accounts — gets a plain, stable URL. Everything else gets a short-lived signed URL: an
//! HMAC-signed link to this binary's `/media/` route in the embedded shape, a presigned `GET` in
//! the S3 shape. A viewer who loses access (unfollow, block, the account going private, the post
//! deleted) keeps a link for at most its lifetime, and the local route re-checks every request.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use picshare_domain::MediaStatus;
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{App, AppError, AppResult};

/// A picture as served: a variant's link and size (an avatar, a post's thumb).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageView {
    pub url: String,
    pub width: u32,
    pub height: u32,
}

/// Bytes of signed links kept for reuse (one per variant shown recently): about 5,000
/// presigned S3 links (~800 bytes with their key) or 20,000 local ones. Bounded in bytes, not
/// entries: 100,000 presigned links would hold 80 MiB, and a process's memory grew with every
/// new post until then.
const SIGNED_URL_BYTES: u64 = 4 * 1024 * 1024;
/// What an entry costs beyond its two strings (their headers, the cache's own bookkeeping).
const SIGNED_URL_OVERHEAD: usize = 128;

static LOOKUPS: picshare_store::CacheLookups = picshare_store::CacheLookups::new("media_urls");

pub struct MediaUrls {
    /// Keyed once; cloned for each signature.
    mac: Hmac<Sha256>,
    /// How long a signed link is valid.
    ttl: Duration,
    /// Links signed recently, reused for `reuse_window`, so a page of posts costs no signing
    /// and every link handed out stays valid for at least `ttl / 2`.
    signed: moka::sync::Cache<String, String>,
}

/// How a request for a local variant file may be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaFileAccess {
    /// Anyone may see it now; caches must check again before reuse.
    Public,
    /// A valid signed link: only for the one who holds it, for `max_age` more.
    Signed { max_age: Duration },
}

/// How long a signed link is handed out again: half its lifetime, less the longest a cached
/// feed page holding it is served (`FEED_PAGE_MAX_AGE`), so that a client receives it with at
/// least half its lifetime left (for lifetimes of two minutes or more, which configuration
/// requires; at least a second).
fn reuse_window(ttl: Duration) -> Duration {
    (ttl / 2)
        .saturating_sub(crate::feed_pages::FEED_PAGE_MAX_AGE)
        .max(Duration::from_secs(1))
}

impl MediaUrls {
    pub fn new(key: [u8; 32], ttl: Duration) -> AppResult<Self> {
        let mac = Hmac::<Sha256>::new_from_slice(&key).map_err(AppError::internal)?;
        Ok(Self {
            mac,
            ttl,
            signed: moka::sync::Cache::builder()
                .weigher(|key: &String, url: &String| {
                    u32::try_from(key.len() + url.len() + SIGNED_URL_OVERHEAD).unwrap_or(u32::MAX)
                })
                .max_capacity(SIGNED_URL_BYTES)
                .time_to_live(reuse_window(ttl))
                .build(),
        })
    }

    fn mac(&self, object_key: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(object_key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    fn signature(&self, object_key: &str, expires: i64) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(object_key, expires).finalize().into_bytes())
    }

    /// Whether `signature` signs `object_key` until `expires` (unix seconds), still in the future.
    fn verify(&self, object_key: &str, expires: i64, signature: &str, now: i64) -> bool {
        if expires <= now || expires > now + self.ttl.as_secs() as i64 {
            return false;
        }
        let Ok(presented) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        self.mac(object_key, expires)
            .verify_slice(&presented)
            .is_ok()
    }
}

/// The media id in a variant key (`variants/<id>/<name>.jpg`).
fn media_id_of(object_key: &str) -> Option<Uuid> {
    let mut parts = object_key.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("variants"), Some(id), Some(name), None) if name.ends_with(".jpg") => {
            Uuid::parse_str(id).ok()
        }
        _ => None,
    }
}

impl App {
    /// A stored variant as served, its link as `variant_url` gives it.
    pub async fn image_view(
        &self,
        variant: &picshare_domain::StoredVariant,
        public: bool,
    ) -> AppResult<ImageView> {
        Ok(ImageView {
            url: self.variant_url(&variant.key, public).await?,
            width: variant.width,
            height: variant.height,
        })
    }

    /// The URL of a stored variant: stable when `public`, signed and short-lived otherwise.
    pub async fn variant_url(&self, object_key: &str, public: bool) -> AppResult<String> {
        if public && let Some(url) = self.objects.public_url(object_key) {
            return Ok(url);
        }
        let urls = &self.media_urls;
        let cached = urls.signed.get(object_key);
        LOOKUPS.count(cached.is_some());
        if let Some(url) = cached {
            return Ok(url);
        }
        let url = match self.objects.presigned_get(object_key, urls.ttl).await? {
            Some(url) => url,
            None => {
                let expires =
                    OffsetDateTime::now_utc().unix_timestamp() + urls.ttl.as_secs() as i64;
                format!(
                    "{}/media/{object_key}?expires={expires}&sig={}",
                    self.media.public_url,
                    urls.signature(object_key, expires)
                )
            }
        };
        urls.signed.insert(object_key.to_owned(), url.clone());
        Ok(url)
    }

    /// Whether anyone, signed in or not, may see this media item now.
    pub async fn media_is_public(&self, id: Uuid) -> AppResult<bool> {
        match self.visible_media(None, id).await {
            Ok(visible) => Ok(visible.public),
            Err(AppError::NotFound) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Decides a request for a local variant file, re-checked on every request: with a valid,
    /// unexpired signature the media must still exist and be ready; without one it must be
    /// public now. A bad or expired signature → `Forbidden`; anything else → `NotFound`.
    pub async fn media_file_access(
        &self,
        object_key: &str,
        signature: Option<(i64, &str)>,
    ) -> AppResult<MediaFileAccess> {
        let id = media_id_of(object_key).ok_or(AppError::NotFound)?;
        let Some((expires, signature)) = signature else {
            return match self.media_is_public(id).await? {
                true => Ok(MediaFileAccess::Public),
                false => Err(AppError::NotFound),
            };
        };
        let now = OffsetDateTime::now_utc().unix_timestamp();
        if !self.media_urls.verify(object_key, expires, signature, now) {
            return Err(AppError::Forbidden(
                "this media link is invalid or has expired",
            ));
        }
        match self.store.find_media(id).await? {
            // A deleted post or media item takes its row with it: its links stop at once.
            Some(media) if media.status == MediaStatus::Ready => Ok(MediaFileAccess::Signed {
                max_age: Duration::from_secs((expires - now).max(0) as u64),
            }),
            _ => Err(AppError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_key_and_expiry_and_expire() {
        let urls = MediaUrls::new([7; 32], Duration::from_secs(600)).unwrap();
        let key = "variants/0190a3a0-0000-7000-8000-000000000000/thumb.jpg";
        let sig = urls.signature(key, 1_000_300);
        assert!(urls.verify(key, 1_000_300, &sig, 1_000_000));
        assert!(
            !urls.verify(key, 1_000_301, &sig, 1_000_000),
            "another expiry"
        );
        let other = "variants/0190a3a0-0000-7000-8000-000000000000/medium.jpg";
        assert!(
            !urls.verify(other, 1_000_300, &sig, 1_000_000),
            "another key"
        );
        assert!(!urls.verify(key, 1_000_300, &sig, 1_000_300), "expired");
        assert!(!urls.verify(key, 1_000_300, "garbage!", 1_000_000));
        let far = urls.signature(key, 9_000_000);
        assert!(
            !urls.verify(key, 9_000_000, &far, 1_000_000),
            "beyond the lifetime"
        );
        let foreign = MediaUrls::new([8; 32], Duration::from_secs(600)).unwrap();
        assert!(
            !foreign.verify(key, 1_000_300, &sig, 1_000_000),
            "another key file"
        );
    }

    #[test]
    fn only_variant_keys_name_media() {
        let id = Uuid::now_v7();
        assert_eq!(media_id_of(&format!("variants/{id}/thumb.jpg")), Some(id));
        assert_eq!(media_id_of(&format!("originals/{id}")), None);
        assert_eq!(media_id_of(&format!("variants/{id}/x/thumb.jpg")), None);
    }
}
