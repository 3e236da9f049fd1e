//! What every reconcile and HTTP handler shares: the API client, the key
//! registry, the metrics, the Event recorder and the leadership.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::runtime::events::{Recorder, Reporter};

use coffer_external::RenderPool;

use crate::lease::Leadership;
use crate::metrics::Metrics;
use crate::sealed::keys::KeyRegistry;
use crate::sealed::written::WrittenSecrets;

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
    /// Whether this replica leads (writers run only while it does).
    pub leadership: Leadership,
    /// Per SealedSecret uid, the inputs of its last failed attempt (inputs
    /// hash, key registry version, Secret resourceVersion). A reconcile with
    /// the same inputs (e.g. triggered by its own status write) would fail
    /// the same way, so it is skipped without decrypting or reporting again.
    pub(crate) last_failure: Mutex<HashMap<String, String>>,
    /// Per SealedSecret uid, how many reconciles in a row returned an error:
    /// the exponent of its retry backoff. Cleared on success.
    pub(crate) retries: Mutex<HashMap<String, u32>>,
    /// The Secrets this controller wrote, as last seen by its watch.
    pub written: Arc<WrittenSecrets>,
    /// The ExternalSecret controller's metrics (ESO's names), rendered on
    /// the same `/metrics`.
    pub external_metrics: Arc<coffer_external::Metrics>,
    /// Where unseals (RSA decryption and template rendering) run: blocking
    /// threads, a few at a time, never the async runtime. Shared with the
    /// ExternalSecret controller.
    pub renders: RenderPool,
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
    /// The last request of [`Context::key_requests`] a key was made for.
    pub(crate) key_requests_handled: std::sync::atomic::AtomicU64,
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
            external_metrics: Arc::new(coffer_external::Metrics::with_timer(metrics.clone())),
            metrics,
            leadership: Leadership::always(),
            last_failure: Mutex::default(),
            retries: Mutex::default(),
            written: Arc::default(),
            renders: RenderPool::default(),
            template_limits: coffer_template::Limits::default(),
            update_status: true,
            max_unseal_retries: 5,
            key_requests: tokio::sync::watch::channel(0).0,
            key_requests_handled: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The same context, rendering SealedSecret templates within `limits`.
    pub fn with_template_limits(mut self, limits: coffer_template::Limits) -> Context {
        self.template_limits = limits;
        self
    }

    /// The same context, writing status or not, and giving up on a
    /// SealedSecret after `max_retries` failed retries.
    pub fn with_unseal_options(mut self, update_status: bool, max_retries: u32) -> Context {
        self.update_status = update_status;
        self.max_unseal_retries = max_retries;
        self
    }

    /// The same context, with writers gated by `leadership`.
    pub fn with_leadership(mut self, leadership: Leadership) -> Context {
        self.leadership = leadership;
        self
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("keys", &self.keys)
            .field("metrics", &self.metrics)
            .field("leader", &self.leadership.is_leader())
            .finish_non_exhaustive()
    }
}
