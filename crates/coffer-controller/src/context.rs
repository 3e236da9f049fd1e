//! What every reconcile and HTTP handler shares: the API client, the key
//! registry, the metrics, the Event recorder and the leadership; what only
//! the SealedSecret controller keeps is [`SealedState`].

use std::sync::Arc;

use coffer_external::events::{Recorder, Reporter};

use coffer_external::RenderPool;

use crate::lease::Leadership;
use crate::metrics::Metrics;
use crate::sealed::keys::KeyRegistry;
use crate::sealed::state::SealedState;
use crate::shard::Shards;

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
    /// The ExternalSecret controller's metrics (ESO's names), rendered on
    /// the same `/metrics`.
    pub external_metrics: Arc<coffer_external::Metrics>,
    /// Where unseals (RSA decryption and template rendering) run: blocking
    /// threads, a few at a time, never the async runtime. Shared with the
    /// ExternalSecret controller.
    pub renders: RenderPool,
    /// What only the SealedSecret controller keeps.
    pub sealed: SealedState,
    /// The shards this replica holds, when replicas split the work
    /// (`--shards`); `None`: the leader does it all.
    pub shards: Option<Shards>,
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
            renders: RenderPool::default(),
            sealed: SealedState::default(),
            shards: None,
        }
    }

    /// The same context, rendering SealedSecret templates within `limits`.
    pub fn with_template_limits(mut self, limits: coffer_template::Limits) -> Context {
        self.sealed.template_limits = limits;
        self
    }

    /// The same context, writing status or not, and giving up on a
    /// SealedSecret after `max_retries` failed retries.
    pub fn with_unseal_options(mut self, update_status: bool, max_retries: u32) -> Context {
        self.sealed.update_status = update_status;
        self.sealed.max_unseal_retries = max_retries;
        self
    }

    /// The same context, reconciling only the objects of the shards this
    /// replica holds.
    pub fn with_shards(mut self, shards: Option<Shards>) -> Context {
        self.shards = shards;
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
