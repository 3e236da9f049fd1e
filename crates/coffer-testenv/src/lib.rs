//! A real local Kubernetes control plane, OpenBao and moto for Coffer's
//! tests, in the spirit of controller-runtime's envtest.
//!
//! [`TestEnv::shared`] starts, once per test binary: etcd, kube-apiserver
//! (client-certificate admin in `system:masters`, RBAC, service-account
//! signing keys) and kube-controller-manager (garbage collector and namespace
//! controllers), each on a free loopback port in a temporary directory; it
//! applies every CRD in `crds/`, and starts an OpenBao dev server and a moto
//! server. Tests share it, each in its own namespace ([`TestEnv::namespace`]).
//! Everything is torn down when the test binary exits, even after a panic;
//! a failing test prints the tail of every child's log.
//!
//! With `COFFER_TEST_KUBECONFIG` set, tests run against that cluster instead
//! (CRDs are still applied; OpenBao and moto still start locally).
//!
//! Binaries come from `tests/setup.sh`, through the variables it prints
//! (`COFFER_CONTROL_PLANE_DIR`, `COFFER_TOOLS_BIN`) or by running it.

mod audit;
mod control_plane;
mod crds;
mod error;
pub mod external;
mod fault_proxy;
mod in_cluster;
pub mod leak;
mod namespace;
mod pki;
mod process;
mod recording_proxy;
mod restart;
mod service_proxy;
mod services;
mod wait;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

pub use coffer_reftools::{
    locate, optional_reference_tool, reference_tool, reference_tool_or_skip, reference_tools_dir,
};
pub use control_plane::free_port;
pub use error::Error;
pub use fault_proxy::{Fault, FaultProxy, Throttling};
pub use in_cluster::{InCluster, username as service_account_user};
pub use namespace::TestNamespace;
pub use process::{ProcessLog, Stop};
pub use recording_proxy::{RecordedRequest, RecordingProxy};
pub use service_proxy::{expose, routable_ip};
pub use services::{Aws, Vault, VaultTls};

/// Prefix of each environment's directory under the system's temp dir.
const DIR_PREFIX: &str = "coffer-testenv-";

/// Names the kubeconfig of an existing cluster to test against.
pub const EXISTING_CLUSTER_VAR: &str = "COFFER_TEST_KUBECONFIG";

/// A running environment: a Kubernetes API server, OpenBao and moto.
#[derive(Debug)]
pub struct TestEnv {
    kubeconfig: PathBuf,
    /// The OpenBao dev server.
    pub vault: Vault,
    /// The moto server standing in for AWS Secrets Manager.
    pub aws: Aws,
    /// Names of the CRDs applied from `crds/`.
    pub crds: Vec<String>,
    logs: Vec<ProcessLog>,
    dir: PathBuf,
}

/// What [`TestEnv::start_with`] sets up beyond the servers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The directory whose CRDs (`*.yaml`, one CRD per document) are
    /// applied; `None`: Coffer's `crds/`. Another operator's CRDs run that
    /// operator (ESO's define the same `externalsecrets.external-secrets.io`).
    pub crds: Option<PathBuf>,
    /// Users whose every request the API server's audit log records, for
    /// [`TestEnv::api_requests`] (e.g. `system:serviceaccount:ns:name`).
    /// Only with the local control plane.
    pub audited_users: Vec<String>,
}

static SHARED: tokio::sync::OnceCell<Result<TestEnv, String>> = tokio::sync::OnceCell::const_new();

impl TestEnv {
    /// The environment shared by every test in this binary, started by the
    /// first test that asks for it.
    ///
    /// Also exports `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL_STS`,
    /// `AWS_ENDPOINT_URL_SSM`,
    /// `AWS_REGION` and static test credentials to this process, so that AWS
    /// SDK clients built the usual way (the controller's role chains and web
    /// identity included) reach moto.
    ///
    /// # Panics
    /// When the environment cannot be started; the message says why.
    pub async fn shared() -> &'static TestEnv {
        let env = SHARED
            .get_or_init(|| async {
                let env = TestEnv::start().await.map_err(|e| error_chain(&e))?;
                env.export_aws_env();
                Ok(env)
            })
            .await;
        match env {
            Ok(env) => env,
            Err(message) => panic!("coffer-testenv could not start: {message}"),
        }
    }

    /// Starts a new environment owned by the caller (the shared one is
    /// [`TestEnv::shared`]). It is torn down when the process exits.
    pub async fn start() -> Result<TestEnv, Error> {
        TestEnv::start_with(&Options::default()).await
    }

    /// As [`TestEnv::start`], with other CRDs or an audit of chosen users.
    pub async fn start_with(options: &Options) -> Result<TestEnv, Error> {
        leak::capture_tracing();
        process::remove_orphaned_dirs(DIR_PREFIX);
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .map_err(|source| Error::Io {
                what: std::env::temp_dir(),
                source,
            })?
            .keep();
        process::remove_at_exit(dir.clone())?;

        let tools_bin = locate("COFFER_TOOLS_BIN", "python")?;
        let existing = std::env::var_os(EXISTING_CLUSTER_VAR).filter(|v| !v.is_empty());
        let (kubeconfig, mut logs) = match existing {
            Some(_) if !options.audited_users.is_empty() => {
                return Err(Error::Unsupported {
                    what: format!("an audit of users with {EXISTING_CLUSTER_VAR} set"),
                });
            }
            Some(path) => (PathBuf::from(path), Vec::new()),
            None => {
                let bin = locate("COFFER_CONTROL_PLANE_DIR", "control-plane")?;
                let cp =
                    control_plane::ControlPlane::start(&bin, &dir, &options.audited_users).await?;
                (cp.kubeconfig, cp.logs)
            }
        };
        let (vault, aws) = tokio::try_join!(
            services::start_vault(&tools_bin, &dir),
            services::start_aws(&tools_bin, &dir),
        )?;
        logs.extend([vault.log.clone(), aws.log.clone()]);

        let client = client_from_kubeconfig(&kubeconfig).await?;
        let crd_dir = options
            .crds
            .clone()
            .unwrap_or_else(|| coffer_reftools::workspace_root().join("crds"));
        let crds = crds::install(&client, &crd_dir).await?;
        Ok(TestEnv {
            kubeconfig,
            vault,
            aws,
            crds,
            logs,
            dir,
        })
    }

    /// The admin kubeconfig (or the existing cluster's).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The temporary directory holding the environment's state and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new client for this environment. Each test makes its own: a client
    /// belongs to the tokio runtime it was first used on, and every
    /// `#[tokio::test]` has a runtime of its own.
    pub async fn client(&self) -> kube::Client {
        client_from_kubeconfig(&self.kubeconfig)
            .await
            .unwrap_or_else(|e| panic!("kube client for the test environment: {}", error_chain(&e)))
    }

    /// Creates a namespace of this test's own, named after `test` plus a
    /// unique suffix. Dropping the guard deletes it, or, when the test is
    /// panicking, keeps it and prints the tail of every child's log.
    pub async fn namespace(&'static self, test: &str) -> TestNamespace {
        namespace::create(self, test).await
    }

    /// Prints the last `lines` lines of each child process's log to stderr.
    pub fn print_logs(&self, lines: usize) {
        for log in &self.logs {
            eprintln!(
                "----- last {lines} lines of {} ({}) -----\n{}",
                log.name,
                log.path.display(),
                log.tail(lines)
            );
        }
    }

    /// The child processes' logs.
    pub fn logs(&self) -> &[ProcessLog] {
        &self.logs
    }

    /// The requests `user` (one of [`Options::audited_users`]) made so
    /// far, by `verb resource[/subresource]`, from the API server's audit
    /// log: the same count whatever client the user runs.
    pub fn api_requests(&self, user: &str) -> Result<BTreeMap<String, u64>, Error> {
        audit::count_requests(&self.dir.join(audit::AUDIT_LOG), user)
    }

    /// Stops every server of this environment (SIGTERM, then SIGKILL after
    /// 20 s), for a process that starts another environment after it.
    pub fn shut_down(&self) -> Result<(), Error> {
        for log in &self.logs {
            process::stop(log, Stop::Term)?;
        }
        Ok(())
    }

    /// Starts `program` as a child of this environment: its output goes to
    /// `<name>.log` in [`TestEnv::dir`] and it is killed when this process
    /// exits, like the environment's own servers.
    pub fn spawn(
        &self,
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
    ) -> Result<ProcessLog, Error> {
        process::spawn(name, program, args, env, &self.dir)
    }

    fn export_aws_env(&self) {
        let vars = [
            (
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                self.aws.endpoint.as_str(),
            ),
            // moto serves STS and SSM on the same endpoint.
            ("AWS_ENDPOINT_URL_STS", self.aws.endpoint.as_str()),
            ("AWS_ENDPOINT_URL_SSM", self.aws.endpoint.as_str()),
            ("AWS_REGION", self.aws.region.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ];
        for (name, value) in vars {
            // SAFETY: called once, inside the OnceCell that every test awaits
            // before doing anything else, so no other thread of this process
            // reads the environment concurrently.
            #[allow(unsafe_code)]
            unsafe {
                std::env::set_var(name, value)
            };
        }
    }
}

/// A client for the cluster in `path`, using its current context.
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client, Error> {
    let wrap = |source: Box<dyn std::error::Error + Send + Sync>| Error::Kubeconfig {
        path: path.to_path_buf(),
        source,
    };
    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| wrap(e.into()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| wrap(e.into()))?;
    kube::Client::try_from(config).map_err(|e| wrap(e.into()))
}

/// `error: cause: cause` on one line, for messages.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    std::iter::successors(Some(error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}
