//! How the controller runs: [`Config`], which the binary builds from its
//! flags (Bitnami's, see [`crate::flags`]) and tests build directly.

use std::net::SocketAddr;
use std::time::Duration;

use coffer_crypto::KeySize;
use k8s_openapi::jiff::Timestamp;

use crate::http::HttpLimits;
use crate::lease::LeaseConfig;
use crate::rate_limit::RateLimit;
use crate::sealed::key_settings::KeySettings;

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
    /// How many shards replicas split the SealedSecrets and
    /// ExternalSecrets into (`--shards`, see [`crate::shard`]); 1: the
    /// leader does everything. Above 1 it needs `leader_election`.
    pub shards: u32,
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
            shards: 1,
            sealed_secrets: true,
            update_status: true,
            metrics_omit_secret_labels: false,
            max_unseal_retries: 5,
            external_secrets: None,
            template_limits: coffer_template::Limits::default(),
        }
    }
}
