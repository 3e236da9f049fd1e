//! The guards and every error: nothing encrypted or sealed reaches the
//! output, empty output is refused, the MAC is verified by default, an
//! error means no output at all, and no error or report contains a
//! decrypted byte.

mod common;

use coffer_gitops::{Error, MacPolicy, Options, Outcome, Violation};
use coffer_sops::{Format, MasterKey};
use common::*;

const PLAIN: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: guarded\nstringData:\n  password: guard-secret-value\n";
const SECRETS: &[&str] = &["guard-secret-value"];

fn encrypted(sb: &Sandbox) -> String {
    String::from_utf8(sb.sops_encrypt(
        "g.yaml",
        PLAIN.as_bytes(),
        &["--encrypted-regex", "^stringData$"],
    ))
    .unwrap()
}

#[test]
fn a_changed_document_fails_the_mac_check_by_default_and_the_message_explains_kustomize() {
    let sb = Sandbox::new();
    // What a kustomize namespace transformer does after encryption.
    let text = encrypted(&sb);
    let line = text.lines().find(|l| l.trim() == "name: guarded").unwrap();
    let indent = &line[..line.len() - "name: guarded".len()];
    let patched = text.replacen(line, &format!("{line}\n{indent}namespace: prod"), 1);
    let err = decryptor(Options::default())
        .decrypt_stream(patched.as_bytes(), "build")
        .unwrap_err();
    assert!(matches!(err, Error::MacMismatch { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("Secret prod/guarded (document 1 of build)") && text.contains("kustomize"),
        "{text}"
    );
    assert_no_plaintext(&format!("{text} {err:?}"), SECRETS);

    let warned = decryptor(Options {
        mac: MacPolicy::Warn,
        ..Options::default()
    })
    .decrypt_stream(patched.as_bytes(), "build")
    .unwrap();
    assert!(warned.documents[0].text().contains("guard-secret-value"));
    assert_eq!(warned.report.warnings.len(), 1);
    assert!(warned.report.warnings[0].message.contains("MAC"));
    assert_no_plaintext(&format!("{:?}", warned.report), SECRETS);

    let skipped = decryptor(Options {
        mac: MacPolicy::Skip,
        ..Options::default()
    })
    .decrypt_stream(patched.as_bytes(), "build")
    .unwrap();
    assert!(skipped.report.warnings.is_empty());
    assert!(matches!(
        skipped.report.documents[0].outcome,
        Outcome::Decrypted {
            mac: coffer_gitops::MacCheck::Skipped,
            ..
        }
    ));
}

#[test]
fn a_sops_block_without_a_mac_is_refused() {
    let sb = Sandbox::new();
    let text = encrypted(&sb);
    let mac_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("mac:"))
        .unwrap();
    let no_mac = text.replace(mac_line, "    mac: \"\"");
    let err = decryptor(Options::default())
        .decrypt_stream(no_mac.as_bytes(), "in")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Guard { violation: Violation::SopsBlock, object } if object.name.as_deref() == Some("guarded")),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("still carries a sops block"),
        "{err}"
    );
}

#[test]
fn encrypted_values_without_metadata_are_refused_and_located() {
    let sb = Sandbox::new();
    let text = encrypted(&sb);
    let enc = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .unwrap();
    let config =
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  copied: {enc}\n");
    let err = decryptor(Options::default())
        .decrypt_stream(config.as_bytes(), "in")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ConfigMap cm (document 1 of in): refusing to output it: the value at data.copied is still SOPS-encrypted (ENC[...])"
    );
}

#[test]
fn a_sealed_secret_without_its_key_is_refused_when_unsealed_output_is_required() {
    let sb = Sandbox::new();
    let sealed = sb.kubeseal(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: ns1}\nstringData: {a: sealed-guard}\n",
        &[],
    );
    let mut keyring = coffer_gitops::Keyring::new();
    keyring
        .add_sealing_keys(
            coffer_crypto::PrivateKey::generate(coffer_crypto::KeySize::Rsa2048)
                .unwrap()
                .to_pkcs1_pem()
                .unwrap()
                .as_bytes(),
            "other.pem",
        )
        .unwrap();
    let options = Options {
        require_unsealed: true,
        ..Options::default()
    };
    let err = coffer_gitops::Decryptor::with_options(keyring, options)
        .decrypt_stream(sealed.as_bytes(), "in")
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Guard {
                violation: Violation::Sealed,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("SealedSecret ns1/s"), "{err}");
}

#[test]
fn empty_output_is_refused_unless_allowed() {
    for input in ["", "---\n# nothing\n---\n", "null\n---\n{}\n"] {
        let err = decryptor(Options::default())
            .decrypt_stream(input.as_bytes(), "in")
            .unwrap_err();
        assert!(
            matches!(err, Error::EmptyOutput { .. }),
            "{input:?}: {err:?}"
        );
        assert!(err.to_string().contains("Argo CD"), "{err}");
        let allowed = decryptor(Options {
            allow_empty: true,
            ..Options::default()
        })
        .decrypt_stream(input.as_bytes(), "in")
        .unwrap();
        assert!(allowed.documents.is_empty());
        assert!(allowed.to_bytes().is_empty());
    }
}

#[test]
fn any_failing_document_means_no_output_and_every_failure_is_named() {
    let sb = Sandbox::new();
    let good = encrypted(&sb);
    let tampered = good.replacen(
        "password: ENC[AES256_GCM,data:",
        "password: ENC[AES256_GCM,data:AA",
        1,
    );
    let stream = format!(
        "{good}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\n{}---\n{}",
        tampered.replacen("name: guarded", "name: second", 1),
        tampered.replacen("name: guarded", "name: third", 1)
    );
    let err = decryptor(Options::default())
        .decrypt_stream(stream.as_bytes(), "in")
        .unwrap_err();
    let Error::Several(errors) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(errors.len(), 2);
    let text = err.to_string();
    assert!(text.contains("Secret second (document 3 of in)"), "{text}");
    assert!(text.contains("Secret third (document 4 of in)"), "{text}");
    assert_eq!(err.errors().len(), 2);
    // The good document's plaintext appears nowhere.
    assert_no_plaintext(&format!("{text} {err:?}"), SECRETS);
}

#[test]
fn a_missing_key_names_the_recipients_and_the_master_keys_coffer_cannot_use() {
    let sb = Sandbox::new();
    let text = encrypted(&sb);
    // Only a second identity: the error names the recipient it tried.
    let mut keyring = coffer_gitops::Keyring::new();
    keyring.add_age_identities(KEY2, "other").unwrap();
    let err = coffer_gitops::Decryptor::new(keyring)
        .decrypt_stream(text.as_bytes(), "in")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Secret guarded (document 1 of in)") && err.contains(RECIPIENT),
        "{err}"
    );

    // A file only PGP, KMS and Vault transit keys open.
    let (docs, mut meta) = coffer_sops::load_encrypted(text.as_bytes(), Format::Yaml).unwrap();
    let other = |kind: &str| MasterKey::Other {
        kind: kind.into(),
        fields: coffer_sops::Value::Null,
    };
    meta.key_groups = vec![vec![other("pgp"), other("kms"), other("hc_vault")]];
    let unusable = coffer_sops::emit_encrypted(&docs, &meta, Format::Yaml).unwrap();
    let err = decryptor(Options::default())
        .decrypt_stream(&unusable, "in")
        .unwrap_err()
        .to_string();
    for kind in ["pgp", "kms", "hc_vault"] {
        assert!(
            err.contains(&format!("key type {kind} is not supported")),
            "{err}"
        );
    }
    assert_no_plaintext(&err, SECRETS);
}

#[test]
fn unreadable_input_is_named_without_quoting_it() {
    let err = decryptor(Options::default())
        .decrypt_stream(
            b"kind: Secret\nstringData:\n  a: \"unterminated-secret\n  b: [",
            "in.yaml",
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("in.yaml is not valid YAML (document 1)"),
        "{err}"
    );
    assert_no_plaintext(&err, &["unterminated-secret"]);
}
