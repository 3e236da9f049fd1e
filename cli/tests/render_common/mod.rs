//! Helpers of the `coffer render` tests: a sandbox where the real sops,
//! kubeseal and kustomize (tests/reference-tools) make the inputs at test
//! time, a sealing key per test binary, and running `coffer render` with a
//! clean environment (no user key is ever picked up).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use coffer_crypto::{KeyOptions, KeyPair, KeySize};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The test identity (crates/coffer-sops/tests/data/age-key.txt).
pub const KEY: &str = "AGE-SECRET-KEY-1RH87A5Z54ZGUR9S0AS3R6WHFSEFNPLYMAKF5Z2CEU7R06VRJ0A3Q7242AM";
/// Its recipient.
pub const RECIPIENT: &str = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";

/// The directory holding the reference sops, kubeseal and kustomize.
pub fn tools_dir() -> &'static Path {
    coffer_testenv::reference_tools_dir()
}

/// The sealing key of this test binary (2048 bits: fast to make).
pub fn sealing_key() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        KeyPair::generate(&KeyOptions {
            size: KeySize::Rsa2048,
            ..KeyOptions::default()
        })
        .unwrap()
    })
}

/// The sealing key as a Bitnami key Secret manifest (JSON).
pub fn sealing_key_secret() -> String {
    let secret = coffer_sealed::key_secret::build(
        sealing_key(),
        ObjectMeta {
            name: Some("sealed-secrets-key1".into()),
            namespace: Some("kube-system".into()),
            ..ObjectMeta::default()
        },
    )
    .unwrap();
    let mut json = serde_json::to_value(&*secret).unwrap();
    json["apiVersion"] = "v1".into();
    json["kind"] = "Secret".into();
    serde_json::to_string(&json).unwrap()
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let sb = Sandbox {
            dir: tempfile::tempdir().unwrap(),
        };
        sb.write("keys.txt", format!("# test key\n{KEY}\n"));
        sb
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    fn command(&self, bin: &Path, env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, mut cmd: Command, stdin: Option<&[u8]>) -> Output {
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            let input = input.to_vec();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        child.wait_with_output().unwrap()
    }

    /// `coffer render ARGS` with `stdin`, no key in the environment.
    pub fn render(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        self.render_env(args, &[], stdin)
    }

    /// `coffer render ARGS` with extra environment variables.
    pub fn render_env(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
        let mut cmd = self.command(Path::new(env!("CARGO_BIN_EXE_coffer")), env);
        cmd.arg("render").args(args);
        self.run(cmd, stdin)
    }

    /// A reference tool, which must succeed; its stdout.
    pub fn tool(
        &self,
        tool: &str,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
    ) -> Vec<u8> {
        let cmd = {
            let mut c = self.command(&tools_dir().join(tool), env);
            c.args(args);
            c
        };
        let out = self.run(cmd, stdin);
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Encrypts `plaintext` (written as `.plain/NAME`, whose extension picks
    /// the format) with the real sops and writes the result as `name`.
    pub fn sops_encrypt(&self, name: &str, plaintext: &[u8], args: &[&str]) -> Vec<u8> {
        let plain = format!(
            ".plain/{}",
            Path::new(name).file_name().unwrap().to_str().unwrap()
        );
        self.write(&plain, plaintext);
        let mut all = vec!["encrypt", "--age", RECIPIENT];
        all.extend_from_slice(args);
        all.push(&plain);
        let out = self.tool("sops", &all, &[], None);
        std::fs::remove_dir_all(self.path(".plain")).unwrap();
        self.write(name, &out);
        out
    }

    /// Seals a Secret manifest offline with the real kubeseal.
    pub fn kubeseal(&self, secret_yaml: &str) -> String {
        let cert = self.write("sealing-cert.pem", sealing_key().certificate().to_pem());
        let out = self.tool(
            "kubeseal",
            &["--cert", cert.to_str().unwrap(), "--format", "yaml"],
            &[],
            Some(secret_yaml.as_bytes()),
        );
        let text = String::from_utf8(out).unwrap();
        text.strip_prefix("---\n")
            .map(str::to_owned)
            .unwrap_or(text)
    }
}

/// Asserts a failed run: exit 1, nothing on stdout, none of `secrets` in
/// stderr; returns stderr.
pub fn failed(out: &Output, secrets: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout on error: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    no_plaintext(&stderr, secrets);
    stderr
}

/// stdout of a successful run.
pub fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed with {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Asserts that none of `secrets` (nor their base64) is in `text`.
pub fn no_plaintext(text: &str, secrets: &[&str]) {
    use base64::Engine;
    for s in secrets {
        assert!(!text.contains(s), "plaintext {s:?} leaked: {text}");
        let b64 = base64::engine::general_purpose::STANDARD.encode(s);
        assert!(
            !text.contains(&b64),
            "plaintext {s:?} (base64) leaked: {text}"
        );
    }
}
