use async_trait::async_trait;
use picshare_domain::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;

/// A refresh token as stored: only its SHA-256 hash, never the token itself.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub token_hash: Vec<u8>,
    /// All tokens descending from one login share a family; reuse of a rotated one revokes it.
    pub family_id: Uuid,
    pub user_id: UserId,
    pub issued_at: OffsetDateTime,
    /// Absolute: rotation never extends the family's lifetime.
    pub expires_at: OffsetDateTime,
}

/// What presenting a refresh token for rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRotation {
    /// The token was live; it is now spent and the replacement is stored in its place,
    /// expiring with the family at `expires_at`.
    Rotated {
        user_id: UserId,
        expires_at: OffsetDateTime,
    },
    /// The token had already been rotated or revoked: the whole family is now revoked.
    ReuseDetected,
    /// Unknown or expired.
    Invalid,
}

#[async_trait]
pub trait TokenStore {
    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> StoreResult<()>;

    /// Atomically spends `presented_hash` and stores `replacement` in the same family
    /// (whose `family_id`, `user_id` and `expires_at` are taken from the spent token).
    async fn rotate_refresh_token(
        &self,
        presented_hash: &[u8],
        replacement_hash: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<RefreshRotation>;

    /// Whose the token with this hash is, whatever its state (`None` if unknown).
    async fn refresh_token_owner(&self, token_hash: &[u8]) -> StoreResult<Option<UserId>>;

    /// Revokes the family of the token with this hash; unknown hashes are ignored.
    async fn revoke_refresh_family(
        &self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    /// Deletes tokens past their absolute expiry; returns how many.
    async fn delete_expired_refresh_tokens(&self, now: OffsetDateTime) -> StoreResult<u64>;
}
