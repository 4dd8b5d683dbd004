use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use super::{Limiter, ThrottleKey};
use crate::{AppError, AppResult, RateLimit};

const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// Counts attempts in order and stops at the first key over its limit, atomically.
/// KEYS: counters; ARGV: window (ms) then limit, per key. Returns {index refused (1-based) or 0,
/// its remaining ttl in ms}.
const BEGIN_ATTEMPT: &str = "
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('PEXPIRE', key, ARGV[2 * i - 1]) end
  if count > tonumber(ARGV[2 * i]) then
    return {i, redis.call('PTTL', key)}
  end
end
return {0, 0}";

/// Only decrements a counter that still exists (it may have expired meanwhile).
const FORGIVE: &str = "
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0";

/// Counters shared by every API instance on one Redis; every key expires with its window.
pub struct RedisLimiter {
    redis: ConnectionManager,
    prefix: String,
    begin_attempt: redis::Script,
    forgive: redis::Script,
}

impl RedisLimiter {
    pub fn new(redis: ConnectionManager, prefix: &str) -> Self {
        Self {
            redis,
            prefix: format!("{prefix}:limits:"),
            begin_attempt: redis::Script::new(BEGIN_ATTEMPT),
            forgive: redis::Script::new(FORGIVE),
        }
    }

    fn redis_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

fn unavailable(_: impl std::fmt::Debug) -> AppError {
    tracing::error!("limiter: Redis is unreachable");
    AppError::Unavailable("the rate limiter is unreachable")
}

#[async_trait]
impl Limiter for RedisLimiter {
    async fn begin_attempt(&self, keys: &[ThrottleKey]) -> AppResult<()> {
        let mut invocation = self.begin_attempt.prepare_invoke();
        for ThrottleKey { key, limit, window } in keys {
            invocation
                .key(self.redis_key(key))
                .arg(window.as_millis() as u64)
                .arg(*limit);
        }
        let mut conn = self.redis.clone();
        let (refused, ttl_ms): (usize, i64) =
            tokio::time::timeout(REDIS_TIMEOUT, invocation.invoke_async(&mut conn))
                .await
                .map_err(unavailable)?
                .map_err(unavailable)?;
        let Some(ThrottleKey { limit, window, .. }) =
            refused.checked_sub(1).and_then(|i| keys.get(i))
        else {
            return Ok(());
        };
        let reset_after = if ttl_ms > 0 {
            Duration::from_millis(ttl_ms as u64)
        } else {
            *window
        };
        Err(AppError::RateLimited(RateLimit {
            limit: *limit,
            remaining: 0,
            reset_after,
        }))
    }

    async fn forgive(&self, keys: &[ThrottleKey]) -> AppResult<()> {
        let mut invocation = self.forgive.prepare_invoke();
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

    async fn remember(&self, key: &str, ttl: Duration) -> AppResult<()> {
        let mut conn = self.redis.clone();
        let set = redis::cmd("SET")
            .arg(self.redis_key(key))
            .arg(1)
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .to_owned();
        tokio::time::timeout(REDIS_TIMEOUT, set.query_async::<()>(&mut conn))
            .await
            .map_err(unavailable)?
            .map_err(unavailable)?;
        Ok(())
    }

    async fn remembered(&self, key: &str) -> AppResult<bool> {
        let mut conn = self.redis.clone();
        let exists = redis::cmd("EXISTS").arg(self.redis_key(key)).to_owned();
        let found: i64 = tokio::time::timeout(REDIS_TIMEOUT, exists.query_async(&mut conn))
            .await
            .map_err(unavailable)?
            .map_err(unavailable)?;
        Ok(found == 1)
    }

    async fn ping(&self) -> bool {
        let mut conn = self.redis.clone();
        let ping = redis::cmd("PING");
        let pong = ping.query_async::<String>(&mut conn);
        matches!(tokio::time::timeout(REDIS_TIMEOUT, pong).await, Ok(Ok(_)))
    }
}
