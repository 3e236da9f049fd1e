//! The `coffer-controller` binary: parse flags, set up logging, run the
//! library until SIGTERM or SIGINT, then shut down gracefully (writers
//! finish in-flight reconciles, the leader Lease is released).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{ArgAction, Parser, ValueEnum};
use coffer_controller::{Config, LeaseConfig, Metrics, metrics};
use coffer_crypto::KeySize;
use k8s_openapi::jiff::Timestamp;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

/// Coffer's controller: unseals Bitnami-compatible SealedSecrets into Secrets.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The controller's own namespace, where its key Secrets live.
    #[arg(long, env = "COFFER_NAMESPACE", default_value = "kube-system")]
    namespace: String,
    /// Prefix of the key Secrets' names.
    #[arg(long, default_value = "sealed-secrets-key")]
    key_prefix: String,
    /// Size in bits of keys the controller generates (2048, 3072 or 4096).
    #[arg(long, default_value = "4096", value_parser = parse_key_size)]
    key_size: KeySize,
    /// How often to generate a new sealing key (e.g. 30d, 12h, 0 to disable).
    #[arg(long, default_value = "30d", value_parser = parse_period)]
    key_renew_period: Duration,
    /// Generate a new key at start (on becoming leader) if the newest is
    /// older than this time, in RFC 1123 form with a numeric zone, e.g.
    /// "Mon, 02 Jan 2006 15:04:05 -0700" (as Bitnami's flag; `date -R`).
    #[arg(long, env = "SEALED_SECRETS_KEY_CUTOFF_TIME", value_parser = parse_rfc1123)]
    key_cutoff_time: Option<Timestamp>,
    /// Namespaces to watch for SealedSecrets, comma-separated; all if unset.
    #[arg(long, value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Only SealedSecrets matching this label selector are unsealed
    /// (e.g. `team=payments,tier!=test`).
    #[arg(long)]
    label_selector: Option<String>,
    /// Elect one writing replica through a Lease (`--leader-elect=false`
    /// for a single replica without a Lease).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    leader_elect: bool,
    /// Name of the leader Lease, in the controller's namespace.
    #[arg(long, default_value = "coffer-controller")]
    lease_name: String,
    /// How long the Lease holds after its last renewal: the longest a dead
    /// leader delays a takeover (e.g. 15s).
    #[arg(long, default_value = "15s", value_parser = parse_period)]
    lease_duration: Duration,
    /// How long before expiry the leader renews (below the duration).
    #[arg(long, default_value = "5s", value_parser = parse_period)]
    lease_renew_grace: Duration,
    /// Run the SealedSecret controller (`--sealed-secrets=false` to turn
    /// it off).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    sealed_secrets: bool,
    /// Run the ExternalSecret controllers (ExternalSecret, SecretStore,
    /// ClusterSecretStore, ClusterExternalSecret).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    external_secrets: bool,
    /// ESO's `--controller-class`: stores whose `spec.controller` names
    /// another class are left alone.
    #[arg(long, default_value = "")]
    controller_class: String,
    /// Log output format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Address of the certificate, verify, rotate and health endpoints.
    #[arg(long, default_value = ":8080", value_parser = parse_addr)]
    listen_addr: SocketAddr,
    /// Address of the Prometheus metrics endpoint.
    #[arg(long, default_value = ":8081", value_parser = parse_addr)]
    metrics_addr: SocketAddr,
    /// Requests a second allowed to /v1/verify and /v1/rotate (Bitnami's
    /// flag); 0 turns the limit off.
    #[arg(long, default_value_t = 2.0)]
    rate_limit: f64,
    /// Requests allowed at once to /v1/verify and /v1/rotate before
    /// --rate-limit applies.
    #[arg(long, default_value_t = 2)]
    rate_limit_burst: u32,
    /// Longest one template render may take (SealedSecret and
    /// ExternalSecret templates; e.g. 2s, 1m). Renders also stop at fixed
    /// step, size and value limits long before this in practice.
    #[arg(long, default_value = "2s", value_parser = parse_timeout)]
    template_timeout: Duration,
    /// Longest wait for a request's headers (also closes idle keep-alive
    /// connections), and again for its body (Bitnami's flag, whose default
    /// is 2m).
    #[arg(long, default_value = "30s", value_parser = parse_timeout)]
    read_timeout: Duration,
    /// Connections each HTTP listener serves at once; more wait until one
    /// closes.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Values (sealed values to decrypt) one /v1/verify or /v1/rotate
    /// request may hold.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    max_request_values: u32,
}

/// `:8080` (Go style, all interfaces) or a full socket address.
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_owned()
    };
    full.parse()
        .map_err(|e| format!("{text:?} is not an address like :8080 or 127.0.0.1:8080: {e}"))
}

/// RFC 1123 with a numeric zone (Go's `time.RFC1123Z`, what Bitnami
/// parses), read with RFC 2822 rules, which accept exactly that form.
fn parse_rfc1123(text: &str) -> Result<Timestamp, String> {
    k8s_openapi::jiff::fmt::rfc2822::parse(text)
        .map(|zoned| zoned.timestamp())
        .map_err(|e| {
            format!("{text:?} is not a time like \"Mon, 02 Jan 2006 15:04:05 -0700\": {e}")
        })
}

/// A period as [`parse_period`] reads it, but not zero.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_period(text)? {
        Duration::ZERO => Err(format!("{text:?}: a timeout must be longer than 0")),
        timeout => Ok(timeout),
    }
}

/// `2048`, `3072` or `4096`.
fn parse_key_size(text: &str) -> Result<KeySize, String> {
    text.parse()
        .ok()
        .and_then(|bits| KeySize::from_bits(bits).ok())
        .ok_or_else(|| format!("{text:?} is not a key size (use 2048, 3072 or 4096)"))
}

/// `30d`, `12h`, `90m`, `45s` or `0`.
fn parse_period(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text.len().saturating_sub(1);
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a period like 30d, 12h, 90m or 0"))?;
    let secs = match unit {
        "d" => n * 86_400,
        "h" => n * 3_600,
        "m" => n * 60,
        "s" => n,
        _ => return Err(format!("{text:?} has an unknown unit (use d, h, m or s)")),
    };
    Ok(Duration::from_secs(secs))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match args.log_format {
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init(),
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
    }
    let namespaces = watch_namespaces(&args.namespaces);
    let leader_election = args.leader_elect.then(|| LeaseConfig {
        duration: args.lease_duration,
        grace: args.lease_renew_grace,
        ..LeaseConfig::new(&args.lease_name, &args.namespace)
    });
    let template_limits = coffer_template::Limits {
        max_duration: args.template_timeout,
        ..coffer_template::Limits::default()
    };
    let external_secrets = args.external_secrets.then(|| coffer_external::Config {
        namespaces: namespaces.clone(),
        controller_class: args.controller_class.clone(),
        template_limits,
        ..coffer_external::Config::default()
    });
    let config = Config {
        sealed_secrets: args.sealed_secrets,
        external_secrets,
        controller_namespace: args.namespace,
        key_prefix: args.key_prefix,
        key_size: args.key_size,
        key_renew_period: args.key_renew_period,
        key_cutoff: args.key_cutoff_time,
        watch_namespaces: namespaces,
        label_selector: args.label_selector,
        listen_addr: Some(args.listen_addr),
        metrics_addr: Some(args.metrics_addr),
        rate_limit: (args.rate_limit > 0.0).then_some(coffer_controller::RateLimit {
            per_second: args.rate_limit,
            burst: args.rate_limit_burst.max(1),
        }),
        http_limits: coffer_controller::HttpLimits {
            read_timeout: args.read_timeout,
            max_connections: args.max_connections as usize,
            max_values: args.max_request_values as usize,
        },
        leader_election,
        template_limits,
    };
    let kube_config = kube::Config::infer()
        .await
        .context("cannot reach the Kubernetes API (no in-cluster config or kubeconfig)")?;
    let metrics = Arc::new(Metrics::default());
    let client = metrics::counting_client(kube_config, metrics.clone())
        .context("cannot build the Kubernetes API client")?;
    let mut running = coffer_controller::start_with_metrics(client, config, metrics)
        .await
        .context("cannot start the controller")?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        () = running.wait() => anyhow::bail!("a controller task stopped unexpectedly"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; shutting down"),
        _ = sigterm.recv() => tracing::info!("SIGTERM; shutting down"),
    }
    running.shutdown().await;
    Ok(())
}

/// `--namespaces` as Bitnami reads its namespace lists: entries trimmed,
/// empty ones dropped (`"a, b,"` is `a` and `b`; nothing left means all).
fn watch_namespaces(given: &[String]) -> Vec<String> {
    given
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_lists_are_trimmed_and_empty_entries_dropped() {
        let args =
            Args::try_parse_from(["coffer-controller", "--namespaces", " team-a, team-b ,,"])
                .unwrap();
        assert_eq!(watch_namespaces(&args.namespaces), ["team-a", "team-b"]);
        let blank = Args::try_parse_from(["coffer-controller", "--namespaces", " "]).unwrap();
        assert!(watch_namespaces(&blank.namespaces).is_empty());
    }

    #[test]
    fn cutoff_time_reads_bitnamis_rfc1123z_form() {
        let t = parse_rfc1123("Mon, 02 Jan 2006 15:04:05 -0700").unwrap();
        assert_eq!(t.to_string(), "2006-01-02T22:04:05Z");
        let err = parse_rfc1123("2006-01-02").unwrap_err();
        assert!(err.contains("\"2006-01-02\" is not a time like"), "{err}");
    }

    #[test]
    fn template_timeout_defaults_to_two_seconds_and_refuses_zero() {
        let args = Args::try_parse_from(["coffer-controller"]).unwrap();
        assert_eq!(args.template_timeout, Duration::from_secs(2));
        let set = Args::try_parse_from(["coffer-controller", "--template-timeout", "1m"]).unwrap();
        assert_eq!(set.template_timeout, Duration::from_secs(60));
        assert!(Args::try_parse_from(["coffer-controller", "--template-timeout", "0"]).is_err());
    }

    #[test]
    fn http_limits_default_to_the_documented_values_and_refuse_zero() {
        let args = Args::try_parse_from(["coffer-controller"]).unwrap();
        assert_eq!(args.read_timeout, Duration::from_secs(30));
        assert_eq!((args.max_connections, args.max_request_values), (512, 128));
        for flag in [
            "--read-timeout=0",
            "--max-connections=0",
            "--max-request-values=0",
        ] {
            assert!(
                Args::try_parse_from(["coffer-controller", flag]).is_err(),
                "{flag}"
            );
        }
        let args = Args::try_parse_from(["coffer-controller", "--read-timeout", "2m"]).unwrap();
        assert_eq!(args.read_timeout, Duration::from_secs(120));
    }

    #[test]
    fn leader_election_is_on_by_default_and_can_be_turned_off() {
        let on = Args::try_parse_from(["coffer-controller"]).unwrap();
        assert!(on.leader_elect);
        assert_eq!(on.lease_name, "coffer-controller");
        let off = Args::try_parse_from(["coffer-controller", "--leader-elect=false"]).unwrap();
        assert!(!off.leader_elect);
        let bare = Args::try_parse_from(["coffer-controller", "--leader-elect"]).unwrap();
        assert!(bare.leader_elect);
    }
}
