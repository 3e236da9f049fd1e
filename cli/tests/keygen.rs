//! `coffer keygen` from the outside: the key Secret manifest the controller
//! adopts, PEM files, key sizes, certificate name and validity, file modes,
//! and that kubeseal accepts the result as a recovery key.

mod seal_harness;

use std::time::{Duration, SystemTime};

use coffer_crypto::{Certificate, PrivateKey};
use seal_harness::{Sandbox, b64, fail, json_docs, ok};

#[test]
fn key_secret_is_bitnami_format_with_pkcs1_key_and_matching_certificate() {
    let sb = Sandbox::new();
    let out = ok(sb.coffer(&["keygen", "--bits", "2048", "-o", "json"], None));
    let secret = &json_docs(&out)[0];
    assert_eq!(secret["apiVersion"], "v1");
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(secret["metadata"]["name"], "sealed-secrets-key");
    assert_eq!(secret["metadata"]["namespace"], "kube-system");
    assert_eq!(
        secret["metadata"]["labels"]["sealedsecrets.bitnami.com/sealed-secrets-key"],
        "active"
    );
    let key_pem = b64(secret["data"]["tls.key"].as_str().unwrap());
    assert!(
        key_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"),
        "PKCS#1"
    );
    let cert_pem = b64(secret["data"]["tls.crt"].as_str().unwrap());
    let key = PrivateKey::from_pem(&key_pem).unwrap();
    let cert = Certificate::from_pem(&cert_pem).unwrap();
    assert_eq!(key.bits(), 2048);
    assert_eq!(key.fingerprint(), cert.fingerprint());
}

#[test]
fn name_namespace_and_yaml_output_file() {
    let sb = Sandbox::new();
    ok(sb.coffer(
        &[
            "keygen",
            "--bits",
            "2048",
            "--name",
            "my-key",
            "-n",
            "sealed-secrets",
            "-w",
            "k.yaml",
        ],
        None,
    ));
    let text = sb.read("k.yaml");
    assert!(
        text.contains("name: my-key\n") && text.contains("namespace: sealed-secrets\n"),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sb.path("k.yaml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key Secret is private");
    }
}

#[test]
fn pem_files_with_size_common_name_and_validity() {
    let sb = Sandbox::new();
    let out = sb.coffer(
        &[
            "keygen",
            "--bits",
            "3072",
            "--cn",
            "sealing.example",
            "--validity",
            "30d",
            "--out-key",
            "tls.key",
            "--out-cert",
            "tls.crt",
        ],
        None,
    );
    let stdout = ok(out);
    assert!(stdout.is_empty(), "nothing secret on stdout");
    let key = PrivateKey::from_pem(&sb.read("tls.key")).unwrap();
    let cert = Certificate::from_pem(&sb.read("tls.crt")).unwrap();
    assert_eq!(key.bits(), 3072);
    assert_eq!(cert.common_name(), Some("sealing.example"));
    let left = cert.not_after().duration_since(SystemTime::now()).unwrap();
    assert!(
        left > Duration::from_secs(29 * 86_400) && left <= Duration::from_secs(30 * 86_400),
        "{left:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |n: &str| std::fs::metadata(sb.path(n)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("tls.key"), 0o600);
        assert_eq!(mode("tls.crt"), 0o644);
    }
}

#[test]
fn default_validity_is_ten_years() {
    let sb = Sandbox::new();
    ok(sb.coffer(
        &[
            "keygen",
            "--bits",
            "2048",
            "--out-key",
            "k",
            "--out-cert",
            "c",
        ],
        None,
    ));
    let cert = Certificate::from_pem(&sb.read("c")).unwrap();
    let left = cert.not_after().duration_since(SystemTime::now()).unwrap();
    assert!(left > Duration::from_secs(3649 * 86_400), "{left:?}");
}

#[test]
fn bad_flags_are_refused_with_a_reason() {
    let sb = Sandbox::new();
    let err = fail_clap(sb.coffer(&["keygen", "--bits", "1024"], None));
    assert!(err.contains("2048, 3072 or 4096"), "{err}");
    let err = fail_clap(sb.coffer(&["keygen", "--validity", "forever"], None));
    assert!(err.contains("not a duration"), "{err}");
    let err = fail_clap(sb.coffer(&["keygen", "--out-key", "k"], None));
    assert!(err.contains("--out-cert"), "{err}");
    let _ = fail;
}

/// clap usage errors exit with 2.
fn fail_clap(out: std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_shows_examples() {
    let sb = Sandbox::new();
    let help = ok(sb.coffer(&["keygen", "--help"], None));
    assert!(
        help.contains("Examples:") && help.contains("--out-cert"),
        "{help}"
    );
}

#[test]
fn kubeseal_accepts_the_key_secret_and_the_certificate() {
    let sb = Sandbox::with_key();
    let Some(out) = sb.kubeseal(
        &["--cert", "cert.pem", "-o", "yaml"],
        Some(seal_harness::SECRET_YAML.as_bytes()),
    ) else {
        return;
    };
    let sealed = ok(out);
    let Some(out) = sb.kubeseal(
        &["--recovery-unseal", "--recovery-private-key", "key.yaml"],
        Some(sealed.as_bytes()),
    ) else {
        return;
    };
    let secret = &json_docs(&ok(out))[0];
    assert_eq!(
        b64(secret["data"]["password"].as_str().unwrap()),
        seal_harness::PASSWORD
    );
}
