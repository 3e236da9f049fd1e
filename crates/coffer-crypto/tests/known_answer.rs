//! Values sealed by an independent implementation of Bitnami's format
//! (Python `cryptography`, `tests/known-answer/make_sealed_vectors.py`) open
//! here, each only under its own scope label. The vectors are committed in
//! `tests/data/sealed_vectors.json`; no Python is needed to run this test.

use coffer_crypto::{Certificate, Error, KeyPair, PrivateKey, Scope, unseal_base64};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    private_key_pem: String,
    certificate_pem: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    form: String,
    scope: String,
    namespace: String,
    name: String,
    plaintext: String,
    sealed: String,
}

fn vectors() -> Vectors {
    let text = include_str!("data/sealed_vectors.json");
    serde_json::from_str(text).expect("tests/data/sealed_vectors.json parses")
}

fn key(v: &Vectors) -> PrivateKey {
    PrivateKey::from_pem(&v.private_key_pem).expect("vector key (PKCS#1) reads")
}

#[test]
fn vectors_cover_every_scope_and_the_whole_secret_form() {
    let v = vectors();
    for scope in Scope::ALL {
        assert!(v.cases.iter().any(|c| c.scope == scope.as_str()), "{scope}");
    }
    assert!(v.cases.iter().any(|c| c.form == "whole-secret"));
}

#[test]
fn values_sealed_by_python_cryptography_open_under_their_scope() {
    let v = vectors();
    let keys = [key(&v)];
    for case in &v.cases {
        let scope: Scope = case.scope.parse().unwrap();
        let label = scope.label(&case.namespace, &case.name);
        let opened = match case.form.as_str() {
            "value" => unseal_base64(&keys, label.as_bytes(), &case.sealed),
            "whole-secret" => coffer_crypto::decode_base64(&case.sealed).and_then(|data| {
                coffer_crypto::unseal_whole_secret(&keys, label.as_bytes(), &data)
            }),
            other => panic!("unknown form {other}"),
        };
        let opened = opened.unwrap_or_else(|e| panic!("{} {label:?}: {e}", case.scope));
        assert_eq!(
            opened.plaintext(),
            case.plaintext.as_bytes(),
            "{} {label:?}",
            case.scope
        );
        assert_eq!(opened.key_fingerprint(), keys[0].fingerprint());
    }
}

#[test]
fn python_sealed_values_do_not_open_under_another_scope() {
    let v = vectors();
    let keys = [key(&v)];
    for case in &v.cases {
        let sealed_scope: Scope = case.scope.parse().unwrap();
        let sealed_label = sealed_scope.label(&case.namespace, &case.name);
        for scope in Scope::ALL {
            let label = scope.label(&case.namespace, &case.name);
            if label == sealed_label {
                continue;
            }
            let err = unseal_base64(&keys, label.as_bytes(), &case.sealed).unwrap_err();
            assert!(matches!(err, Error::NoKeyOpened { .. }), "{scope}: {err}");
        }
    }
}

#[test]
fn python_key_and_certificate_pair_up_with_one_fingerprint() {
    let v = vectors();
    let cert = Certificate::from_pem(&v.certificate_pem).unwrap();
    let pair = KeyPair::from_pem(&v.private_key_pem, &v.certificate_pem).unwrap();
    assert_eq!(pair.fingerprint(), cert.fingerprint());
    assert_eq!(cert.common_name(), Some("known-answer"));
    // The key re-encodes to the same PKCS#1 DER that Python wrote.
    let again = PrivateKey::from_pem(&pair.private_key().to_pkcs1_pem().unwrap()).unwrap();
    assert_eq!(again.fingerprint(), pair.fingerprint());
    assert_eq!(
        pair.private_key().to_pkcs1_pem().unwrap().as_str(),
        v.private_key_pem,
        "PKCS#1 PEM written by us is byte-identical to Python's"
    );
}
