//! Bitnami's `--rate-limit` and `--rate-limit-burst` for `/v1/verify` and
//! `/v1/rotate`: both answer anyone who reaches the Service, and each costs
//! one RSA private-key operation per value (milliseconds of CPU), so they
//! are limited to a few requests a second for the whole controller. Over
//! the limit the answer is 429 with `Retry-After`; `coffer seal`/`reseal`
//! wait and retry.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Requests a second, and how many may come at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second (Bitnami's default: 2).
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

/// A token bucket: `burst` tokens, refilled at `per_second`.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: RateLimit,
    bucket: Mutex<(f64, Instant)>,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Limiter {
        Limiter {
            limit,
            bucket: Mutex::new((f64::from(limit.burst), Instant::now())),
        }
    }

    /// Takes a token at `now`, or says how long until one is there.
    pub(crate) fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut bucket = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, last) = &mut *bucket;
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.limit.per_second;
        *tokens = (*tokens + refill).min(f64::from(self.limit.burst));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64(
            (1.0 - *tokens) / self.limit.per_second,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_applies() {
        let limiter = Limiter::new(RateLimit {
            per_second: 2.0,
            burst: 2,
        });
        let t0 = Instant::now();
        assert!(limiter.take(t0).is_ok());
        assert!(limiter.take(t0).is_ok());
        let wait = limiter.take(t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Half a second later one more token is there, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert!(limiter.take(t1).is_ok());
        assert!(limiter.take(t1).is_err());
        // A long pause refills to the burst, not beyond.
        let t2 = t1 + Duration::from_secs(60);
        assert!(limiter.take(t2).is_ok());
        assert!(limiter.take(t2).is_ok());
        assert!(limiter.take(t2).is_err());
    }
}
