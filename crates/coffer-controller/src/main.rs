//! The `coffer-controller` binary: parse flags (see
//! [`coffer_controller::flags`]), set up logging, run the library until
//! SIGTERM or SIGINT (SIGUSR1 makes a new key), then shut down gracefully (writers finish in-flight
//! reconciles, the leader Lease is released).

#![forbid(unsafe_code)]

use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use coffer_controller::flags::{Args, Environment, LogFormat, Logging};
use coffer_controller::{Metrics, metrics};
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.logging());
    let config = args
        .config(&Environment::from_process())
        .context("invalid flags")?;
    let kube_config = kube::Config::infer()
        .await
        .context("cannot reach the Kubernetes API (no in-cluster config or kubeconfig)")?;
    let metrics = Arc::new(Metrics::default());
    let client = metrics::counting_client(kube_config, metrics.clone())
        .context("cannot build the Kubernetes API client")?;
    let mut running = coffer_controller::start_with_metrics(client, config, metrics)
        .await
        .context("cannot start the controller")?;
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigterm = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut sigusr1 = signal(SignalKind::user_defined1()).context("cannot listen for SIGUSR1")?;
    loop {
        tokio::select! {
            () = running.wait() => anyhow::bail!("a controller task stopped unexpectedly"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; shutting down"),
            _ = sigterm.recv() => tracing::info!("SIGTERM; shutting down"),
            // As Bitnami: SIGUSR1 makes a new sealing key at once.
            _ = sigusr1.recv() => {
                running.request_new_key();
                continue;
            }
        }
        break;
    }
    running.shutdown().await;
    Ok(())
}

/// Bitnami's logging flags: the level (`RUST_LOG`, when set, wins), text
/// or JSON, and info to stdout with warnings and errors to stderr (or
/// everything to stderr).
fn init_logging(logging: Logging) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(logging.level.as_str().to_ascii_lowercase())
    });
    let writer = if logging.info_to_stdout {
        BoxMakeWriter::new(
            std::io::stderr
                .with_max_level(tracing::Level::WARN)
                .or_else(std::io::stdout),
        )
    } else {
        BoxMakeWriter::new(std::io::stderr)
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match logging.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
