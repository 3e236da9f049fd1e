//! `decrypt_sources`: the files a kustomization refers to are decrypted in
//! place, recursively; nothing outside the root is read or written (symlinks
//! included), only regular files up to the size limit, remote and missing
//! references skipped.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use coffer_gitops::{Error, FileFormat, Options};
use common::*;

const SECRET: &[u8] =
    b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: res\nstringData:\n  a: resource-secret\n";
const PATCH: &[u8] =
    b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: res\nstringData:\n  b: patch-secret\n";
const BASE: &[u8] =
    b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base\ndata:\n  c: base-secret\n";
const ENV: &[u8] = b"USER=u\nPASS=env-file-secret\n";
const CREDS: &[u8] = b"{\"token\": \"binary-file-secret\"}";

fn tree(sb: &Sandbox) {
    let enc = |name: &str, plain: &[u8], args: &[&str]| {
        sb.sops_encrypt_to(name, plain, args);
    };
    enc(
        "secret.enc.yaml",
        SECRET,
        &["--encrypted-regex", "^stringData$"],
    );
    enc(
        "patch.enc.yaml",
        PATCH,
        &["--encrypted-regex", "^stringData$"],
    );
    enc(
        "base/configmap.enc.yaml",
        BASE,
        &["--encrypted-regex", "^data$"],
    );
    enc("app.enc.env", ENV, &[]);
    enc("creds.bin", CREDS, &["--input-type", "binary"]);
    sb.write(
        "base/kustomization.yaml",
        "resources:\n- configmap.enc.yaml\n",
    );
    sb.write(
        "plain.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\n",
    );
    sb.write(
        "kustomization.yaml",
        "resources:\n- secret.enc.yaml\n- base\n- plain.yaml\n- https://example.com/remote.yaml\n- missing.yaml\n\
         patches:\n- path: patch.enc.yaml\n- patch: |-\n    inline: patch\n\
         secretGenerator:\n- name: gen\n  files:\n  - creds.json=creds.bin\n  envs:\n  - app.enc.env\n",
    );
    sb.forget_plaintexts();
}

#[test]
fn the_files_a_kustomization_uses_are_decrypted_in_place() {
    let sb = Sandbox::new();
    tree(&sb);
    let plain_before = sb.read("plain.yaml");
    let report = decryptor(Options::default())
        .decrypt_sources(sb.dir.path())
        .unwrap();
    let resource = parse(&String::from_utf8(sb.read("secret.enc.yaml")).unwrap());
    assert_eq!(resource["stringData"]["a"], "resource-secret");
    assert!(resource.get("sops").is_none());
    let patch = parse(&String::from_utf8(sb.read("patch.enc.yaml")).unwrap());
    assert_eq!(patch["stringData"]["b"], "patch-secret");
    let base = parse(&String::from_utf8(sb.read("base/configmap.enc.yaml")).unwrap());
    assert_eq!(base["data"]["c"], "base-secret");
    assert_eq!(sb.read("app.enc.env"), ENV);
    // A binary envelope under a `.json` key: the file's own bytes.
    assert_eq!(sb.read("creds.bin"), CREDS);
    assert_eq!(sb.read("plain.yaml"), plain_before);
    let mode = std::fs::metadata(sb.path("app.enc.env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let mut paths: Vec<String> = report
        .decrypted
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "app.enc.env",
            "base/configmap.enc.yaml",
            "creds.bin",
            "patch.enc.yaml",
            "secret.enc.yaml"
        ]
    );
    let creds = report
        .decrypted
        .iter()
        .find(|f| f.path.ends_with("creds.bin"))
        .unwrap();
    assert_eq!(
        (creds.input, creds.output),
        (FileFormat::Binary, FileFormat::Binary)
    );
    let skipped: Vec<(&str, &str)> = report
        .skipped
        .iter()
        .map(|s| (s.reference.as_str(), s.reason))
        .collect();
    assert!(
        skipped.contains(&("https://example.com/remote.yaml", "remote")),
        "{skipped:?}"
    );
    assert!(
        skipped.contains(&("missing.yaml", "not found")),
        "{skipped:?}"
    );
    assert!(
        skipped.contains(&("plain.yaml", "not a SOPS document")),
        "{skipped:?}"
    );
    assert_no_plaintext(
        &format!("{report:?}"),
        &[
            "resource-secret",
            "patch-secret",
            "env-file-secret",
            "binary-file-secret",
        ],
    );

    // A second run finds nothing left to do.
    let again = decryptor(Options::default())
        .decrypt_sources(sb.dir.path())
        .unwrap();
    assert!(again.decrypted.is_empty());
}

#[test]
fn references_leaving_the_root_are_refused_symlinks_included() {
    let outside = Sandbox::new();
    let enc = outside.sops_encrypt_to("secret.yaml", SECRET, &[]);
    let sb = Sandbox::new();
    sb.write(
        "kustomization.yaml",
        "resources:\n- ../escape/secret.yaml\n",
    );
    let err = decryptor(Options::default())
        .decrypt_sources(sb.dir.path())
        .unwrap_err();
    assert!(matches!(&err, Error::Source { .. }), "{err:?}");
    assert!(
        err.to_string().contains("../escape/secret.yaml") && err.to_string().contains("leaves"),
        "{err}"
    );

    std::os::unix::fs::symlink(outside.path("secret.yaml"), sb.path("link.yaml")).unwrap();
    sb.write("kustomization.yaml", "patches:\n- path: link.yaml\n");
    let err = decryptor(Options::default())
        .decrypt_sources(sb.dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("link.yaml") && err.contains("leaves"), "{err}");
    // Nothing was written outside.
    assert_eq!(outside.read("secret.yaml"), enc);
}

#[test]
fn only_regular_files_within_the_size_limit_are_read() {
    let sb = Sandbox::new();
    let enc = sb.sops_encrypt_to("big.yaml", SECRET, &[]);
    sb.write("kustomization.yaml", "patches:\n- path: big.yaml\n");
    let small = Options {
        max_source_file_bytes: 100,
        ..Options::default()
    };
    let err = decryptor(small)
        .decrypt_sources(sb.dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("big.yaml") && err.contains("larger than 100 bytes"),
        "{err}"
    );
    assert_eq!(sb.read("big.yaml"), enc);

    std::fs::create_dir(sb.path("adir")).unwrap();
    sb.write(
        "kustomization.yaml",
        "secretGenerator:\n- name: g\n  files:\n  - adir\n",
    );
    let err = decryptor(Options::default())
        .decrypt_sources(sb.dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("adir") && err.contains("not a regular file"),
        "{err}"
    );
}

#[test]
fn a_root_without_a_kustomization_is_an_error() {
    let sb = Sandbox::new();
    let err = decryptor(Options::default())
        .decrypt_sources(sb.dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no kustomization file"), "{err}");
}
