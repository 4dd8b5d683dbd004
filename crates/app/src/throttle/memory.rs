use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::sync::Cache;

use super::{LoginThrottle, ThrottleKey};
use crate::{AppError, AppResult, RateLimit};

/// Counters kept in this process; bounded in size and forgotten after the window.
pub struct MemoryLoginThrottle {
    window: Duration,
    failures: Cache<String, (u32, Instant)>,
}

impl MemoryLoginThrottle {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            failures: Cache::builder()
                .max_capacity(200_000)
                .time_to_live(window)
                .build(),
        }
    }

    fn live_count(&self, key: &str, now: Instant) -> Option<(u32, Instant)> {
        self.failures
            .get(key)
            .filter(|(_, started)| now.duration_since(*started) < self.window)
    }
}

#[async_trait]
impl LoginThrottle for MemoryLoginThrottle {
    async fn begin_attempt(&self, keys: &[ThrottleKey]) -> AppResult<()> {
        let now = Instant::now();
        let mut refused = None;
        for ThrottleKey { key, limit } in keys {
            let window = self.window;
            let entry = self.failures.entry(key.clone()).and_upsert_with(|current| {
                match current.map(|entry| entry.into_value()) {
                    Some((count, started)) if now.duration_since(started) < window => {
                        (count + 1, started)
                    }
                    _ => (1, now),
                }
            });
            let (count, started) = entry.into_value();
            if count > *limit && refused.is_none() {
                refused = Some(RateLimit {
                    limit: *limit,
                    remaining: 0,
                    reset_after: self.window.saturating_sub(now.duration_since(started)),
                });
            }
        }
        match refused {
            Some(limit) => Err(AppError::RateLimited(limit)),
            None => Ok(()),
        }
    }

    async fn forgive(&self, keys: &[ThrottleKey]) -> AppResult<()> {
        let now = Instant::now();
        for ThrottleKey { key, .. } in keys {
            if let Some((count, started)) = self.live_count(key, now) {
                self.failures
                    .insert(key.clone(), (count.saturating_sub(1), started));
            }
        }
        Ok(())
    }

    async fn ping(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, limit: u32) -> ThrottleKey {
        ThrottleKey {
            key: name.into(),
            limit,
        }
    }

    #[tokio::test]
    async fn blocks_after_limit_failures_per_key_only() {
        let throttle = MemoryLoginThrottle::new(Duration::from_secs(60));
        let keys = [key("acct:a", 3)];
        for _ in 0..3 {
            throttle.begin_attempt(&keys).await.unwrap();
        }
        match throttle.begin_attempt(&keys).await {
            Err(AppError::RateLimited(limit)) => {
                assert_eq!(limit.limit, 3);
                assert!(limit.reset_after <= Duration::from_secs(60));
                assert!(limit.reset_after > Duration::from_secs(50));
            }
            other => panic!("expected rate limit, got {other:?}"),
        }
        throttle.begin_attempt(&[key("acct:b", 3)]).await.unwrap();
    }

    #[tokio::test]
    async fn forgiven_attempts_do_not_count() {
        let throttle = MemoryLoginThrottle::new(Duration::from_secs(60));
        let keys = [key("acct:a", 2)];
        for _ in 0..5 {
            throttle.begin_attempt(&keys).await.unwrap();
            throttle.forgive(&keys).await.unwrap();
        }
        throttle.begin_attempt(&keys).await.unwrap();
    }

    #[tokio::test]
    async fn window_expiry_forgets_failures() {
        let throttle = MemoryLoginThrottle::new(Duration::from_millis(50));
        let keys = [key("ip:1", 1)];
        throttle.begin_attempt(&keys).await.unwrap();
        assert!(throttle.begin_attempt(&keys).await.is_err());
        tokio::time::sleep(Duration::from_millis(80)).await;
        throttle.begin_attempt(&keys).await.unwrap();
    }
}
