//! The Secrets this controller wrote, kept from the Secret watch the
//! SealedSecret controller runs anyway, so that a reconcile finding nothing
//! changed (every SealedSecret after a restart or a key change) makes no API
//! request at all.
//!
//! Only Secrets carrying the inputs-hash annotation are kept: memory grows
//! with the SealedSecrets, not with every Secret in the cluster (Helm
//! release Secrets can be large). The cache only ever shortcuts to
//! "unchanged"; anything else reads the Secret from the API server. It is
//! updated before the watch event triggers the reconcile, so an edit or a
//! deletion is seen by the reconcile it causes. Reconciles wait (a bounded
//! time) for the watch's first full list, which otherwise races the
//! SealedSecret list on every start.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::runtime::watcher::Event;

use crate::sealed::secret;

type Key = (String, String);

/// Longest a reconcile waits for the Secret watch's first list.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Watch scopes: a namespace, or `None` for all.
type Scopes = HashSet<Option<String>>;

/// Secrets written by this controller, by namespace and name.
#[derive(Debug)]
pub struct WrittenSecrets {
    secrets: RwLock<HashMap<Key, Arc<Secret>>>,
    /// Scopes with a recorder, and those whose first list is complete.
    registered: RwLock<Scopes>,
    ready: watch::Sender<Scopes>,
}

impl Default for WrittenSecrets {
    fn default() -> Self {
        WrittenSecrets {
            secrets: RwLock::default(),
            registered: RwLock::default(),
            ready: watch::channel(Scopes::new()).0,
        }
    }
}

impl WrittenSecrets {
    /// The Secret `namespace/name` as last seen, if this controller wrote it.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
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
        let covers = |scopes: &Scopes| {
            scopes.contains(&None) || scopes.contains(&Some(namespace.to_owned()))
        };
        if !covers(&self.registered.read().unwrap_or_else(|e| e.into_inner())) {
            return;
        }
        let mut rx = self.ready.subscribe();
        let _ = tokio::time::timeout(READY_TIMEOUT, rx.wait_for(|scopes| covers(scopes))).await;
    }

    /// A recorder for one watch over `scope` (a namespace, or all).
    pub fn recorder(self: &Arc<Self>, scope: Option<String>) -> Recorder {
        self.registered
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(scope.clone());
        Recorder {
            cache: self.clone(),
            scope,
            relist: None,
        }
    }

    fn put(map: &mut HashMap<Key, Arc<Secret>>, secret: &Secret) {
        let key = (secret.namespace().unwrap_or_default(), secret.name_any());
        if secret::has_inputs_hash(secret) {
            map.insert(key, Arc::new(secret.clone()));
        } else {
            map.remove(&key);
        }
    }
}

/// Applies one watch's events to the cache. A relist (`Init` ..
/// `InitDone`) is gathered apart and then replaces the watch's scope, so
/// Secrets deleted while the watch was down are dropped.
#[derive(Debug)]
pub struct Recorder {
    cache: Arc<WrittenSecrets>,
    scope: Option<String>,
    relist: Option<HashMap<Key, Arc<Secret>>>,
}

impl Recorder {
    /// Records `event`.
    pub fn record(&mut self, event: &Event<Secret>) {
        match event {
            Event::Init => self.relist = Some(HashMap::new()),
            Event::InitApply(secret) => {
                if let Some(relist) = &mut self.relist {
                    WrittenSecrets::put(relist, secret);
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
                let scope = self.scope.clone();
                self.cache
                    .ready
                    .send_if_modified(|scopes| scopes.insert(scope));
            }
            Event::Apply(secret) => {
                let mut map = self
                    .cache
                    .secrets
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                WrittenSecrets::put(&mut map, secret);
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
        self.cache
            .ready
            .send_if_modified(|scopes| scopes.remove(&scope));
        self.cache
            .registered
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&scope);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kube::api::ObjectMeta;

    use super::*;

    fn secret(ns: &str, name: &str, ours: bool) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                annotations: ours.then(|| {
                    BTreeMap::from([(secret::INPUTS_HASH_ANNOTATION.to_owned(), "h".to_owned())])
                }),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        }
    }

    #[test]
    fn keeps_only_written_secrets_and_forgets_deleted_ones() {
        let cache = Arc::new(WrittenSecrets::default());
        let mut recorder = cache.recorder(None);
        recorder.record(&Event::Apply(secret("a", "ours", true)));
        recorder.record(&Event::Apply(secret("a", "theirs", false)));
        assert!(cache.get("a", "ours").is_some());
        assert!(cache.get("a", "theirs").is_none(), "not written by us");

        // Someone strips our annotation: no longer a shortcut.
        recorder.record(&Event::Apply(secret("a", "ours", false)));
        assert!(cache.get("a", "ours").is_none());
        recorder.record(&Event::Apply(secret("a", "ours", true)));
        recorder.record(&Event::Delete(secret("a", "ours", true)));
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn ready_waits_for_the_first_full_list_of_a_covering_watch() {
        let cache = Arc::new(WrittenSecrets::default());
        // No watch covers "x": no wait.
        tokio::time::timeout(Duration::from_millis(50), cache.ready("x"))
            .await
            .expect("uncovered namespaces do not wait");
        let mut recorder = cache.recorder(Some("a".into()));
        recorder.record(&Event::Init);
        let early = tokio::time::timeout(Duration::from_millis(50), cache.ready("a")).await;
        assert!(early.is_err(), "waits while the first list is running");
        recorder.record(&Event::InitDone);
        tokio::time::timeout(Duration::from_millis(50), cache.ready("a"))
            .await
            .expect("ready after InitDone");
    }

    #[test]
    fn relist_replaces_only_its_own_namespace() {
        let cache = Arc::new(WrittenSecrets::default());
        let mut a = cache.recorder(Some("a".into()));
        let mut b = cache.recorder(Some("b".into()));
        a.record(&Event::Apply(secret("a", "gone", true)));
        b.record(&Event::Apply(secret("b", "kept", true)));

        a.record(&Event::Init);
        a.record(&Event::InitApply(secret("a", "new", true)));
        assert!(
            cache.get("a", "gone").is_some(),
            "served until the relist ends"
        );
        a.record(&Event::InitDone);
        assert!(
            cache.get("a", "gone").is_none(),
            "deleted while the watch was down"
        );
        assert!(cache.get("a", "new").is_some());
        assert!(cache.get("b", "kept").is_some(), "another watch's scope");

        // A stopped watch forgets its scope, which then waits for nothing.
        drop(b);
        assert!(cache.get("b", "kept").is_none());
        assert!(cache.get("a", "new").is_some());
    }
}
