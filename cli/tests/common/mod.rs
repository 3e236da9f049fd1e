//! Test helper: a temporary directory with the test age key, and running
//! the `coffer` binary (or the reference `sops`) inside it with a clean,
//! predictable environment.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

mod output;
pub use output::ok;

/// The test identity (the shared vectors' `age-key.txt`).
pub const KEY: &str = "AGE-SECRET-KEY-1RH87A5Z54ZGUR9S0AS3R6WHFSEFNPLYMAKF5Z2CEU7R06VRJ0A3Q7242AM";
/// Its recipient.
pub const RECIPIENT: &str = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";
/// A second identity.
pub const KEY2: &str = "AGE-SECRET-KEY-10U7MAELH09KZU63F65P2TYLN7TQM5X6GSDDCQ4YMUGDS3DS6XZMSTYY2PN";
/// Its recipient.
pub const RECIPIENT2: &str = "age1henwn645drkd3fa34t27t2w2x0nsgw3w4h62gmg5x5xflyjpy38s5cncph";

/// A scratch directory; `HOME` and `XDG_CONFIG_HOME` point inside it so no
/// real user key is ever picked up.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// Identity file used as SOPS_AGE_KEY_FILE (None: no key at all).
    pub key_file: Option<PathBuf>,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("keys.txt");
        std::fs::write(&key_file, format!("# test key\n{KEY}\n")).unwrap();
        Sandbox {
            dir,
            key_file: Some(key_file),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    fn prepare(&self, cmd: &mut Command) {
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .stdin(Stdio::null());
        if let Some(k) = &self.key_file {
            cmd.env("SOPS_AGE_KEY_FILE", k);
        }
    }

    /// Runs `coffer` with `args`.
    pub fn coffer(&self, args: &[&str]) -> Output {
        self.coffer_env(args, &[])
    }

    /// Runs `coffer` with extra environment variables.
    pub fn coffer_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_coffer"));
        self.prepare(&mut cmd);
        cmd.args(args).envs(env.iter().copied());
        let out = cmd.output().unwrap();
        coffer_testenv::leak::record_cli_stderr(&out.stderr);
        out
    }

    /// Runs the reference sops (None when it cannot be built here).
    pub fn sops(&self, args: &[&str]) -> Option<Output> {
        let bin = sops_binary()?;
        let mut cmd = Command::new(bin);
        self.prepare(&mut cmd);
        cmd.args(args);
        Some(cmd.output().unwrap())
    }
}

/// The exit code and stderr of a failed run.
pub fn fail(out: Output) -> (i32, String) {
    assert!(
        !out.status.success(),
        "command unexpectedly succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The pinned reference sops (`coffer_testenv::reference_tool_or_skip`):
/// None, loudly, only when it can be neither found nor built (no Go).
pub fn sops_binary() -> Option<PathBuf> {
    coffer_testenv::reference_tool_or_skip("sops")
}
