//! PicShare use cases. Each feature is a module; they talk to storage through the ports in
//! `picshare-store` and know nothing of HTTP.

pub mod accounts;
pub mod auth;
pub mod batch;
pub mod devices;
pub mod error;
pub mod events;
pub mod export;
pub mod feed;
pub mod feed_pages;
pub mod invites;
pub mod jobs;
pub mod media;
pub mod media_urls;
pub mod messaging;
pub mod moderation;
pub mod name_dictionary;
pub mod notifications;
pub mod passwords;
pub mod people_search;
pub mod posts;
pub mod redis_link;
pub mod search;
pub mod social;
pub mod statistics;
pub mod suspensions;
pub mod throttle;
pub mod tokens;
pub mod trust;
pub mod users;
pub mod worker;

use std::sync::Arc;

use picshare_store::Store;

pub use error::{AppError, AppResult, RateLimit};
pub use passwords::PasswordHasherPool;
pub use throttle::{Limiter, LoginThrottleLimits};
pub use tokens::TokenService;

/// Settings the use cases need (the binary maps its configuration onto these).
#[derive(Debug, Clone)]
pub struct AppSettings {
    pub invite_only: bool,
    pub login_limits: LoginThrottleLimits,
    /// `false` lifts the per-action and sign-up limits (`PICSHARE_RATE_LIMITS=off`).
    pub rate_limits: bool,
    /// Accounts one address (IPv6: one /64) may create per `signup_window`.
    pub signups_per_ip: u32,
    pub signup_window: std::time::Duration,
    /// Feed rebuilds one account may ask for per hour (a cost bound: always on).
    pub feed_refreshes_per_hour: u32,
    pub follow_caps: picshare_domain::FollowCaps,
    /// Read feeds from precomputed timelines (false: always from the follow graph).
    pub feed_timelines: bool,
    /// How long the 3rd, 4th and 5th-and-later strikes suspend an account.
    pub suspension_ladder: picshare_domain::SuspensionLadder,
    /// Each trust level's per-action quotas.
    pub trust_limits: picshare_domain::TrustLimits,
    pub account_deletion: accounts::AccountDeletionSettings,
    pub batch: batch::BatchSettings,
}

/// Everything a request needs, shared by all handlers.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub hasher: Arc<PasswordHasherPool>,
    pub tokens: Arc<TokenService>,
    pub limiter: Arc<dyn Limiter>,
    pub objects: picshare_objects::Objects,
    pub settings: Arc<AppSettings>,
    pub media: Arc<media::MediaSettings>,
    /// Signs links to non-public media.
    pub media_urls: Arc<media_urls::MediaUrls>,
    /// What this process's worker waits on between polls: woken through the event bus when any
    /// process enqueues a job ([`App::wake_workers`]), so jobs start at once.
    pub jobs_waiting: Arc<tokio::sync::Notify>,
    /// Feed pages read recently (`FeedPages::off()` without in-process caches).
    pub feed_pages: feed_pages::FeedPages,
    /// Avatars looked up recently (`AvatarViews::off()` without in-process caches).
    pub avatars: users::AvatarViews,
    /// Accounts read recently (`RecentUsers::off()` without in-process caches).
    pub recent_users: users::RecentUsers,
    /// Carries real-time events to the sockets of every API instance.
    pub events: Arc<dyn events::EventBus>,
    /// The accounts suspended now, checked on every authenticated request.
    pub suspensions: Arc<suspensions::Suspensions>,
    /// Standings assessed in the last minute (`Standings::off()` without in-process caches).
    pub standings: trust::Standings,
    /// Keys device fingerprints before they are stored.
    pub devices: Arc<devices::FingerprintKey>,
    /// The words typo-tolerant people search walks, read on first use.
    pub name_dictionary: Arc<name_dictionary::NameDictionary>,
}

impl App {
    /// After a write that enqueued jobs has committed: workers everywhere start them now.
    pub(crate) async fn wake_workers(&self) {
        self.events.wake_workers().await;
    }

    /// Whether each dependency answers right now: the database, Redis (when configured) and
    /// object storage, in that order.
    pub async fn readiness(&self) -> Vec<(&'static str, bool)> {
        let database = tokio::time::timeout(std::time::Duration::from_secs(2), self.store.ping());
        let (database, redis, storage) =
            tokio::join!(database, self.limiter.ping(), self.objects.ping());
        let mut checks = vec![("database", matches!(database, Ok(Ok(()))))];
        if self.limiter.uses_redis() {
            checks.push(("redis", redis));
        }
        checks.push(("storage", storage));
        checks
    }
}
