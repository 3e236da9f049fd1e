//! Coalescing of identical reads.
//!
//! Each store client keeps one [`ReadCache`] keyed by what was asked (key,
//! property, version, ...). A read that finds a result younger than the
//! caller's `max_age` uses it; concurrent identical reads wait for the one
//! provider call in flight instead of making their own. This is what lets
//! 1,000 ExternalSecrets over 200 remote keys cost about 200 provider calls
//! per refresh cycle rather than 1,000.
//!
//! The cache also knows which results are still read and will be stale for
//! their next reader ([`ReadCache::claim_due`]): a client that batches
//! reads (AWS `BatchGetSecretValue`) fills a batch's spare room with those,
//! so that keys read at different moments come to be refreshed together,
//! in full batches.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{Fetched, Result};

/// A result is taken for a refresh ahead of its readers
/// ([`ReadCache::claim_due`])
/// only while it was asked for within this many of its max ages: two
/// refresh intervals for the controller's periodic reads, whose max age is
/// half the interval. A key nobody reads any more stops being refreshed.
const STILL_READ: u32 = 4;

/// A finished read: its result, when the provider call started and ended,
/// and what its readers ask of it.
#[derive(Debug)]
struct Done<V> {
    result: Result<V>,
    fetched_at: Instant,
    completed_at: Instant,
    /// When a reader last asked for this key.
    asked_at: Instant,
    /// The max age of the last reader that accepted a cached result (zero
    /// until one did): past it, the next such read calls the provider.
    stale_after: Duration,
}

impl<V> Done<V> {
    fn asked(&mut self, at: Instant, max_age: Duration) {
        self.asked_at = self.asked_at.max(at);
        if !max_age.is_zero() {
            self.stale_after = max_age;
        }
    }

    /// Whether a refresh ahead of the readers is worth its room in a batch:
    /// a good result that is still read and is already stale for its
    /// readers. Returns its age.
    fn due(&self, now: Instant) -> Option<Duration> {
        let age = now.saturating_duration_since(self.fetched_at);
        let still_read =
            now.saturating_duration_since(self.asked_at) <= self.stale_after * STILL_READ;
        (self.result.is_ok()
            && !self.stale_after.is_zero()
            && age >= self.stale_after
            && still_read)
            .then_some(age)
    }
}

type Slot<V> = Arc<tokio::sync::Mutex<Option<Done<V>>>>;

/// Results of recent reads, keyed by request; see the module docs.
#[derive(Debug)]
pub struct ReadCache<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
    /// Entries older than this are dropped when the cache is swept.
    retain: Duration,
}

impl<K: Eq + Hash + Clone, V: Clone> ReadCache<K, V> {
    /// An empty cache that forgets results older than `retain`.
    pub fn new(retain: Duration) -> Self {
        ReadCache {
            slots: Mutex::new(HashMap::new()),
            retain,
        }
    }

    /// Returns a result for `key` fetched at most `max_age` ago, or one
    /// whose call finished after this request was made (a concurrent
    /// identical read), calling `fetch` only when there is neither.
    /// Errors are shared with concurrent waiters but never reused later.
    pub async fn get_or_fetch<F, Fut>(
        &self,
        key: &K,
        max_age: Duration,
        fetch: F,
    ) -> Result<Fetched<V>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V>>,
    {
        let asked_at = Instant::now();
        let slot = self.slot(key);
        let mut guard = slot.lock().await;
        let mut stale_after = max_age;
        if let Some(done) = guard.as_mut() {
            done.asked(asked_at, max_age);
            let fresh = done.result.is_ok() && done.fetched_at.elapsed() <= max_age;
            if fresh || done.completed_at >= asked_at {
                return done.result.clone().map(|value| Fetched {
                    value,
                    fetched_at: done.fetched_at,
                });
            }
            stale_after = done.stale_after;
        }
        let fetched_at = Instant::now();
        let result = fetch().await;
        *guard = Some(Done {
            result: result.clone(),
            fetched_at,
            completed_at: Instant::now(),
            asked_at,
            stale_after,
        });
        result.map(|value| Fetched { value, fetched_at })
    }

    /// Takes up to `limit` keys worth reading again now, before anyone
    /// asks: results that are still read (asked for within [`STILL_READ`]
    /// max ages) and already older than their readers' max age, so that
    /// the next read would call the provider anyway. Oldest first; keys
    /// being read right now and keys `eligible` rejects are left out. A
    /// reader of a taken key waits for its [`Claimed::fill`] (or drop), as
    /// for any read in flight.
    pub fn claim_due(&self, limit: usize, eligible: impl Fn(&K) -> bool) -> Vec<Claimed<K, V>> {
        let now = Instant::now();
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let mut due: Vec<(Duration, Claimed<K, V>)> = slots
            .iter()
            .filter(|(key, _)| eligible(key))
            .filter_map(|(key, slot)| {
                let guard = slot.clone().try_lock_owned().ok()?;
                let age = guard.as_ref()?.due(now)?;
                Some((
                    age,
                    Claimed {
                        key: key.clone(),
                        guard,
                    },
                ))
            })
            .collect();
        due.sort_by_key(|(age, _)| std::cmp::Reverse(*age));
        due.into_iter()
            .take(limit)
            .map(|(_, claimed)| claimed)
            .collect()
    }

    /// Forgets `key` (after a write, or when the caller knows it is stale).
    pub fn invalidate(&self, key: &K) {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// Number of keys currently remembered.
    pub fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slot(&self, key: &K) -> Slot<V> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.len() >= 1024 && !slots.contains_key(key) {
            self.sweep(&mut slots);
        }
        slots.entry(key.clone()).or_default().clone()
    }

    /// Drops results older than `retain` that nobody is waiting on.
    fn sweep(&self, slots: &mut HashMap<K, Slot<V>>) {
        let retain = self.retain;
        slots.retain(|_, slot| match slot.try_lock() {
            Ok(guard) => guard
                .as_ref()
                .is_some_and(|done| done.completed_at.elapsed() <= retain),
            Err(_) => true, // a read is in flight
        });
    }
}

/// A key taken by [`ReadCache::claim_due`] for a refresh ahead of its
/// readers, who wait for it meanwhile.
pub struct Claimed<K, V> {
    key: K,
    guard: tokio::sync::OwnedMutexGuard<Option<Done<V>>>,
}

impl<K, V> Claimed<K, V> {
    /// The key taken.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// Stores the value read for the key at `fetched_at`, releasing its
    /// readers, who use it. Dropping a claim unfilled (the read failed)
    /// keeps the old result, and a reader then calls on its own.
    pub fn fill(mut self, value: V, fetched_at: Instant) {
        if let Some(done) = self.guard.as_mut()
            && done.fetched_at < fetched_at
        {
            done.result = Ok(value);
            done.fetched_at = fetched_at;
            done.completed_at = Instant::now();
        }
    }
}

impl<K: fmt::Debug, V> fmt::Debug for Claimed<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claimed")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::Error;

    fn unavailable() -> Error {
        Error::Unavailable {
            store: "s".into(),
            key: Some("k".into()),
            reason: "down".into(),
        }
    }

    #[tokio::test]
    async fn concurrent_identical_reads_make_one_call() {
        let cache = ReadCache::<String, u32>::new(Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        let key = "db".to_owned();
        let read = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(7)
        };
        let results = futures::future::join_all(
            (0..10).map(|_| cache.get_or_fetch(&key, Duration::ZERO, read)),
        )
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(results.iter().all(|r| r.as_ref().map(|f| f.value) == Ok(7)));
    }

    #[tokio::test]
    async fn a_result_younger_than_max_age_is_reused_and_an_older_one_is_not() {
        let cache = ReadCache::<&str, u32>::new(Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        let read = || async { Ok(calls.fetch_add(1, Ordering::SeqCst) as u32) };
        let first = cache
            .get_or_fetch(&"k", Duration::from_secs(60), read)
            .await
            .unwrap();
        let again = cache
            .get_or_fetch(&"k", Duration::from_secs(60), read)
            .await
            .unwrap();
        assert_eq!((first.value, again.value), (0, 0));
        assert_eq!(first.fetched_at, again.fetched_at);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let fresh = cache
            .get_or_fetch(&"k", Duration::from_millis(1), read)
            .await
            .unwrap();
        assert_eq!(fresh.value, 1);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_error_is_not_reused_by_a_later_read() {
        let cache = ReadCache::<&str, u32>::new(Duration::from_secs(60));
        let failed = cache
            .get_or_fetch(&"k", Duration::from_secs(60), || async {
                Err(unavailable())
            })
            .await;
        assert_eq!(failed.unwrap_err(), unavailable());
        let ok = cache
            .get_or_fetch(&"k", Duration::from_secs(60), || async { Ok(3) })
            .await
            .unwrap();
        assert_eq!(ok.value, 3);
    }

    /// The keys `claim_due` would take now (released at once).
    fn due(cache: &ReadCache<&'static str, u32>, limit: usize) -> Vec<&'static str> {
        cache
            .claim_due(limit, |_| true)
            .iter()
            .map(|c| *c.key())
            .collect()
    }

    #[tokio::test]
    async fn stale_results_still_read_are_claimed_oldest_first_and_filled_for_their_readers() {
        let cache = ReadCache::<&str, u32>::new(Duration::from_secs(60));
        let max_age = Duration::from_millis(200);
        for key in ["old", "young", "never-periodic"] {
            let asked = if key == "never-periodic" {
                Duration::ZERO
            } else {
                max_age
            };
            cache
                .get_or_fetch(&key, asked, || async { Ok(1) })
                .await
                .unwrap();
            if key == "old" {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let _ = cache
            .get_or_fetch(&"failed", max_age, || async { Err(unavailable()) })
            .await;
        assert!(due(&cache, 10).is_empty(), "nothing is stale yet");
        tokio::time::sleep(max_age).await;
        // "old" is older than "young"; a key only ever read with max age
        // zero, and a failed read, are never refreshed ahead.
        assert_eq!(due(&cache, 10), ["old", "young"]);
        assert_eq!(due(&cache, 1), ["old"]);
        let others: Vec<_> = cache
            .claim_due(10, |k| *k != "old")
            .iter()
            .map(|c| *c.key())
            .collect();
        assert_eq!(others, ["young"]);

        // A reader of a claimed key waits for the claim, and uses its value.
        let mut claimed = cache.claim_due(1, |_| true);
        let claim = claimed.pop().unwrap();
        assert_eq!(*claim.key(), "old");
        assert_eq!(due(&cache, 10), ["young"], "a claimed key is in flight");
        let reader =
            cache.get_or_fetch(&"old", max_age, || async { panic!("waits for the claim") });
        let filler = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            claim.fill(2, Instant::now());
        };
        let (read, ()) = tokio::join!(reader, filler);
        assert_eq!(read.unwrap().value, 2);
        assert_eq!(due(&cache, 10), ["young"]);

        // A claim dropped unfilled keeps the old result, and its reader
        // calls on its own.
        drop(cache.claim_due(1, |k| *k == "young"));
        let read = cache
            .get_or_fetch(&"young", max_age, || async { Ok(3) })
            .await
            .unwrap();
        assert_eq!(read.value, 3);
    }

    #[tokio::test]
    async fn a_key_nobody_asks_for_stops_being_due() {
        let cache = ReadCache::<&str, u32>::new(Duration::from_secs(60));
        let max_age = Duration::from_millis(100);
        cache
            .get_or_fetch(&"k", max_age, || async { Ok(1) })
            .await
            .unwrap();
        tokio::time::sleep(max_age * 3 / 2).await;
        assert_eq!(due(&cache, 10), ["k"]);
        // Refreshed ahead again and again, but asked for by nobody for
        // more than STILL_READ max ages.
        for _ in 0..3 {
            for claim in cache.claim_due(10, |_| true) {
                claim.fill(1, Instant::now() - max_age);
            }
            tokio::time::sleep(max_age * 3 / 2).await;
        }
        assert!(due(&cache, 10).is_empty());
    }

    #[tokio::test]
    async fn different_keys_are_read_separately() {
        let cache = ReadCache::<&str, &str>::new(Duration::from_secs(60));
        let a = cache
            .get_or_fetch(&"a", Duration::MAX, || async { Ok("A") })
            .await
            .unwrap();
        let b = cache
            .get_or_fetch(&"b", Duration::MAX, || async { Ok("B") })
            .await
            .unwrap();
        assert_eq!((a.value, b.value), ("A", "B"));
        cache.invalidate(&"a");
        assert_eq!(cache.len(), 1);
    }
}
