//! Per-object retry backoff, shared by the controllers of this process
//! (ExternalSecret here, SealedSecret in coffer-controller): each failure of
//! an object doubles its next delay from `base` up to `max`; a success (or
//! giving up) forgets it. Objects are counted by uid, never by content.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Consecutive failures per object uid, and the delays they earn.
#[derive(Debug)]
pub struct Retries {
    base: Duration,
    max: Duration,
    only_when_due: bool,
    /// Per uid: failures in a row, and when the retry they earned is due.
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Retries {
    /// Delays of `base`, `2 * base`, `4 * base`, ... up to `max`; every
    /// failure counts (Bitnami's work queue, which the SealedSecret
    /// controller matches, counts each).
    pub fn new(base: Duration, max: Duration) -> Retries {
        Retries {
            base,
            max,
            only_when_due: false,
            failures: Mutex::default(),
        }
    }

    /// Counts a failure only when it comes at or after the retry the last
    /// one earned; an earlier one (a reconcile woken by a watch event, such
    /// as the controller's own status write) keeps the delay already
    /// earned. Without this, a provider outage of seconds could push the
    /// backoff to its maximum in a burst of events, and the object would
    /// stay failed for minutes after the provider came back (the fault
    /// suite, `coffer-controller/tests/faults`, measured this).
    pub fn escalating_only_when_due(mut self) -> Retries {
        self.only_when_due = true;
        self
    }

    /// Counts a failure of object `uid`: its attempt number (1 for the
    /// first failure in a row) and the delay before the next try.
    pub fn failed(&self, uid: &str) -> (u32, Duration) {
        self.failed_at(uid, Instant::now())
    }

    fn failed_at(&self, uid: &str, now: Instant) -> (u32, Duration) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let (n, due) = failures.entry(uid.to_owned()).or_insert((0, now));
        if self.only_when_due && *n > 0 && now < *due {
            return (*n, *due - now);
        }
        *n = n.saturating_add(1);
        let delay = self.delay(*n);
        *due = now + delay;
        (*n, delay)
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

    #[test]
    fn failures_before_the_retry_is_due_keep_the_delay_when_escalating_only_when_due() {
        let retries = Retries::new(Duration::from_secs(5), Duration::from_secs(300))
            .escalating_only_when_due();
        let start = Instant::now();
        assert_eq!(retries.failed_at("a", start), (1, Duration::from_secs(5)));
        // Woken early twice (1 s and 3 s later): the first retry is still
        // due at 5 s.
        let early = start + Duration::from_secs(1);
        assert_eq!(retries.failed_at("a", early), (1, Duration::from_secs(4)));
        let early = start + Duration::from_secs(3);
        assert_eq!(retries.failed_at("a", early), (1, Duration::from_secs(2)));
        // The retry itself fails: now it doubles.
        let due = start + Duration::from_secs(5);
        assert_eq!(retries.failed_at("a", due), (2, Duration::from_secs(10)));

        // Without the option every failure counts, early or not.
        let every = Retries::new(Duration::from_secs(5), Duration::from_secs(300));
        assert_eq!(every.failed_at("a", start), (1, Duration::from_secs(5)));
        let early = start + Duration::from_secs(1);
        assert_eq!(every.failed_at("a", early), (2, Duration::from_secs(10)));
    }
}
