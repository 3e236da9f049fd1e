//! A `coffer-controller` process from this build, for tests of several
//! replicas (leader election, sharding) against the local control plane.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use coffer_testenv::free_port;

use super::{World, get};

/// A controller process watching the world's namespace, its keys in the
/// world's controller namespace.
pub struct ControllerProcess {
    pub child: tokio::process::Child,
    /// Its `/metrics` URL.
    pub metrics: String,
    log: PathBuf,
}

impl ControllerProcess {
    /// Starts `coffer-controller` with 2048-bit keys on free local ports,
    /// logging (info, the controller at debug) to `<namespace>-<name>.log`
    /// in the environment's directory; `args` are added to its flags.
    pub fn spawn(world: &World, name: &str, args: &[&str]) -> ControllerProcess {
        let api = free_port().unwrap();
        let metrics = free_port().unwrap();
        let log = world
            .env
            .dir()
            .join(format!("{}-{name}.log", world.ns.name()));
        let file = std::fs::File::create(&log).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_coffer-controller"))
            .env("KUBECONFIG", world.env.kubeconfig())
            .env("RUST_LOG", "info,coffer_controller=debug")
            .env_remove("POD_NAME")
            .args(["--namespace", world.ctrl_ns.name()])
            .args(["--namespaces", world.ns.name()])
            .args(["--listen-addr", &format!("127.0.0.1:{api}")])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics}")])
            .args(["--key-size", "2048"])
            .args(args)
            // Logs go to stdout (as in a container); panics to stderr.
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn coffer-controller");
        ControllerProcess {
            child,
            metrics: format!("http://127.0.0.1:{metrics}/metrics"),
            log,
        }
    }

    /// Its `/metrics` page, or `None` while it does not answer.
    pub async fn page(&self) -> Option<String> {
        get(&self.metrics).await.map(|(_, page)| page)
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for a clean exit within `within`.
    pub async fn terminate(&mut self, within: Duration) {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("exits within {within:?} of SIGTERM"))
            .unwrap();
        assert!(
            status.success(),
            "exit status {status}; log:\n{}",
            self.log()
        );
    }
}
