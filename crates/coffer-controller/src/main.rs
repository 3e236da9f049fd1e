//! The `coffer-controller` binary: parse flags, set up logging, run the
//! library until a signal arrives.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use coffer_controller::Config;

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
    /// How often to generate a new sealing key (e.g. 30d, 12h, 0 to disable).
    #[arg(long, default_value = "30d", value_parser = parse_period)]
    key_renew_period: Duration,
    /// Namespaces to watch for SealedSecrets, comma-separated; all if unset.
    #[arg(long, value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Log output format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Address of the certificate, verify, rotate and health endpoints.
    #[arg(long, default_value = ":8080", value_parser = parse_addr)]
    listen_addr: SocketAddr,
    /// Address of the Prometheus metrics endpoint.
    #[arg(long, default_value = ":8081", value_parser = parse_addr)]
    metrics_addr: SocketAddr,
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
    let config = Config {
        controller_namespace: args.namespace,
        key_prefix: args.key_prefix,
        key_renew_period: args.key_renew_period,
        watch_namespaces: args.namespaces,
        listen_addr: Some(args.listen_addr),
        metrics_addr: Some(args.metrics_addr),
        ..Config::default()
    };
    let client = kube::Client::try_default()
        .await
        .context("cannot reach the Kubernetes API (no in-cluster config or kubeconfig)")?;
    let mut running = coffer_controller::start(client, config)
        .await
        .context("cannot start the controller")?;
    tokio::select! {
        () = running.wait() => anyhow::bail!("a controller task stopped unexpectedly"),
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
    }
    Ok(())
}
