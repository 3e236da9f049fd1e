//! Per-object retry backoff, shared by the controllers of this process
//! (ExternalSecret here, SealedSecret in coffer-controller): each failure of
//! an object doubles its next delay from `base` up to `max`; a success (or
//! giving up) forgets it. Objects are counted by uid, never by content.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Consecutive failures per object uid, and the delays they earn.
#[derive(Debug)]
pub struct Retries {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<String, u32>>,
}

impl Retries {
    /// Delays of `base`, `2 * base`, `4 * base`, ... up to `max`.
    pub fn new(base: Duration, max: Duration) -> Retries {
        Retries {
            base,
            max,
            failures: Mutex::default(),
        }
    }

    /// Counts a failure of object `uid`: its attempt number (1 for the
    /// first failure in a row) and the delay before the next try.
    pub fn failed(&self, uid: &str) -> (u32, Duration) {
        let attempt = {
            let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
            let n = failures.entry(uid.to_owned()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        (attempt, self.delay(attempt))
    }

    /// Forgets object `uid`'s failures (it succeeded, or is given up on).
    pub fn forget(&self, uid: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(uid);
    }

    /// Keeps only the failures of objects for which `keep` is true (the
    /// others are gone).
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|uid, _| keep(uid));
    }

    /// The delay after failure number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        // NB: 2^20 times any base is past any max; the exponent is capped
        // so the multiplication cannot overflow.
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The shortest delay (the first one).
    pub fn base(&self) -> Duration {
        self.base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_per_failure_until_the_maximum_and_reset_on_forget() {
        let retries = Retries::new(Duration::from_secs(5), Duration::from_secs(300));
        let delays: Vec<u64> = (0..8).map(|_| retries.failed("a").1.as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(
            retries.failed("b"),
            (1, Duration::from_secs(5)),
            "per object"
        );
        retries.forget("a");
        assert_eq!(retries.failed("a"), (1, Duration::from_secs(5)));
        retries.failed("a");
        retries.retain(|uid| uid == "b");
        assert_eq!(retries.failed("a").0, 1, "a's failures were dropped");
        assert_eq!(retries.failed("b").0, 2, "b's were kept");
        assert_eq!(retries.delay(u32::MAX), Duration::from_secs(300));
    }
}
