//! Batch jobs' bookkeeping (who runs each, how the last run went) and the repairs they make,
//! each in bounded batches that never hold a table for long.

use async_trait::async_trait;
use picshare_domain::Media;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;

/// How a batch job's last run went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRun {
    pub name: String,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    pub succeeded: Option<bool>,
    pub found: i64,
    pub fixed: i64,
    pub detail: Option<String>,
}

/// What one run found and fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub succeeded: bool,
    pub found: u64,
    pub fixed: u64,
    pub detail: String,
}

#[async_trait]
pub trait BatchStore {
    /// Takes the job's lease until `until` for `holder`, unless another holds it unexpired.
    async fn start_batch(
        &self,
        name: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// Extends the holder's lease; false when it is no longer theirs.
    async fn extend_batch(
        &self,
        name: &str,
        holder: &str,
        until: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// Records the run's outcome and lets the lease go.
    async fn finish_batch(
        &self,
        name: &str,
        holder: &str,
        now: OffsetDateTime,
        outcome: &BatchOutcome,
    ) -> StoreResult<()>;

    /// Every batch job that has run, with its last run.
    async fn batch_runs(&self) -> StoreResult<Vec<BatchRun>>;

    /// Of up to `limit` timelines after `after` (user ids in order): deletes their entries whose
    /// post is gone; returns the last timeline looked at and the entries deleted.
    async fn repair_timelines(&self, after: Uuid, limit: u32) -> StoreResult<(Option<Uuid>, u64)>;

    /// Of up to `limit` accounts after `after`: clears avatars that name no ready avatar of
    /// theirs; returns the last account looked at and the avatars cleared.
    async fn repair_avatars(&self, after: Uuid, limit: u32) -> StoreResult<(Option<Uuid>, u64)>;

    /// Marks failed (with `reason`) up to `limit` media still uploaded or processing since
    /// before `stale_before`; returns them.
    async fn fail_stale_media(
        &self,
        stale_before: OffsetDateTime,
        reason: &str,
        limit: u32,
    ) -> StoreResult<Vec<Media>>;

    /// Deletes up to `limit` invites nobody used that expired or were revoked before `before`.
    async fn delete_stale_invites(&self, before: OffsetDateTime, limit: u32) -> StoreResult<u64>;

    /// Cuts up to `limit` timelines after `after` back to their newest `window` entries (their
    /// floors rise); returns the last timeline looked at and the entries deleted.
    async fn prune_timelines(
        &self,
        after: Uuid,
        limit: u32,
        window: u32,
    ) -> StoreResult<(Option<Uuid>, u64)>;

    /// Up to `limit` ready media items after `after` (by id), whatever their owner.
    async fn ready_media_after(&self, after: Uuid, limit: u32) -> StoreResult<Vec<Media>>;

    /// Which of `ids` name a media item (one query).
    async fn existing_media(&self, ids: &[Uuid]) -> StoreResult<Vec<Uuid>>;
}
