//! Test helper for `coffer seal` and `coffer keygen`: a temporary directory
//! with a fresh sealing key made by `coffer keygen`, and running `coffer` (or
//! the reference kubeseal) inside it with a clean environment: no kubeconfig,
//! no `SEALED_SECRETS_*` variables.
//!
//! Included as a module by `seal.rs` and `keygen.rs` (cargo also builds it as
//! an empty test target).
#![allow(dead_code, clippy::new_without_default)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

#[path = "common/output.rs"]
mod output;
pub use output::ok;

/// A scratch directory; `HOME` points inside it so no real kubeconfig is read.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    /// An empty sandbox.
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A sandbox holding `key.yaml` (the key Secret), `key.pem` and
    /// `cert.pem`, made by `coffer keygen --bits 2048`.
    pub fn with_key() -> Sandbox {
        let sb = Sandbox::new();
        ok(sb.coffer(
            &[
                "keygen",
                "--bits",
                "2048",
                "-w",
                "key.yaml",
                "--out-cert",
                "cert.pem",
            ],
            None,
        ));
        let key = sb.key_pem_from_secret("key.yaml");
        sb.write("key.pem", key);
        sb
    }

    /// The `tls.key` PEM of a key Secret written by keygen.
    pub fn key_pem_from_secret(&self, name: &str) -> String {
        let text = self.read(name);
        let line = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("tls.key:"))
            .expect("tls.key in the key Secret");
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(line.trim())
            .unwrap();
        String::from_utf8(bytes).unwrap()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// `program` run inside the sandbox with a clean environment (only
    /// `PATH`, and `HOME` pointing into the sandbox).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path());
        cmd
    }

    /// Runs `program ARGS` as [`Sandbox::command`] does, with `env` added
    /// and `stdin` (or nothing) as standard input.
    pub fn run_program(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
    ) -> Output {
        let mut cmd = self.command(program);
        cmd.args(args);
        self.run(cmd, env, stdin)
    }

    fn run(&self, mut cmd: Command, env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
        cmd.envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            // The command may exit without reading (an early error): fine.
            let _ = child.stdin.take().unwrap().write_all(input);
        }
        child.wait_with_output().unwrap()
    }

    /// Runs `coffer` with `args`, feeding `stdin`.
    pub fn coffer(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        self.coffer_env(args, &[], stdin)
    }

    /// Runs `coffer` with extra environment variables.
    pub fn coffer_env(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
        let out = self.run_program(env!("CARGO_BIN_EXE_coffer"), args, env, stdin);
        coffer_testenv::leak::record_cli_stderr(&out.stderr);
        out
    }

    /// Runs the reference kubeseal (None when it cannot be built here).
    pub fn kubeseal(&self, args: &[&str], stdin: Option<&[u8]>) -> Option<Output> {
        Some(self.run_program(kubeseal_binary()?, args, &[], stdin))
    }
}

/// stderr of a failed run, or a panic.
pub fn fail(out: Output) -> String {
    assert!(
        !out.status.success(),
        "command unexpectedly succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The kubeseal binary (`coffer_testenv::reference_tool_or_skip`): None,
/// loudly, only when it can be neither found nor built (no Go).
pub fn kubeseal_binary() -> Option<PathBuf> {
    coffer_testenv::reference_tool_or_skip("kubeseal")
}

/// A Secret with two values (`password` in data, `user` in stringData).
pub const SECRET_YAML: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
  labels: {app: web}
  annotations: {team: payments}
type: Opaque
data:
  password: aHVudGVyMi1zM2NyM3Q=
stringData:
  user: admin
";

/// `hunter2-s3cr3t`, the password above in clear.
pub const PASSWORD: &str = "hunter2-s3cr3t";

/// The JSON document(s) of a run's stdout.
pub fn json_docs(text: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Decodes a base64 Secret value.
pub fn b64(text: &str) -> String {
    use base64::Engine as _;
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap(),
    )
    .unwrap()
}
