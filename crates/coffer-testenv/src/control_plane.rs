//! etcd, kube-apiserver and kube-controller-manager on free loopback ports,
//! started the way controller-runtime's envtest starts them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::pki::{ADMIN_USER, Pki};
use crate::process::{self, ProcessLog};
use crate::{Error, wait};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// A running control plane.
#[derive(Debug)]
pub struct ControlPlane {
    /// Kubeconfig of the `system:masters` admin user.
    pub kubeconfig: PathBuf,
    /// Logs of etcd, kube-apiserver and kube-controller-manager.
    pub logs: Vec<ProcessLog>,
}

impl ControlPlane {
    /// Starts the three processes from the binaries in `bin`, with all state
    /// in `dir`, and waits until each is ready. The API server's audit log
    /// records every request of `audited_users` ([`crate::audit`]).
    pub async fn start(bin: &Path, dir: &Path, audited_users: &[String]) -> Result<Self, Error> {
        let pki = Pki::generate(dir)?;
        let http = reqwest::Client::builder()
            .add_root_certificate(read_cert(&pki.ca_cert)?)
            .timeout(Duration::from_secs(5))
            .build()?;

        let etcd = start_etcd(bin, dir, &http).await?;
        let (apiserver, server) = start_apiserver(bin, dir, &pki, &etcd.1, audited_users).await?;
        let kubeconfig = dir.join("kubeconfig");
        write_kubeconfig(&kubeconfig, &server, &pki)?;
        wait_apiserver_ready(&kubeconfig, &apiserver).await?;
        let kcm = start_controller_manager(bin, dir, &pki, &kubeconfig, &http).await?;

        Ok(ControlPlane {
            kubeconfig,
            logs: vec![etcd.0, apiserver, kcm],
        })
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16, Error> {
    Ok(free_ports(1)?[0])
}

/// `n` distinct loopback ports that were free a moment ago: probed all at
/// once, since a port released by one probe can be handed out by the next.
fn free_ports(n: usize) -> Result<Vec<u16>, Error> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .and_then(|ls| ls.iter().map(|l| Ok(l.local_addr()?.port())).collect());
    listeners.map_err(|source| Error::Io {
        what: "127.0.0.1:0".into(),
        source,
    })
}

/// Starts etcd, again on other ports (at most three times) when it exits at
/// once: a probed port can be taken before etcd binds it, by another
/// process or an outgoing connection ("bind: address already in use").
async fn start_etcd(
    bin: &Path,
    dir: &Path,
    http: &reqwest::Client,
) -> Result<(ProcessLog, String), Error> {
    let mut attempt = 1;
    loop {
        match start_etcd_once(bin, dir, http).await {
            Err(Error::Exited { .. }) if attempt < 3 => {
                attempt += 1;
                let _ = std::fs::remove_dir_all(dir.join("etcd"));
            }
            started => return started,
        }
    }
}

async fn start_etcd_once(
    bin: &Path,
    dir: &Path,
    http: &reqwest::Client,
) -> Result<(ProcessLog, String), Error> {
    let ports = free_ports(2)?;
    let client_url = format!("http://127.0.0.1:{}", ports[0]);
    let peer_url = format!("http://127.0.0.1:{}", ports[1]);
    let args = [
        format!("--data-dir={}", dir.join("etcd").display()),
        format!("--listen-client-urls={client_url}"),
        format!("--advertise-client-urls={client_url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=default={peer_url}"),
        // Test data is thrown away: durability only costs time.
        "--unsafe-no-fsync=true".into(),
        "--log-level=warn".into(),
    ];
    let log = process::spawn("etcd", &bin.join("etcd"), &args, &[], dir)?;
    let health = format!("{client_url}/health");
    wait::until("etcd /health", &log, STARTUP_TIMEOUT, || {
        wait::http_ok(http, &health)
    })
    .await?;
    Ok((log, client_url))
}

async fn start_apiserver(
    bin: &Path,
    dir: &Path,
    pki: &Pki,
    etcd_url: &str,
    audited_users: &[String],
) -> Result<(ProcessLog, String), Error> {
    let port = free_port()?;
    let args = [
        format!("--etcd-servers={etcd_url}"),
        format!("--cert-dir={}", dir.join("apiserver-certs").display()),
        format!("--tls-cert-file={}", pki.serving_cert.display()),
        format!("--tls-private-key-file={}", pki.serving_key.display()),
        format!("--client-ca-file={}", pki.ca_cert.display()),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
        "--authorization-mode=RBAC".into(),
        format!(
            "--service-account-key-file={}",
            pki.service_account_pub.display()
        ),
        format!(
            "--service-account-signing-key-file={}",
            pki.service_account_key.display()
        ),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
        "--service-cluster-ip-range=10.0.0.0/24".into(),
        "--allow-privileged=true".into(),
        // As envtest: there is no service-account controller creating the
        // `default` ServiceAccount that this admission plugin requires.
        "--disable-admission-plugins=ServiceAccount".into(),
    ];
    let audit = crate::audit::apiserver_args(dir, audited_users).map_err(|source| Error::Io {
        what: dir.to_path_buf(),
        source,
    })?;
    let args = [&args[..], &audit[..]].concat();
    let log = process::spawn(
        "kube-apiserver",
        &bin.join("kube-apiserver"),
        &args,
        &[],
        dir,
    )?;
    Ok((log, format!("https://127.0.0.1:{port}")))
}

pub(crate) async fn wait_apiserver_ready(kubeconfig: &Path, log: &ProcessLog) -> Result<(), Error> {
    let client = crate::client_from_kubeconfig(kubeconfig).await?;
    wait::until("kube-apiserver /readyz", log, STARTUP_TIMEOUT, || {
        let client = client.clone();
        async move {
            let req = http::Request::get("/readyz")
                .body(Vec::new())
                .expect("static request");
            matches!(client.request_text(req).await, Ok(body) if body.trim() == "ok")
        }
    })
    .await
}

async fn start_controller_manager(
    bin: &Path,
    dir: &Path,
    pki: &Pki,
    kubeconfig: &Path,
    http: &reqwest::Client,
) -> Result<ProcessLog, Error> {
    let port = free_port()?;
    let args = [
        format!("--kubeconfig={}", kubeconfig.display()),
        // Garbage collection of owned objects, and namespace deletion.
        "--controllers=garbage-collector-controller,namespace-controller".into(),
        "--leader-elect=false".into(),
        "--bind-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
        format!("--tls-cert-file={}", pki.serving_cert.display()),
        format!("--tls-private-key-file={}", pki.serving_key.display()),
    ];
    let log = process::spawn(
        "kube-controller-manager",
        &bin.join("kube-controller-manager"),
        &args,
        &[],
        dir,
    )?;
    let healthz = format!("https://127.0.0.1:{port}/healthz");
    wait::until(
        "kube-controller-manager /healthz",
        &log,
        STARTUP_TIMEOUT,
        || wait::http_ok(http, &healthz),
    )
    .await?;
    Ok(log)
}

fn write_kubeconfig(path: &Path, server: &str, pki: &Pki) -> Result<(), Error> {
    let kubeconfig = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "coffer-testenv", "cluster": {
            "server": server,
            "certificate-authority": pki.ca_cert,
        }}],
        "users": [{"name": ADMIN_USER, "user": {
            "client-certificate": pki.admin_cert,
            "client-key": pki.admin_key,
        }}],
        "contexts": [{"name": "coffer-testenv", "context": {
            "cluster": "coffer-testenv", "user": ADMIN_USER, "namespace": "default",
        }}],
        "current-context": "coffer-testenv",
    });
    // JSON is valid YAML, and kubectl reads it as a kubeconfig.
    let text = serde_json::to_string_pretty(&kubeconfig).expect("static JSON");
    std::fs::write(path, text).map_err(|source| Error::Io {
        what: path.to_path_buf(),
        source,
    })
}

fn read_cert(path: &Path) -> Result<reqwest::Certificate, Error> {
    let pem = std::fs::read(path).map_err(|source| Error::Io {
        what: path.to_path_buf(),
        source,
    })?;
    Ok(reqwest::Certificate::from_pem(&pem)?)
}
