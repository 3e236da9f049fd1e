//! [`Gates`]: one async lock per key, so that many tasks needing the same
//! slow piece of work (a login, the resolution of a store's credentials)
//! wait for one of them to do it, while work on other keys goes on.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

/// A lock per key; see the module docs. The caller checks its cache, takes
/// the key's gate, checks again (someone may have done the work while it
/// waited), and only then does the work.
pub struct Gates<K> {
    gates: Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>,
}

impl<K: Eq + Hash + Clone> Gates<K> {
    /// Waits for `key`'s gate; the work is done while the guard lives.
    pub async fn enter(&self, key: &K) -> tokio::sync::OwnedMutexGuard<()> {
        let gate = self
            .gates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .clone();
        gate.lock_owned().await
    }

    /// Keeps only the gates of keys `keep` accepts (and any held now).
    pub fn retain(&self, keep: impl Fn(&K) -> bool) {
        self.gates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|key, gate| keep(key) || Arc::strong_count(gate) > 1);
    }
}

impl<K> Default for Gates<K> {
    fn default() -> Self {
        Gates {
            gates: Mutex::default(),
        }
    }
}

impl<K> fmt::Debug for Gates<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gates").finish_non_exhaustive()
    }
}
