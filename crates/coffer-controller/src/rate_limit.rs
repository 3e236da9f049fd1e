//! Bitnami's `--rate-limit` and `--rate-limit-burst` for `/v1/verify` and
//! `/v1/rotate`, counted by the work a request costs rather than by the
//! request.
//!
//! Both endpoints answer anyone who reaches the Service, and requests come
//! through the API server's service proxy, so callers cannot be told apart
//! by address: the limit is one bucket for the whole controller. What a
//! request costs is its RSA private-key operations (milliseconds of CPU
//! each at 4096 bits): one per value, plus one per newer key tried before
//! the key that opens it. A request is charged one token per
//! [`OPERATIONS_PER_REQUEST`] operations, and at least one, so `--rate-limit
//! 2` still means two requests a second for SealedSecrets of a handful of
//! values (Bitnami's meaning), while a request of a hundred values pays for
//! ten.
//!
//! Before the work a request must find its minimum charge (one operation
//! per value) in the bucket, or a full bucket when it needs more than the
//! burst; after the work the rest of its real cost is taken too, which may
//! leave the bucket in debt: later requests wait until it is paid. Smaller
//! requests need fewer tokens, so they get through first while large ones
//! wait for a full bucket. Over the limit the answer is 429 with
//! `Retry-After`; `coffer seal`/`reseal` wait and retry.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// RSA private-key operations one request-token pays for: a SealedSecret
/// of up to ten values, each opened by the newest key, costs what one
/// request cost before requests were weighed.
pub const OPERATIONS_PER_REQUEST: u64 = 10;

/// Requests a second, and how many may come at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second (Bitnami's default: 2), each of up to
    /// [`OPERATIONS_PER_REQUEST`] RSA operations.
    pub per_second: f64,
    /// Requests allowed at once before the rate applies (default: 2).
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 2.0,
            burst: 2,
        }
    }
}

/// What a request was charged on admission, settled once its real cost is
/// known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Charge(f64);

/// The tokens `operations` RSA operations cost: one per
/// [`OPERATIONS_PER_REQUEST`], at least one.
fn cost(operations: u64) -> f64 {
    // NB: precision loss is irrelevant at these magnitudes.
    #[allow(clippy::cast_precision_loss)]
    let tokens = operations as f64 / OPERATIONS_PER_REQUEST as f64;
    tokens.max(1.0)
}

/// A token bucket: `burst` tokens, refilled at `per_second`, that may go
/// into debt when a request turns out dearer than its admission charge.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: RateLimit,
    /// Tokens (negative: debt) and when they were last refilled.
    bucket: Mutex<(f64, Instant)>,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Limiter {
        Limiter {
            limit,
            bucket: Mutex::new((f64::from(limit.burst), Instant::now())),
        }
    }

    /// Refills to `now` and calls `f` on the tokens.
    fn with_tokens<T>(&self, now: Instant, f: impl FnOnce(&mut f64) -> T) -> T {
        let mut bucket = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, last) = &mut *bucket;
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.limit.per_second;
        *tokens = (*tokens + refill).min(f64::from(self.limit.burst));
        *last = (*last).max(now);
        f(tokens)
    }

    /// How long until `need` tokens are there.
    fn wait_for(&self, tokens: f64, need: f64) -> Duration {
        Duration::from_secs_f64(((need - tokens) / self.limit.per_second).max(0.0))
    }

    /// Whether even the cheapest request would be admitted at `now`, else
    /// how long until it would: checked before a body is read.
    pub(crate) fn check(&self, now: Instant) -> Result<(), Duration> {
        self.with_tokens(now, |tokens| {
            if *tokens >= 1.0 {
                Ok(())
            } else {
                Err(self.wait_for(*tokens, 1.0))
            }
        })
    }

    /// Admits a request that costs at least `operations` RSA operations,
    /// taking their tokens, or says how long until it would be admitted.
    /// A request dearer than the burst needs a full bucket.
    pub(crate) fn admit(&self, now: Instant, operations: u64) -> Result<Charge, Duration> {
        let charge = cost(operations);
        let need = charge.min(f64::from(self.limit.burst));
        self.with_tokens(now, |tokens| {
            if *tokens >= need {
                *tokens -= charge;
                Ok(Charge(charge))
            } else {
                Err(self.wait_for(*tokens, need))
            }
        })
    }

    /// Settles an admitted request that performed `operations` RSA
    /// operations: takes what it cost beyond its admission charge (the
    /// bucket may go into debt), or gives back what it did not use.
    pub(crate) fn settle(&self, now: Instant, charge: Charge, operations: u64) {
        let burst = f64::from(self.limit.burst);
        self.with_tokens(now, |tokens| {
            *tokens = (*tokens + charge.0 - cost(operations)).min(burst);
        });
    }

    /// Takes one token whatever is left (the bucket may go into debt): the
    /// price of a request refused after its body was read and parsed.
    pub(crate) fn charge_one(&self, now: Instant) {
        self.with_tokens(now, |tokens| *tokens -= 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: f64, burst: u32) -> Limiter {
        Limiter::new(RateLimit { per_second, burst })
    }

    #[test]
    fn requests_of_a_handful_of_values_are_limited_as_bitnami_counts_requests() {
        let limiter = limiter(2.0, 2);
        let t0 = Instant::now();
        for _ in 0..2 {
            let charge = limiter.admit(t0, 3).unwrap();
            limiter.settle(t0, charge, 3);
        }
        let wait = limiter.admit(t0, 3).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert_eq!(limiter.check(t0), Err(Duration::from_millis(500)));
        // Half a second later one more token is there, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert!(limiter.check(t1).is_ok());
        assert!(limiter.admit(t1, 10).is_ok());
        assert!(limiter.admit(t1, 1).is_err());
        // A long pause refills to the burst, not beyond.
        let t2 = t1 + Duration::from_secs(60);
        assert!(limiter.admit(t2, 1).is_ok());
        assert!(limiter.admit(t2, 1).is_ok());
        assert!(limiter.admit(t2, 1).is_err());
    }

    #[test]
    fn a_large_request_needs_a_full_bucket_and_pays_for_every_operation() {
        let limiter = limiter(2.0, 2);
        let t0 = Instant::now();
        // 100 values: admitted on a full bucket, leaving 8 tokens of debt.
        let charge = limiter.admit(t0, 100).unwrap();
        // Each value was opened by the third key: 300 operations in all.
        limiter.settle(t0, charge, 300);
        // -28 tokens: 14.5 s until the next one-token request.
        assert_eq!(limiter.check(t0), Err(Duration::from_millis(14_500)));
        let t1 = t0 + Duration::from_millis(14_500);
        assert!(limiter.check(t1).is_ok());
        // A small request gets in on one token; a large one still waits
        // for the bucket to be full.
        assert_eq!(
            limiter.admit(t1, 100).unwrap_err(),
            Duration::from_millis(500)
        );
        assert!(limiter.admit(t1, 5).is_ok());
    }

    #[test]
    fn work_not_done_is_given_back() {
        let limiter = limiter(1.0, 5);
        let t0 = Instant::now();
        // 40 values, but the first one failed to open: 1 operation.
        let charge = limiter.admit(t0, 40).unwrap();
        limiter.settle(t0, charge, 1);
        for _ in 0..4 {
            assert!(limiter.admit(t0, 1).is_ok());
        }
        assert!(limiter.admit(t0, 1).is_err());
    }
}
