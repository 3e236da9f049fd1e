//! Faults on the environment's own servers: stop a child and start it
//! again with the same arguments, data directory and port (etcd keeps its
//! data; the OpenBao dev server and moto keep theirs in memory, so they
//! come back empty and tests seed them again), and seal or unseal OpenBao.

use std::time::Duration;

use crate::process::{self, ProcessLog, Stop};
use crate::services::Vault;
use crate::{Error, TestEnv, wait};

/// How long a restarted child may take to be ready again.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

impl TestEnv {
    /// Stops the child named `name` (`etcd`, `kube-apiserver`,
    /// `kube-controller-manager`, `openbao`, `moto`) and waits for it to
    /// exit.
    pub fn stop(&self, name: &str, how: Stop) -> Result<(), Error> {
        process::stop(self.child(name)?, how)
    }

    /// Starts the child named `name` again after [`TestEnv::stop`] and
    /// waits until it serves again (etcd: until the API server is ready
    /// again, which checks etcd).
    pub async fn start_again(&self, name: &str) -> Result<(), Error> {
        let log = self.child(name)?;
        process::start_again(log)?;
        self.wait_ready(log).await
    }

    /// [`TestEnv::stop`] then [`TestEnv::start_again`].
    pub async fn restart(&self, name: &str, how: Stop) -> Result<(), Error> {
        self.stop(name, how)?;
        self.start_again(name).await
    }

    fn child(&self, name: &str) -> Result<&ProcessLog, Error> {
        self.logs
            .iter()
            .find(|log| log.name == name)
            .ok_or_else(|| Error::UnknownChild {
                name: name.to_string(),
            })
    }

    async fn wait_ready(&self, log: &ProcessLog) -> Result<(), Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        match log.name.as_str() {
            "etcd" | "kube-apiserver" => {
                let apiserver = self.child("kube-apiserver")?;
                crate::control_plane::wait_apiserver_ready(&self.kubeconfig, apiserver).await
            }
            "openbao" => {
                let health = format!("{}/v1/sys/health", self.vault.addr);
                wait::until("OpenBao /v1/sys/health", log, READY_TIMEOUT, || {
                    wait::http_ok(&http, &health)
                })
                .await
            }
            "moto" => {
                let probe = format!("{}/moto-api/", self.aws.endpoint);
                wait::until("moto /moto-api/", log, READY_TIMEOUT, || {
                    wait::http_ok(&http, &probe)
                })
                .await
            }
            // The controller manager has no state a test waits on.
            _ => Ok(()),
        }
    }
}

impl Vault {
    /// Seals OpenBao: every read fails (503) until [`Vault::unseal`].
    pub async fn seal(&self) -> Result<(), Error> {
        let request = reqwest::Client::new()
            .put(format!("{}/v1/sys/seal", self.addr))
            .header("X-Vault-Token", &self.token);
        send("seal OpenBao", request).await
    }

    /// Unseals OpenBao with the dev server's unseal key, which it prints
    /// to its log at start (a restarted dev server prints a new one: the
    /// newest line wins).
    pub async fn unseal(&self) -> Result<(), Error> {
        let log = std::fs::read_to_string(&self.log.path).map_err(|source| Error::Io {
            what: self.log.path.clone(),
            source,
        })?;
        let key = log
            .lines()
            .rev()
            .find_map(|line| line.trim().strip_prefix("Unseal Key: "))
            .ok_or_else(|| Error::SetupOutput {
                var: "Unseal Key (in the OpenBao dev server's log)".into(),
            })?;
        let request = reqwest::Client::new()
            .put(format!("{}/v1/sys/unseal", self.addr))
            .json(&serde_json::json!({ "key": key.trim() }));
        send("unseal OpenBao", request).await
    }
}

async fn send(what: &str, request: reqwest::RequestBuilder) -> Result<(), Error> {
    let response = request.send().await.map_err(|source| Error::Request {
        what: what.to_string(),
        source,
    })?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(Error::Status {
            what: what.to_string(),
            status: response.status().as_u16(),
        })
    }
}
