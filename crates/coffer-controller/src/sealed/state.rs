//! What only the SealedSecret controller keeps between reconciles (a part
//! of [`crate::Context`]): the memory of failed attempts and retries, of
//! status writes not yet seen, the caches its Secret watches keep, its
//! options and the key requests.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::sealed::others::OtherSecrets;
use crate::sealed::written::WrittenSecrets;

/// A `Synced` condition written over one version of a SealedSecret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusWrite {
    /// The resourceVersion of the SealedSecret the status was computed from.
    pub over: String,
    /// The condition's status, reason and message.
    pub synced: bool,
    pub reason: String,
    pub message: String,
}

/// The SealedSecret controller's share of the context.
pub struct SealedState {
    /// Per SealedSecret uid, the inputs of its last failed attempt (inputs
    /// hash, key registry version, Secret resourceVersion). A reconcile with
    /// the same inputs (e.g. triggered by its own status write) would fail
    /// the same way, so it is skipped without decrypting or reporting again.
    pub(crate) last_failure: Mutex<HashMap<String, String>>,
    /// Per SealedSecret uid, how many reconciles in a row returned an error:
    /// the exponent of its retry backoff. Cleared on success.
    pub(crate) retries: coffer_external::Retries,
    /// Per SealedSecret uid, the last status written and the
    /// resourceVersion it was written over, until the cache shows a newer
    /// object (see [`SealedState::status_unseen`]).
    status_writes: Mutex<HashMap<String, StatusWrite>>,
    /// The Secrets this controller wrote, as last seen by its watch.
    pub written: Arc<WrittenSecrets>,
    /// The other Secrets (hashed names), as last seen by their watch.
    pub others: Arc<OtherSecrets>,
    /// What rendering one SealedSecret's templates may cost.
    pub template_limits: coffer_template::Limits,
    /// Whether reconciles write SealedSecret status (`--update-status`).
    pub update_status: bool,
    /// Retries after an API error before a SealedSecret waits for a change
    /// (`--max-unseal-retries`).
    pub max_unseal_retries: u32,
    /// Bumped for each request of a new key (SIGUSR1, as Bitnami); the
    /// leader's SealedSecret writer makes one per bump it sees.
    pub(crate) key_requests: tokio::sync::watch::Sender<u64>,
    /// The last request of [`SealedState::key_requests`] a key was made for.
    pub(crate) key_requests_handled: std::sync::atomic::AtomicU64,
}

impl Default for SealedState {
    fn default() -> Self {
        SealedState {
            last_failure: Mutex::default(),
            retries: crate::sealed::reconcile::retries(),
            status_writes: Mutex::default(),
            written: Arc::default(),
            others: Arc::default(),
            template_limits: coffer_template::Limits::default(),
            update_status: true,
            max_unseal_retries: 5,
            key_requests: tokio::sync::watch::channel(0).0,
            key_requests_handled: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl SealedState {
    /// Whether both Secret watches have listed `namespace` and neither
    /// knows a Secret `name` in it: then a create needs no read first (if
    /// one exists after all, the create answers 409).
    pub(crate) fn unseen(&self, namespace: &str, name: &str) -> bool {
        self.written.is_listed(namespace)
            && self.written.get(namespace, name).is_none()
            && !self.others.may_exist(namespace, name)
    }

    /// Whether the status `written` was already written over the object
    /// as the reconcile sees it: the cache has not shown the write yet (a
    /// reconcile triggered by the Secret's watch event often runs before
    /// the SealedSecret's arrives), which would only be repeated with a
    /// new `lastUpdateTime`, and trigger one more reconcile. A newer object
    /// (the write seen, or anyone's change since) is judged afresh.
    pub(crate) fn status_unseen(&self, uid: &str, written: &StatusWrite) -> bool {
        let mut writes = self
            .status_writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match writes.get(uid) {
            Some(last) if last == written => true,
            Some(last) if last.over != written.over => {
                writes.remove(uid);
                false
            }
            _ => false,
        }
    }

    /// Remembers that `written` was written for SealedSecret `uid`.
    pub(crate) fn status_written(&self, uid: &str, written: StatusWrite) {
        self.status_writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(uid.to_owned(), written);
    }

    /// Waits (a bounded time) for both Secret watches' first lists of
    /// `namespace`.
    pub(crate) async fn ready(&self, namespace: &str) {
        tokio::join!(self.written.ready(namespace), self.others.ready(namespace));
    }

    /// Forgets the failures and retry counts of SealedSecrets whose uid is
    /// not in `live` (they were deleted: nothing else would drop them).
    pub(crate) fn prune(&self, live: &HashSet<String>) {
        self.last_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|uid, _| live.contains(uid));
        self.status_writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|uid, _| live.contains(uid));
        self.retries.retain(|uid| live.contains(uid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_only_live_sealed_secrets() {
        let state = SealedState::default();
        for uid in ["gone", "kept"] {
            state
                .last_failure
                .lock()
                .unwrap()
                .insert(uid.to_owned(), "inputs".to_owned());
            state.retries.failed(uid);
        }
        state.prune(&HashSet::from(["kept".to_owned()]));
        let failures = state.last_failure.lock().unwrap().clone();
        assert_eq!(failures.keys().collect::<Vec<_>>(), ["kept"]);
        assert_eq!(state.retries.failed("gone").0, 1, "gone's retries dropped");
        assert_eq!(state.retries.failed("kept").0, 2, "kept's retries kept");
    }

    fn write(over: &str, synced: bool) -> StatusWrite {
        StatusWrite {
            over: over.to_owned(),
            synced,
            reason: "Unsealed".to_owned(),
            message: "SealedSecret unsealed successfully".to_owned(),
        }
    }

    #[test]
    fn a_status_write_is_not_repeated_over_the_object_it_was_written_over() {
        let state = SealedState::default();
        assert!(
            !state.status_unseen("u", &write("1", true)),
            "nothing written"
        );
        state.status_written("u", write("1", true));
        assert!(
            state.status_unseen("u", &write("1", true)),
            "still version 1"
        );
        assert!(
            !state.status_unseen("u", &write("1", false)),
            "another condition is written"
        );
        assert!(!state.status_unseen("other", &write("1", true)));
        // The cache shows a newer object: judged afresh, and forgotten.
        assert!(!state.status_unseen("u", &write("2", true)));
        assert!(!state.status_unseen("u", &write("1", true)), "forgotten");
    }
}
