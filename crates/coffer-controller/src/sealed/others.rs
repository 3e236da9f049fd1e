//! Which other Secrets exist (those without [`secret::OWNED_LABEL`]), kept
//! from the metadata watch the SealedSecret controller runs anyway
//! ([`super::watches::others`]), so that a reconcile can tell that no
//! Secret of a name exists without reading it: with [`super::written`]
//! listed too, a name neither knows is free, and a cold start creates its
//! Secrets without a GET each.
//!
//! Only a 64-bit hash of each name is kept, per namespace: memory grows by
//! a few bytes per Secret in the watched namespaces, whatever their size,
//! and no name is held. The set only ever says "may exist" (then the
//! reconcile reads the Secret, as it always did) or "not seen": a create
//! planned on "not seen" is atomic, so a Secret that exists after all (a
//! hash collision, a watch event on its way) answers 409 and the reconcile
//! reads it and plans again.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::Event;

use crate::sealed::listing::Listing;
use crate::sealed::secret;

/// Hashes of names, by namespace.
type Names = HashMap<String, HashSet<u64>>;

/// The other Secrets of the watched namespaces, by hashed name.
#[derive(Debug, Default)]
pub struct OtherSecrets {
    names: RwLock<Names>,
    hasher: RandomState,
    listing: Listing,
}

impl OtherSecrets {
    fn hash(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    /// Whether a Secret `namespace/name` without our label may exist:
    /// `true` when its watch has not listed the namespace yet.
    pub fn may_exist(&self, namespace: &str, name: &str) -> bool {
        if !self.listing.is_listed(namespace) {
            return true;
        }
        let hash = self.hash(name);
        self.names
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(namespace)
            .is_some_and(|names| names.contains(&hash))
    }

    /// Number of Secrets kept.
    pub fn len(&self) -> usize {
        self.names
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(HashSet::len)
            .sum()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until the watch covering `namespace` has listed it once (at
    /// most 30 s). Returns at once if no watch covers it.
    pub async fn ready(&self, namespace: &str) {
        self.listing.ready(namespace).await;
    }

    /// A recorder for one watch over `scope` (a namespace, or all).
    pub fn recorder(self: &Arc<Self>, scope: Option<String>) -> OthersRecorder {
        self.listing.register(scope.clone());
        OthersRecorder {
            cache: self.clone(),
            scope,
            relist: None,
        }
    }
}

/// Applies one metadata watch's events to [`OtherSecrets`]; a relist
/// (`Init` .. `InitDone`) is gathered apart and then replaces the watch's
/// scope, so Secrets deleted while the watch was down are dropped.
#[derive(Debug)]
pub struct OthersRecorder {
    cache: Arc<OtherSecrets>,
    scope: Option<String>,
    relist: Option<Names>,
}

impl OthersRecorder {
    /// Adds the Secret, or removes it once it carries our label (a
    /// relabelled Secret is [`super::written`]'s from then on).
    fn put(&self, names: &mut Names, meta: &PartialObjectMeta<Secret>) {
        let hash = self.cache.hash(&meta.name_any());
        let namespace = meta.namespace().unwrap_or_default();
        if secret::is_labelled(meta.metadata.labels.as_ref()) {
            if let Some(set) = names.get_mut(&namespace) {
                set.remove(&hash);
            }
        } else {
            names.entry(namespace).or_default().insert(hash);
        }
    }

    /// Records `event`.
    pub fn record(&mut self, event: &Event<PartialObjectMeta<Secret>>) {
        let cache = self.cache.clone();
        let write = || cache.names.write().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Init => self.relist = Some(Names::new()),
            Event::InitApply(meta) => {
                if let Some(mut relist) = self.relist.take() {
                    self.put(&mut relist, meta);
                    self.relist = Some(relist);
                }
            }
            Event::InitDone => {
                let fresh = self.relist.take().unwrap_or_default();
                let mut names = write();
                match &self.scope {
                    Some(ns) => {
                        names.remove(ns);
                    }
                    None => names.clear(),
                }
                names.extend(fresh);
                drop(names);
                self.cache.listing.listed(self.scope.clone());
            }
            Event::Apply(meta) => self.put(&mut write(), meta),
            Event::Delete(meta) => {
                let hash = self.cache.hash(&meta.name_any());
                if let Some(set) = write().get_mut(&meta.namespace().unwrap_or_default()) {
                    set.remove(&hash);
                }
            }
        }
    }
}

impl Drop for OthersRecorder {
    /// The watch stopped (leadership lost, shutdown): what it recorded may
    /// go stale, so its scope is forgotten and no longer listed.
    fn drop(&mut self) {
        {
            let mut names = self.cache.names.write().unwrap_or_else(|e| e.into_inner());
            match &self.scope {
                Some(ns) => {
                    names.remove(ns);
                }
                None => names.clear(),
            }
        }
        self.cache.listing.stopped(&self.scope);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    fn meta(ns: &str, name: &str, ours: bool) -> PartialObjectMeta<Secret> {
        let labels = ours.then(|| [(secret::OWNED_LABEL.to_owned(), "true".to_owned())].into());
        PartialObjectMeta {
            types: None,
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                labels,
                ..ObjectMeta::default()
            },
            _phantom: std::marker::PhantomData,
        }
    }

    #[test]
    fn every_name_may_exist_until_the_first_list_is_complete() {
        let cache = Arc::new(OtherSecrets::default());
        assert!(cache.may_exist("a", "db"), "no watch");
        let mut recorder = cache.recorder(Some("a".into()));
        recorder.record(&Event::Init);
        recorder.record(&Event::InitApply(meta("a", "theirs", false)));
        assert!(cache.may_exist("a", "db"), "listing");
        recorder.record(&Event::InitDone);
        assert!(!cache.may_exist("a", "db"));
        assert!(cache.may_exist("a", "theirs"));
        assert!(cache.may_exist("b", "db"), "another namespace, not watched");
    }

    #[test]
    fn follows_creates_relabels_deletes_and_relists() {
        let cache = Arc::new(OtherSecrets::default());
        let mut recorder = cache.recorder(None);
        recorder.record(&Event::Init);
        recorder.record(&Event::InitApply(meta("a", "gone", false)));
        recorder.record(&Event::InitDone);
        recorder.record(&Event::Apply(meta("a", "new", false)));
        assert!(cache.may_exist("a", "new"));
        // Labelled by a reconcile: the written-Secrets cache's now.
        recorder.record(&Event::Apply(meta("a", "new", true)));
        assert!(!cache.may_exist("a", "new"));
        recorder.record(&Event::Apply(meta("a", "x", false)));
        recorder.record(&Event::Delete(meta("a", "x", false)));
        assert!(!cache.may_exist("a", "x"));

        recorder.record(&Event::Init);
        recorder.record(&Event::InitApply(meta("b", "kept", false)));
        assert!(cache.may_exist("a", "gone"), "served until the relist ends");
        recorder.record(&Event::InitDone);
        assert!(
            !cache.may_exist("a", "gone"),
            "deleted while the watch was down"
        );
        assert!(cache.may_exist("b", "kept"));
        assert_eq!(cache.len(), 1);

        drop(recorder);
        assert!(cache.is_empty());
        assert!(cache.may_exist("b", "anything"), "no watch: unknown");
    }
}
