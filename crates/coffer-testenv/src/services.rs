//! OpenBao (our Vault) in dev mode and moto (our AWS Secrets Manager) in
//! server mode, each on a free loopback port.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::control_plane::free_port;
use crate::process::{self, ProcessLog};
use crate::{Error, wait};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Root token of the OpenBao dev server. A fixed value is fine: the server
/// listens on loopback only and holds test data.
pub const VAULT_ROOT_TOKEN: &str = "coffer-root";

/// A running OpenBao dev server.
#[derive(Debug, Clone)]
pub struct Vault {
    /// `http://127.0.0.1:<port>`.
    pub addr: String,
    /// Root token.
    pub token: String,
    /// OpenBao's file audit log: one JSON line per request and response,
    /// for counting provider calls in benchmarks.
    pub audit_log: PathBuf,
    /// The server's log.
    pub log: ProcessLog,
}

/// A running moto server.
#[derive(Debug, Clone)]
pub struct Aws {
    /// `http://127.0.0.1:<port>`, exported as `AWS_ENDPOINT_URL_SECRETS_MANAGER`
    /// and `AWS_ENDPOINT_URL_STS`.
    pub endpoint: String,
    /// Region tests use.
    pub region: String,
    /// The server's log.
    pub log: ProcessLog,
}

/// Starts `bao server -dev` and waits until it is unsealed and active.
///
/// The file audit device is declared in a config file: OpenBao 2.x refuses
/// audit devices created through the API.
pub async fn start_vault(tools_bin: &Path, dir: &Path) -> Result<Vault, Error> {
    let addr = format!("127.0.0.1:{}", free_port()?);
    let home = dir.join("bao-home");
    std::fs::create_dir_all(&home).map_err(|source| Error::Io {
        what: home.clone(),
        source,
    })?;
    let audit_log = dir.join("bao-audit.log");
    let config = dir.join("bao.hcl");
    // A JSON string is a valid HCL string.
    let quoted = serde_json::Value::from(audit_log.to_string_lossy()).to_string();
    let audit =
        format!("audit \"file\" \"coffer\" {{\n  options {{\n    file_path = {quoted}\n  }}\n}}\n");
    std::fs::write(&config, audit).map_err(|source| Error::Io {
        what: config.clone(),
        source,
    })?;
    let args = [
        "server".into(),
        "-dev".into(),
        format!("-dev-root-token-id={VAULT_ROOT_TOKEN}"),
        format!("-dev-listen-address={addr}"),
        format!("-config={}", config.display()),
    ];
    // HOME keeps the dev server's token helper file out of the user's home.
    let env = [
        ("HOME", home.to_str().unwrap_or(".")),
        ("BAO_LOG_LEVEL", "warn"),
    ];
    let log = process::spawn("openbao", &tools_bin.join("bao"), &args, &env, dir)?;
    let addr = format!("http://{addr}");
    let health = format!("{addr}/v1/sys/health");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    wait::until("OpenBao /v1/sys/health", &log, STARTUP_TIMEOUT, || {
        wait::http_ok(&http, &health)
    })
    .await?;
    Ok(Vault {
        addr,
        token: VAULT_ROOT_TOKEN.to_string(),
        audit_log,
        log,
    })
}

/// Starts `moto_server` and waits until it answers.
pub async fn start_aws(tools_bin: &Path, dir: &Path) -> Result<Aws, Error> {
    let port = free_port()?;
    let args = [
        "-H".into(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
    ];
    let log = process::spawn("moto", &tools_bin.join("moto_server"), &args, &[], dir)?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let probe = format!("{endpoint}/moto-api/");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    wait::until("moto /moto-api/", &log, STARTUP_TIMEOUT, || {
        wait::http_ok(&http, &probe)
    })
    .await?;
    Ok(Aws {
        endpoint,
        region: "us-east-1".to_string(),
        log,
    })
}
