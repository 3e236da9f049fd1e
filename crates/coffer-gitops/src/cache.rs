//! Unwrapping each distinct wrapped data key once per run. The age X25519
//! unwrap is the expensive step of opening a SOPS document; files encrypted
//! separately share nothing, but the same file included twice, or the same
//! SOPS document in several Secrets' data, carries the same wrapped key.
//!
//! The cache lives for one call only, so unwrapped keys are not kept
//! between runs. Threads asking for the same entry wait for the one that
//! unwraps it rather than repeating the work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use coffer_sops::{Identities, Unwrapper};
use zeroize::Zeroizing;

type Unwrapped = Result<Zeroizing<Vec<u8>>, String>;

/// An [`Unwrapper`] over the keyring's identities that remembers results.
pub(crate) struct KeyCache<'k> {
    identities: &'k Identities,
    entries: Mutex<HashMap<String, Arc<OnceLock<Unwrapped>>>>,
}

impl<'k> KeyCache<'k> {
    pub(crate) fn new(identities: &'k Identities) -> KeyCache<'k> {
        KeyCache {
            identities,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How many distinct wrapped keys were unwrapped (or tried).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

impl Unwrapper for KeyCache<'_> {
    fn unwrap_key(&self, _recipient: &str, enc: &str) -> Unwrapped {
        let cell = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries.entry(enc.to_owned()).or_default().clone()
        };
        cell.get_or_init(|| self.identities.unwrap(enc))
            .as_ref()
            .map(|key| Zeroizing::new(key.to_vec()))
            .map_err(Clone::clone)
    }

    fn notes(&self) -> Vec<String> {
        self.identities.notes.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AGE-SECRET-KEY-1RH87A5Z54ZGUR9S0AS3R6WHFSEFNPLYMAKF5Z2CEU7R06VRJ0A3Q7242AM";
    const RECIPIENT: &str = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";

    #[test]
    fn each_wrapped_key_is_unwrapped_once() {
        let mut ids = Identities::empty();
        ids.add_age_keys(KEY, "test", false).unwrap();
        let cache = KeyCache::new(&ids);
        let a = coffer_sops::wrap_to_recipient(&[1u8; 32], RECIPIENT).unwrap();
        let b = coffer_sops::wrap_to_recipient(&[2u8; 32], RECIPIENT).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    assert_eq!(&cache.unwrap_key(RECIPIENT, &a).unwrap()[..], &[1u8; 32]);
                    assert_eq!(&cache.unwrap_key(RECIPIENT, &b).unwrap()[..], &[2u8; 32]);
                });
            }
        });
        assert_eq!(cache.len(), 2);
    }
}
