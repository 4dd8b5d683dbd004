//! Whether Redis answers the limiter. After a failure, calls skip Redis for `PAUSE` (each would
//! otherwise wait out its timeout, adding seconds to every request of an outage); then one call
//! tries again while the others keep skipping, and its answer closes or reopens the circuit.
//! The outage is logged once when it starts, with Redis's reason, and once when it ends.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const PAUSE: Duration = Duration::from_secs(1);

#[derive(Default)]
struct State {
    down_since: Option<Instant>,
    /// While down: when the next call may try Redis.
    retry_at: Option<Instant>,
}

#[derive(Default)]
pub struct Circuit {
    state: Mutex<State>,
}

impl Circuit {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two instants, valid whatever a panicking holder left.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a call at `now` should not try Redis. The first call after a pause tries it
    /// (and holds off the others for as long as it may take, `wait`).
    pub fn skip(&self, now: Instant, wait: Duration) -> bool {
        let mut state = self.state();
        if state.down_since.is_none() {
            return false;
        }
        match state.retry_at {
            Some(at) if now < at => true,
            _ => {
                state.retry_at = Some(now + wait);
                false
            }
        }
    }

    pub fn failed(&self, reason: &str, now: Instant) {
        let mut state = self.state();
        if state.down_since.is_none() {
            tracing::warn!(
                %reason,
                "limiter: Redis does not answer; quotas are counted in process and login and \
                 sign-up checks refuse until it does"
            );
            state.down_since = Some(now);
        }
        state.retry_at = Some(now + PAUSE);
    }

    pub fn answered(&self, now: Instant) {
        let mut state = self.state();
        if let Some(since) = state.down_since.take() {
            let down_for = now.saturating_duration_since(since);
            tracing::info!(?down_for, "limiter: Redis answers again");
        }
        state.retry_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(2);

    #[test]
    fn after_a_failure_calls_skip_until_one_tries_again_and_its_answer_decides() {
        let circuit = Circuit::default();
        let start = Instant::now();
        assert!(!circuit.skip(start, WAIT));
        circuit.failed("connection refused", start);
        assert!(circuit.skip(start + PAUSE / 2, WAIT));
        let retry = start + PAUSE;
        assert!(!circuit.skip(retry, WAIT), "one call tries again");
        assert!(circuit.skip(retry, WAIT), "the others wait for its answer");
        circuit.failed("connection refused", retry);
        assert!(circuit.skip(retry + PAUSE / 2, WAIT));
        assert!(!circuit.skip(retry + PAUSE, WAIT));
        circuit.answered(retry + PAUSE);
        assert!(!circuit.skip(retry + PAUSE, WAIT));
        assert!(!circuit.skip(retry + PAUSE, WAIT));
    }
}
