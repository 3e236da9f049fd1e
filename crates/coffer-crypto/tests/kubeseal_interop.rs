//! Interop with the real kubeseal (the pinned reference build): values it
//! seals to our certificate open here, and values we seal open with its
//! `--recovery-unseal`. kubeseal is found through `KUBESEAL`, or in
//! `COFFER_REFERENCE_TOOLS_DIR` (which `tests/setup.sh` prints), or by running
//! `tests/setup.sh reference-tools`, which builds it on first use
//! (`coffer_reftools::reference_tool`).

use std::io::Write;
use std::process::{Command, Stdio};

use coffer_crypto::{KeyOptions, KeyPair, KeySize, Scope, seal_base64, unseal_base64};

fn kubeseal() -> std::path::PathBuf {
    std::env::var_os("KUBESEAL").map_or_else(
        || coffer_reftools::reference_tool("kubeseal"),
        std::path::PathBuf::from,
    )
}

fn run(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new(kubeseal())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubeseal");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubeseal {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn key_pair() -> (KeyPair, tempfile::TempDir) {
    let options = KeyOptions {
        size: KeySize::Rsa2048,
        ..KeyOptions::default()
    };
    let pair = KeyPair::generate(&options).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tls.crt"), pair.certificate().to_pem()).unwrap();
    std::fs::write(
        dir.path().join("tls.key"),
        pair.private_key().to_pkcs1_pem().unwrap().as_bytes(),
    )
    .unwrap();
    (pair, dir)
}

#[test]
fn values_kubeseal_seals_to_our_certificate_open_here() {
    let (pair, dir) = key_pair();
    let cert = dir.path().join("tls.crt");
    let keys = std::slice::from_ref(pair.private_key());
    for scope in Scope::ALL {
        let plaintext = format!("from kubeseal, {scope}");
        let sealed = run(
            &[
                "--raw",
                "--cert",
                cert.to_str().unwrap(),
                "--scope",
                scope.as_str(),
                "--namespace",
                "prod",
                "--name",
                "db",
                "--from-file=/dev/stdin",
            ],
            plaintext.as_bytes(),
        );
        let sealed = String::from_utf8(sealed).unwrap();
        let label = scope.label("prod", "db");
        let opened = unseal_base64(keys, label.as_bytes(), sealed.trim()).unwrap();
        assert_eq!(opened.plaintext(), plaintext.as_bytes(), "{scope}");
    }
}

#[test]
fn values_we_seal_open_with_kubeseal_recovery_unseal() {
    let (pair, dir) = key_pair();
    let key = dir.path().join("tls.key");
    for scope in Scope::ALL {
        let label = scope.label("prod", "db");
        let sealed =
            seal_base64(pair.certificate().public_key(), label.as_bytes(), b"ours").unwrap();
        let annotations = match scope.annotation() {
            Some(name) => format!(r#"{{"{name}":"true"}}"#),
            None => "{}".to_owned(),
        };
        let manifest = format!(
            r#"{{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret",
                "metadata":{{"name":"db","namespace":"prod","annotations":{annotations}}},
                "spec":{{"encryptedData":{{"v":"{sealed}"}},
                         "template":{{"metadata":{{"name":"db","namespace":"prod",
                                                    "annotations":{annotations}}}}}}}}}"#
        );
        let out = run(
            &[
                "--recovery-unseal",
                "--recovery-private-key",
                key.to_str().unwrap(),
                "-o",
                "json",
            ],
            manifest.as_bytes(),
        );
        let secret: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(secret["data"]["v"], "b3Vycw==", "{scope}: {secret}"); // base64("ours")
    }
}
