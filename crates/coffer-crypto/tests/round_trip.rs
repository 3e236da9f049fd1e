//! Sealing then unsealing gives the plaintext back, for every scope and key
//! size, and unseal says which key opened the value.

mod common;

use coffer_crypto::{Error, KeySize, PrivateKey, Scope, seal, seal_base64, unseal, unseal_base64};
use common::{key_2048, key_3072, key_pair_4096, other_key_2048};

fn keys_of_every_size() -> Vec<&'static PrivateKey> {
    vec![key_2048(), key_3072(), key_pair_4096().private_key()]
}

#[test]
fn round_trip_for_every_scope_and_key_size() {
    for key in keys_of_every_size() {
        for scope in Scope::ALL {
            let label = scope.label("prod", "db");
            let sealed = seal_base64(key.public_key(), label.as_bytes(), b"s3cret").unwrap();
            let opened =
                unseal_base64(std::slice::from_ref(key), label.as_bytes(), &sealed).unwrap();
            assert_eq!(
                opened.plaintext(),
                b"s3cret",
                "{scope} with {} bits",
                key.bits()
            );
            assert_eq!(opened.key_index(), 0);
            assert_eq!(opened.key_fingerprint(), key.fingerprint());
        }
    }
}

#[test]
fn generated_key_sizes_are_as_asked() {
    assert_eq!(key_2048().bits(), 2048);
    assert_eq!(key_3072().bits(), 3072);
    assert_eq!(
        key_pair_4096().private_key().bits(),
        KeySize::default().bits()
    );
}

#[test]
fn empty_and_binary_plaintexts_round_trip() {
    let key = key_2048();
    let binary: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    for plaintext in [&b""[..], &binary] {
        let sealed = seal(key.public_key(), b"ns", plaintext).unwrap();
        let opened = unseal(std::slice::from_ref(key), b"ns", &sealed).unwrap();
        assert_eq!(opened.plaintext(), plaintext);
    }
}

#[test]
fn unseal_tries_every_key_and_reports_which_one_opened() {
    let newest = other_key_2048();
    let older = key_2048();
    let keys = [newest.clone(), older.clone()];
    let sealed = seal(older.public_key(), b"prod/db", b"v").unwrap();
    let opened = unseal(&keys, b"prod/db", &sealed).unwrap();
    assert_eq!(opened.key_index(), 1);
    assert_eq!(opened.key_fingerprint(), older.fingerprint());

    let sealed = seal(newest.public_key(), b"prod/db", b"v").unwrap();
    assert_eq!(unseal(&keys, b"prod/db", &sealed).unwrap().key_index(), 0);
}

#[test]
fn unseal_skips_keys_of_another_size() {
    let keys = [key_pair_4096().private_key().clone(), key_2048().clone()];
    let sealed = seal(key_2048().public_key(), b"", b"v").unwrap();
    assert_eq!(unseal(&keys, b"", &sealed).unwrap().key_index(), 1);
}

#[test]
fn unseal_with_no_keys_says_so() {
    let sealed = seal(key_2048().public_key(), b"", b"v").unwrap();
    let err = unseal(&[], b"", &sealed).unwrap_err();
    assert!(matches!(err, Error::NoKeys), "{err}");
}

#[test]
fn key_pair_certificate_seals_values_its_private_key_opens() {
    let pair = key_pair_4096();
    let cert = coffer_crypto::Certificate::from_pem(&pair.certificate().to_pem()).unwrap();
    let label = Scope::NamespaceWide.label("team-a", "ignored");
    let sealed = seal(cert.public_key(), label.as_bytes(), b"hello").unwrap();
    let opened = unseal(
        std::slice::from_ref(pair.private_key()),
        label.as_bytes(),
        &sealed,
    );
    assert_eq!(opened.unwrap().plaintext(), b"hello");
}

#[test]
fn whole_secret_form_opens_to_the_sealed_json() {
    let key = key_2048();
    let json = br#"{"apiVersion":"v1","kind":"Secret","data":{"a":"Yg=="}}"#;
    let sealed = seal(key.public_key(), b"prod/legacy", json).unwrap();
    let opened =
        coffer_crypto::unseal_whole_secret(std::slice::from_ref(key), b"prod/legacy", &sealed);
    assert_eq!(opened.unwrap().plaintext(), json);
}
