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
//! may expire. With `--shards` above 1 ([`shard`]), the SealedSecret and
//! ExternalSecret controllers run on every replica instead, each reconcile
//! under a ticket of its object's shard, and the leader keeps only the
//! keys. [`Running::shutdown`] stops gracefully: writers
//! finish in-flight reconciles, then the Lease is released. Tests call
//! [`start`] in-process and read [`Running::context`] (keys, metrics).

#![forbid(unsafe_code)]

mod config;
pub(crate) mod context;
pub(crate) mod error;
pub mod flags;
pub(crate) mod http;
pub(crate) mod lease;
pub mod metrics;
pub(crate) mod rate_limit;
pub mod sealed;
pub mod shard;
mod shutdown;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;
pub use context::Context;
pub use error::{Error, Result};
pub use http::HttpLimits;
pub use lease::{Leadership, LeaseConfig};
pub use metrics::Metrics;
pub use rate_limit::RateLimit;
pub use sealed::key_settings::{KeyOrder, KeySettings};
pub use shutdown::Shutdown;

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
    /// The shard membership and campaigns, with `--shards` above 1.
    sharding: Option<JoinHandle<()>>,
    /// Tasks every replica runs: key watch, HTTP listeners.
    background: Vec<JoinHandle<()>>,
    stop_writers: watch::Sender<bool>,
    stop_sharding: watch::Sender<bool>,
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
            .chain(self.sharding.iter_mut())
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

    /// Runs `writer` on a spawned task on every replica, from now until
    /// shutdown, for controllers whose reconciles each hold a ticket of
    /// their object's shard (see [`shard`]); stopped gracefully by
    /// [`Running::shutdown`] before the shards are handed over.
    fn spawn_sharded<F, Fut>(&mut self, name: &'static str, writer: F)
    where
        F: FnOnce(Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let shutdown = Shutdown::from_receiver(self.stop_writers.subscribe());
        let mut stop = shutdown.clone();
        let run = writer(shutdown);
        // NB: as under `while_leader`: told to stop, in-flight work has
        // WRITER_STOP_TIMEOUT to finish, then it is dropped, so the shards
        // are handed over (and the membership left) in time.
        self.writers.push(tokio::spawn(async move {
            tokio::pin!(run);
            tokio::select! {
                () = &mut run => {}
                () = stop.wait() => {
                    let finished =
                        tokio::time::timeout(lease::WRITER_STOP_TIMEOUT, &mut run).await;
                    if finished.is_err() {
                        tracing::warn!(writer = name, "in-flight work did not finish in time; dropped");
                    }
                }
            }
        }));
    }

    /// Asks for a new sealing key now (Bitnami's SIGUSR1), whatever the
    /// renewal period. The leader makes it; a replica that does not lead
    /// only logs that the leader must be asked.
    pub fn request_new_key(&self) {
        if !self.leadership.is_leader() {
            tracing::warn!("not the leader: send the signal to the leading replica");
            return;
        }
        self.context.sealed.key_requests.send_modify(|n| *n += 1);
        tracing::info!("a new key was asked for");
    }

    /// Stops gracefully: writers stop taking work and finish in-flight
    /// reconciles (bounded by `WRITER_STOP_TIMEOUT` in `lease/writers.rs`), then the
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
        let _ = self.stop_sharding.send(true);
        if let Some(sharding) = self.sharding.take()
            && !sharding.is_finished()
        {
            let _ = sharding.await;
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
            .chain(self.sharding.iter())
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
    // NB: the flags refuse these too; a library caller gets the same answer.
    if config.shards == 0 || config.shards > shard::MAX_SHARDS {
        return Err(Error::Config(format!(
            "shards must be between 1 and {}",
            shard::MAX_SHARDS
        )));
    }
    if config.shards > 1 && config.leader_election.is_none() {
        return Err(Error::Config(
            "shards above 1 need leader election".to_owned(),
        ));
    }
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
    let (stop_sharding, sharding_rx) = watch::channel(false);
    let (shards, sharding) = match &config.leader_election {
        Some(lease) if config.shards > 1 => {
            let (shards, task) = shard::start(
                client.clone(),
                shard::ShardConfig {
                    count: config.shards,
                    lease: lease.clone(),
                },
                Shutdown::from_receiver(sharding_rx),
            );
            (Some(shards), Some(task))
        }
        _ => (None, None),
    };
    // NB: the writers' client refuses writes the moment this replica may
    // no longer make them (as leader, or for any shard it holds; each
    // sharded reconcile is also dropped when its own shard goes); reads
    // (and the elections' own clients) go on.
    let writers_client = {
        let (leadership, shards) = (leadership.clone(), shards.clone());
        lease::guarded_client(client.clone(), move || {
            leadership.may_write() || shards.as_ref().is_some_and(shard::Shards::any_may_write)
        })
    };
    if config.metrics_omit_secret_labels {
        metrics.bitnami.omit_secret_labels();
    }
    let context = Arc::new(
        Context::new(writers_client, keys.clone(), metrics)
            .with_leadership(leadership.clone())
            .with_shards(shards.clone())
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
        sharding,
        background: Vec::new(),
        stop_writers,
        stop_sharding,
        stop_election,
    };

    if config.sealed_secrets {
        running
            .background
            .push(tokio::spawn(keys.clone().watch(client.clone())));
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

    if config.sealed_secrets && shards.is_some() {
        let ctx = context.clone();
        let config = Arc::new(config.clone());
        let keys = (ctx.clone(), config.clone());
        // NB: key writes answer to the leader Lease alone, not to the
        // shards this replica may also hold.
        let keys_client = {
            let leadership = running.leadership.clone();
            lease::guarded_client(client.clone(), move || leadership.may_write())
        };
        running.spawn_writer("sealing-keys", move |stop| {
            sealed::keep_keys(
                keys.0.clone(),
                keys_client.clone(),
                keys.1.clone(),
                stop,
                None,
            )
        });
        running.spawn_sharded("sealed-secrets", |mut stop| async move {
            // As the leader's writer does: reconcile once a key exists.
            let mut keys = ctx.keys.subscribe();
            loop {
                if !ctx.keys.keys().is_empty() {
                    break;
                }
                tokio::select! {
                    changed = keys.changed() => if changed.is_err() { return },
                    () = stop.wait() => return,
                }
            }
            sealed::run_controllers(ctx, config, stop).await;
        });
    } else if config.sealed_secrets {
        let ctx = context.clone();
        let config = Arc::new(config.clone());
        running.spawn_writer("sealed-secrets", move |stop| {
            sealed::lead(ctx.clone(), config.clone(), stop)
        });
    }
    if let (Some(external), Some(shards)) = (&config.external_secrets, &shards) {
        let ctx = context.clone();
        let external = coffer_external::Config {
            renders: ctx.renders.clone(),
            partition: Some(Arc::new(shards.clone())),
            ..external.clone()
        };
        running.spawn_sharded("external-secrets", |mut stop| async move {
            let (client, metrics) = (ctx.client.clone(), ctx.external_metrics.clone());
            coffer_external::run(client, external, metrics, async move { stop.wait().await }).await;
        });
    } else if let Some(external) = &config.external_secrets {
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
        shards = config.shards,
        "controller started"
    );
    Ok(running)
}
