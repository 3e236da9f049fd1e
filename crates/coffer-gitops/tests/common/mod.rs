//! Test helpers: documents made at test time with the real sops and
//! kubeseal (built by tests/reference-tools/build.sh, located through
//! `COFFER_REFERENCE_TOOLS_DIR` or tests/setup.sh), the shared age test
//! keys (crates/coffer-sops/tests/data), and one sealing key per test
//! binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use coffer_crypto::{KeyOptions, KeyPair, KeySize};
use coffer_gitops::{Decryptor, Keyring, Options};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The test identity (crates/coffer-sops/tests/data/age-key.txt).
pub const KEY: &str = "AGE-SECRET-KEY-1RH87A5Z54ZGUR9S0AS3R6WHFSEFNPLYMAKF5Z2CEU7R06VRJ0A3Q7242AM";
/// Its recipient.
pub const RECIPIENT: &str = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";
/// A second identity (age-global-key.txt).
pub const KEY2: &str = "AGE-SECRET-KEY-10U7MAELH09KZU63F65P2TYLN7TQM5X6GSDDCQ4YMUGDS3DS6XZMSTYY2PN";
/// Its recipient.
pub const RECIPIENT2: &str = "age1henwn645drkd3fa34t27t2w2x0nsgw3w4h62gmg5x5xflyjpy38s5cncph";

/// The workspace root (where tests/setup.sh is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|d| d.join("tests/setup.sh").is_file())
        .expect("the workspace root")
        .to_path_buf()
}

/// The test age key file.
pub fn age_key_file() -> PathBuf {
    workspace_root().join("crates/coffer-sops/tests/data/age-key.txt")
}

/// The directory holding the reference sops and kubeseal.
pub fn tools_dir() -> &'static Path {
    coffer_testenv::reference_tools_dir()
}

/// A scratch directory where the reference tools run with a clean
/// environment (no user key is ever picked up).
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
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

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    fn run(&self, tool: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let bin = tools_dir().join(tool);
        assert!(bin.is_file(), "no {tool} in {}", tools_dir().display());
        let mut cmd = Command::new(bin);
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("SOPS_AGE_KEY_FILE", age_key_file())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Encrypts `plaintext` with the real sops to the test recipient and
    /// returns the result; the plaintext is written under `.plain/` with
    /// `name` (whose extension picks the format). `args` come before the
    /// file name (e.g. `--input-type binary`, `--encrypted-regex ^data$`).
    pub fn sops_encrypt(&self, name: &str, plaintext: &[u8], args: &[&str]) -> Vec<u8> {
        let plain = format!(".plain/{name}");
        self.write(&plain, plaintext);
        let mut all = vec!["encrypt", "--age", RECIPIENT];
        all.extend_from_slice(args);
        all.push(&plain);
        self.run("sops", &all, None).stdout
    }

    /// [`Sandbox::sops_encrypt`], the result written as `name`.
    pub fn sops_encrypt_to(&self, name: &str, plaintext: &[u8], args: &[&str]) -> Vec<u8> {
        let encrypted = self.sops_encrypt(name, plaintext, args);
        self.write(name, &encrypted);
        encrypted
    }

    /// Removes the plaintexts [`Sandbox::sops_encrypt`] left.
    pub fn forget_plaintexts(&self) {
        let _ = std::fs::remove_dir_all(self.path(".plain"));
    }

    /// Decrypts `name` with the real sops (`args` before the file name).
    pub fn sops_decrypt(&self, name: &str, args: &[&str]) -> Vec<u8> {
        let mut all = vec!["decrypt"];
        all.extend_from_slice(args);
        all.push(name);
        self.run("sops", &all, None).stdout
    }

    /// Seals a Secret manifest offline with the real kubeseal and the test
    /// sealing certificate.
    pub fn kubeseal(&self, secret_yaml: &str, args: &[&str]) -> String {
        let cert = self.write("sealing-cert.pem", sealing_key().certificate().to_pem());
        let mut all = vec!["--cert", cert.to_str().unwrap(), "--format", "yaml"];
        all.extend_from_slice(args);
        let out = self.run("kubeseal", &all, Some(secret_yaml.as_bytes()));
        String::from_utf8(out.stdout).unwrap()
    }
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

/// The sealing key as a Bitnami key Secret manifest (YAML).
pub fn sealing_key_secret_yaml(name: &str) -> String {
    let secret = coffer_sealed::key_secret::build(
        sealing_key(),
        ObjectMeta {
            name: Some(name.into()),
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

/// A keyring with the test age identity and the sealing key.
pub fn keyring() -> Keyring {
    let mut keyring = Keyring::new();
    keyring.add_age_identities(KEY, "test key").unwrap();
    keyring.add_private_key(sealing_key().private_key().clone());
    keyring
}

/// A decryptor over [`keyring`].
pub fn decryptor(options: Options) -> Decryptor {
    Decryptor::with_options(keyring(), options)
}

/// Panics if `text` contains any of `secrets` (or their base64).
#[track_caller]
pub fn assert_no_plaintext(text: &str, secrets: &[&str]) {
    use base64::Engine as _;
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "plaintext {secret:?} leaked: {text}"
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        assert!(!text.contains(&b64), "base64 of {secret:?} leaked: {text}");
    }
}

/// The `data` values of a Secret document, decoded.
pub fn secret_data(doc: &serde_json::Value) -> std::collections::BTreeMap<String, Vec<u8>> {
    use base64::Engine as _;
    doc["data"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().unwrap())
                    .unwrap(),
            )
        })
        .collect()
}

/// Parses a YAML or JSON document.
pub fn parse(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).unwrap()
}
