//! What every reconcile and HTTP handler shares: the API client, the key
//! registry, the metrics and the Event recorder.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::runtime::events::{Recorder, Reporter};

use crate::metrics::Metrics;
use crate::sealed::keys::KeyRegistry;

/// The field manager under which the controller writes status (and the
/// Event reporter's name).
pub const FIELD_MANAGER: &str = "coffer-controller";

/// Shared state, handed around as `Arc<Context>`.
pub struct Context {
    /// The API client.
    pub client: kube::Client,
    /// The sealing keys.
    pub keys: Arc<KeyRegistry>,
    /// The process's counters.
    pub metrics: Arc<Metrics>,
    /// Publishes Events on SealedSecrets.
    pub recorder: Recorder,
    /// Per SealedSecret uid, the inputs of its last failed attempt (inputs
    /// hash, key registry version, Secret resourceVersion). A reconcile with
    /// the same inputs (e.g. triggered by its own status write) would fail
    /// the same way, so it is skipped without decrypting or reporting again.
    pub(crate) last_failure: Mutex<HashMap<String, String>>,
}

impl Context {
    /// A context for `client` with these keys and metrics.
    pub fn new(client: kube::Client, keys: Arc<KeyRegistry>, metrics: Arc<Metrics>) -> Context {
        let reporter = Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            keys,
            metrics,
            last_failure: Mutex::default(),
        }
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("keys", &self.keys)
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}
