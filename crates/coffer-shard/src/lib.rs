//! Splitting the controllers' work between replicas (`--shards`).
//!
//! Every object belongs to one of `count` shards, by a stable hash of its
//! namespace and name ([`shard_of`]): the same answer in every replica and
//! every version, so replicas agree without talking to each other. A
//! replica reconciles an object only while it holds the object's shard: a
//! [`Partition`] (the controller's Lease-backed one, or none at all when
//! one replica does everything) hands out a [`Ticket`] for it, and the
//! reconcile runs under the ticket ([`gated`]), which drops it the moment
//! the shard stops being this replica's (lost, or its lease deadline
//! passed). Before a replica gives a shard away, it waits for the tickets
//! still held on it, so no object is ever reconciled by two replicas at
//! once.
//!
//! No Kubernetes here: the SealedSecret and ExternalSecret controllers
//! both use this, and the Leases live in the controller.

#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::Pin;

use futures::Stream;
use tokio::sync::watch;

/// The shard of `namespace/name` among `count` shards (`0` when `count`
/// is 0 or 1). Cluster-scoped objects pass an empty namespace.
///
/// FNV-1a over `namespace`, `/`, `name` (neither may contain `/`, so
/// distinct objects hash distinct strings), then a 64-bit finalizer so
/// the low bits that the modulo keeps depend on every input byte. It is
/// part of the wire contract between replicas of different versions
/// during a rolling update: never change it.
pub fn shard_of(namespace: &str, name: &str, count: u32) -> u32 {
    if count <= 1 {
        return 0;
    }
    let hash = hash_bytes(
        namespace
            .bytes()
            .chain(std::iter::once(b'/'))
            .chain(name.bytes()),
    );
    // NB: the remainder is below `count`, a u32.
    u32::try_from(hash % u64::from(count)).unwrap_or(0)
}

/// The same hash over one string: stable across processes and versions
/// (for names that replicas must agree on).
pub fn stable_hash(text: &str) -> u64 {
    hash_bytes(text.bytes())
}

fn hash_bytes(bytes: impl Iterator<Item = u8>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    // splitmix64's finalizer.
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// Which objects this replica reconciles now.
pub trait Partition: Send + Sync + std::fmt::Debug + 'static {
    /// A ticket to reconcile `namespace/name` now, or `None` when its
    /// shard is not this replica's (held by another, or being handed over).
    fn ticket(&self, namespace: &str, name: &str) -> Option<Ticket>;

    /// Whether `namespace/name` is this replica's now (what it exports
    /// per-object metrics for); no ticket is taken.
    fn holds(&self, namespace: &str, name: &str) -> bool;

    /// Changes each time this replica gains a shard: every object of the
    /// new shard needs a reconcile (see [`gains`]).
    fn gains(&self) -> watch::Receiver<u64>;
}

/// The right to reconcile one object while its shard stays this
/// replica's. Dropping it ends the right (the shard can be handed over
/// once every ticket on it is dropped).
pub struct Ticket {
    lost: Pin<Box<dyn Future<Output = ()> + Send>>,
    _held: Box<dyn Send + Sync>,
}

impl Ticket {
    /// A ticket that ends when `lost` resolves, keeping `held` (e.g. an
    /// in-flight count's guard) alive as long as the ticket.
    pub fn new(
        lost: impl Future<Output = ()> + Send + 'static,
        held: impl Send + Sync + 'static,
    ) -> Ticket {
        Ticket {
            lost: Box::pin(lost),
            _held: Box::new(held),
        }
    }

    /// Runs `work` while the shard stays this replica's: its output, or
    /// `None` when the shard was lost first and `work` was dropped
    /// mid-way (its API client refuses writes by then).
    pub async fn run<F: Future>(self, work: F) -> Option<F::Output> {
        let Ticket { lost, _held } = self;
        // NB: `lost` first: woken together, the work is not polled again
        // (it could send a write) once the shard is gone.
        tokio::select! {
            biased;
            () = lost => None,
            out = work => Some(out),
        }
    }
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket").finish_non_exhaustive()
    }
}

/// Runs `work` for `namespace/name` if it is this replica's to do:
/// always without a partition, else under the object's [`Ticket`].
/// `None` when it is another replica's, or stopped being this one's.
pub async fn gated<F: Future>(
    partition: Option<&dyn Partition>,
    namespace: &str,
    name: &str,
    work: F,
) -> Option<F::Output> {
    match partition {
        None => Some(work.await),
        Some(partition) => partition.ticket(namespace, name)?.run(work).await,
    }
}

/// Whether `namespace/name` is this replica's: always without a
/// partition.
pub fn holds(partition: Option<&dyn Partition>, namespace: &str, name: &str) -> bool {
    partition.is_none_or(|p| p.holds(namespace, name))
}

/// Yields once each time `partition` gains a shard (for kube's
/// `reconcile_all_on`); never without a partition.
pub fn gains(partition: Option<&dyn Partition>) -> impl Stream<Item = ()> + Send + 'static {
    let rx = partition.map(Partition::gains);
    futures::stream::unfold(rx, |rx| async move {
        let Some(mut rx) = rx else {
            return std::future::pending().await;
        };
        rx.changed().await.ok()?;
        Some(((), Some(rx)))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use futures::StreamExt;

    use super::*;

    #[test]
    fn the_shard_of_an_object_never_changes() {
        // Replicas of different versions must agree: pinned values, computed
        // once by an independent implementation.
        let pinned: Vec<u32> = ["a", "b", "db-password", "x-0", "x-1", "x-2"]
            .iter()
            .map(|name| shard_of("team-a", name, 7))
            .collect();
        assert_eq!(pinned, [6, 2, 5, 0, 2, 0]);
        assert_eq!(shard_of("", "cluster-wide", 3), 1);
        assert_eq!(shard_of("team-a", "a", 1), 0);
        assert_eq!(shard_of("team-a", "a", 0), 0);
        assert_ne!(
            shard_of("ab", "c", 1 << 20),
            shard_of("a", "bc", 1 << 20),
            "the separator keeps namespace and name apart"
        );
    }

    #[test]
    fn names_spread_evenly_over_the_shards() {
        for count in [2u32, 3, 5] {
            let mut per_shard = vec![0u32; count as usize];
            for i in 0..3000 {
                per_shard[shard_of("bench", &format!("sealed-{i}"), count) as usize] += 1;
            }
            let even = 3000 / count;
            for n in &per_shard {
                assert!(
                    n.abs_diff(even) < even / 10,
                    "{count} shards: {per_shard:?}"
                );
            }
        }
    }

    /// A partition that owns shard 0 of 2 until told it lost it.
    #[derive(Debug)]
    struct Half {
        lost: watch::Sender<bool>,
        gained: watch::Sender<u64>,
    }

    impl Partition for Half {
        fn ticket(&self, namespace: &str, name: &str) -> Option<Ticket> {
            if shard_of(namespace, name, 2) != 0 || *self.lost.borrow() {
                return None;
            }
            let mut rx = self.lost.subscribe();
            Some(Ticket::new(
                async move {
                    let _ = rx.wait_for(|lost| *lost).await;
                },
                (),
            ))
        }
        fn holds(&self, namespace: &str, name: &str) -> bool {
            shard_of(namespace, name, 2) == 0 && !*self.lost.borrow()
        }
        fn gains(&self) -> watch::Receiver<u64> {
            self.gained.subscribe()
        }
    }

    fn half() -> Half {
        Half {
            lost: watch::channel(false).0,
            gained: watch::channel(0).0,
        }
    }

    /// The first name `x-<i>` in shard `shard` of 2.
    fn name_in(shard: u32) -> String {
        (0..)
            .map(|i| format!("x-{i}"))
            .find(|name| shard_of("ns", name, 2) == shard)
            .unwrap()
    }

    #[tokio::test]
    async fn work_runs_only_for_the_replicas_own_shard_and_stops_when_it_is_lost() {
        let partition = half();
        let (mine, theirs) = (name_in(0), name_in(1));
        assert_eq!(gated(None, "ns", &theirs, async { 1 }).await, Some(1));
        assert_eq!(
            gated(Some(&partition), "ns", &mine, async { 2 }).await,
            Some(2)
        );
        assert_eq!(
            gated(Some(&partition), "ns", &theirs, async { 3 }).await,
            None
        );
        assert!(holds(Some(&partition), "ns", &mine) && !holds(Some(&partition), "ns", &theirs));
        assert!(holds(None, "ns", &theirs));

        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let slow = gated(Some(&partition), "ns", &mine, async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            flag.store(true, Ordering::SeqCst);
        });
        let lose = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            partition.lost.send_replace(true);
        };
        let (outcome, ()) =
            tokio::time::timeout(Duration::from_secs(5), async { tokio::join!(slow, lose) })
                .await
                .expect("dropped when the shard is lost");
        assert_eq!(outcome, None);
        assert!(!finished.load(Ordering::SeqCst), "the work was dropped");
        assert_eq!(
            gated(Some(&partition), "ns", &mine, async { 4 }).await,
            None,
            "no new work once lost"
        );
    }

    #[tokio::test]
    async fn gains_yield_once_per_gain_and_never_without_a_partition() {
        let partition = half();
        let mut gains_of = Box::pin(gains(Some(&partition)));
        partition.gained.send_modify(|n| *n += 1);
        tokio::time::timeout(Duration::from_secs(5), gains_of.next())
            .await
            .expect("a gain")
            .expect("the stream goes on");
        let quiet = tokio::time::timeout(Duration::from_millis(50), gains_of.next()).await;
        assert!(quiet.is_err(), "nothing gained since");
        let mut none = Box::pin(gains(None));
        let quiet = tokio::time::timeout(Duration::from_millis(50), none.next()).await;
        assert!(quiet.is_err());
    }
}
