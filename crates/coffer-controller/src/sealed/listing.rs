//! Which scopes (a namespace, or all) a Secret watch covers and has listed
//! in full since it started: what the caches kept from the SealedSecret
//! controller's Secret watches ([`super::written`], [`super::others`]) may
//! be trusted for. A cache answers for a namespace only once a watch
//! covering it has delivered its first complete list; a watch that stops
//! takes its scope back.

use std::collections::HashSet;
use std::sync::RwLock;
use std::time::Duration;

use tokio::sync::watch;

/// Longest a reconcile waits for a watch's first list.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Watch scopes: a namespace, or `None` for all.
pub(crate) type Scopes = HashSet<Option<String>>;

/// Whether `scopes` holds one covering `namespace`.
fn covers(scopes: &Scopes, namespace: &str) -> bool {
    scopes.contains(&None) || scopes.iter().flatten().any(|s| s == namespace)
}

/// The scopes of one cache's watches: those registered, and those listed.
#[derive(Debug)]
pub(crate) struct Listing {
    registered: RwLock<Scopes>,
    listed: watch::Sender<Scopes>,
}

impl Default for Listing {
    fn default() -> Self {
        Listing {
            registered: RwLock::default(),
            listed: watch::channel(Scopes::new()).0,
        }
    }
}

impl Listing {
    /// A watch over `scope` starts.
    pub(crate) fn register(&self, scope: Option<String>) {
        self.registered
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(scope);
    }

    /// The watch over `scope` delivered a complete list.
    pub(crate) fn listed(&self, scope: Option<String>) {
        self.listed.send_if_modified(|scopes| scopes.insert(scope));
    }

    /// The watch over `scope` stopped: what it listed may go stale.
    pub(crate) fn stopped(&self, scope: &Option<String>) {
        self.listed.send_if_modified(|scopes| scopes.remove(scope));
        self.registered
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(scope);
    }

    /// Whether a watch covering `namespace` has listed it in full.
    pub(crate) fn is_listed(&self, namespace: &str) -> bool {
        covers(&self.listed.borrow(), namespace)
    }

    /// Waits until a watch covering `namespace` has listed every Secret
    /// once (at most 30 s). Returns at once if no watch covers it.
    pub(crate) async fn ready(&self, namespace: &str) {
        if !covers(
            &self.registered.read().unwrap_or_else(|e| e.into_inner()),
            namespace,
        ) {
            return;
        }
        let mut rx = self.listed.subscribe();
        let _ = tokio::time::timeout(READY_TIMEOUT, rx.wait_for(|s| covers(s, namespace))).await;
    }
}
