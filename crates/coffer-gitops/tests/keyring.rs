//! Keyrings from every source: age identity files and the SOPS
//! environment, a Flux decryption Secret (unused entries named in
//! warnings), Bitnami key Secrets and Lists of them as kubectl dumps them,
//! PEM files; errors and warnings never carry key material.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coffer_gitops::{Decryptor, Keyring, Options};
use common::*;

fn flux_secret(entries: &[(&str, &str)]) -> String {
    let data: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), STANDARD.encode(v).into()))
        .collect();
    serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "sops-age", "namespace": "flux-system"},
        "data": data,
    })
    .to_string()
}

#[test]
fn a_flux_decryption_secret_gives_its_agekey_entries_and_names_every_other_entry() {
    let manifest = flux_secret(&[
        ("identity.agekey", &format!("# a comment\n{KEY}\n")),
        ("team.asc", "-----BEGIN PGP PRIVATE KEY BLOCK-----\nx\n"),
        ("sops.vault-token", "hvs.vault-token-value"),
        ("notes.txt", "whatever"),
    ]);
    let mut keyring = Keyring::new();
    assert_eq!(
        keyring
            .add_keyring_manifest(manifest.as_bytes(), "sops-age.yaml")
            .unwrap(),
        1
    );
    assert_eq!(keyring.age_identities(), 1);
    let warnings = keyring.warnings().join("\n");
    for entry in ["team.asc", "sops.vault-token", "notes.txt"] {
        assert!(warnings.contains(entry), "{warnings}");
    }
    assert!(
        warnings.contains("PGP") && warnings.contains("Vault transit"),
        "{warnings}"
    );
    assert_no_plaintext(&warnings, &["hvs.vault-token-value", KEY]);

    // The identity from the Secret opens documents.
    let sb = Sandbox::new();
    let enc = sb.sops_encrypt("s.env", b"A=flux-secret-value\n", &[]);
    let out = Decryptor::new(keyring)
        .decrypt_file(&enc, "s.env")
        .unwrap()
        .unwrap();
    assert_eq!(&out.plaintext[..], b"A=flux-secret-value\n");
}

#[test]
fn a_flux_secret_without_an_age_entry_is_an_error_naming_its_entries() {
    let manifest = flux_secret(&[("sops.asc", "pgp"), ("sops.aws-kms", "creds")]);
    let err = Keyring::new()
        .add_keyring_manifest(manifest.as_bytes(), "f.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Secret flux-system/sops-age in f.yaml")
            && err.contains(".agekey")
            && err.contains("sops.asc, sops.aws-kms"),
        "{err}"
    );
}

#[test]
fn bitnami_key_secrets_load_alone_or_as_the_list_kubectl_prints() {
    let one = sealing_key_secret_yaml("sealed-secrets-keyabc");
    let other = coffer_crypto::KeyPair::generate(&coffer_crypto::KeyOptions {
        size: coffer_crypto::KeySize::Rsa2048,
        ..coffer_crypto::KeyOptions::default()
    })
    .unwrap();
    let other_secret = coffer_sealed::key_secret::build(&other, Default::default()).unwrap();
    let mut other_json = serde_json::to_value(&*other_secret).unwrap();
    other_json["apiVersion"] = "v1".into();
    other_json["kind"] = "Secret".into();
    let list = serde_json::json!({
        "apiVersion": "v1", "kind": "List",
        "items": [serde_json::from_str::<serde_json::Value>(&one).unwrap(), other_json],
    });
    // As YAML, the way kubectl prints it.
    let yaml = json_to_yaml(&list);
    let mut keyring = Keyring::new();
    assert_eq!(
        keyring
            .add_sealing_keys(yaml.as_bytes(), "backup.yaml")
            .unwrap(),
        2
    );
    assert_eq!(
        keyring.sealing_keys()[0].fingerprint(),
        sealing_key().fingerprint()
    );
    // The same keys again add nothing; the manifest form is recognised too.
    assert_eq!(
        keyring
            .add_keyring_manifest(list.to_string().as_bytes(), "backup.json")
            .unwrap(),
        0
    );
    assert_eq!(keyring.sealing_keys().len(), 2);

    // And a PEM file.
    let sb = Sandbox::new();
    let pem = sb.write(
        "key.pem",
        other.private_key().to_pkcs1_pem().unwrap().as_bytes(),
    );
    let mut from_pem = Keyring::new();
    assert_eq!(from_pem.add_sealing_key_file(&pem).unwrap(), 1);
}

fn json_to_yaml(value: &serde_json::Value) -> String {
    serde_saphyr::to_string(value).unwrap()
}

#[test]
fn age_identity_files_and_the_sops_environment_are_read_as_coffer_sops_reads_them() {
    let mut keyring = Keyring::new();
    assert_eq!(keyring.add_age_identity_file(&age_key_file()).unwrap(), 1);
    let sb = Sandbox::new();
    let second = sb.write("second.txt", format!("{KEY2}\n"));
    let env = move |name: &str| match name {
        "SOPS_AGE_KEY_FILE" => Some(second.display().to_string()),
        "SOPS_AGE_KEY" => Some(KEY.to_owned()),
        _ => None,
    };
    assert_eq!(keyring.add_sops_environment_from(&env), 2);
    assert_eq!(keyring.age_identities(), 3);
    // A document encrypted to the second key opens.
    let enc = {
        sb.write("p.env", b"B=env-keyring-secret\n");
        let out = std::process::Command::new(tools_dir().join("sops"))
            .current_dir(sb.dir.path())
            .env_clear()
            .env("HOME", sb.dir.path())
            .args(["encrypt", "--age", RECIPIENT2, "p.env"])
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };
    let file = Decryptor::new(keyring)
        .decrypt_file(&enc, "p.env")
        .unwrap()
        .unwrap();
    assert_eq!(file.recipients, [RECIPIENT2]);
}

#[test]
fn keyring_errors_never_contain_key_material() {
    let broken = "AGE-SECRET-KEY-1NOTAVALIDKEYBUTSECRETLOOKINGMATERIAL";
    let err = Keyring::new()
        .add_age_identities(broken, "keys.txt")
        .unwrap_err()
        .to_string();
    assert!(err.contains("keys.txt"), "{err}");
    assert!(!err.contains("NOTAVALIDKEY"), "{err}");

    let pem = sealing_key().private_key().to_pkcs1_pem().unwrap();
    let truncated: String = pem.lines().take(5).collect::<Vec<_>>().join("\n");
    let err = Keyring::new()
        .add_sealing_keys(truncated.as_bytes(), "cut.pem")
        .unwrap_err()
        .to_string();
    assert!(err.contains("cut.pem"), "{err}");
    let body = pem.lines().nth(2).unwrap();
    assert!(!err.contains(body), "{err}");
    let debug = format!("{:?}", keyring());
    assert!(!debug.contains(body) && !debug.contains(KEY), "{debug}");
}

#[test]
fn an_empty_keyring_still_passes_plain_manifests_through() {
    let out = Decryptor::with_options(Keyring::new(), Options::default())
        .decrypt_stream(
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
            "in",
        )
        .unwrap();
    assert_eq!(out.documents.len(), 1);
}
