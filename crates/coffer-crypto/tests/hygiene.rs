//! Secrets never leak: no `Debug` or `Display` of a key, an opened value or
//! any error shows plaintext or private key material.

mod common;

use std::time::{Duration, SystemTime};

use coffer_crypto::{
    Certificate, Error, KeyOptions, KeyPair, KeySize, MAX_PLAINTEXT_LEN, MAX_SEALED_LEN,
    PrivateKey, PublicKey, Scope, decode_base64, seal, self_signed_certificate, unseal,
};
use common::{key_2048, other_key_2048};

const SECRET: &[u8] = b"TOP-SECRET-PLAINTEXT-7f3a9c";
const SECRET_STR: &str = "TOP-SECRET-PLAINTEXT-7f3a9c";

/// Strings that must never appear in any output: the plaintext, and every
/// line of the shared key's PEM bodies (PKCS#1 and PKCS#8).
fn forbidden() -> Vec<String> {
    let key = key_2048();
    let mut out = vec![SECRET_STR.to_owned(), hex(SECRET)];
    for pem in [key.to_pkcs1_pem().unwrap(), key.to_pkcs8_pem().unwrap()] {
        out.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 16)
                .map(str::to_owned),
        );
    }
    out.push(hex(&key.to_pkcs1_der().unwrap()[..64]));
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn assert_clean(what: &str, text: &str) {
    for secret in forbidden() {
        assert!(!text.contains(&secret), "{what} leaks {secret:?}: {text}");
    }
    // Debug of raw byte vectors would show the plaintext as numbers.
    let as_debug_bytes = format!("{:?}", &SECRET[..8]);
    let inner = &as_debug_bytes[1..as_debug_bytes.len() - 1];
    assert!(
        !text.contains(inner),
        "{what} leaks plaintext bytes: {text}"
    );
}

/// One error of every variant, each produced (where input can produce it)
/// from input that holds the secret or the private key.
fn errors_of_every_variant() -> Vec<Error> {
    let key = key_2048();
    let keys = std::slice::from_ref(key);
    let sealed = seal(key.public_key(), b"prod/db", SECRET).unwrap();
    let mut tampered = sealed.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let pkcs1 = key.to_pkcs1_pem().unwrap();
    let body: Vec<&str> = pkcs1.lines().filter(|l| !l.starts_with("-----")).collect();
    let mismatched_end = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END X-----\n",
        body.join("\n")
    );
    let truncated_key = {
        let der = key.to_pkcs1_der().unwrap();
        let pem = PrivateKey::from_pkcs1_der(&der[..der.len() / 2]);
        pem.unwrap_err()
    };
    let expired = self_signed_certificate(
        key,
        &KeyOptions {
            validity: Duration::from_secs(1),
            ..KeyOptions::default()
        },
    )
    .unwrap()
    .ensure_not_expired_at(SystemTime::now() + Duration::from_secs(60))
    .unwrap_err();
    let other_cert = self_signed_certificate(other_key_2048(), &KeyOptions::default()).unwrap();

    vec![
        decode_base64(&format!("{SECRET_STR}!!")).unwrap_err(),
        unseal(keys, b"", &SECRET[..1]).unwrap_err(),
        unseal(keys, b"", SECRET).unwrap_err(), // "TO" as a prefix points past the end
        unseal(keys, b"", &SECRET.repeat(MAX_SEALED_LEN / SECRET.len() + 1)).unwrap_err(),
        seal(
            key.public_key(),
            b"",
            &SECRET.repeat(MAX_PLAINTEXT_LEN / SECRET.len() + 1),
        )
        .unwrap_err(),
        unseal(keys, b"prod/other", &sealed).unwrap_err(),
        unseal(&[], b"prod/db", &sealed).unwrap_err(),
        unseal(keys, b"prod/db", &tampered).unwrap_err(),
        Error::BadSessionKey { len: 20 },
        Error::Random,
        Error::RsaEncrypt { bits: 2048 },
        Error::AesEncrypt,
        PrivateKey::from_pem(SECRET_STR).unwrap_err(),
        PrivateKey::from_pem(&mismatched_end).unwrap_err(),
        PrivateKey::from_pem(&pkcs1.replace("RSA PRIVATE KEY", "SECRET THING")).unwrap_err(),
        PrivateKey::from_pem(&pkcs1.replace("RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"))
            .unwrap_err(),
        truncated_key,
        PublicKey::from_spki_der(&key.to_pkcs8_der().unwrap()).unwrap_err(),
        KeySize::from_bits(1024).unwrap_err(),
        Error::KeyGeneration,
        Certificate::parse_pem_chain(&pkcs1.replace("RSA PRIVATE KEY", "CERTIFICATE")).unwrap_err(),
        expired,
        KeyPair::new(key.clone(), other_cert).unwrap_err(),
        self_signed_certificate(
            key,
            &KeyOptions {
                validity: Duration::MAX,
                ..KeyOptions::default()
            },
        )
        .unwrap_err(),
        "secretive".parse::<Scope>().unwrap_err(),
    ]
}

#[test]
fn no_error_variant_shows_plaintext_or_key_material() {
    let errors = errors_of_every_variant();
    let mut labels: Vec<&str> = errors.iter().map(Error::metric_label).collect();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(
        labels.len(),
        errors.len(),
        "one error per variant: {labels:?}"
    );
    for err in &errors {
        // This match has no wildcard: a new variant must be added above.
        match err {
            Error::NotBase64 { .. }
            | Error::TooShort { .. }
            | Error::LengthPrefixPastEnd { .. }
            | Error::TooLarge { .. }
            | Error::PlaintextTooLarge { .. }
            | Error::NoKeyOpened { .. }
            | Error::NoKeys
            | Error::Tampered { .. }
            | Error::BadSessionKey { .. }
            | Error::Random
            | Error::RsaEncrypt { .. }
            | Error::AesEncrypt
            | Error::NoPemBlock { .. }
            | Error::MalformedPem { .. }
            | Error::UnexpectedPemLabel { .. }
            | Error::EncryptedPrivateKey
            | Error::MalformedPrivateKey { .. }
            | Error::MalformedPublicKey { .. }
            | Error::UnsupportedKeySize { .. }
            | Error::KeyGeneration
            | Error::MalformedCertificate { .. }
            | Error::CertificateExpired { .. }
            | Error::KeyCertificateMismatch { .. }
            | Error::CertificateCreation { .. }
            | Error::InvalidScope(_) => {}
        }
        let display = err.to_string();
        assert_clean("error Display", &display);
        assert_clean("error Debug", &format!("{err:?}"));
        assert!(!display.is_empty());
        let first = display.chars().next().unwrap();
        assert!(!first.is_uppercase(), "messages are lowercase: {display}");
    }
}

#[test]
fn debug_of_keys_and_opened_values_hides_secrets() {
    let key = key_2048();
    let sealed = seal(key.public_key(), b"ns/name", SECRET).unwrap();
    let opened = unseal(std::slice::from_ref(key), b"ns/name", &sealed).unwrap();
    assert_eq!(opened.plaintext(), SECRET);
    let cert = self_signed_certificate(key, &KeyOptions::default()).unwrap();
    let pair = KeyPair::new(key.clone(), cert.clone()).unwrap();

    let debug_key = format!("{key:?}");
    assert!(
        debug_key.contains(&key.fingerprint().to_string()),
        "{debug_key}"
    );
    for (what, text) in [
        ("PrivateKey", debug_key),
        ("PublicKey", format!("{:?}", key.public_key())),
        ("KeyPair", format!("{pair:?}")),
        ("Certificate", format!("{cert:?}")),
        ("Unsealed", format!("{opened:?}")),
        ("Unsealed (pretty)", format!("{opened:#?}")),
    ] {
        assert_clean(what, &text);
    }
    assert!(format!("{opened:?}").contains("27 bytes redacted"));
}

#[test]
fn pem_output_is_zeroizing_and_still_readable() {
    // to_pkcs1_pem returns Zeroizing<String>: it derefs to the PEM text.
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let pem: zeroize::Zeroizing<String> = key.to_pkcs1_pem().unwrap();
    assert_eq!(
        PrivateKey::from_pem(&pem).unwrap().fingerprint(),
        key.fingerprint()
    );
}
