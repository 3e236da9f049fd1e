//! The running totals one render is held to: steps, bytes read and written
//! by functions, values built, and the wall-clock deadline.
//!
//! Everything that does work charges it here *before or while* doing it, so
//! a runaway template stops within one limit's worth of work. The clock is
//! read every [`CLOCK_EVERY_STEPS`] steps and every [`CLOCK_EVERY_BYTES`]
//! bytes charged, which keeps the deadline check cheap and still catches a
//! render between any two calls.

use std::cell::Cell;
use std::time::Instant;

use crate::Limits;
use crate::error::Limit;

/// How often (in steps) the clock is read.
const CLOCK_EVERY_STEPS: u64 = 64;
/// How often (in bytes charged) the clock is read.
const CLOCK_EVERY_BYTES: usize = 256 << 10;

/// The limits of one render and what it has used so far. Interior
/// mutability: functions get a shared reference.
pub(crate) struct Budget {
    limits: Limits,
    deadline: Option<Instant>,
    steps: Cell<u64>,
    bytes: Cell<usize>,
    values: Cell<u64>,
    next_clock_at_bytes: Cell<usize>,
    /// RSA keys generated so far (see `funcs::keygen`).
    rsa_keys: Cell<u32>,
}

impl Budget {
    /// A fresh budget; the deadline starts now.
    pub(crate) fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            deadline: Instant::now().checked_add(limits.max_duration),
            steps: Cell::new(0),
            bytes: Cell::new(0),
            values: Cell::new(0),
            next_clock_at_bytes: Cell::new(CLOCK_EVERY_BYTES),
            rsa_keys: Cell::new(0),
        }
    }

    /// The most a single value may hold (`Limits::max_value_bytes`).
    pub(crate) fn max_value(&self) -> usize {
        self.limits.max_value_bytes
    }

    /// One evaluation step.
    pub(crate) fn step(&self) -> Result<(), Limit> {
        let n = self.steps.get().saturating_add(1);
        self.steps.set(n);
        if n > self.limits.max_steps {
            return Err(Limit::Steps(self.limits.max_steps));
        }
        if n.is_multiple_of(CLOCK_EVERY_STEPS) {
            self.clock()?;
        }
        Ok(())
    }

    /// `n` bytes read or written by a function.
    pub(crate) fn bytes(&self, n: usize) -> Result<(), Limit> {
        let total = self.bytes.get().saturating_add(n);
        self.bytes.set(total);
        if total > self.limits.max_total_bytes {
            return Err(Limit::TotalBytes(self.limits.max_total_bytes));
        }
        if total >= self.next_clock_at_bytes.get() {
            self.next_clock_at_bytes
                .set(total.saturating_add(CLOCK_EVERY_BYTES));
            self.clock()?;
        }
        Ok(())
    }

    /// `n` values (strings, list elements, map entries) built.
    pub(crate) fn values(&self, n: usize) -> Result<(), Limit> {
        let total = self
            .values
            .get()
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        self.values.set(total);
        if total > self.limits.max_values {
            return Err(Limit::Values(self.limits.max_values));
        }
        Ok(())
    }

    /// Counts one RSA key generation; false once this render has made
    /// `max` (the caller refuses the one past it).
    pub(crate) fn rsa_key(&self, max: u32) -> bool {
        let n = self.rsa_keys.get().saturating_add(1);
        self.rsa_keys.set(n);
        n <= max
    }

    /// Fails once the deadline has passed.
    pub(crate) fn clock(&self) -> Result<(), Limit> {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => {
                Err(Limit::Deadline(self.limits.max_duration))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn budget(limits: Limits) -> Budget {
        Budget::new(limits)
    }

    #[test]
    fn each_total_trips_its_own_limit() {
        let b = budget(Limits {
            max_steps: 3,
            max_total_bytes: 10,
            max_values: 5,
            ..Limits::default()
        });
        for _ in 0..3 {
            b.step().unwrap();
        }
        assert_eq!(b.step(), Err(Limit::Steps(3)));
        b.bytes(10).unwrap();
        assert_eq!(b.bytes(1), Err(Limit::TotalBytes(10)));
        b.values(5).unwrap();
        assert_eq!(b.values(1), Err(Limit::Values(5)));
    }

    #[test]
    fn a_passed_deadline_fails_steps_and_byte_charges() {
        let b = budget(Limits {
            max_duration: Duration::ZERO,
            ..Limits::default()
        });
        assert_eq!(b.clock(), Err(Limit::Deadline(Duration::ZERO)));
        let steps: Vec<_> = (0..CLOCK_EVERY_STEPS).map(|_| b.step()).collect();
        assert_eq!(steps.last(), Some(&Err(Limit::Deadline(Duration::ZERO))));
        assert_eq!(
            b.bytes(CLOCK_EVERY_BYTES),
            Err(Limit::Deadline(Duration::ZERO))
        );
    }

    #[test]
    fn duration_max_means_no_deadline() {
        let b = budget(Limits {
            max_duration: Duration::MAX,
            ..Limits::default()
        });
        assert_eq!(b.clock(), Ok(()));
    }
}
