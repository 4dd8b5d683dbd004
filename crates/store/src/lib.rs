//! Storage ports: what the application needs from a database, at the level of the domain.
//! Implemented once per backend (`picshare-store-sqlite`, `picshare-store-pg`).

mod accounts;
mod batch;
mod cache_metrics;
mod comments;
mod conversations;
mod counters;
mod error;
mod export;
mod invites;
mod jobs;
mod likes;
mod media;
mod media_cache;
mod moderation;
mod notifications;
mod pagination;
mod posts;
mod search;
mod social;
mod timelines;
mod tokens;
mod trust;
mod users;

use async_trait::async_trait;

pub use accounts::{AccountDeletion, AccountStore};
pub use batch::{BatchOutcome, BatchRun, BatchStore};
pub use cache_metrics::CacheLookups;
pub use comments::{CommentStore, NewComment};
pub use conversations::{ConversationStore, NewConversation, NewMessage, SendOutcome};
pub use counters::CounterStore;
pub use error::StoreError;
pub use export::{ExportStore, Session};
pub use invites::{Invite, InviteStats, InviteStore, NewInvite};
pub use jobs::{ClaimedJob, HEAVY_PRIORITY, JobCount, JobLane, JobStore, NewJob};
pub use likes::LikeStore;
pub use media::{MediaStore, UnattachedMedia};
pub use media_cache::PostMediaCache;
pub use moderation::{
    AuditFilter, ModerationAct, ModerationStore, NewReport, QueuedReport, Takedown,
};
pub use notifications::{NewNotification, NotificationStore};
pub use pagination::{Page, PageRequest};
pub use posts::{CaptionEdit, NewPost, Post, PostRefusal, PostStore, PostUpdate};
pub use search::{
    AlikeWords, FoundPost, FoundUser, PostOrder, RankedKey, RankedPage, RankedRequest, SearchStore,
    Searcher, UserMatch, UserQuery,
};
pub use social::{FollowOutcome, SocialStore};
pub use timelines::{
    AuthorShown, FLOOR_BUILDING, FLOOR_COMPLETE, FeedEntry, PageCounts, TIMELINE_WINDOW,
    TRIM_ONE_IN, TimelineFloor, TimelineSlice, TimelineStore,
};
pub use tokens::{NewRefreshToken, RefreshRotation, TokenStore};
pub use trust::{Device, TrustStore};
pub use users::{ProfileUpdate, UserStore};

pub type StoreResult<T> = Result<T, StoreError>;

/// Connection pool occupancy, exported as metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolStats {
    pub in_use: u32,
    pub idle: u32,
}

/// The whole database as the app sees it.
#[async_trait]
pub trait Store:
    UserStore
    + TokenStore
    + MediaStore
    + JobStore
    + SocialStore
    + LikeStore
    + CommentStore
    + CounterStore
    + PostStore
    + TimelineStore
    + NotificationStore
    + ConversationStore
    + ModerationStore
    + InviteStore
    + TrustStore
    + SearchStore
    + AccountStore
    + ExportStore
    + BatchStore
    + Send
    + Sync
    + 'static
{
    /// Which backend this is ("sqlite", "postgres"), for logs and metrics.
    fn backend(&self) -> &'static str;

    /// Applies pending forward-only migrations.
    async fn migrate(&self) -> StoreResult<()>;

    /// Cheap round trip used by readiness checks.
    async fn ping(&self) -> StoreResult<()>;

    fn pool_stats(&self) -> PoolStats;

    /// Refreshes the query planner's statistics of the tables that changed well past what their
    /// last statistics describe (PostgreSQL: `VACUUM (ANALYZE)`), one process at a time;
    /// returns the tables refreshed. A plan chosen on the statistics of an empty table can read
    /// the whole table per request (docs/feed.md, "Planner statistics").
    async fn refresh_planner_statistics(&self) -> StoreResult<Vec<String>>;

    /// Whether nothing but this application refreshes the planner's statistics (PostgreSQL with
    /// autovacuum off), which startup reports.
    async fn planner_statistics_unattended(&self) -> StoreResult<bool>;
}
