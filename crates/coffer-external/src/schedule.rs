//! When an ExternalSecret is synced: ESO's `refreshPolicy` rules, plus
//! jitter so that a restart does not make every overdue refresh fall due at
//! once.
//!
//! Pure functions over what the reconcile knows (status, metadata, whether
//! the Secret still matches), so the rules are unit-tested without a
//! cluster.

use std::time::{Duration, SystemTime};

pub use coffer_api::external::RefreshPolicy;

/// What the reconcile knows when deciding.
#[derive(Debug, Clone, Copy)]
pub struct Inputs {
    /// Now, wall clock.
    pub now: SystemTime,
    /// `status.refreshTime`: when the data last written was read.
    pub refresh_time: Option<SystemTime>,
    /// `status.syncedResourceVersion` equals the object's current
    /// generation-and-metadata version (no spec, label or annotation change,
    /// e.g. `force-sync`, since the last sync).
    pub synced_current_version: bool,
    /// The target Secret exists and still holds what was written (its data
    /// hash matches). Always true for `creationPolicy: None`/`Orphan`, whose
    /// Secrets the controller does not police.
    pub secret_intact: bool,
    /// `refreshInterval`.
    pub interval: Duration,
    /// `refreshPolicy`.
    pub policy: RefreshPolicy,
    /// A stable fraction in `[0, 1)` for this object (see [`jitter_fraction`]).
    pub jitter: f64,
    /// This process has not synced the object yet (first reconcile after
    /// start): an overdue refresh is spread by jitter rather than run now.
    pub first_since_start: bool,
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Read the provider and write the Secret now.
    SyncNow(Why),
    /// Nothing to do until this much time has passed.
    Wait(Duration),
    /// Nothing to do until the object or its Secret changes.
    Idle,
}

/// Why a sync is due (logged, and used in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Never synced, or the ExternalSecret changed since.
    Changed,
    /// The Secret is missing or was modified.
    SecretDrifted,
    /// The refresh interval elapsed.
    Interval,
}

/// The longest delay jitter adds to an overdue refresh after a restart.
pub const MAX_RESTART_JITTER: Duration = Duration::from_secs(60);

/// Decides whether to sync now, following ESO's rules:
/// - a never-synced ExternalSecret syncs now; a changed one too, except
///   under `CreatedOnce` and under `Periodic` with a zero interval, which
///   ESO treats as `CreatedOnce` ("for backwards compatibility");
/// - a missing or modified Secret is rewritten now;
/// - `Periodic` with a non-zero interval syncs when `refreshTime +
///   interval` has passed; an overdue one found on the first reconcile
///   after a restart waits a jittered delay of up to a tenth of the
///   interval (at most [`MAX_RESTART_JITTER`]).
pub fn decide(i: &Inputs) -> Decision {
    let never_synced = i.refresh_time.is_none();
    let once = match i.policy {
        RefreshPolicy::CreatedOnce => true,
        RefreshPolicy::Periodic => i.interval.is_zero(),
        RefreshPolicy::OnChange => false,
    };
    if never_synced || (!once && !i.synced_current_version) {
        return Decision::SyncNow(Why::Changed);
    }
    if !i.secret_intact {
        return Decision::SyncNow(Why::SecretDrifted);
    }
    if i.policy != RefreshPolicy::Periodic || i.interval.is_zero() {
        return Decision::Idle;
    }
    let last = i.refresh_time.unwrap_or(i.now);
    let due = last + i.interval;
    match due.duration_since(i.now) {
        Ok(wait) if !wait.is_zero() => Decision::Wait(wait),
        _ if i.first_since_start => {
            let spread = (i.interval / 10).min(MAX_RESTART_JITTER);
            let delay = spread.mul_f64(i.jitter.clamp(0.0, 1.0));
            if delay.is_zero() {
                Decision::SyncNow(Why::Interval)
            } else {
                Decision::Wait(delay)
            }
        }
        _ => Decision::SyncNow(Why::Interval),
    }
}

/// A stable fraction in `[0, 1)` derived from `seed` (the object's uid), so
/// each object keeps its own offset across reconciles.
pub fn jitter_fraction(seed: &str) -> f64 {
    // FNV-1a: tiny, stable across processes and releases (unlike
    // std's RandomState), and good enough to spread offsets.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // FNV's high bits barely change between similar seeds (`uid-1`,
    // `uid-2`); a splitmix64 finalizer spreads them.
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// After a successful sync: when to look again. The next refresh is due one
/// interval after the data was read (`fetched`, which can be earlier than
/// now when a coalesced read was reused), so sharing reads never makes a
/// Secret staler than its interval.
pub fn after_sync(
    policy: RefreshPolicy,
    interval: Duration,
    fetched: SystemTime,
    now: SystemTime,
) -> Decision {
    if policy != RefreshPolicy::Periodic || interval.is_zero() {
        return Decision::Idle;
    }
    let due = fetched + interval;
    Decision::Wait(
        due.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_secs(1)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn base() -> Inputs {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        Inputs {
            now,
            refresh_time: Some(now - Duration::from_secs(10)),
            synced_current_version: true,
            secret_intact: true,
            interval: MIN,
            policy: RefreshPolicy::Periodic,
            jitter: 0.5,
            first_since_start: false,
        }
    }

    #[test]
    fn a_fresh_periodic_sync_waits_for_the_rest_of_the_interval() {
        assert_eq!(decide(&base()), Decision::Wait(Duration::from_secs(50)));
    }

    #[test]
    fn never_synced_or_changed_syncs_now() {
        let i = Inputs {
            refresh_time: None,
            ..base()
        };
        assert_eq!(decide(&i), Decision::SyncNow(Why::Changed));
        let i = Inputs {
            synced_current_version: false,
            ..base()
        };
        assert_eq!(decide(&i), Decision::SyncNow(Why::Changed));
        let i = Inputs {
            synced_current_version: false,
            policy: RefreshPolicy::OnChange,
            ..base()
        };
        assert_eq!(decide(&i), Decision::SyncNow(Why::Changed));
    }

    #[test]
    fn created_once_ignores_changes_but_not_a_missing_first_sync() {
        let i = Inputs {
            synced_current_version: false,
            policy: RefreshPolicy::CreatedOnce,
            ..base()
        };
        assert_eq!(decide(&i), Decision::Idle);
        let i = Inputs {
            refresh_time: None,
            policy: RefreshPolicy::CreatedOnce,
            ..base()
        };
        assert_eq!(decide(&i), Decision::SyncNow(Why::Changed));
    }

    #[test]
    fn zero_interval_periodic_ignores_changes_like_created_once() {
        let changed = Inputs {
            synced_current_version: false,
            interval: Duration::ZERO,
            ..base()
        };
        assert_eq!(decide(&changed), Decision::Idle);
        let never = Inputs {
            refresh_time: None,
            ..changed
        };
        assert_eq!(decide(&never), Decision::SyncNow(Why::Changed));
        let drifted = Inputs {
            secret_intact: false,
            ..changed
        };
        assert_eq!(decide(&drifted), Decision::SyncNow(Why::SecretDrifted));
    }

    #[test]
    fn a_drifted_secret_is_rewritten_now() {
        let i = Inputs {
            secret_intact: false,
            ..base()
        };
        assert_eq!(decide(&i), Decision::SyncNow(Why::SecretDrifted));
    }

    #[test]
    fn zero_interval_and_on_change_never_refresh_on_time() {
        let now = base().now;
        let long_ago = Some(now - Duration::from_secs(86_400));
        let i = Inputs {
            interval: Duration::ZERO,
            refresh_time: long_ago,
            ..base()
        };
        assert_eq!(decide(&i), Decision::Idle);
        let i = Inputs {
            policy: RefreshPolicy::OnChange,
            refresh_time: long_ago,
            ..base()
        };
        assert_eq!(decide(&i), Decision::Idle);
    }

    #[test]
    fn an_overdue_refresh_is_due_now_but_jittered_right_after_a_restart() {
        let now = base().now;
        let overdue = Inputs {
            refresh_time: Some(now - Duration::from_secs(600)),
            ..base()
        };
        assert_eq!(decide(&overdue), Decision::SyncNow(Why::Interval));
        let restarted = Inputs {
            first_since_start: true,
            ..overdue
        };
        assert_eq!(decide(&restarted), Decision::Wait(Duration::from_secs(3)));
        let long = Inputs {
            refresh_time: Some(now - Duration::from_secs(7200)),
            interval: Duration::from_secs(3600),
            first_since_start: true,
            ..overdue
        };
        assert_eq!(decide(&long), Decision::Wait(Duration::from_secs(30)));
    }

    #[test]
    fn jitter_spreads_objects_evenly() {
        let fractions: Vec<f64> = (0..1000)
            .map(|n| jitter_fraction(&format!("uid-{n}")))
            .collect();
        assert!(fractions.iter().all(|f| (0.0..1.0).contains(f)));
        for decile in 0..10 {
            let lo = f64::from(decile) / 10.0;
            let n = fractions
                .iter()
                .filter(|f| (lo..lo + 0.1).contains(*f))
                .count();
            assert!((50..150).contains(&n), "decile {decile} has {n} of 1000");
        }
        assert_eq!(jitter_fraction("same"), jitter_fraction("same"));
    }

    #[test]
    fn the_next_refresh_counts_from_when_the_data_was_read() {
        let now = base().now;
        let read_earlier = now - Duration::from_secs(20);
        assert_eq!(
            after_sync(RefreshPolicy::Periodic, MIN, read_earlier, now),
            Decision::Wait(Duration::from_secs(40))
        );
        assert_eq!(
            after_sync(RefreshPolicy::OnChange, MIN, now, now),
            Decision::Idle
        );
    }
}
