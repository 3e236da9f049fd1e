//! The controller's command line: Bitnami sealed-secrets' controller flags
//! (v0.36 to v0.40, `cmd/controller/main.go` and `pkg/controller/server.go`)
//! with Bitnami's meaning and defaults, each also read from
//! `SEALED_SECRETS_<FLAG>` (Bitnami's `flagenv`: upper case, dashes to
//! underscores; the command line wins), plus coffer's own flags.
//! [`Args::config`] turns them into the one [`crate::Config`]; a flag whose
//! value coffer cannot honour is refused there, naming it.

mod config;
pub mod values;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{ArgAction, Parser, ValueEnum};
use coffer_crypto::KeySize;
use k8s_openapi::jiff::Timestamp;

pub use config::{Environment, FlagError, Logging, SERVICE_ACCOUNT_NAMESPACE};

use crate::sealed::key_settings::KeyOrder;

/// Log output format (Bitnami's `--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object a line.
    Json,
    /// Human-readable lines.
    Text,
}

/// Coffer's controller: unseals Bitnami-compatible SealedSecrets into
/// Secrets, and syncs ExternalSecrets. Every Bitnami flag is also read from
/// `SEALED_SECRETS_<FLAG>`.
#[derive(Debug, Parser)]
#[command(name = "coffer-controller", version, about, args_override_self = true)]
pub struct Args {
    /// The controller's own namespace, where its key Secrets and Lease
    /// live [default: $POD_NAMESPACE, else the service account's namespace,
    /// else kube-system].
    #[arg(long, env = "COFFER_NAMESPACE")]
    pub namespace: Option<String>,
    /// Prefix of the key Secrets' names.
    #[arg(
        long,
        env = "SEALED_SECRETS_KEY_PREFIX",
        default_value = "sealed-secrets-key"
    )]
    pub key_prefix: String,
    /// Size in bits of keys the controller generates (2048, 3072 or 4096).
    #[arg(long, env = "SEALED_SECRETS_KEY_SIZE", default_value = "4096", value_parser = values::key_size)]
    pub key_size: KeySize,
    /// How long generated certificates are valid.
    #[arg(long, env = "SEALED_SECRETS_KEY_TTL", default_value = "87600h", value_parser = values::timeout)]
    pub key_ttl: Duration,
    /// Issuer and subject common name of generated certificates.
    #[arg(long, env = "SEALED_SECRETS_MY_CN", default_value = "")]
    pub my_cn: String,
    /// How often to generate a new sealing key (Go duration, e.g. 720h;
    /// 0 turns renewal off) [default: 720h].
    #[arg(long, env = "SEALED_SECRETS_KEY_RENEW_PERIOD", value_parser = values::duration)]
    pub key_renew_period: Option<Duration>,
    /// Deprecated name of --key-renew-period (Bitnami's).
    #[arg(long, env = "SEALED_SECRETS_ROTATE_PERIOD", hide = true, value_parser = values::duration)]
    pub rotate_period: Option<Duration>,
    /// Which time orders keys, the newest sealing: CertNotBefore or
    /// SecretCreationTimestamp.
    #[arg(long, env = "SEALED_SECRETS_KEY_ORDER_PRIORITY", default_value = "CertNotBefore", value_parser = values::key_order)]
    pub key_order_priority: KeyOrder,
    /// Generate a new key at start (on becoming leader) if the newest is
    /// older than this time, in RFC 1123 form with a numeric zone, e.g.
    /// "Mon, 02 Jan 2006 15:04:05 -0700" (`date -R`).
    #[arg(long, env = "SEALED_SECRETS_KEY_CUTOFF_TIME", value_parser = values::rfc1123)]
    pub key_cutoff_time: Option<Timestamp>,
    /// Annotations put on key Secrets the controller creates (`k=v,k2=v2`).
    #[arg(
        long,
        env = "SEALED_SECRETS_PRIVATEKEY_ANNOTATIONS",
        default_value = ""
    )]
    pub privatekey_annotations: String,
    /// Labels put on key Secrets the controller creates (`k=v,k2=v2`).
    #[arg(long, env = "SEALED_SECRETS_PRIVATEKEY_LABELS", default_value = "")]
    pub privatekey_labels: String,
    /// Watch SealedSecrets in every namespace (`=false`: only the
    /// controller's own, plus --additional-namespaces).
    #[arg(long, env = "SEALED_SECRETS_ALL_NAMESPACES", default_value = "true", value_parser = values::go_bool, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub all_namespaces: bool,
    /// Namespaces watched besides the controller's own (comma-separated);
    /// setting any watches only those and the controller's own.
    #[arg(
        long,
        env = "SEALED_SECRETS_ADDITIONAL_NAMESPACES",
        value_delimiter = ','
    )]
    pub additional_namespaces: Vec<String>,
    /// Namespaces to watch for SealedSecrets, comma-separated (coffer's
    /// flag; not with --all-namespaces=false or --additional-namespaces).
    #[arg(long, value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Only SealedSecrets matching this label selector are unsealed.
    #[arg(long, env = "SEALED_SECRETS_LABEL_SELECTOR")]
    pub label_selector: Option<String>,
    /// Write each SealedSecret's status.
    #[arg(long, env = "SEALED_SECRETS_UPDATE_STATUS", default_value = "true", value_parser = values::go_bool, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub update_status: bool,
    /// Retries of a SealedSecret after an API error before it waits for a
    /// change.
    #[arg(long, env = "SEALED_SECRETS_MAX_UNSEAL_RETRIES", default_value_t = 5)]
    pub max_unseal_retries: u32,
    /// Accept SealedSecrets with the deprecated whole-Secret `spec.data`
    /// (only `true` is supported).
    #[arg(long, env = "SEALED_SECRETS_ACCEPT_DEPRECATED_V1_DATA", default_value = "true", value_parser = values::go_bool, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub accept_deprecated_v1_data: bool,
    /// Bitnami's old garbage collection (only `false` is supported: owned
    /// Secrets are deleted by Kubernetes' garbage collector).
    #[arg(long, env = "SEALED_SECRETS_OLD_GC_BEHAVIOR", default_value = "false", value_parser = values::go_bool, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub old_gc_behavior: bool,
    /// Pick up key Secrets created after start (always on in coffer:
    /// replicas share keys; only `true` is supported).
    #[arg(long, env = "SEALED_SECRETS_WATCH_FOR_SECRETS", default_value = "true", value_parser = values::go_bool, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub watch_for_secrets: bool,
    /// Do not watch unsealed Secrets to put them back (only `false` is
    /// supported).
    #[arg(long, env = "SEALED_SECRETS_SKIP_RECREATE", default_value = "false", value_parser = values::go_bool, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub skip_recreate: bool,
    /// Client-side limit of API requests a second (not supported: coffer
    /// relies on the API server's priority and fairness) [Bitnami: 5].
    #[arg(long, env = "SEALED_SECRETS_KUBECLIENT_QPS")]
    pub kubeclient_qps: Option<f32>,
    /// Client-side API request burst (not supported, see --kubeclient-qps)
    /// [Bitnami: 10].
    #[arg(long, env = "SEALED_SECRETS_KUBECLIENT_BURST")]
    pub kubeclient_burst: Option<i32>,
    /// Run the SealedSecret controller (`--sealed-secrets=false` to turn
    /// it off: no key is made and no certificate is served).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub sealed_secrets: bool,
    /// Run the ExternalSecret controllers.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub external_secrets: bool,
    /// ESO's `--controller-class`: stores whose `spec.controller` names
    /// another class are left alone (an empty one is everyone's).
    #[arg(long, default_value = "default")]
    pub controller_class: String,
    /// ESO's `--concurrent`: ExternalSecrets reconciled at once (per
    /// watched namespace); 0 for no limit [ESO: 1].
    #[arg(long, default_value_t = coffer_external::DEFAULT_CONCURRENCY)]
    pub concurrent: u16,
    /// ESO's `--enable-flood-gate`: skip ExternalSecrets whose store's
    /// Ready condition is not True [ESO: true].
    #[arg(long, default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub enable_flood_gate: bool,
    /// ESO's `--client-qps` (not supported: no client-side rate limit; use
    /// the API server's priority and fairness).
    #[arg(long)]
    pub client_qps: Option<f32>,
    /// ESO's `--client-burst` (not supported, see --client-qps).
    #[arg(long)]
    pub client_burst: Option<i32>,
    /// Secrets Manager endpoint for every AWS store (ESO reads the same
    /// environment variable).
    #[arg(long, env = "AWS_SECRETSMANAGER_ENDPOINT", value_parser = values::http_url)]
    pub aws_secretsmanager_endpoint: Option<String>,
    /// STS endpoint for every AWS store's AssumeRole and
    /// AssumeRoleWithWebIdentity (ESO reads the same environment variable).
    #[arg(long, env = "AWS_STS_ENDPOINT", value_parser = values::http_url)]
    pub aws_sts_endpoint: Option<String>,
    /// SSM endpoint for every Parameter Store store (ESO reads the same
    /// environment variable).
    #[arg(long, env = "AWS_SSM_ENDPOINT", value_parser = values::http_url)]
    pub aws_ssm_endpoint: Option<String>,
    /// ESO's `--store-requeue-interval`: how often a store is validated
    /// again when its `spec.refreshInterval` does not say.
    #[arg(long, default_value = "5m0s", value_parser = values::timeout)]
    pub store_requeue_interval: Duration,
    /// Coffer's own: a refresh that changes nothing but
    /// `status.refreshTime` skips its status write while the recorded
    /// refreshTime is less than this much older, so it may lag the last
    /// refresh by up to this much and status writes drop accordingly. 0
    /// (the default) writes every refresh, as ESO does.
    #[arg(long, default_value = "0s", value_parser = values::duration)]
    pub refresh_time_slack: Duration,
    /// Elect one writing replica through a Lease.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub leader_elect: bool,
    /// Name of the leader Lease, in the controller's namespace.
    #[arg(long, default_value = "coffer-controller")]
    pub lease_name: String,
    /// How long the Lease holds after its last renewal.
    #[arg(long, default_value = "15s", value_parser = values::timeout)]
    pub lease_duration: Duration,
    /// How long before expiry the leader renews (below the duration).
    #[arg(long, default_value = "5s", value_parser = values::timeout)]
    pub lease_renew_grace: Duration,
    /// Coffer's own: split SealedSecrets and ExternalSecrets between the
    /// replicas in this many shards, each held through its own Lease, so
    /// that replicas unseal and sync in parallel (needs leader election;
    /// key generation stays with the leader). 1 (the default): the leader
    /// does everything.
    #[arg(long, default_value_t = 1)]
    pub shards: u32,
    /// Log output format.
    #[arg(
        long,
        env = "SEALED_SECRETS_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// Log level: DEBUG, INFO, WARN or ERROR (RUST_LOG, when set, wins).
    #[arg(long, env = "SEALED_SECRETS_LOG_LEVEL", default_value = "INFO", value_parser = values::log_level)]
    pub log_level: tracing::Level,
    /// Info and debug lines to stdout, warnings and errors to stderr
    /// (`=false`: everything to stderr).
    #[arg(long, env = "SEALED_SECRETS_LOG_INFO_STDOUT", default_value = "true", value_parser = values::go_bool, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub log_info_stdout: bool,
    /// Address of the certificate, verify, rotate and health endpoints.
    #[arg(long, env = "SEALED_SECRETS_LISTEN_ADDR", default_value = ":8080", value_parser = values::addr)]
    pub listen_addr: SocketAddr,
    /// Address of the Prometheus metrics endpoint.
    #[arg(long, visible_alias = "metrics-addr", env = "SEALED_SECRETS_LISTEN_METRICS_ADDR", default_value = ":8081", value_parser = values::addr)]
    pub listen_metrics_addr: SocketAddr,
    /// Do not export sealed_secrets_controller_condition_info (which names
    /// every SealedSecret).
    #[arg(long, env = "SEALED_SECRETS_METRICS_OMIT_SECRET_LABELS", default_value = "false", value_parser = values::go_bool, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub metrics_omit_secret_labels: bool,
    /// Requests a second allowed to /v1/verify and /v1/rotate; 0 turns the
    /// limit off.
    #[arg(long, env = "SEALED_SECRETS_RATE_LIMIT", default_value_t = 2.0)]
    pub rate_limit: f64,
    /// Requests allowed at once to /v1/verify and /v1/rotate before
    /// --rate-limit applies.
    #[arg(long, env = "SEALED_SECRETS_RATE_LIMIT_BURST", default_value_t = 2)]
    pub rate_limit_burst: u32,
    /// Longest wait for a request's headers (also closes idle keep-alive
    /// connections), and again for its body (Bitnami's default is 2m).
    #[arg(long, env = "SEALED_SECRETS_READ_TIMEOUT", default_value = "30s", value_parser = values::timeout)]
    pub read_timeout: Duration,
    /// Longest a request may take from its headers to the end of the
    /// answer; past it the connection is closed.
    #[arg(long, env = "SEALED_SECRETS_WRITE_TIMEOUT", default_value = "2m", value_parser = values::timeout)]
    pub write_timeout: Duration,
    /// Connections each HTTP listener serves at once.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Values one /v1/verify or /v1/rotate request may hold.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_request_values: u32,
    /// Longest one template render may take.
    #[arg(long, default_value = "2s", value_parser = values::timeout)]
    pub template_timeout: Duration,
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
