use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use super::lease::{Leases, Take};
use super::{Limiter, MemoryLimiter, Rate, ThrottleKey};
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

/// GCRA (`gcra.rs`, the same integer arithmetic) on Redis's clock, so every instance agrees.
/// KEYS[1]: a hash of period (ms) → theoretical arrival time (ms). ARGV: `1` to spend or `0`
/// to look; units given back first (an expired lease, `lease.rs`); units wanted on top of the
/// request's own (granted only if all fit); then limit and period (ms) per rate. Spending
/// returns {1, limit, remaining, reset ms, units granted} of the tightest rate, or {0, limit,
/// 0, wait ms, 0} of the rate that refused (nothing spent); looking returns remaining and reset
/// ms per rate.
const QUOTA: &str = "
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local spend, refund, want = ARGV[1] == '1', tonumber(ARGV[2]), tonumber(ARGV[3])
local n = (#ARGV - 3) / 2
local tats, intervals, spans, limits, looked = {}, {}, {}, {}, {}
for i = 1, n do
  local limit, period = tonumber(ARGV[2 * i + 2]), tonumber(ARGV[2 * i + 3])
  intervals[i] = math.max(1, math.floor(period / limit))
  spans[i], limits[i] = intervals[i] * limit, limit
  local tat = math.max(tonumber(redis.call('HGET', KEYS[1], ARGV[2 * i + 3]) or now), now)
  tats[i] = math.max(tat - refund * intervals[i], now)
  if not spend then
    looked[#looked + 1] = math.min(limit, math.floor(math.max(spans[i] - (tats[i] - now), 0) / intervals[i]))
    looked[#looked + 1] = tats[i] - now
  end
end
if not spend then return looked end
local function fits(units)
  for i = 1, n do
    if tats[i] + units * intervals[i] - spans[i] > now then return false end
  end
  return true
end
local units = 1
if want > 0 and fits(1 + want) then units = 1 + want end
local result
if fits(units) then
  for i = 1, n do tats[i] = tats[i] + units * intervals[i] end
  for i = 1, n do
    local remaining = math.min(limits[i], math.floor((spans[i] - (tats[i] - now)) / intervals[i]))
    if result == nil or remaining < result[3] then
      result = {1, limits[i], remaining, tats[i] - now, units - 1}
    end
  end
else
  local wait = 0
  for i = 1, n do
    local allowed_at = tats[i] + intervals[i] - spans[i]
    if allowed_at - now > wait then result, wait = {0, limits[i], 0, allowed_at - now, 0}, allowed_at - now end
  end
  if refund == 0 then return result end
end
local ttl = 1
for i = 1, n do
  redis.call('HSET', KEYS[1], ARGV[2 * i + 3], tats[i])
  ttl = math.max(ttl, tats[i] - now)
end
redis.call('PEXPIRE', KEYS[1], ttl)
return result";

/// Counters shared by every API instance on one Redis; every key expires with its window.
pub struct RedisLimiter {
    redis: ConnectionManager,
    prefix: String,
    begin_attempt: redis::Script,
    forgive: redis::Script,
    quota: redis::Script,
    /// Counts quotas while Redis is unreachable: each instance then holds the limits alone
    /// (a fleet of N allows up to N times as much), rather than refusing every write.
    fallback: MemoryLimiter,
    leases: Leases,
}

impl RedisLimiter {
    pub fn new(redis: ConnectionManager, prefix: &str) -> Self {
        Self {
            redis,
            prefix: format!("{prefix}:limits:"),
            begin_attempt: redis::Script::new(BEGIN_ATTEMPT),
            forgive: redis::Script::new(FORGIVE),
            quota: redis::Script::new(QUOTA),
            fallback: MemoryLimiter::new(),
            leases: Leases::default(),
        }
    }

    fn redis_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl RedisLimiter {
    async fn run_quota<T: redis::FromRedisValue>(
        &self,
        key: &str,
        rates: &[Rate],
        spend: Option<(u32, u32)>,
    ) -> Result<T, String> {
        let (refund, want) = spend.unwrap_or_default();
        let mut invocation = self.quota.prepare_invoke();
        invocation
            .key(self.redis_key(key))
            .arg(u8::from(spend.is_some()))
            .arg(refund)
            .arg(want);
        for rate in rates {
            invocation
                .arg(rate.limit)
                .arg(rate.period.as_millis() as u64);
        }
        let mut conn = self.redis.clone();
        match tokio::time::timeout(REDIS_TIMEOUT, invocation.invoke_async(&mut conn)).await {
            Ok(answer) => answer.map_err(|error| error.to_string()),
            Err(_) => Err("timed out".to_owned()),
        }
    }
}

/// A quota Redis did not count: counted in process instead. After a timeout Redis may have
/// counted it too (the request is then counted twice, never let through uncounted).
fn counting_in_process(reason: &str) {
    tracing::warn!(%reason, "limiter: Redis did not count a quota; counting it in process");
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

    async fn spend(&self, key: &str, rates: &[Rate]) -> AppResult<RateLimit> {
        let (refund, want) = match self.leases.take(key, rates, Instant::now()) {
            Take::Leased(state) => return Ok(state),
            Take::Ask { want, refund } => (refund, want),
        };
        let answer = self
            .run_quota::<(i64, u32, u32, u64, u32)>(key, rates, Some((refund, want)))
            .await;
        let (allowed, limit, remaining, reset_ms, granted) = match answer {
            Ok(answer) => answer,
            Err(reason) => {
                self.leases.record(key, rates, None, Instant::now());
                counting_in_process(&reason);
                return self.fallback.spend(key, rates).await;
            }
        };
        let state = RateLimit {
            limit,
            remaining,
            reset_after: Duration::from_millis(reset_ms),
        };
        self.leases
            .record(key, rates, Some((granted, state)), Instant::now());
        if allowed == 1 {
            Ok(state)
        } else {
            Err(AppError::RateLimited(state))
        }
    }

    async fn quota_state(&self, key: &str, rates: &[Rate]) -> AppResult<Vec<RateLimit>> {
        let looked = match self.run_quota::<Vec<u64>>(key, rates, None).await {
            Ok(looked) => looked,
            Err(reason) => {
                counting_in_process(&reason);
                return self.fallback.quota_state(key, rates).await;
            }
        };
        Ok(rates
            .iter()
            .zip(looked.chunks_exact(2))
            .map(|(rate, pair)| RateLimit {
                limit: rate.limit,
                remaining: pair[0] as u32,
                reset_after: Duration::from_millis(pair[1]),
            })
            .collect())
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
