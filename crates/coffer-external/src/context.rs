//! State shared by every reconcile: the Kubernetes client, the provider
//! sessions, caches of stores and managed Secrets, Events and metrics.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::events::{Recorder, Reporter};
use coffer_api::{ClusterSecretStore, ExternalSecret, SecretStore};
use coffer_providers::{Sessions, StoreConfig};
use kube::runtime::reflector::Store;

use crate::metrics::Metrics;
use crate::pool::RenderPool;
use crate::secrets::SecretIndex;

/// Name under which Events are reported (ESO's recorder name).
pub const REPORTER: &str = "external-secrets";

/// Where the kubelet mounts the controller's own service-account token.
pub const OWN_TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// ExternalSecrets reconciled at once by default (per watched namespace,
/// or in all when all are watched). Unbounded, the first sync of 1,000
/// ExternalSecrets sent bursts of 1,000 writes that the API server refused
/// with 429 beyond its in-flight limit (and retried), took 8.3 s and peaked
/// at 100 MiB; at 32, 3.6 s, no refusal and 43 MiB (`benches/
/// external_scale.rs`). ESO's default is 1.
pub const DEFAULT_CONCURRENCY: u16 = 32;

/// How the ExternalSecret controller runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Namespaces to watch; empty watches all.
    pub namespaces: Vec<String>,
    /// Only ExternalSecrets with these labels (a label selector), if set.
    pub label_selector: Option<String>,
    /// `--controller-class` (ESO's default `default`): stores whose
    /// `spec.controller` is set to another value are left to another
    /// controller.
    pub controller_class: String,
    /// `--concurrent`: ExternalSecrets reconciled at once (per watched
    /// scope); 0 means no limit. [`DEFAULT_CONCURRENCY`] by default (ESO's
    /// is 1).
    pub concurrency: u16,
    /// `--enable-flood-gate`: an ExternalSecret whose store's `Ready`
    /// condition is `False` is not synced (no provider call) until the
    /// store validates again.
    pub flood_gate: bool,
    /// How long a resolved store configuration (with the credentials read
    /// from Secrets) is reused before it is read again; a rotated credential
    /// Secret is picked up within this time.
    pub store_config_ttl: Duration,
    /// How often a store is validated again when its `refreshInterval`
    /// does not say (ESO's `--store-requeue-interval`, 5 minutes): a store
    /// whose credential Secret appears later becomes Ready without an edit.
    pub store_requeue_interval: Duration,
    /// `--refresh-time-slack`: a refresh that changes nothing but
    /// `status.refreshTime` skips its status write while the recorded
    /// time is less than this much older (zero, the default, writes every
    /// refresh, as ESO does).
    pub refresh_time_slack: Duration,
    /// Run the ClusterExternalSecret controller (cluster-wide); off when
    /// several controllers share a cluster in tests.
    pub cluster_external_secrets: bool,
    /// What one template render may cost (`target.template`, `templateFrom`).
    pub template_limits: coffer_template::Limits,
    /// Where templates render (off the async runtime, a few at a time);
    /// the controller binary shares one with the SealedSecret controller.
    pub renders: RenderPool,
    /// AWS endpoints for every AWS store (ESO's environment variables).
    pub aws_endpoints: AwsEndpoints,
    /// Which objects this replica syncs when replicas split the work
    /// (`--shards`): ExternalSecrets, SecretStores and
    /// ClusterExternalSecrets by namespace and name. `None`: all of them.
    pub partition: Option<Arc<dyn coffer_shard::Partition>>,
    /// The controller's own service-account token ([`OWN_TOKEN_PATH`]),
    /// which Vault Kubernetes auth presents when a store names neither a
    /// ServiceAccount nor a Secret (as ESO does). Tests point it elsewhere.
    pub own_token_path: PathBuf,
}

/// AWS endpoint overrides, as ESO reads them from its environment
/// (`AWS_SECRETSMANAGER_ENDPOINT`, `AWS_STS_ENDPOINT`, `AWS_SSM_ENDPOINT`);
/// `None` leaves the SDK's own resolution (which honours
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL_STS` and
/// `AWS_ENDPOINT_URL_SSM`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsEndpoints {
    /// Secrets Manager.
    pub secrets_manager: Option<String>,
    /// STS (AssumeRole, AssumeRoleWithWebIdentity).
    pub sts: Option<String>,
    /// SSM (Parameter Store).
    pub ssm: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            namespaces: Vec::new(),
            label_selector: None,
            controller_class: "default".to_owned(),
            concurrency: DEFAULT_CONCURRENCY,
            flood_gate: false,
            store_config_ttl: Duration::from_secs(60),
            store_requeue_interval: Duration::from_secs(300),
            refresh_time_slack: Duration::ZERO,
            cluster_external_secrets: true,
            template_limits: coffer_template::Limits::default(),
            renders: RenderPool::default(),
            aws_endpoints: AwsEndpoints::default(),
            partition: None,
            own_token_path: PathBuf::from(OWN_TOKEN_PATH),
        }
    }
}

/// A store configuration resolved from a store object and its credential
/// Secrets.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// The store object's resourceVersion when resolved.
    pub resource_version: String,
    pub at: Instant,
    pub config: StoreConfig,
    /// The session scope (see `store::build_config`).
    pub scope: Option<String>,
}

/// Shared state; see the module docs.
pub struct Context {
    /// The Kubernetes client.
    pub client: kube::Client,
    /// How the controller runs.
    pub config: Config,
    /// One provider client per store.
    pub sessions: Sessions,
    /// Metrics (also receives provider call counts).
    pub metrics: Arc<Metrics>,
    /// Events on ExternalSecrets and stores.
    pub recorder: Recorder,
    /// SecretStores, from one watch per watched namespace (or one for all).
    pub stores: Vec<Store<SecretStore>>,
    /// ClusterSecretStores, from a watch.
    pub cluster_stores: Store<ClusterSecretStore>,
    /// What each managed Secret holds, from a watch (hashes, not values).
    pub secrets: SecretIndex,
    pub(crate) resolved: Mutex<HashMap<String, Resolved>>,
    /// One lock per `resolved` key, held while it is resolved: the many
    /// ExternalSecrets that fall due together when an entry expires wait
    /// for one resolution (one read of the credentials) instead of each
    /// making its own.
    pub(crate) resolving: coffer_providers::Gates<String>,
    /// ExternalSecrets (by uid) this process has synced or scheduled at
    /// least once: the first reconcile after a start spreads overdue
    /// refreshes with jitter.
    pub(crate) seen: Mutex<HashSet<String>>,
    /// Consecutive failures per ExternalSecret uid, for the retry backoff.
    pub(crate) retries: crate::Retries,
    /// Per ExternalSecret uid, the refresh time and synced version of the
    /// last sync whose status this process wrote. Until that status comes
    /// back through the watch, the cached object still looks unsynced (or
    /// synced earlier), and a reconcile triggered meanwhile (by the Secret
    /// just written) must not read the provider again.
    pub(crate) last_sync: Mutex<HashMap<String, (std::time::SystemTime, String)>>,
    /// Per store uid, the generation last validated and when.
    pub(crate) validated: Mutex<HashMap<String, (i64, Instant)>>,
    /// The ExternalSecret caches, one per watched scope, as each sync
    /// controller starts (read by [`crate::sweep`]).
    external_secrets: Mutex<Vec<Store<ExternalSecret>>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context over the given caches.
    pub(crate) fn new(
        client: kube::Client,
        config: Config,
        metrics: Arc<Metrics>,
        stores: Vec<Store<SecretStore>>,
        cluster_stores: Store<ClusterSecretStore>,
        secrets: SecretIndex,
    ) -> Self {
        let reporter = Reporter {
            controller: REPORTER.to_owned(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            sessions: Sessions::new(metrics.clone()),
            client,
            config,
            metrics,
            stores,
            cluster_stores,
            secrets,
            resolved: Mutex::default(),
            resolving: coffer_providers::Gates::default(),
            seen: Mutex::default(),
            retries: crate::reconcile::retries(),
            last_sync: Mutex::default(),
            validated: Mutex::default(),
            external_secrets: Mutex::default(),
        }
    }

    /// Adds a scope's ExternalSecret cache to those the sweep reads.
    pub(crate) fn register_external_secrets(&self, cache: Store<ExternalSecret>) {
        self.external_secrets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(cache);
    }

    /// The ExternalSecret caches registered so far.
    pub(crate) fn external_secret_caches(&self) -> Vec<Store<ExternalSecret>> {
        self.external_secrets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records that `uid` was reconciled; true the first time.
    pub(crate) fn first_sight(&self, uid: &str) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(uid.to_owned())
    }
}
