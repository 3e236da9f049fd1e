//! Coffer's Kubernetes controller, as a library with a thin binary
//! (`main.rs`): it turns SealedSecrets into Secrets with keys and behaviour
//! compatible with Bitnami sealed-secrets, and serves the sealing
//! certificate, verify/rotate endpoints, health and metrics.
//!
//! [`start`] loads the sealing keys, then runs on spawned tasks, on every
//! replica: the key Secret watch ([`sealed::keys`]) and the HTTP listeners
//! ([`http`]), bound before any controller lists anything; and, only on the
//! replica that holds the leader Lease ([`lease`]), the *writers*: key
//! creation and renewal and the SealedSecret controller
//! ([`sealed::reconcile`]), whose API client refuses writes once the lease
//! may expire. [`Running::shutdown`] stops gracefully: writers
//! finish in-flight reconciles, then the Lease is released. Tests call
//! [`start`] in-process and read [`Running::context`] (keys, metrics).

#![forbid(unsafe_code)]

pub mod context;
pub mod error;
pub mod flags;
pub mod http;
pub mod lease;
pub mod metrics;
pub mod rate_limit;
pub mod sealed;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use coffer_crypto::KeySize;
use k8s_openapi::jiff::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use context::Context;
pub use error::{Error, Result};
pub use http::HttpLimits;
pub use lease::{Leadership, LeaseConfig};
pub use metrics::Metrics;
pub use rate_limit::RateLimit;
pub use sealed::key_settings::{KeyOrder, KeySettings};

/// How the controller runs (the binary builds this from its flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// The controller's own namespace, where its key Secrets and its
    /// leader Lease live.
    pub controller_namespace: String,
    /// How key Secrets are named, made and ordered (prefix, certificate
    /// validity and name, order, extra annotations and labels).
    pub keys: KeySettings,
    /// Size of keys the controller generates.
    pub key_size: KeySize,
    /// How often to generate a new sealing key; zero disables renewal.
    pub key_renew_period: Duration,
    /// Generate a new key on becoming leader if the newest is older than
    /// this (Bitnami's `--key-cutoff-time`).
    pub key_cutoff: Option<Timestamp>,
    /// Namespaces to watch for SealedSecrets; empty watches all.
    pub watch_namespaces: Vec<String>,
    /// Label selector applied to the SealedSecret watch (Bitnami's
    /// `--label-selector`); SealedSecrets it does not match are ignored.
    pub label_selector: Option<String>,
    /// Where to serve the certificate, verify, rotate and health endpoints.
    pub listen_addr: Option<SocketAddr>,
    /// Where to serve `/metrics`.
    pub metrics_addr: Option<SocketAddr>,
    /// Limit on `/v1/verify` and `/v1/rotate` (Bitnami's `--rate-limit`,
    /// `--rate-limit-burst`), weighed by RSA operations; `None` serves them
    /// without one.
    pub rate_limit: Option<RateLimit>,
    /// Timeouts, connection and value caps of both listeners.
    pub http_limits: HttpLimits,
    /// Leader election; `None` makes this replica always the leader.
    pub leader_election: Option<LeaseConfig>,
    /// Run the SealedSecret controller (and key creation and renewal).
    pub sealed_secrets: bool,
    /// Write SealedSecret status (Bitnami's `--update-status`).
    pub update_status: bool,
    /// Leave out the metric that names every SealedSecret
    /// (Bitnami's `--metrics-omit-secret-labels`).
    pub metrics_omit_secret_labels: bool,
    /// Retries of a SealedSecret whose reconcile failed with an API error
    /// before it waits for a change (Bitnami's `--max-unseal-retries`).
    pub max_unseal_retries: u32,
    /// Run the ExternalSecret controllers, with this configuration.
    pub external_secrets: Option<coffer_external::Config>,
    /// What rendering one SealedSecret's `spec.template.data` may cost
    /// (steps, bytes, values, time); the ExternalSecret controller has its
    /// own in `external_secrets`.
    pub template_limits: coffer_template::Limits,
}

impl Default for Config {
    /// Bitnami's defaults: `kube-system`, `sealed-secrets-key`, 4096-bit
    /// keys renewed every 30 days, all namespaces, ports 8080 and 8081; no
    /// leader election (the binary turns it on).
    fn default() -> Self {
        Config {
            controller_namespace: "kube-system".to_owned(),
            keys: KeySettings::default(),
            key_size: KeySize::Rsa4096,
            key_renew_period: Duration::from_secs(30 * 24 * 60 * 60),
            key_cutoff: None,
            watch_namespaces: Vec::new(),
            label_selector: None,
            listen_addr: Some(SocketAddr::from(([0, 0, 0, 0], 8080))),
            metrics_addr: Some(SocketAddr::from(([0, 0, 0, 0], 8081))),
            rate_limit: Some(RateLimit::default()),
            http_limits: HttpLimits::default(),
            leader_election: None,
            sealed_secrets: true,
            update_status: true,
            metrics_omit_secret_labels: false,
            max_unseal_retries: 5,
            external_secrets: None,
            template_limits: coffer_template::Limits::default(),
        }
    }
}

/// A one-shot stop signal, cloned to everything that must stop: fires on
/// process shutdown, or (for a writer) when leadership is lost. Also fires
/// if its sender is dropped.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    /// A new signal and the sender that fires it (`send(true)`).
    pub fn new() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown { rx })
    }

    /// Wraps a receiver: fires when it holds `true` or its sender is gone.
    pub fn from_receiver(rx: watch::Receiver<bool>) -> Shutdown {
        Shutdown { rx }
    }

    /// Whether the signal has fired.
    pub fn is_set(&self) -> bool {
        *self.rx.borrow() || self.rx.has_changed().is_err()
    }

    /// Resolves once the signal fires.
    pub async fn wait(&mut self) {
        let _ = self.rx.wait_for(|stop| *stop).await;
    }

    /// An owned future that resolves once the signal fires (for APIs such
    /// as kube's `graceful_shutdown_on`).
    pub fn fired(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut this = self.clone();
        async move { this.wait().await }
    }
}

/// A controller running on spawned tasks. Dropping it aborts them;
/// [`Running::shutdown`] stops them gracefully.
#[derive(Debug)]
pub struct Running {
    /// The shared state: keys, metrics, client, leadership.
    pub context: Arc<Context>,
    /// Bound address of the API listener, if any.
    pub listen_addr: Option<SocketAddr>,
    /// Bound address of the metrics listener, if any.
    pub metrics_addr: Option<SocketAddr>,
    /// Whether this replica leads (shared with every writer).
    pub leadership: Leadership,
    /// Tasks that write (run under [`lease::while_leader`]).
    writers: Vec<JoinHandle<()>>,
    /// The election task, if leader election is on.
    election: Option<JoinHandle<()>>,
    /// Tasks every replica runs: key watch, HTTP listeners.
    background: Vec<JoinHandle<()>>,
    stop_writers: watch::Sender<bool>,
    stop_election: watch::Sender<bool>,
}

impl Running {
    /// Waits until any of the controller's tasks ends (which only happens on
    /// a panic or shutdown). Call it once, then [`Running::shutdown`] or drop.
    pub async fn wait(&mut self) {
        let mut tasks: Vec<&mut JoinHandle<()>> = self
            .writers
            .iter_mut()
            .chain(self.background.iter_mut())
            .chain(self.election.iter_mut())
            .collect();
        if tasks.is_empty() {
            return std::future::pending().await;
        }
        let _ = futures::future::select_all(tasks.iter_mut().map(|t| &mut **t)).await;
    }

    /// Runs `writer` on a spawned task whenever this replica leads (see
    /// [`lease::while_leader`]); it is stopped gracefully by
    /// [`Running::shutdown`] before the Lease is released. This is how each
    /// controller (SealedSecret, ExternalSecret) joins the process.
    pub fn spawn_writer<F, Fut>(&mut self, name: &'static str, writer: F)
    where
        F: FnMut(Shutdown) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let shutdown = Shutdown::from_receiver(self.stop_writers.subscribe());
        self.writers.push(tokio::spawn(lease::while_leader(
            name,
            self.leadership.clone(),
            shutdown,
            writer,
        )));
    }

    /// Asks for a new sealing key now (Bitnami's SIGUSR1), whatever the
    /// renewal period. The leader makes it; a replica that does not lead
    /// only logs that the leader must be asked.
    pub fn request_new_key(&self) {
        if !self.leadership.is_leader() {
            tracing::warn!("not the leader: send the signal to the leading replica");
            return;
        }
        self.context.key_requests.send_modify(|n| *n += 1);
        tracing::info!("a new key was asked for");
    }

    /// Stops gracefully: writers stop taking work and finish in-flight
    /// reconciles (bounded by [`lease::WRITER_STOP_TIMEOUT`]), then the
    /// Lease is released so another replica takes over at once, then the
    /// HTTP listeners and watches stop.
    pub async fn shutdown(mut self) {
        // NB: a task that [`Running::wait`] saw end is finished; awaiting
        // its handle again would panic.
        let _ = self.stop_writers.send(true);
        for writer in std::mem::take(&mut self.writers) {
            if !writer.is_finished() {
                let _ = writer.await;
            }
        }
        let _ = self.stop_election.send(true);
        if let Some(election) = self.election.take()
            && !election.is_finished()
        {
            let _ = election.await;
        }
        tracing::info!("controller stopped");
        // Drop aborts the background tasks.
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in self
            .writers
            .iter()
            .chain(self.background.iter())
            .chain(self.election.iter())
        {
            task.abort();
        }
    }
}

/// Loads the keys, starts the key watch and the HTTP listeners, the leader
/// election (if configured) and the writers. Without leader election it
/// also makes sure a key exists before returning.
pub async fn start(client: kube::Client, config: Config) -> Result<Running> {
    start_with_metrics(client, config, Arc::new(Metrics::default())).await
}

/// [`start`], counting into `metrics` (e.g. the one a
/// [`metrics::counting_client`] counts API requests into).
pub async fn start_with_metrics(
    client: kube::Client,
    config: Config,
    metrics: Arc<Metrics>,
) -> Result<Running> {
    // NB: with the SealedSecret controller off, no key is read, made or
    // served (nor does the controller need to read Secrets in its
    // namespace).
    let keys = if config.sealed_secrets {
        sealed::keys::KeyRegistry::load_with(
            client.clone(),
            &config.controller_namespace,
            config.keys.clone(),
        )
        .await?
    } else {
        sealed::keys::KeyRegistry::empty(&config.controller_namespace, config.keys.clone())
    };
    let (stop_writers, _) = watch::channel(false);
    let (stop_election, election_rx) = watch::channel(false);
    let (leadership, election) = match &config.leader_election {
        Some(lease) => {
            let (leadership, task) = lease::elect(
                client.clone(),
                lease.clone(),
                Shutdown::from_receiver(election_rx),
            );
            (leadership, Some(task))
        }
        None => {
            if config.sealed_secrets {
                keys.ensure_key(client.clone(), config.key_size, config.key_cutoff)
                    .await?;
            }
            (Leadership::always(), None)
        }
    };
    // NB: the writers' client refuses writes the moment this replica may
    // no longer make them; reads (and the election's own client) go on.
    let writers_client = lease::guarded_client(client.clone(), leadership.clone());
    if config.metrics_omit_secret_labels {
        metrics.bitnami.omit_secret_labels();
    }
    let context = Arc::new(
        Context::new(writers_client, keys.clone(), metrics)
            .with_leadership(leadership.clone())
            .with_template_limits(config.template_limits)
            .with_unseal_options(config.update_status, config.max_unseal_retries),
    );
    let mut running = Running {
        context: context.clone(),
        listen_addr: None,
        metrics_addr: None,
        leadership,
        writers: Vec::new(),
        election,
        background: Vec::new(),
        stop_writers,
        stop_election,
    };

    if config.sealed_secrets {
        running
            .background
            .push(tokio::spawn(keys.clone().watch(client)));
    }

    // NB: HTTP first, so /healthz and /v1/cert.pem answer while the
    // controllers are still listing (and on followers, which never do).
    if let Some(addr) = config.listen_addr {
        let (bound, task) = http::serve(
            addr,
            if config.sealed_secrets {
                http::Endpoints::Api
            } else {
                http::Endpoints::Health
            },
            context.clone(),
            config.rate_limit,
            config.http_limits,
        )
        .await?;
        running.listen_addr = Some(bound);
        running.background.push(task);
    }
    if let Some(addr) = config.metrics_addr {
        let (bound, task) = http::serve(
            addr,
            http::Endpoints::Metrics,
            context.clone(),
            None,
            config.http_limits,
        )
        .await?;
        running.metrics_addr = Some(bound);
        running.background.push(task);
    }

    if config.sealed_secrets {
        let ctx = context.clone();
        let config = Arc::new(config.clone());
        running.spawn_writer("sealed-secrets", move |stop| {
            sealed::lead(ctx.clone(), config.clone(), stop)
        });
    }
    if let Some(external) = &config.external_secrets {
        let ctx = context.clone();
        let external = external.clone();
        running.spawn_writer("external-secrets", move |mut stop| {
            let (client, config, metrics) = (
                ctx.client.clone(),
                // NB: one render pool for the whole process.
                coffer_external::Config {
                    renders: ctx.renders.clone(),
                    ..external.clone()
                },
                ctx.external_metrics.clone(),
            );
            async move {
                coffer_external::run(client, config, metrics, async move { stop.wait().await })
                    .await;
            }
        });
    }
    tracing::info!(
        namespace = %config.controller_namespace,
        keys = context.keys.keys().len(),
        leader_election = config.leader_election.is_some(),
        "controller started"
    );
    Ok(running)
}
