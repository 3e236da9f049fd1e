//! What each managed Secret holds, kept from a watch on Secrets labelled
//! `reconcile.external-secrets.io/managed=true`.
//!
//! Only a summary is kept (metadata and the data hash, not the values), so
//! memory stays small and no secret value sits in a cache; the summary is
//! enough to decide, without an API call, whether a Secret is intact (its
//! data still matches the hash the controller wrote) and whether a new sync
//! would change it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::watcher::{self, Event};
use kube::{Api, ResourceExt};

use crate::hash::{DATA_HASH_ANNOTATION, MANAGED_LABEL, data_hash};

/// A managed Secret as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSummary {
    /// The Secret's uid.
    pub uid: String,
    /// Its resourceVersion.
    pub resource_version: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
    /// Its type.
    pub type_: Option<String>,
    /// Whether it is immutable.
    pub immutable: bool,
    /// ESO's data hash of its data as it is now.
    pub data_hash: String,
    /// `Kind/name` of its controller owner, if any.
    pub controller: Option<(String, String)>,
}

impl SecretSummary {
    /// Summarizes a Secret.
    pub fn of(secret: &Secret) -> Self {
        let data = secret.data.as_ref();
        let hash = data_hash(
            data.into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.0.as_slice())),
        );
        SecretSummary {
            uid: secret.metadata.uid.clone().unwrap_or_default(),
            resource_version: secret.metadata.resource_version.clone().unwrap_or_default(),
            labels: secret.labels().clone(),
            annotations: secret.annotations().clone(),
            type_: secret.type_.clone(),
            immutable: secret.immutable.unwrap_or(false),
            data_hash: hash,
            controller: secret
                .owner_references()
                .iter()
                .find(|o| o.controller == Some(true))
                .map(|o| (o.kind.clone(), o.name.clone())),
        }
    }

    /// ESO's validity check: managed, and the data still hashes to the
    /// recorded value (nobody edited it).
    pub fn intact(&self) -> bool {
        self.labels.get(MANAGED_LABEL).map(String::as_str) == Some("true")
            && self.annotations.get(DATA_HASH_ANNOTATION) == Some(&self.data_hash)
    }
}

/// The summaries, by (namespace, name).
#[derive(Debug, Clone, Default)]
pub struct SecretIndex {
    inner: Arc<RwLock<HashMap<(String, String), SecretSummary>>>,
    /// Watches whose initial list has completed.
    listed: Arc<AtomicUsize>,
    /// Watches feeding the index (one per watched namespace, or one for all).
    watches: usize,
}

impl SecretIndex {
    /// An empty index to be fed by `watches` watches.
    pub fn new(watches: usize) -> Self {
        SecretIndex {
            watches,
            ..Default::default()
        }
    }

    /// The summary of `namespace/name`, if it is a managed Secret.
    pub fn get(&self, namespace: &str, name: &str) -> Option<SecretSummary> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Whether the initial list has completed: before that, a missing
    /// summary does not mean a missing Secret.
    pub fn is_listed(&self) -> bool {
        self.listed.load(Ordering::Acquire) >= self.watches
    }

    /// Number of managed Secrets known.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no managed Secret is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records a Secret the controller just wrote, so the next reconcile
    /// sees it before the watch delivers it.
    pub fn record(&self, secret: &Secret) {
        let Some(namespace) = secret.namespace() else {
            return;
        };
        let key = (namespace, secret.name_any());
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if secret.labels().get(MANAGED_LABEL).map(String::as_str) == Some("true") {
            map.insert(key, SecretSummary::of(secret));
        } else {
            map.remove(&key);
        }
    }

    /// Forgets a Secret (deleted, by the controller or anyone).
    pub fn remove(&self, namespace: &str, name: &str) {
        self.inner
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(namespace.to_owned(), name.to_owned()));
    }

    /// Watches managed Secrets through `api` (all namespaces when `scope`
    /// is `None`, else that namespace), keeping the index current, and
    /// yields every changed or deleted Secret (to wake its ExternalSecret).
    pub fn watch(
        &self,
        api: Api<Secret>,
        scope: Option<String>,
    ) -> impl Stream<Item = Result<Secret, watcher::Error>> + Send + 'static {
        let index = self.clone();
        let config = watcher::Config::default().labels(&format!("{MANAGED_LABEL}=true"));
        let mut relisting = HashMap::new();
        let mut first_list = true;
        watcher::watcher(api, config).filter_map(move |event| {
            let out = match event {
                Ok(Event::Apply(s)) => {
                    index.record(&s);
                    Some(Ok(s))
                }
                Ok(Event::Delete(s)) => {
                    index.remove(&s.namespace().unwrap_or_default(), &s.name_any());
                    Some(Ok(s))
                }
                Ok(Event::Init) => {
                    relisting.clear();
                    None
                }
                Ok(Event::InitApply(s)) => {
                    relisting.insert(
                        (s.namespace().unwrap_or_default(), s.name_any()),
                        SecretSummary::of(&s),
                    );
                    Some(Ok(s))
                }
                Ok(Event::InitDone) => {
                    let fresh = std::mem::take(&mut relisting);
                    {
                        let mut map = index.inner.write().unwrap_or_else(PoisonError::into_inner);
                        map.retain(|(ns, _), _| scope.as_ref().is_some_and(|s| s != ns));
                        map.extend(fresh);
                    }
                    if std::mem::take(&mut first_list) {
                        index.listed.fetch_add(1, Ordering::AcqRel);
                    }
                    None
                }
                Err(e) => Some(Err(e)),
            };
            futures::future::ready(out)
        })
    }
}
