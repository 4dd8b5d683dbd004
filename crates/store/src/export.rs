//! What an account's data export reads that no other feature lists: each a keyset page in id
//! order, so an archive of any size is read a page at a time.

use async_trait::async_trait;
use picshare_domain::{Comment, Media, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;

/// A session: one refresh token family, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub family_id: Uuid,
    pub started_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait ExportStore {
    /// The account's comments with an id above `after`, in id order.
    async fn comments_by_author(
        &self,
        author: UserId,
        after: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<Comment>>;

    /// The posts the account liked with an id above `after` (post id, when), in post id order.
    async fn likes_given(
        &self,
        user: UserId,
        after: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<(Uuid, OffsetDateTime)>>;

    /// Accounts the user blocked with an id above `after` (account, when), in id order.
    async fn blocks_made(
        &self,
        blocker: UserId,
        after: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<(UserId, OffsetDateTime)>>;

    /// The account's sessions with a family id above `after`, in id order.
    async fn sessions(&self, user: UserId, after: Uuid, limit: u32) -> StoreResult<Vec<Session>>;

    /// Media the account owns with an id above `after`, in id order.
    async fn owned_media(&self, owner: UserId, after: Uuid, limit: u32) -> StoreResult<Vec<Media>>;
}
