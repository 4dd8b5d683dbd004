use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::circuit::Circuit;
use super::lease::{Answer, Leases, Take};
use super::{Limiter, MemoryLimiter, Rate, ThrottleKey};
use crate::redis_link::RedisLink;
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
/// KEYS[1]: a hash of period (ms) → theoretical arrival time (ms). ARGV: the mode (`look`,
/// `spend` or `give_back`); units given back first (an expired lease, `lease.rs`, or a write
/// that did not happen); units wanted on top of the request's own (granted only if all fit);
/// then limit and period (ms) per rate. Spending returns {1, limit, remaining, reset ms, units
/// granted} of the tightest rate, or {0, limit, 0, wait ms, 0} of the rate that refused (nothing
/// spent); looking returns remaining and reset ms per rate; giving back returns nothing.
const QUOTA: &str = "
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local mode, refund, want = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local n = (#ARGV - 3) / 2
local tats, intervals, spans, limits, looked = {}, {}, {}, {}, {}
for i = 1, n do
  local limit, period = tonumber(ARGV[2 * i + 2]), tonumber(ARGV[2 * i + 3])
  intervals[i] = math.max(1, math.floor(period / limit))
  spans[i], limits[i] = intervals[i] * limit, limit
  local stored = redis.call('HGET', KEYS[1], ARGV[2 * i + 3])
  if mode == 'give_back' and not stored then return {} end
  local tat = math.max(tonumber(stored or now), now)
  tats[i] = math.max(tat - refund * intervals[i], now)
  if mode == 'look' then
    looked[#looked + 1] = math.min(limit, math.floor(math.max(spans[i] - (tats[i] - now), 0) / intervals[i]))
    looked[#looked + 1] = tats[i] - now
  end
end
if mode == 'look' then return looked end
local result = {}
local function fits(units)
  for i = 1, n do
    if tats[i] + units * intervals[i] - spans[i] > now then return false end
  end
  return true
end
if mode == 'spend' then
  local units = 1
  if want > 0 and fits(1 + want) then units = 1 + want end
  if fits(units) then
    for i = 1, n do tats[i] = tats[i] + units * intervals[i] end
    for i = 1, n do
      local remaining = math.min(limits[i], math.floor((spans[i] - (tats[i] - now)) / intervals[i]))
      if result[3] == nil or remaining < result[3] then
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
    redis: RedisLink,
    prefix: String,
    begin_attempt: redis::Script,
    forgive: redis::Script,
    quota: redis::Script,
    /// Counts quotas while Redis is unreachable: each instance then holds the limits alone
    /// (a fleet of N allows up to N times as much), rather than refusing every write.
    fallback: MemoryLimiter,
    leases: Leases,
    circuit: Circuit,
}

/// What a QUOTA call does (see the script).
enum Mode {
    Look,
    Spend { refund: u32, want: u32 },
    GiveBack,
}

fn unreachable(_: String) -> AppError {
    AppError::Unavailable("the rate limiter is unreachable")
}

impl RedisLimiter {
    pub fn new(redis: RedisLink, prefix: &str) -> Self {
        Self {
            redis,
            prefix: format!("{prefix}:limits:"),
            begin_attempt: redis::Script::new(BEGIN_ATTEMPT),
            forgive: redis::Script::new(FORGIVE),
            quota: redis::Script::new(QUOTA),
            fallback: MemoryLimiter::new(),
            leases: Leases::default(),
            circuit: Circuit::default(),
        }
    }

    fn redis_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// One call to Redis, within `REDIS_TIMEOUT`; refused at once while the circuit is open.
    async fn ask<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
        if self.circuit.skip(Instant::now(), REDIS_TIMEOUT) {
            return Err("Redis did not answer a moment ago".to_owned());
        }
        let answer = match tokio::time::timeout(REDIS_TIMEOUT, call).await {
            Ok(answer) => answer.map_err(|error| error.to_string()),
            Err(_) => Err("timed out".to_owned()),
        };
        match &answer {
            Ok(_) => self.circuit.answered(Instant::now()),
            Err(reason) => {
                self.circuit.failed(reason, Instant::now());
                self.redis.failed();
            }
        }
        answer
    }

    async fn run_quota<T: redis::FromRedisValue>(
        &self,
        key: &str,
        rates: &[Rate],
        mode: Mode,
    ) -> Result<T, String> {
        let (name, refund, want) = match mode {
            Mode::Look => ("look", 0, 0),
            Mode::Spend { refund, want } => ("spend", refund, want),
            Mode::GiveBack => ("give_back", 1, 0),
        };
        let mut invocation = self.quota.prepare_invoke();
        invocation
            .key(self.redis_key(key))
            .arg(name)
            .arg(refund)
            .arg(want);
        for rate in rates {
            invocation
                .arg(rate.limit)
                .arg(rate.period.as_millis() as u64);
        }
        let mut conn = self.redis.connection();
        self.ask(invocation.invoke_async(&mut conn)).await
    }
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
        let mut conn = self.redis.connection();
        let (refused, ttl_ms): (usize, i64) = self
            .ask(invocation.invoke_async(&mut conn))
            .await
            .map_err(unreachable)?;
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
        let mut conn = self.redis.connection();
        self.ask(invocation.invoke_async::<i64>(&mut conn))
            .await
            .map_err(unreachable)?;
        Ok(())
    }

    async fn spend(&self, key: &str, rates: &[Rate]) -> AppResult<RateLimit> {
        let (refund, want) = match self.leases.take(key, rates, Instant::now()) {
            Take::Leased(state) => return Ok(state),
            Take::Ask { want, refund } => (refund, want),
        };
        let answer = self
            .run_quota::<(i64, u32, u32, u64, u32)>(key, rates, Mode::Spend { refund, want })
            .await;
        let Ok((allowed, limit, remaining, reset_ms, granted)) = answer else {
            // Counted here instead. After a timeout Redis may have counted it too (counted
            // twice, never let through uncounted); the units it was to get back are held still.
            let unanswered = Answer::Unanswered { held: refund };
            self.leases.record(key, rates, unanswered, Instant::now());
            return self.fallback.spend(key, rates).await;
        };
        let reported = RateLimit {
            limit,
            remaining,
            reset_after: Duration::from_millis(reset_ms),
        };
        let counted = Answer::Counted { granted, reported };
        self.leases.record(key, rates, counted, Instant::now());
        if allowed == 1 {
            Ok(reported)
        } else {
            Err(AppError::RateLimited(reported))
        }
    }

    async fn give_back(&self, key: &str, rates: &[Rate]) -> AppResult<()> {
        if self
            .run_quota::<()>(key, rates, Mode::GiveBack)
            .await
            .is_err()
        {
            self.fallback.give_back(key, rates).await?;
        }
        Ok(())
    }

    async fn quota_state(&self, key: &str, rates: &[Rate]) -> AppResult<Vec<RateLimit>> {
        let Ok(looked) = self.run_quota::<Vec<u64>>(key, rates, Mode::Look).await else {
            return self.fallback.quota_state(key, rates).await;
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
        let mut conn = self.redis.connection();
        let set = redis::cmd("SET")
            .arg(self.redis_key(key))
            .arg(1)
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .to_owned();
        self.ask(set.query_async::<()>(&mut conn))
            .await
            .map_err(unreachable)
    }

    async fn remembered(&self, key: &str) -> AppResult<bool> {
        let mut conn = self.redis.connection();
        let exists = redis::cmd("EXISTS").arg(self.redis_key(key)).to_owned();
        let found: i64 = self
            .ask(exists.query_async(&mut conn))
            .await
            .map_err(unreachable)?;
        Ok(found == 1)
    }

    fn uses_redis(&self) -> bool {
        true
    }

    async fn ping(&self) -> bool {
        // Readiness asks Redis itself, circuit or not, and its answer counts.
        let mut conn = self.redis.connection();
        let ping = redis::cmd("PING");
        let pong = ping.query_async::<String>(&mut conn);
        let answered = matches!(tokio::time::timeout(REDIS_TIMEOUT, pong).await, Ok(Ok(_)));
        if answered {
            self.circuit.answered(Instant::now());
        } else {
            self.redis.failed();
        }
        answered
    }
}
