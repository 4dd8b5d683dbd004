use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::sync::Cache;

use moka::ops::compute::Op;

use super::gcra::{self, Rate};
use super::{Limiter, MAX_WINDOW, ThrottleKey};
use crate::{AppError, AppResult, RateLimit};

/// Counters, quotas and remembered keys of one process. Keys are bounded in length by their
/// makers and in number here, so memory is bounded whatever clients send.
pub struct MemoryLimiter {
    counters: Cache<String, (u32, Instant)>,
    /// Per key, each rate's period (ms) and theoretical arrival time (ms after `started`).
    quotas: Cache<String, Vec<(u64, i64)>>,
    remembered: Cache<String, Instant>,
    started: Instant,
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
            // A TAT is at most one period (≤ MAX_WINDOW) past the write that set it.
            quotas: Cache::builder()
                .max_capacity(MAX_COUNTERS)
                .time_to_live(MAX_WINDOW)
                .build(),
            remembered: Cache::builder().max_capacity(MAX_REMEMBERED).build(),
            started: Instant::now(),
        }
    }

    fn now_ms(&self) -> i64 {
        self.started.elapsed().as_millis() as i64
    }
}

fn stored_tats(rates: &[Rate], stored: Option<&Vec<(u64, i64)>>) -> Vec<Option<i64>> {
    rates
        .iter()
        .map(|rate| {
            let period = rate.period.as_millis() as u64;
            stored?
                .iter()
                .find(|(p, _)| *p == period)
                .map(|(_, tat)| *tat)
        })
        .collect()
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

    async fn spend(&self, key: &str, rates: &[Rate]) -> AppResult<RateLimit> {
        let now = self.now_ms();
        let mut outcome = None;
        self.quotas.entry_by_ref(key).and_compute_with(|entry| {
            let stored = entry.map(|entry| entry.into_value());
            let result = gcra::spend(rates, &stored_tats(rates, stored.as_ref()), now);
            let op = match &result {
                Ok((tats, _)) => Op::Put(
                    rates
                        .iter()
                        .zip(tats)
                        .map(|(rate, tat)| (rate.period.as_millis() as u64, *tat))
                        .collect(),
                ),
                Err(_) => Op::Nop,
            };
            outcome = Some(result);
            op
        });
        match outcome {
            Some(Ok((_, tightest))) => Ok(tightest),
            Some(Err(refused)) => Err(AppError::RateLimited(refused)),
            None => Err(AppError::Unavailable("the rate limiter did not answer")),
        }
    }

    async fn give_back(&self, key: &str, rates: &[Rate]) -> AppResult<()> {
        let now = self.now_ms();
        self.quotas.entry_by_ref(key).and_compute_with(|entry| {
            let Some(stored) = entry.map(|entry| entry.into_value()) else {
                return Op::Nop;
            };
            let tats = gcra::give_back(rates, &stored_tats(rates, Some(&stored)), now);
            Op::Put(
                rates
                    .iter()
                    .zip(tats)
                    .filter_map(|(rate, tat)| Some((rate.period.as_millis() as u64, tat?)))
                    .collect(),
            )
        });
        Ok(())
    }

    async fn quota_state(&self, key: &str, rates: &[Rate]) -> AppResult<Vec<RateLimit>> {
        let now = self.now_ms();
        let stored = self.quotas.get(key);
        Ok(rates
            .iter()
            .zip(stored_tats(rates, stored.as_ref()))
            .map(|(rate, tat)| rate.state(tat, now))
            .collect())
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
