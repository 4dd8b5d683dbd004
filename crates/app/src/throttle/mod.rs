//! Login throttling: failed attempts counted per account and per client IP in a fixed window.
//! In-process for the embedded shape, in Redis when several API instances must share counts.

mod memory;
mod redis;

use std::time::Duration;

use async_trait::async_trait;

pub use self::memory::MemoryLoginThrottle;
pub use self::redis::RedisLoginThrottle;
use crate::AppResult;

#[derive(Debug, Clone, Copy)]
pub struct LoginThrottleLimits {
    pub per_account: u32,
    pub per_ip: u32,
    pub window: Duration,
}

impl Default for LoginThrottleLimits {
    fn default() -> Self {
        Self {
            per_account: 10,
            per_ip: 10,
            window: Duration::from_secs(3600),
        }
    }
}

/// One counter to check: its key and how many failures it allows per window.
#[derive(Debug, Clone)]
pub struct ThrottleKey {
    pub key: String,
    pub limit: u32,
}

/// Attempts are counted *before* the password is checked (and forgiven when it was right), so a
/// burst of parallel guesses cannot all pass a check made while the count was still low.
#[async_trait]
pub trait LoginThrottle: Send + Sync {
    /// Counts an attempt against every key; `Err(AppError::RateLimited)` when any key is now over
    /// its limit for the window.
    async fn begin_attempt(&self, keys: &[ThrottleKey]) -> AppResult<()>;

    /// The attempt succeeded: it no longer counts.
    async fn forgive(&self, keys: &[ThrottleKey]) -> AppResult<()>;

    /// Whether the shared counter store answers (always true in-process).
    async fn ping(&self) -> bool;
}
