use async_trait::async_trait;
use picshare_domain::{Media, UserId};
use time::OffsetDateTime;

use crate::{ModerationAct, NewJob, StoreResult};

/// An account's deletion as requested: what happens at once, in one transaction.
#[derive(Debug, Clone)]
pub struct AccountDeletion {
    pub user: UserId,
    pub at: OffsetDateTime,
    /// Whether the handle and email are free at once (a grace of 0); otherwise they stay taken
    /// until the account's row goes, at the end of the grace.
    pub release_now: bool,
    /// The `delete_account` jobs: one now, and one at the end of the grace.
    pub jobs: Vec<NewJob>,
    /// Set when a moderator or admin deletes the account: the audit log's line.
    pub moderator: Option<ModerationAct>,
}

/// What is left of a deleted account, removed in bounded batches by the `delete_account` job.
/// Each step removes up to `limit` rows in a short transaction and says how many it removed
/// (0: nothing of that kind is left), so a job killed halfway resumes where it stopped.
#[async_trait]
pub trait AccountStore {
    /// Marks the account deleted (every read skips it from now on), ends its sessions, frees
    /// its handle and email if `release_now`, makes its followers' cached feed pages stale and
    /// enqueues the jobs. False when there is no such account, or it is deleted already.
    async fn delete_account(&self, deletion: &AccountDeletion) -> StoreResult<bool>;

    /// Deleted accounts whose rows are still there (their tokens are refused everywhere).
    async fn deleted_accounts(&self) -> StoreResult<Vec<UserId>>;

    /// Up to `limit` media items a deleted account owns (on posts or not).
    async fn deleted_account_media(&self, user: UserId, limit: u32) -> StoreResult<Vec<Media>>;

    /// Deletes these media items of a deleted account and enqueues `cleanup` (their objects'
    /// removal) in one transaction.
    async fn purge_account_media(
        &self,
        user: UserId,
        media: &[uuid::Uuid],
        cleanup: &NewJob,
    ) -> StoreResult<u64>;

    /// One batch of what a deleted account owns or did, other than media: its posts (with
    /// their timeline entries, comments and likes), then its comments and likes on others'
    /// posts (with those posts' counters), follows both ways (with both sides' counters), follow
    /// requests, blocks, notifications it caused or received, and its own timeline.
    async fn purge_account_rows(&self, user: UserId, limit: u32) -> StoreResult<u64>;

    /// Frees a deleted account's handle and email (false: no such deleted account).
    async fn release_deleted_handle(&self, user: UserId) -> StoreResult<bool>;

    /// Deletes the deleted account's row once nothing is left but what goes with it (sessions,
    /// devices, invites, reports, memberships; its messages stay, from a deleted account), and
    /// conversations nobody is left in. False when the row is gone already.
    async fn remove_deleted_account(&self, user: UserId) -> StoreResult<bool>;
}
