//! Evidence for the leak scan (`leak-scan`, run by tests/test-all.sh after
//! the whole test suite). With `COFFER_LEAK_DIR` set, every test binary
//! leaves there what Coffer said while the tests ran:
//!
//! - the API server's audit log (see [`AUDIT_RULES`]): every Secret
//!   written (the plaintext values the scan looks for), every Event and
//!   every status written to a SealedSecret or an external-secrets.io
//!   object (where it looks);
//! - the logs of controller processes the tests started (every `*.log`
//!   in an environment's directory but the servers' own);
//! - the `tracing` output of controllers run in-process, at debug level
//!   for Coffer's crates ([`capture_tracing`]; tests that check log lines
//!   read the same output through [`captured_log`]);
//! - the CLI's stderr, from the tests that run it ([`record_cli_stderr`]).
//!
//! Without the variable nothing is recorded and nothing changes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Once, PoisonError};

/// Names the directory that collects the evidence.
pub const LEAK_DIR_VAR: &str = "COFFER_LEAK_DIR";

/// What the API server records for the scan (the rules of its audit
/// policy, [`crate::audit`]): request bodies of Secret writes (the values
/// to look for), of Events and of status writes (where to look).
pub(crate) const AUDIT_RULES: &str = r#"- level: Request
  verbs: ["create", "update", "patch"]
  resources:
  - group: ""
    resources: ["secrets", "events"]
  - group: "events.k8s.io"
    resources: ["events"]
  - group: "bitnami.com"
    resources: ["*/status"]
  - group: "external-secrets.io"
    resources: ["*/status"]
"#;

/// Logs in an environment's directory that are not Coffer's: the servers
/// the environment runs, and Bitnami's controller in the migration tests.
const NOT_OURS: &[&str] = &[
    "etcd.log",
    "kube-apiserver.log",
    "kube-controller-manager.log",
    "openbao.log",
    "bao-audit.log",
    "moto.log",
];

/// The evidence directory, if the leak scan is on.
pub fn leak_dir() -> Option<PathBuf> {
    std::env::var_os(LEAK_DIR_VAR)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// A name unique to this process for files it leaves in the evidence
/// directory: `<prefix>-<executable>-<pid>.log`.
fn evidence_file(dir: &Path, prefix: &str) -> PathBuf {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown".into());
    dir.join(format!("{prefix}-{exe}-{}.log", std::process::id()))
}

/// Installs, when the leak scan is on, a `tracing` subscriber for this
/// process that writes every event of Coffer's crates at debug level (and
/// others' at info) to a file in the evidence directory.
pub fn capture_tracing() {
    if leak_dir().is_some() {
        install_subscriber();
    }
}

/// This process's `tracing` output from now on (the same lines as the
/// evidence file, without timestamps), for tests that check what the
/// controllers log. Installs the subscriber if need be.
pub fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    install_subscriber();
    CAPTURING.store(true, Ordering::Relaxed);
    CAPTURED.clone()
}

static CAPTURED: LazyLock<Arc<Mutex<Vec<u8>>>> = LazyLock::new(Arc::default);
static CAPTURING: AtomicBool = AtomicBool::new(false);

/// Where the subscriber writes: the evidence file (if the scan is on) and,
/// once a test asked, [`CAPTURED`].
struct Sink {
    file: Option<Arc<Mutex<std::fs::File>>>,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(file) = &self.file {
            file.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .write_all(buf)?;
        }
        if CAPTURING.load(Ordering::Relaxed) {
            CAPTURED
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Once per process; a subscriber installed before by someone else wins.
fn install_subscriber() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let file = leak_dir().and_then(|dir| {
            std::fs::create_dir_all(&dir).ok()?;
            let file = std::fs::File::create(evidence_file(&dir, "tracing")).ok()?;
            Some(Arc::new(Mutex::new(file)))
        });
        let filter = tracing_subscriber::EnvFilter::new(
            "info,coffer_controller=debug,coffer_external=debug,coffer_providers=debug,\
             coffer_sealed=debug,coffer_gitops=debug,coffer_sops=debug,coffer_crypto=debug",
        );
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .without_time()
            .with_ansi(false)
            .with_writer(move || Sink { file: file.clone() })
            .try_init();
    });
}

/// Appends a run of the CLI's stderr to this process's evidence file.
pub fn record_cli_stderr(stderr: &[u8]) {
    let Some(dir) = leak_dir() else { return };
    let _ = std::fs::create_dir_all(&dir);
    let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(evidence_file(&dir, "cli-stderr"))
    else {
        return;
    };
    let _ = file.write_all(stderr);
    let _ = file.write_all(b"\n");
}

/// Copies the evidence an environment's directory holds (its audit log and
/// the logs of Coffer's processes) into the evidence directory. Called at
/// exit, before the directory is removed.
pub(crate) fn save(env_dir: &Path) {
    let Some(dir) = leak_dir() else { return };
    let Ok(entries) = std::fs::read_dir(env_dir) else {
        return;
    };
    let _ = std::fs::create_dir_all(&dir);
    let env_name = env_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.ends_with(".log")
            && !NOT_OURS.contains(&name.as_str())
            && !name.contains("bitnami");
        if ours {
            let _ = std::fs::copy(entry.path(), dir.join(format!("{env_name}-{name}")));
        }
    }
}
