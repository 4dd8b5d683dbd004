use async_trait::async_trait;
use picshare_domain::{Media, NewMedia, ProcessedMedia, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{NewJob, StoreResult};

/// Counts from [`MediaStore::unattached_media_counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnattachedMedia {
    pub pending: u64,
    pub unused: u64,
}

#[async_trait]
pub trait MediaStore {
    async fn create_media(&self, media: &NewMedia) -> StoreResult<()>;

    async fn find_media(&self, id: Uuid) -> StoreResult<Option<Media>>;

    /// The media items among `ids` that exist, in no particular order (one query).
    async fn find_media_by_ids(&self, ids: &[Uuid]) -> StoreResult<Vec<Media>>;

    /// Moves the owner's pending, unexpired upload to `uploaded` and enqueues `job`, in one
    /// transaction. False when the media is not the owner's, not pending or expired.
    async fn mark_uploaded(
        &self,
        id: Uuid,
        owner: UserId,
        now: OffsetDateTime,
        job: &NewJob,
    ) -> StoreResult<bool>;

    /// `uploaded` (or `processing`, on a retry) → `processing`; the media as it now is, or
    /// `None` when there is nothing to process (deleted, ready or failed).
    async fn start_processing(&self, id: Uuid) -> StoreResult<Option<Media>>;

    /// `processing` → `ready` with what processing produced.
    async fn finish_processing(&self, id: Uuid, result: &ProcessedMedia) -> StoreResult<bool>;

    /// Any unfinished state → `failed` with a reason a user can read.
    async fn fail_media(&self, id: Uuid, reason: &str) -> StoreResult<bool>;

    /// Deletes the owner's media (unless it is on a post), clears the owner's avatar if it was
    /// that, and enqueues `cleanup` (removal of its objects) in one transaction; the deleted
    /// media, or `None` if there was nothing to delete.
    async fn delete_media(
        &self,
        id: Uuid,
        owner: UserId,
        cleanup: &NewJob,
    ) -> StoreResult<Option<Media>>;

    /// The post a media item is on, if any.
    async fn post_of_media(&self, media: Uuid) -> StoreResult<Option<Uuid>>;

    /// The owner's media that is not on a post and not its avatar: pending uploads still open at
    /// `now`, and uploaded, processing or ready media. Bounds what one account may hold unused.
    async fn unattached_media_counts(
        &self,
        owner: UserId,
        now: OffsetDateTime,
    ) -> StoreResult<UnattachedMedia>;

    /// Up to `limit` uploads still pending after their expiry.
    async fn expired_uploads(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<Media>>;
}
