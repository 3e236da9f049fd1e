//! The controller as a separate process (the built binary), so that it can
//! be SIGKILLed: it watches the test's namespace, keeps its keys in the
//! controller namespace and reaches moto through the fault proxy.

use std::path::PathBuf;
use std::process::Stdio;

use coffer_testenv::free_port;

use crate::fixture::Fixture;

/// A running `coffer-controller`; killed when dropped.
pub struct Controller {
    child: tokio::process::Child,
    metrics: String,
    log: PathBuf,
}

impl Controller {
    /// Starts a controller named `name` (its log is `<ns>-<name>.log` in
    /// the environment's directory); with `lease_secs`, under leader
    /// election with that lease duration, else alone.
    pub fn spawn(fx: &Fixture, name: &str, lease_secs: Option<u64>) -> Controller {
        let api = free_port().unwrap();
        let metrics = free_port().unwrap();
        let log = fx.env.dir().join(format!("{}-{name}.log", fx.ns.name()));
        let file = std::fs::File::create(&log).unwrap();
        let aws = fx.aws_proxy.url();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_coffer-controller"));
        command
            .env("KUBECONFIG", fx.env.kubeconfig())
            .env("RUST_LOG", "info")
            .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &aws)
            .env("AWS_ENDPOINT_URL_STS", &aws)
            .env("AWS_REGION", &fx.env.aws.region)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("POD_NAME")
            .args(["--namespace", fx.ctrl_ns.name()])
            .args(["--namespaces", fx.ns.name()])
            .args(["--listen-addr", &format!("127.0.0.1:{api}")])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics}")])
            .args(["--key-size", "2048"]);
        match lease_secs {
            Some(secs) => command
                .args(["--lease-duration", &format!("{secs}s")])
                .args(["--lease-renew-grace", "1s"]),
            None => command.arg("--leader-elect=false"),
        };
        let child = command
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn coffer-controller");
        Controller {
            child,
            metrics: format!("http://127.0.0.1:{metrics}/metrics"),
            log,
        }
    }

    /// SIGKILL: no chance to finish a write or release the Lease.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("SIGKILL the controller");
    }

    /// `coffer_leader` from its metrics, `None` while it does not answer.
    pub async fn leader(&self) -> Option<bool> {
        let page = reqwest::get(&self.metrics).await.ok()?.text().await.ok()?;
        page.lines()
            .find_map(|l| l.strip_prefix("coffer_leader ")?.parse::<f64>().ok())
            .map(|v| v == 1.0)
    }

    /// The last lines of its log, for failure messages.
    pub fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}
