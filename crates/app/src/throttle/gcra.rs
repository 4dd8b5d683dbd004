//! The generic cell rate algorithm behind per-action quotas: a quota of `limit` per `period`
//! keeps one number, the theoretical arrival time (TAT). Each request moves it `period / limit`
//! later; a request passes while the TAT stays within one `period` of now. That allows a burst
//! of `limit`, then one more every `period / limit`. `redis.rs` runs the same arithmetic in Lua
//! (integer milliseconds in both), so both shapes answer alike.

use std::time::Duration;

use crate::RateLimit;

/// One quota: `limit` per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u32,
    pub period: Duration,
}

impl Rate {
    fn period_ms(self) -> i64 {
        self.period.as_millis() as i64
    }

    /// Milliseconds each request moves the TAT.
    fn interval_ms(self) -> i64 {
        (self.period_ms() / i64::from(self.limit.max(1))).max(1)
    }

    /// How far ahead of now the TAT may run: `limit` intervals (the period, unless the interval
    /// was rounded down, when using the period would let more than `limit` through at once).
    fn span_ms(self) -> i64 {
        self.interval_ms() * i64::from(self.limit.max(1))
    }

    /// The quota as it stands at `now` with `tat` stored: what is left and when it is whole.
    pub fn state(self, tat: Option<i64>, now: i64) -> RateLimit {
        let tat = tat.unwrap_or(now).max(now);
        let headroom = self.span_ms() - (tat - now);
        RateLimit {
            limit: self.limit,
            remaining: (headroom.max(0) / self.interval_ms()).min(i64::from(self.limit)) as u32,
            reset_after: Duration::from_millis((tat - now) as u64),
        }
    }
}

/// Spends one request from every rate at once, or from none: `Ok` with the new TATs and the
/// tightest quota after spending; `Err` with the quota that refused (the one that frees up
/// last) and how long until it lets one more through.
pub fn spend(
    rates: &[Rate],
    tats: &[Option<i64>],
    now: i64,
) -> Result<(Vec<i64>, RateLimit), RateLimit> {
    let mut new_tats = Vec::with_capacity(rates.len());
    let mut refused: Option<RateLimit> = None;
    for (i, rate) in rates.iter().enumerate() {
        let tat = tats.get(i).copied().flatten().unwrap_or(now).max(now);
        let new_tat = tat + rate.interval_ms();
        let allowed_at = new_tat - rate.span_ms();
        if allowed_at > now {
            let wait = Duration::from_millis((allowed_at - now) as u64);
            if refused.is_none_or(|r| r.reset_after < wait) {
                refused = Some(RateLimit {
                    limit: rate.limit,
                    remaining: 0,
                    reset_after: wait,
                });
            }
        }
        new_tats.push(new_tat);
    }
    if let Some(refused) = refused {
        return Err(refused);
    }
    let tightest = rates
        .iter()
        .zip(&new_tats)
        .map(|(rate, tat)| rate.state(Some(*tat), now))
        .min_by_key(|state| state.remaining)
        .unwrap_or(RateLimit {
            limit: 0,
            remaining: 0,
            reset_after: Duration::ZERO,
        });
    Ok((new_tats, tightest))
}

/// Gives one request back to every rate with a stored TAT (a write that spent and then did not
/// happen): each TAT moves one interval earlier, never before now.
pub fn give_back(rates: &[Rate], tats: &[Option<i64>], now: i64) -> Vec<Option<i64>> {
    rates
        .iter()
        .zip(tats)
        .map(|(rate, tat)| tat.map(|tat| (tat - rate.interval_ms()).max(now)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const HOUR_MS: i64 = 3_600_000;

    fn spend_all(rates: &[Rate], tats: &mut Vec<Option<i64>>, now: i64) -> Result<u32, RateLimit> {
        let (new, tightest) = spend(rates, tats, now)?;
        *tats = new.into_iter().map(Some).collect();
        Ok(tightest.remaining)
    }

    #[test]
    fn a_burst_of_the_limit_passes_then_one_per_interval() {
        let rates = [Rate {
            limit: 3,
            period: HOUR,
        }];
        let mut tats = vec![None];
        assert_eq!(spend_all(&rates, &mut tats, 0), Ok(2));
        assert_eq!(spend_all(&rates, &mut tats, 0), Ok(1));
        assert_eq!(spend_all(&rates, &mut tats, 0), Ok(0));
        let refused = spend_all(&rates, &mut tats, 0).unwrap_err();
        assert_eq!(refused.limit, 3);
        assert_eq!(refused.reset_after, Duration::from_secs(1200));
        assert!(spend_all(&rates, &mut tats, HOUR_MS / 3 - 1).is_err());
        assert_eq!(spend_all(&rates, &mut tats, HOUR_MS / 3), Ok(0));
        // After a whole period of quiet the burst is whole again.
        let state = rates[0].state(tats[0], 2 * HOUR_MS);
        assert_eq!((state.remaining, state.reset_after), (3, Duration::ZERO));
    }

    #[test]
    fn all_rates_spend_or_none_does() {
        let hourly = Rate {
            limit: 1,
            period: HOUR,
        };
        let daily = Rate {
            limit: 2,
            period: 24 * HOUR,
        };
        let rates = [hourly, daily];
        let mut tats = vec![None, None];
        assert_eq!(spend_all(&rates, &mut tats, 0), Ok(0));
        let before = tats.clone();
        let refused = spend_all(&rates, &mut tats, 1000).unwrap_err();
        assert_eq!(refused.limit, 1, "the hourly quota refuses");
        assert_eq!(tats, before, "a refusal spends nothing");
        assert!(spend_all(&rates, &mut tats, HOUR_MS).is_ok());
        // Two in the day: the daily quota now refuses, for longest.
        let refused = spend_all(&rates, &mut tats, 2 * HOUR_MS).unwrap_err();
        assert_eq!(refused.limit, 2);
        assert_eq!(refused.reset_after, Duration::from_secs(10 * 3600));
    }

    #[test]
    fn a_period_that_does_not_divide_by_the_limit_still_bursts_only_the_limit() {
        // 3_600_000 ms / 7_000 rounds down to 514 ms an interval.
        let rate = Rate {
            limit: 7_000,
            period: HOUR,
        };
        let mut tats = vec![None];
        let mut passed = 0;
        while spend_all(&[rate], &mut tats, 0).is_ok() {
            passed += 1;
        }
        assert_eq!(passed, 7_000);
    }

    #[test]
    fn a_unit_given_back_can_be_spent_again_but_never_beyond_the_limit() {
        let rate = Rate {
            limit: 2,
            period: HOUR,
        };
        let mut tats = vec![None];
        spend_all(&[rate], &mut tats, 0).unwrap();
        spend_all(&[rate], &mut tats, 0).unwrap();
        assert!(spend_all(&[rate], &mut tats, 0).is_err());
        tats = give_back(&[rate], &tats, 0);
        assert_eq!(spend_all(&[rate], &mut tats, 0), Ok(0));
        // Giving back more than was spent leaves the quota whole, not larger.
        for _ in 0..5 {
            tats = give_back(&[rate], &tats, 0);
        }
        assert_eq!(rate.state(tats[0], 0).remaining, 2);
        assert_eq!(give_back(&[rate], &[None], 0), vec![None]);
    }

    #[test]
    fn state_counts_what_is_left_without_spending() {
        let rate = Rate {
            limit: 30,
            period: HOUR,
        };
        assert_eq!(rate.state(None, 5).remaining, 30);
        let (tats, after) = spend(&[rate], &[None], 0).unwrap();
        assert_eq!(after.remaining, 29);
        let state = rate.state(Some(tats[0]), 0);
        assert_eq!(state.remaining, 29);
        assert_eq!(state.reset_after, Duration::from_secs(120));
    }
}
