//! The throttling backoff of one store's client.
//!
//! When Secrets Manager throttles a call, the whole client (one per store)
//! stops calling for a while and fails fast with `Error::Throttled`, so that
//! hundreds of ExternalSecrets sharing the store do not keep the quota
//! exhausted. Windows grow exponentially with each throttle that happens
//! outside a window, with jitter so that replicas and stores do not retry in
//! step, and reset after a successful call.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// First window after a throttle.
const BASE: Duration = Duration::from_secs(2);
/// Longest window.
const MAX: Duration = Duration::from_secs(120);

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Throttles since the last success.
    throttles: u32,
    /// No calls before this instant.
    until: Option<Instant>,
}

impl Backoff {
    /// `Err(remaining)` while a window is open at `now`.
    pub(crate) fn check(&self, now: Instant) -> Result<(), Duration> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match state.until {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a throttled call at `now` and returns how long the client now
    /// waits. `jitter` in `[0, 1)` picks the window's length between half
    /// and all of the exponential step ("equal jitter").
    ///
    /// Calls already in flight when a window opened are often throttled
    /// too; they do not lengthen the open window.
    pub(crate) fn throttled(&self, now: Instant, jitter: f64) -> Duration {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(until) = state.until.filter(|until| *until > now) {
            return until - now;
        }
        let step = BASE
            .saturating_mul(1u32 << state.throttles.min(16))
            .min(MAX);
        state.throttles = state.throttles.saturating_add(1);
        let window = step.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
        state.until = Some(now + window);
        window
    }

    /// Records a successful call: the next throttle starts from the first
    /// window again.
    pub(crate) fn succeeded(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.throttles = 0;
    }
}

/// A number in `[0, 1)` that differs between calls and processes; only
/// spreads retries, so it need not be cryptographic.
pub(crate) fn jitter() -> f64 {
    let bits = RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_opens_a_window_during_which_calls_fail_fast() {
        let backoff = Backoff::default();
        let t0 = Instant::now();
        assert_eq!(backoff.check(t0), Ok(()));
        let window = backoff.throttled(t0, 1.0);
        assert_eq!(window, BASE);
        assert_eq!(backoff.check(t0 + BASE / 2), Err(BASE / 2));
        assert_eq!(backoff.check(t0 + BASE), Ok(()));
    }

    #[test]
    fn windows_grow_exponentially_up_to_the_maximum() {
        let backoff = Backoff::default();
        let mut now = Instant::now();
        let mut windows = Vec::new();
        for _ in 0..10 {
            let window = backoff.throttled(now, 1.0);
            windows.push(window.as_secs());
            now += window;
        }
        assert_eq!(windows, [2, 4, 8, 16, 32, 64, 120, 120, 120, 120]);
    }

    #[test]
    fn throttles_inside_an_open_window_do_not_lengthen_it() {
        let backoff = Backoff::default();
        let t0 = Instant::now();
        backoff.throttled(t0, 1.0);
        let again = backoff.throttled(t0 + Duration::from_secs(1), 1.0);
        assert_eq!(again, Duration::from_secs(1));
        // The next window after this one is the second step, not the third.
        assert_eq!(backoff.throttled(t0 + BASE, 1.0), BASE * 2);
    }

    #[test]
    fn a_success_resets_the_steps() {
        let backoff = Backoff::default();
        let t0 = Instant::now();
        backoff.throttled(t0, 1.0);
        backoff.throttled(t0 + BASE, 1.0);
        backoff.succeeded();
        assert_eq!(backoff.throttled(t0 + BASE * 4, 1.0), BASE);
    }

    #[test]
    fn jitter_keeps_windows_between_half_and_all_of_the_step() {
        let t0 = Instant::now();
        assert_eq!(Backoff::default().throttled(t0, 0.0), BASE / 2);
        for _ in 0..100 {
            let window = Backoff::default().throttled(t0, jitter());
            assert!(window >= BASE / 2 && window <= BASE, "{window:?}");
        }
    }
}
