//! Limits that must hold across API instances. Fixed-window counters for failed logins (per
//! address, per login name at an address, per login name from anywhere), sign-ups per address
//! and feed refreshes per account; GCRA quotas (`gcra`) for the per-action limits of trust
//! levels. In-process for the embedded shape, in Redis when several API
//! instances share counts. Keys are short and fixed in shape (names are hashed), and a key is
//! only counted once every key before it passed, so a refused client creates nothing new.

mod circuit;
pub mod gcra;
mod lease;
mod memory;
mod redis;

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

pub use self::gcra::Rate;
pub use self::memory::MemoryLimiter;
pub use self::redis::RedisLimiter;
use crate::{AppResult, RateLimit};

#[derive(Debug, Clone, Copy)]
pub struct LoginThrottleLimits {
    /// Failures naming one login from one address.
    pub per_account: u32,
    /// Failures from one address, whatever they name.
    pub per_ip: u32,
    /// Failures naming one login from all addresses it was never used from successfully.
    pub per_account_all_addresses: u32,
    pub window: Duration,
}

impl Default for LoginThrottleLimits {
    fn default() -> Self {
        Self {
            per_account: 10,
            per_ip: 10,
            per_account_all_addresses: 100,
            window: Duration::from_secs(3600),
        }
    }
}

/// The longest window any counter uses (the in-process store keeps entries this long at most).
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// One counter to check: its key, how many attempts it allows, and over what window.
#[derive(Debug, Clone)]
pub struct ThrottleKey {
    pub key: String,
    pub limit: u32,
    pub window: Duration,
}

/// Attempts are counted *before* the costly or guessable step (and forgiven when it succeeded),
/// so a burst of parallel attempts cannot all pass a check made while the count was still low.
#[async_trait]
pub trait Limiter: Send + Sync {
    /// Counts an attempt against each key in order, stopping at the first that is now over its
    /// limit (`Err(AppError::RateLimited)`); later keys are then neither counted nor created.
    async fn begin_attempt(&self, keys: &[ThrottleKey]) -> AppResult<()>;

    /// The attempt succeeded: it no longer counts.
    async fn forgive(&self, keys: &[ThrottleKey]) -> AppResult<()>;

    /// Remembers `key` for `ttl` (an address an account logged in from).
    async fn remember(&self, key: &str, ttl: Duration) -> AppResult<()>;

    /// Whether `key` is remembered.
    async fn remembered(&self, key: &str) -> AppResult<bool>;

    /// Spends one request from each of `rates` (GCRA, see `gcra`) under `key`, or refuses
    /// (`Err(AppError::RateLimited)`) and spends from none; the tightest rate after spending.
    async fn spend(&self, key: &str, rates: &[Rate]) -> AppResult<RateLimit>;

    /// Gives back one request `spend` took from each of `rates` under `key` (the write it
    /// allowed did not happen).
    async fn give_back(&self, key: &str, rates: &[Rate]) -> AppResult<()>;

    /// Each of `rates` under `key` as it stands, without spending.
    async fn quota_state(&self, key: &str, rates: &[Rate]) -> AppResult<Vec<RateLimit>>;

    /// Whether the shared counter store answers (always true in-process).
    async fn ping(&self) -> bool;

    /// Whether counts live in Redis (readiness then reports it).
    fn uses_redis(&self) -> bool {
        false
    }
}

/// The address a client is counted under: IPv4 as it is, IPv6 by its /64 (one subscriber's
/// network: a single client can use any address in it).
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// A fixed-size stand-in for a client-chosen string in a key (128 bits of SHA-256, hex).
pub fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network_of(a), network_of(b));
        assert_ne!(network_of(a), network_of(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(network_of(mapped), "192.0.2.7");
    }

    #[test]
    fn digests_are_short_whatever_the_input() {
        assert_eq!(digest(&"x".repeat(65_000)).len(), 32);
        assert_ne!(digest("jane"), digest("jane@example.com"));
    }
}
