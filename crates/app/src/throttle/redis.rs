use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use super::{LoginThrottle, ThrottleKey};
use crate::{AppError, AppResult, RateLimit};

const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// Counters shared by every API instance on one Redis: `INCR` plus an expiry set on the first failure.
pub struct RedisLoginThrottle {
    redis: ConnectionManager,
    prefix: String,
    window: Duration,
}

impl RedisLoginThrottle {
    pub fn new(redis: ConnectionManager, prefix: &str, window: Duration) -> Self {
        Self {
            redis,
            prefix: format!("{prefix}:login-failures:"),
            window,
        }
    }

    fn redis_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

fn unavailable(_: impl std::fmt::Debug) -> AppError {
    tracing::error!("login throttle: Redis is unreachable");
    AppError::Unavailable("the rate limiter is unreachable")
}

#[async_trait]
impl LoginThrottle for RedisLoginThrottle {
    async fn begin_attempt(&self, keys: &[ThrottleKey]) -> AppResult<()> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for ThrottleKey { key, .. } in keys {
            let redis_key = self.redis_key(key);
            pipe.incr(&redis_key, 1)
                .cmd("PEXPIRE")
                .arg(&redis_key)
                .arg(self.window.as_millis() as u64)
                .arg("NX")
                .ignore()
                .pttl(&redis_key);
        }
        let mut conn = self.redis.clone();
        let replies: Vec<(u32, i64)> =
            tokio::time::timeout(REDIS_TIMEOUT, pipe.query_async(&mut conn))
                .await
                .map_err(unavailable)?
                .map_err(unavailable)?;
        for (ThrottleKey { limit, .. }, (count, ttl_ms)) in keys.iter().zip(replies) {
            if count > *limit {
                let reset_after = if ttl_ms > 0 {
                    Duration::from_millis(ttl_ms as u64)
                } else {
                    self.window
                };
                return Err(AppError::RateLimited(RateLimit {
                    limit: *limit,
                    remaining: 0,
                    reset_after,
                }));
            }
        }
        Ok(())
    }

    async fn forgive(&self, keys: &[ThrottleKey]) -> AppResult<()> {
        // Only decrement a counter that still exists (it may have expired meanwhile).
        let script = redis::Script::new(
            "for _, key in ipairs(KEYS) do
               if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
             end
             return 0",
        );
        let mut invocation = script.prepare_invoke();
        for ThrottleKey { key, .. } in keys {
            invocation.key(self.redis_key(key));
        }
        let mut conn = self.redis.clone();
        tokio::time::timeout(REDIS_TIMEOUT, invocation.invoke_async::<i64>(&mut conn))
            .await
            .map_err(unavailable)?
            .map_err(unavailable)?;
        Ok(())
    }

    async fn ping(&self) -> bool {
        let mut conn = self.redis.clone();
        let ping = redis::cmd("PING");
        let pong = ping.query_async::<String>(&mut conn);
        matches!(tokio::time::timeout(REDIS_TIMEOUT, pong).await, Ok(Ok(_)))
    }
}
