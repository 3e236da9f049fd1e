//! OpenBao (our Vault) in dev mode and moto (our AWS Secrets Manager) in
//! server mode, each on a free loopback port. OpenBao also listens with TLS
//! on a second port that requires a client certificate from the test CA.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

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
    /// The mutual-TLS listener of the same server.
    pub tls: VaultTls,
}

/// OpenBao's second listener: TLS, `tls_require_and_verify_client_cert`,
/// trusting client certificates signed by `ca`.
#[derive(Debug, Clone)]
pub struct VaultTls {
    /// `https://127.0.0.1:<port>`.
    pub addr: String,
    /// The CA (PEM) that signed the server's and the client's certificates.
    pub ca: String,
    /// A client certificate (PEM, `CN=coffer-vault-client`) and its key
    /// (PKCS#8 PEM), accepted by the listener.
    pub client_cert: String,
    pub client_key: String,
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
    let (tls, listener) = tls_listener(dir, &addr)?;
    std::fs::write(&config, audit + &listener).map_err(|source| Error::Io {
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
        tls,
    })
}

/// Certificates for the TLS listener, written into `dir`, and the listener
/// stanza. The dev listener at `dev_addr` takes the next port for its
/// cluster address, so both ports of this listener are chosen apart from it.
fn tls_listener(dir: &Path, dev_addr: &str) -> Result<(VaultTls, String), Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "coffer-vault-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(vec!["localhost".to_string()])?;
    server
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &issuer)?;

    let client_key = KeyPair::generate()?;
    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client
        .distinguished_name
        .push(DnType::CommonName, "coffer-vault-client");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &issuer)?;

    let write = |name: &str, pem: &str| -> Result<String, Error> {
        let path = dir.join(name);
        std::fs::write(&path, pem).map_err(|source| Error::Io {
            what: path.clone(),
            source,
        })?;
        Ok(serde_json::Value::from(path.to_string_lossy()).to_string())
    };
    let ca_file = write("bao-tls-ca.crt", &ca_cert.pem())?;
    let cert_file = write("bao-tls.crt", &server_cert.pem())?;
    let key_file = write("bao-tls.key", &server_key.serialize_pem())?;

    let dev_cluster = dev_addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .map(|p| p + 1);
    let port = || -> Result<u16, Error> {
        loop {
            let p = free_port()?;
            if Some(p) != dev_cluster {
                return Ok(p);
            }
        }
    };
    let (port, cluster_port) = (port()?, port()?);
    let listener = format!(
        "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  \
         cluster_address = \"127.0.0.1:{cluster_port}\"\n  \
         tls_cert_file = {cert_file}\n  tls_key_file = {key_file}\n  \
         tls_client_ca_file = {ca_file}\n  tls_require_and_verify_client_cert = true\n}}\n"
    );
    let tls = VaultTls {
        addr: format!("https://127.0.0.1:{port}"),
        ca: ca_cert.pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    };
    Ok((tls, listener))
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
