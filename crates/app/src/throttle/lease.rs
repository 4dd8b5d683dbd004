//! Quota units an instance reserved ahead in Redis for a key it is serving often, so a user who
//! acts several times a second costs one Redis call per lease instead of one per request.
//! A key is only leased to when it is hot here (its last Redis call was under `HOT_WINDOW`
//! ago), no other request of it is waiting on Redis here (a lease arriving after a parallel
//! burst has asked would find no request left to use it), and far from its limit (at most a
//! sixteenth of what was left): a user acting now and then, or in parallel, or near the limit is
//! counted exactly, one Redis call a request. Units not
//! used within `LEASE_TTL` go back with the key's next call from this instance; until then they
//! count as spent (at most `MAX_LEASE` per instance and key).

use std::time::{Duration, Instant};

use moka::ops::compute::Op;
use moka::sync::Cache;

use super::Rate;
use crate::RateLimit;

pub const HOT_WINDOW: Duration = Duration::from_secs(1);
pub const LEASE_TTL: Duration = Duration::from_secs(2);
pub const MAX_LEASE: u32 = 8;
/// A lease takes at most this fraction of what the tightest rate had left.
const LEASE_SHARE: u32 = 16;
const MAX_KEYS: u64 = 100_000;

#[derive(Clone)]
struct Lease {
    rates: Vec<Rate>,
    units: u32,
    expires: Instant,
    /// When Redis last answered for this key here (none yet: not hot).
    last_call: Option<Instant>,
    /// Requests of this key waiting on Redis here (one dropped mid-call leaves it raised until
    /// the entry idles out, which only stops leasing).
    in_flight: u32,
    /// The tightest rate as Redis last reported it, leased units counted as spent.
    reported: RateLimit,
}

impl Lease {
    fn empty(rates: &[Rate], now: Instant) -> Self {
        Self {
            rates: rates.to_vec(),
            units: 0,
            expires: now,
            last_call: None,
            in_flight: 0,
            reported: RateLimit {
                limit: 0,
                remaining: 0,
                reset_after: Duration::ZERO,
            },
        }
    }
}

/// What Redis said to an `Ask`.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// It counted the request and granted `granted` more units, held here until `LEASE_TTL`.
    Counted { granted: u32, reported: RateLimit },
    /// It did not answer: the `held` units the ask was to give back are held here still.
    Unanswered { held: u32 },
}

/// What to do for one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Take {
    /// Served from a lease: no Redis call.
    Leased(RateLimit),
    /// Ask Redis for one unit plus up to `want` more, giving back `refund` unused ones first.
    Ask { want: u32, refund: u32 },
}

pub struct Leases {
    leases: Cache<String, Lease>,
}

impl Default for Leases {
    fn default() -> Self {
        Self {
            leases: Cache::builder()
                .max_capacity(MAX_KEYS)
                // Units still held when an entry idles out stay spent; they are few and the
                // quota refills them at its own pace.
                .time_to_idle(LEASE_TTL + HOT_WINDOW)
                .build(),
        }
    }
}

impl Leases {
    pub fn take(&self, key: &str, rates: &[Rate], now: Instant) -> Take {
        let mut take = Take::Ask { want: 0, refund: 0 };
        self.leases.entry_by_ref(key).and_compute_with(|entry| {
            let mut lease = entry
                .map(|entry| entry.into_value())
                // Units spent under other quotas (the account's level changed) stay spent.
                .filter(|lease| lease.rates == rates)
                .unwrap_or_else(|| Lease::empty(rates, now));
            if lease.units > 0 && now < lease.expires {
                lease.units -= 1;
                take = Take::Leased(RateLimit {
                    remaining: lease.reported.remaining + lease.units,
                    ..lease.reported
                });
                return Op::Put(lease);
            }
            let hot = lease
                .last_call
                .is_some_and(|at| now.saturating_duration_since(at) < HOT_WINDOW);
            let want = if hot && lease.in_flight == 0 {
                (lease.reported.remaining / LEASE_SHARE).min(MAX_LEASE)
            } else {
                0
            };
            take = Take::Ask {
                want,
                refund: lease.units,
            };
            lease.units = 0;
            lease.in_flight += 1;
            Op::Put(lease)
        });
        take
    }

    /// What Redis said to an `Ask` of this key.
    pub fn record(&self, key: &str, rates: &[Rate], answer: Answer, now: Instant) {
        self.leases.entry_by_ref(key).and_compute_with(|entry| {
            let mut lease = entry
                .map(|entry| entry.into_value())
                .filter(|lease| lease.rates == rates)
                .unwrap_or_else(|| Lease::empty(rates, now));
            lease.in_flight = lease.in_flight.saturating_sub(1);
            match answer {
                Answer::Counted { granted, reported } => {
                    // Held units were spent in Redis already: any still here stay usable.
                    lease.units += granted;
                    lease.expires = now + LEASE_TTL;
                    lease.last_call = Some(now);
                    lease.reported = reported;
                }
                // Past their lease: they go back with the next call that Redis answers.
                Answer::Unanswered { held } => lease.units += held,
            }
            Op::Put(lease)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATES: [Rate; 1] = [Rate {
        limit: 1000,
        period: Duration::from_secs(3600),
    }];

    fn reported(remaining: u32) -> RateLimit {
        RateLimit {
            limit: 1000,
            remaining,
            reset_after: Duration::from_secs(1),
        }
    }

    fn counted(granted: u32, reported: RateLimit) -> Answer {
        Answer::Counted { granted, reported }
    }

    #[test]
    fn a_key_used_now_and_then_asks_redis_every_time_for_exactly_one() {
        let leases = Leases::default();
        let start = Instant::now();
        for i in 0..3 {
            let now = start + i * 2 * HOT_WINDOW;
            let take = leases.take("k", &RATES, now);
            assert_eq!(take, Take::Ask { want: 0, refund: 0 });
            leases.record("k", &RATES, counted(0, reported(999 - i)), now);
        }
    }

    #[test]
    fn a_hot_key_is_served_from_its_lease_then_gives_back_what_it_did_not_use() {
        let leases = Leases::default();
        let now = Instant::now();
        leases.record("k", &RATES, counted(0, reported(999)), now);
        let soon = now + HOT_WINDOW / 2;
        assert_eq!(
            leases.take("k", &RATES, soon),
            Take::Ask {
                want: MAX_LEASE,
                refund: 0
            }
        );
        leases.record("k", &RATES, counted(3, reported(995)), soon);
        for left in [2, 1, 0] {
            assert_eq!(
                leases.take("k", &RATES, soon),
                Take::Leased(reported(995 + left))
            );
        }
        assert!(matches!(leases.take("k", &RATES, soon), Take::Ask { .. }));
        leases.record("k", &RATES, counted(3, reported(991)), soon);
        assert!(matches!(leases.take("k", &RATES, soon), Take::Leased(_)));
        // Two units left unused past the lease's end go back with the next call.
        let later = soon + LEASE_TTL + HOT_WINDOW / 2;
        assert_eq!(
            leases.take("k", &RATES, later),
            Take::Ask { want: 0, refund: 2 }
        );
        // Redis did not answer: they are still held, and go back with the call after.
        leases.record("k", &RATES, Answer::Unanswered { held: 2 }, later);
        assert_eq!(
            leases.take("k", &RATES, later),
            Take::Ask { want: 0, refund: 2 }
        );
    }

    #[test]
    fn requests_in_parallel_ask_for_exactly_one_each() {
        let leases = Leases::default();
        let now = Instant::now();
        leases.record("k", &RATES, counted(0, reported(999)), now);
        assert_eq!(
            leases.take("k", &RATES, now),
            Take::Ask {
                want: MAX_LEASE,
                refund: 0
            }
        );
        assert_eq!(
            leases.take("k", &RATES, now),
            Take::Ask { want: 0, refund: 0 }
        );
        leases.record("k", &RATES, counted(0, reported(998)), now);
        leases.record("k", &RATES, Answer::Unanswered { held: 0 }, now);
        assert_eq!(
            leases.take("k", &RATES, now),
            Take::Ask {
                want: MAX_LEASE,
                refund: 0
            }
        );
    }

    #[test]
    fn near_the_limit_or_under_other_rates_nothing_is_leased() {
        let leases = Leases::default();
        let now = Instant::now();
        leases.record("k", &RATES, counted(0, reported(15)), now);
        assert_eq!(
            leases.take("k", &RATES, now),
            Take::Ask { want: 0, refund: 0 }
        );
        leases.record("k", &RATES, counted(0, reported(40)), now);
        assert_eq!(
            leases.take("k", &RATES, now),
            Take::Ask { want: 2, refund: 0 }
        );
        leases.record("k", &RATES, counted(2, reported(37)), now);
        let other = [Rate {
            limit: 10,
            ..RATES[0]
        }];
        assert_eq!(
            leases.take("k", &other, now),
            Take::Ask { want: 0, refund: 0 }
        );
    }
}
