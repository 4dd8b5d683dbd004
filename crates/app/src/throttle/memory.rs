use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::sync::Cache;

use super::{Limiter, MAX_WINDOW, ThrottleKey};
use crate::{AppError, AppResult, RateLimit};

/// Counters and remembered keys of one process. Keys are bounded in length by their makers and
/// in number here, so memory is bounded whatever clients send.
pub struct MemoryLimiter {
    counters: Cache<String, (u32, Instant)>,
    remembered: Cache<String, Instant>,
}

const MAX_COUNTERS: u64 = 200_000;
const MAX_REMEMBERED: u64 = 200_000;

impl Default for MemoryLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryLimiter {
    pub fn new() -> Self {
        Self {
            counters: Cache::builder()
                .max_capacity(MAX_COUNTERS)
                .time_to_live(MAX_WINDOW)
                .build(),
            remembered: Cache::builder().max_capacity(MAX_REMEMBERED).build(),
        }
    }
}

#[async_trait]
impl Limiter for MemoryLimiter {
    async fn begin_attempt(&self, keys: &[ThrottleKey]) -> AppResult<()> {
        let now = Instant::now();
        for ThrottleKey { key, limit, window } in keys {
            let window = *window;
            let entry = self.counters.entry(key.clone()).and_upsert_with(|current| {
                match current.map(|entry| entry.into_value()) {
                    Some((count, started)) if now.duration_since(started) < window => {
                        (count.saturating_add(1), started)
                    }
                    _ => (1, now),
                }
            });
            let (count, started) = entry.into_value();
            if count > *limit {
                return Err(AppError::RateLimited(RateLimit {
                    limit: *limit,
                    remaining: 0,
                    reset_after: window.saturating_sub(now.duration_since(started)),
                }));
            }
        }
        Ok(())
    }

    async fn forgive(&self, keys: &[ThrottleKey]) -> AppResult<()> {
        let now = Instant::now();
        for ThrottleKey { key, window, .. } in keys {
            let live = self
                .counters
                .get(key)
                .filter(|(_, started)| now.duration_since(*started) < *window);
            if let Some((count, started)) = live {
                self.counters
                    .insert(key.clone(), (count.saturating_sub(1), started));
            }
        }
        Ok(())
    }

    async fn remember(&self, key: &str, ttl: Duration) -> AppResult<()> {
        self.remembered.insert(key.to_owned(), Instant::now() + ttl);
        Ok(())
    }

    async fn remembered(&self, key: &str) -> AppResult<bool> {
        Ok(self
            .remembered
            .get(key)
            .is_some_and(|until| until > Instant::now()))
    }

    async fn ping(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, limit: u32, window: Duration) -> ThrottleKey {
        ThrottleKey {
            key: name.into(),
            limit,
            window,
        }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn blocks_after_limit_attempts_per_key_only() {
        let limiter = MemoryLimiter::new();
        let keys = [key("acct:a", 3, MINUTE)];
        for _ in 0..3 {
            limiter.begin_attempt(&keys).await.unwrap();
        }
        match limiter.begin_attempt(&keys).await {
            Err(AppError::RateLimited(limit)) => {
                assert_eq!(limit.limit, 3);
                assert!(limit.reset_after <= MINUTE);
                assert!(limit.reset_after > Duration::from_secs(50));
            }
            other => panic!("expected rate limit, got {other:?}"),
        }
        limiter
            .begin_attempt(&[key("acct:b", 3, MINUTE)])
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_refused_key_stops_the_count_before_later_keys() {
        let limiter = MemoryLimiter::new();
        let ip = key("ip:1", 1, MINUTE);
        limiter
            .begin_attempt(std::slice::from_ref(&ip))
            .await
            .unwrap();
        for name in 0..50 {
            let named = key(&format!("login:{name}"), 5, MINUTE);
            assert!(limiter.begin_attempt(&[ip.clone(), named]).await.is_err());
        }
        limiter.counters.run_pending_tasks();
        assert_eq!(
            limiter.counters.entry_count(),
            1,
            "only the address is counted"
        );
    }

    #[tokio::test]
    async fn forgiven_attempts_do_not_count() {
        let limiter = MemoryLimiter::new();
        let keys = [key("acct:a", 2, MINUTE)];
        for _ in 0..5 {
            limiter.begin_attempt(&keys).await.unwrap();
            limiter.forgive(&keys).await.unwrap();
        }
        limiter.begin_attempt(&keys).await.unwrap();
    }

    #[tokio::test]
    async fn window_expiry_forgets_attempts() {
        let limiter = MemoryLimiter::new();
        let keys = [key("ip:1", 1, Duration::from_millis(50))];
        limiter.begin_attempt(&keys).await.unwrap();
        assert!(limiter.begin_attempt(&keys).await.is_err());
        tokio::time::sleep(Duration::from_millis(80)).await;
        limiter.begin_attempt(&keys).await.unwrap();
    }

    #[tokio::test]
    async fn remembered_keys_expire() {
        let limiter = MemoryLimiter::new();
        limiter.remember("known:a", MINUTE).await.unwrap();
        limiter
            .remember("known:b", Duration::from_millis(1))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(limiter.remembered("known:a").await.unwrap());
        assert!(!limiter.remembered("known:b").await.unwrap());
        assert!(!limiter.remembered("known:c").await.unwrap());
    }
}
