//! What can go wrong while starting the environment.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// An environment that could not be started, naming the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("i/o error on {what}")]
    Io {
        what: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A binary could not be started.
    #[error("cannot start {program}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The supervisor thread is gone (the process is exiting).
    #[error("the child-process supervisor is not running")]
    Supervisor,
    /// A binary `tests/setup.sh` provides could not be found or built.
    #[error(transparent)]
    Locate(#[from] coffer_reftools::Error),
    /// `tests/setup.sh` succeeded but did not print the expected variable.
    #[error("tests/setup.sh printed no {var}=... line")]
    SetupOutput { var: String },
    /// A process exited while we waited for it to become ready.
    #[error("{name} exited with {status}; last lines of its log:\n{log}")]
    Exited {
        name: String,
        status: ExitStatus,
        log: String,
    },
    /// A process did not become ready in time.
    #[error("{what} not ready after {timeout:?}; last lines of its log:\n{log}")]
    NotReady {
        what: String,
        timeout: Duration,
        log: String,
    },
    /// No child of this environment goes by that name.
    #[error("no child process named {name} in this environment")]
    UnknownChild { name: String },
    /// A child asked to start again has not been stopped.
    #[error("{name} is still running; stop it before starting it again")]
    StillRunning { name: String },
    /// An HTTP call to a child failed (seal, unseal, seed).
    #[error("{what}")]
    Request {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    /// A child answered an HTTP call with an error status.
    #[error("{what}: HTTP {status}")]
    Status { what: String, status: u16 },
    /// Certificate generation failed.
    #[error("generating certificates")]
    Pki(#[from] rcgen::Error),
    /// An HTTP client could not be built.
    #[error("building an HTTP client")]
    Http(#[from] reqwest::Error),
    /// The kubeconfig could not be loaded.
    #[error("loading kubeconfig {path}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A Kubernetes API call failed.
    #[error("{what}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    /// Something asked of the environment that it cannot do.
    #[error("not supported: {what}")]
    Unsupported { what: String },
    /// A CRD file could not be applied or was not established.
    #[error("CRD {path}: {message}")]
    Crd { path: PathBuf, message: String },
}
