//! `coffer reseal`: offline re-encryption of every SealedSecret in files and
//! directories, other documents untouched, failures reported per file.

mod seal_harness;

use seal_harness::{PASSWORD, SECRET_YAML, Sandbox, b64, json_docs, ok};

/// A sandbox with the old key (key.pem, cert.pem) and a new one
/// (new-key.pem, new-cert.pem).
fn rotated() -> Sandbox {
    let sb = Sandbox::with_key();
    let new = Sandbox::with_key();
    sb.write("new-cert.pem", new.read("cert.pem"));
    sb.write("new-key.pem", new.read("key.pem"));
    sb
}

fn seal_to(sb: &Sandbox, file: &str, extra: &[&str]) {
    sb.write("secret.yaml", SECRET_YAML);
    let mut args = vec![
        "seal",
        "--cert",
        "cert.pem",
        "-f",
        "secret.yaml",
        "-w",
        file,
    ];
    args.extend_from_slice(extra);
    ok(sb.coffer(&args, None));
}

fn password_with(sb: &Sandbox, key: &str, file: &str) -> Option<String> {
    let out = sb.coffer(
        &[
            "seal",
            "--recovery-unseal",
            "--recovery-private-key",
            key,
            "-f",
            file,
        ],
        None,
    );
    out.status.success().then(|| {
        let secret = &json_docs(&String::from_utf8(out.stdout).unwrap())[0];
        b64(secret["data"]["password"].as_str().unwrap())
    })
}

const RESEAL: [&str; 5] = [
    "reseal",
    "--recovery-private-key",
    "key.pem",
    "--cert",
    "new-cert.pem",
];

#[test]
fn reseal_rewrites_sealed_secrets_in_a_directory_and_keeps_other_documents() {
    let sb = rotated();
    std::fs::create_dir_all(sb.path("deploy/nested")).unwrap();
    seal_to(&sb, "deploy/nested/db.json", &[]);
    seal_to(&sb, "sealed.yaml", &[]);
    let config_map = "# the app's settings\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {mode: fast}\n";
    let mixed = format!("{config_map}{}", sb.read("sealed.yaml"));
    sb.write("deploy/app.yaml", &mixed);
    sb.write("deploy/notes.txt", "kind: SealedSecret (not a manifest)");

    let mut args = RESEAL.to_vec();
    args.push("deploy");
    ok(sb.coffer(&args, None));

    let app = sb.read("deploy/app.yaml");
    assert!(
        app.starts_with(config_map),
        "other documents keep their exact text:\n{app}"
    );
    sb.write("app-sealed.yaml", &app[config_map.len()..]);
    for file in ["deploy/nested/db.json", "app-sealed.yaml"] {
        assert_eq!(
            password_with(&sb, "key.pem", file),
            None,
            "{file}: old key no longer opens"
        );
        assert_eq!(
            password_with(&sb, "new-key.pem", file).as_deref(),
            Some(PASSWORD),
            "{file}"
        );
    }
    assert_eq!(
        sb.read("deploy/notes.txt"),
        "kind: SealedSecret (not a manifest)"
    );
}

#[test]
fn one_bad_file_is_reported_and_the_rest_still_done() {
    let sb = rotated();
    seal_to(&sb, "good.yaml", &[]);
    // Sealed to another key: the recovery key cannot open it.
    let stranger = Sandbox::with_key();
    sb.write("cert-other.pem", stranger.read("cert.pem"));
    ok(sb.coffer(
        &[
            "seal",
            "--cert",
            "cert-other.pem",
            "-f",
            "secret.yaml",
            "-w",
            "bad.yaml",
        ],
        None,
    ));
    let bad_before = sb.read("bad.yaml");

    let mut args = RESEAL.to_vec();
    args.extend(["bad.yaml", "good.yaml"]);
    let out = sb.coffer(&args, None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml") && err.contains("1 file(s) failed"),
        "{err}"
    );
    assert!(!err.contains(PASSWORD));
    assert_eq!(
        sb.read("bad.yaml"),
        bad_before,
        "a failed file is untouched"
    );
    assert_eq!(
        password_with(&sb, "new-key.pem", "good.yaml").as_deref(),
        Some(PASSWORD)
    );
}

#[test]
fn reseal_keeps_the_scope() {
    let sb = rotated();
    seal_to(&sb, "cw.yaml", &["--scope", "cluster-wide"]);
    let mut args = RESEAL.to_vec();
    args.push("cw.yaml");
    ok(sb.coffer(&args, None));
    let text = sb.read("cw.yaml");
    assert!(
        text.contains("sealedsecrets.bitnami.com/cluster-wide"),
        "{text}"
    );
    assert_eq!(
        password_with(&sb, "new-key.pem", "cw.yaml").as_deref(),
        Some(PASSWORD)
    );
}
