//! Coalescing of identical reads.
//!
//! Each store client keeps one [`ReadCache`] keyed by what was asked (key,
//! property, version, ...). A read that finds a result younger than the
//! caller's `max_age` uses it; concurrent identical reads wait for the one
//! provider call in flight instead of making their own. This is what lets
//! 1,000 ExternalSecrets over 200 remote keys cost about 200 provider calls
//! per refresh cycle rather than 1,000.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{Fetched, Result};

/// A finished read: its result and when the provider call started and ended.
#[derive(Debug)]
struct Done<V> {
    result: Result<V>,
    fetched_at: Instant,
    completed_at: Instant,
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
        if let Some(done) = guard.as_ref() {
            let fresh = done.result.is_ok() && done.fetched_at.elapsed() <= max_age;
            if fresh || done.completed_at >= asked_at {
                return done.result.clone().map(|value| Fetched {
                    value,
                    fetched_at: done.fetched_at,
                });
            }
        }
        let fetched_at = Instant::now();
        let result = fetch().await;
        *guard = Some(Done {
            result: result.clone(),
            fetched_at,
            completed_at: Instant::now(),
        });
        result.map(|value| Fetched { value, fetched_at })
    }

    /// A successful result for `key` fetched at most `max_age` ago, if one
    /// is ready now; never waits for a read in flight. Lets a caller that
    /// batches reads ask the provider only for the keys that miss.
    pub fn peek(&self, key: &K, max_age: Duration) -> Option<Fetched<V>> {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)?
            .clone();
        let guard = slot.try_lock().ok()?;
        let done = guard.as_ref()?;
        let value = done.result.as_ref().ok()?;
        (done.fetched_at.elapsed() <= max_age).then(|| Fetched {
            value: value.clone(),
            fetched_at: done.fetched_at,
        })
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

    #[tokio::test]
    async fn peek_returns_only_fresh_successful_results() {
        let cache = ReadCache::<&str, u32>::new(Duration::from_secs(60));
        assert!(cache.peek(&"k", Duration::MAX).is_none());
        cache
            .get_or_fetch(&"k", Duration::ZERO, || async { Ok(5) })
            .await
            .unwrap();
        assert_eq!(cache.peek(&"k", Duration::MAX).map(|f| f.value), Some(5));
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(cache.peek(&"k", Duration::from_millis(1)).is_none());
        let _ = cache
            .get_or_fetch(&"e", Duration::ZERO, || async { Err(unavailable()) })
            .await;
        assert!(cache.peek(&"e", Duration::MAX).is_none());
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
