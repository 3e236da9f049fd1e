//! What this controller knows of the Secrets it wrote, kept from the
//! Secret watch the SealedSecret controller runs anyway, so that a
//! reconcile finding nothing changed (every SealedSecret after a restart or
//! a key change) makes no API request at all.
//!
//! The watch selects Secrets by [`secret::OWNED_LABEL`], and only a
//! summary of each is kept, never its data: the inputs hash it was written
//! for, its keys, its controller owners, and whether its digest (the keyed
//! HMAC [`secret::stamp`] wrote) still matched its content when the watch
//! last delivered it. So the cache holds no plaintext and its memory grows
//! with the SealedSecrets, not with every Secret in the cluster (Helm
//! release Secrets can be large). The cache only ever shortcuts to
//! "unchanged"; anything else reads the Secret from the API server. It is
//! updated before the watch event triggers the reconcile, so an edit or a
//! deletion is seen by the reconcile it causes; a relist drops the entries
//! of Secrets deleted meanwhile. Reconciles wait (a bounded time) for the
//! watch's first full list ([`Listing`]), which otherwise races the
//! SealedSecret list on every start.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::runtime::watcher::Event;

use crate::sealed::keys::KeyRegistry;
use crate::sealed::listing::Listing;
use crate::sealed::plan::Observed;
use crate::sealed::secret;

type Key = (String, String);

/// What is kept of one Secret this controller wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenSecret {
    /// The inputs hash it was written for.
    inputs_hash: String,
    /// Its data keys.
    keys: BTreeSet<String>,
    /// The uids of its controller owner references.
    controllers: Vec<String>,
    /// It carries `sealedsecrets.bitnami.com/managed: "true"`.
    managed: bool,
    /// It carries `sealedsecrets.bitnami.com/patch: "true"`.
    patched: bool,
    /// Its digest matched all of its data (with a key of the registry):
    /// nobody changed it since it was written.
    intact: bool,
}

impl WrittenSecret {
    /// Summarizes `secret` if this controller wrote it, checking its
    /// digest with `keys`.
    pub fn of(secret: &Secret, keys: &KeyRegistry) -> Option<WrittenSecret> {
        let inputs_hash = secret::inputs_hash_of(secret)?;
        let data_keys: BTreeSet<String> = secret
            .data
            .iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect();
        Some(WrittenSecret {
            intact: secret::is_intact(secret, &data_keys, keys),
            inputs_hash: inputs_hash.to_owned(),
            keys: data_keys,
            controllers: Observed::controllers(secret)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            managed: secret::is_managed(secret),
            patched: secret::is_patched(secret),
        })
    }
}

/// The summary answers [`crate::sealed::plan::classify`] as the Secret would, except that
/// a Secret with more keys than the SealedSecret makes cannot be shown
/// intact without its data (the reconcile then reads it).
impl Observed for WrittenSecret {
    fn controllers(&self) -> Vec<&str> {
        self.controllers.iter().map(String::as_str).collect()
    }
    fn inputs_hash(&self) -> Option<&str> {
        Some(&self.inputs_hash)
    }
    fn is_managed(&self) -> bool {
        self.managed
    }
    fn is_patched(&self) -> bool {
        self.patched
    }
    fn proves_intact(&self, expected: &BTreeSet<String>, _: &KeyRegistry) -> bool {
        self.intact && *expected == self.keys
    }
}

/// Secrets written by this controller, by namespace and name.
#[derive(Debug, Default)]
pub struct WrittenSecrets {
    secrets: RwLock<HashMap<Key, WrittenSecret>>,
    /// Scopes with a recorder, and those whose first list is complete.
    listing: Listing,
}

impl WrittenSecrets {
    /// What is known of the Secret `namespace/name`, if this controller
    /// wrote it.
    pub fn get(&self, namespace: &str, name: &str) -> Option<WrittenSecret> {
        self.secrets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Number of Secrets kept.
    pub fn len(&self) -> usize {
        self.secrets.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until a watch covering `namespace` has listed every Secret
    /// once (at most 30 s). Returns at once if no watch covers it.
    pub async fn ready(&self, namespace: &str) {
        self.listing.ready(namespace).await;
    }

    /// Whether a watch covering `namespace` has listed it in full: then a
    /// Secret of ours that is not kept does not exist (or its watch event
    /// is on its way).
    pub fn is_listed(&self, namespace: &str) -> bool {
        self.listing.is_listed(namespace)
    }

    /// A recorder for one watch over `scope` (a namespace, or all), whose
    /// digests are checked with `keys`.
    pub fn recorder(self: &Arc<Self>, scope: Option<String>, keys: Arc<KeyRegistry>) -> Recorder {
        self.listing.register(scope.clone());
        Recorder {
            cache: self.clone(),
            keys,
            scope,
            relist: None,
        }
    }
}

/// Applies one watch's events to the cache. A relist (`Init` ..
/// `InitDone`) is gathered apart and then replaces the watch's scope, so
/// Secrets deleted while the watch was down are dropped.
#[derive(Debug)]
pub struct Recorder {
    cache: Arc<WrittenSecrets>,
    keys: Arc<KeyRegistry>,
    scope: Option<String>,
    relist: Option<HashMap<Key, WrittenSecret>>,
}

impl Recorder {
    fn put(&self, map: &mut HashMap<Key, WrittenSecret>, secret: &Secret) {
        let key = (secret.namespace().unwrap_or_default(), secret.name_any());
        match WrittenSecret::of(secret, &self.keys) {
            Some(written) => map.insert(key, written),
            None => map.remove(&key),
        };
    }

    /// Records `event`.
    pub fn record(&mut self, event: &Event<Secret>) {
        match event {
            Event::Init => self.relist = Some(HashMap::new()),
            Event::InitApply(secret) => {
                if let Some(mut relist) = self.relist.take() {
                    self.put(&mut relist, secret);
                    self.relist = Some(relist);
                }
            }
            Event::InitDone => {
                let fresh = self.relist.take().unwrap_or_default();
                let mut map = self
                    .cache
                    .secrets
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                map.retain(|(ns, _), _| self.scope.as_ref().is_some_and(|s| s != ns));
                map.extend(fresh);
                drop(map);
                self.cache.listing.listed(self.scope.clone());
            }
            Event::Apply(secret) => {
                let mut map = self
                    .cache
                    .secrets
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                self.put(&mut map, secret);
            }
            Event::Delete(secret) => {
                let key = (secret.namespace().unwrap_or_default(), secret.name_any());
                let mut map = self
                    .cache
                    .secrets
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                map.remove(&key);
            }
        }
    }
}

/// Wipes the values of the Secret an event carries, once it is recorded
/// (what follows only needs its name).
pub fn wipe(event: &mut Event<Secret>) {
    match event {
        Event::Apply(secret) | Event::InitApply(secret) | Event::Delete(secret) => {
            secret::wipe(secret);
        }
        Event::Init | Event::InitDone => {}
    }
}

impl Drop for Recorder {
    /// The watch stopped (leadership lost, shutdown): what it recorded may
    /// go stale, so its scope is forgotten and no longer ready.
    fn drop(&mut self) {
        let scope = self.scope.clone();
        self.cache
            .secrets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(ns, _), _| scope.as_ref().is_some_and(|s| s != ns));
        self.cache.listing.stopped(&scope);
    }
}

#[cfg(test)]
#[path = "written_tests.rs"]
mod tests;
