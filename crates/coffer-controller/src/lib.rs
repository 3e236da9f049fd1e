//! Coffer's Kubernetes controller, as a library with a thin binary
//! (`main.rs`): it turns SealedSecrets into Secrets with keys and behaviour
//! compatible with Bitnami sealed-secrets, and serves the sealing
//! certificate, verify/rotate endpoints, health and metrics.
//!
//! [`start`] loads (or creates) the sealing keys, then runs on spawned tasks
//! the key Secret watch ([`sealed::keys`]), the SealedSecret controller
//! ([`sealed::reconcile`]) and the HTTP listeners ([`http`]). Tests call it
//! in-process and read [`Running::context`] (keys, metrics).

#![forbid(unsafe_code)]

pub mod context;
pub mod error;
pub mod http;
pub mod metrics;
pub mod sealed;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use coffer_crypto::KeySize;
use tokio::task::JoinHandle;

pub use context::Context;
pub use error::{Error, Result};
pub use metrics::Metrics;

/// How the controller runs (the binary builds this from its flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// The controller's own namespace, where its key Secrets live.
    pub controller_namespace: String,
    /// Prefix of key Secret names (`<prefix>-xxxxx`).
    pub key_prefix: String,
    /// Size of keys the controller generates.
    pub key_size: KeySize,
    /// How often to generate a new sealing key; zero disables renewal.
    pub key_renew_period: Duration,
    /// Namespaces to watch for SealedSecrets; empty watches all.
    pub watch_namespaces: Vec<String>,
    /// Where to serve the certificate, verify, rotate and health endpoints.
    pub listen_addr: Option<SocketAddr>,
    /// Where to serve `/metrics`.
    pub metrics_addr: Option<SocketAddr>,
}

impl Default for Config {
    /// Bitnami's defaults: `kube-system`, `sealed-secrets-key`, 4096-bit
    /// keys renewed every 30 days, all namespaces, ports 8080 and 8081.
    fn default() -> Self {
        Config {
            controller_namespace: "kube-system".to_owned(),
            key_prefix: "sealed-secrets-key".to_owned(),
            key_size: KeySize::Rsa4096,
            key_renew_period: Duration::from_secs(30 * 24 * 60 * 60),
            watch_namespaces: Vec::new(),
            listen_addr: Some(SocketAddr::from(([0, 0, 0, 0], 8080))),
            metrics_addr: Some(SocketAddr::from(([0, 0, 0, 0], 8081))),
        }
    }
}

/// A controller running on spawned tasks. Dropping it stops them.
#[derive(Debug)]
pub struct Running {
    /// The shared state: keys, metrics, client.
    pub context: Arc<Context>,
    /// Bound address of the API listener, if any.
    pub listen_addr: Option<SocketAddr>,
    /// Bound address of the metrics listener, if any.
    pub metrics_addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Waits until any of the controller's tasks ends (which only happens on
    /// a panic or shutdown).
    pub async fn wait(&mut self) {
        if self.tasks.is_empty() {
            return;
        }
        let tasks = std::mem::take(&mut self.tasks);
        let (_, _, rest) = futures::future::select_all(tasks).await;
        self.tasks = rest;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Loads the keys (creating one if there is none), then starts the key
/// watch, the SealedSecret controller and the HTTP listeners.
pub async fn start(client: kube::Client, config: Config) -> Result<Running> {
    let keys = sealed::keys::KeyRegistry::load(
        client.clone(),
        &config.controller_namespace,
        &config.key_prefix,
        config.key_size,
    )
    .await?;
    let metrics = Arc::new(Metrics::default());
    let context = Arc::new(Context::new(client.clone(), keys.clone(), metrics));
    let mut tasks = vec![tokio::spawn(keys.clone().watch(client.clone()))];
    if !config.key_renew_period.is_zero() {
        tasks.push(tokio::spawn(keys.renew(
            client,
            config.key_renew_period,
            config.key_size,
        )));
    }

    let mut listen_addr = None;
    if let Some(addr) = config.listen_addr {
        let (bound, task) = http::serve(addr, http::Endpoints::Api, context.clone()).await?;
        listen_addr = Some(bound);
        tasks.push(task);
    }
    let mut metrics_addr = None;
    if let Some(addr) = config.metrics_addr {
        let (bound, task) = http::serve(addr, http::Endpoints::Metrics, context.clone()).await?;
        metrics_addr = Some(bound);
        tasks.push(task);
    }

    if config.watch_namespaces.is_empty() {
        tasks.push(tokio::spawn(sealed::reconcile::run(context.clone(), None)));
    } else {
        // One controller per namespace: kube's Controller watches one Api.
        for ns in &config.watch_namespaces {
            tasks.push(tokio::spawn(sealed::reconcile::run(
                context.clone(),
                Some(ns.clone()),
            )));
        }
    }
    tracing::info!(
        namespace = %config.controller_namespace,
        keys = context.keys.keys().len(),
        "controller started"
    );
    Ok(Running {
        context,
        listen_addr,
        metrics_addr,
        tasks,
    })
}
