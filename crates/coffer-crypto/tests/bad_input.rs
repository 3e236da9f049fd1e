//! Bad input gets a typed error that says what is wrong, never a panic.

mod common;

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coffer_crypto::{
    Certificate, Error, KeyOptions, KeySize, MAX_PLAINTEXT_LEN, MAX_SEALED_LEN, seal,
    self_signed_certificate, unseal, unseal_base64,
};
use common::key_2048;

fn keys() -> &'static [coffer_crypto::PrivateKey] {
    std::slice::from_ref(key_2048())
}

#[test]
fn unseal_rejects_text_that_is_not_base64() {
    let err = unseal_base64(keys(), b"", "not base64!").unwrap_err();
    assert!(matches!(err, Error::NotBase64 { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "sealed value is not valid base64: invalid character at offset 3"
    );
    let err = unseal_base64(keys(), b"", "AAA=").unwrap_err();
    assert!(
        matches!(err, Error::TooShort { len: 2, .. }),
        "valid base64, but short: {err:?}"
    );
}

#[test]
fn unseal_rejects_values_too_short_to_hold_a_prefix_or_tag() {
    let err = unseal(keys(), b"", &[0x01]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sealed value is too short: 1 bytes, but at least 18 are needed"
    );
    let err = unseal(keys(), b"", &[0x00, 0x00, 1, 2, 3]).unwrap_err();
    assert!(
        matches!(err, Error::TooShort { len: 5, min: 18 }),
        "{err:?}"
    );
}

#[test]
fn unseal_rejects_a_length_prefix_past_the_end() {
    let sealed = seal(key_2048().public_key(), b"", b"v").unwrap();
    let truncated = &sealed[..100];
    let err = unseal(keys(), b"", truncated).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sealed value is truncated or corrupt: its length prefix announces a 256-byte rsa block \
         but only 98 bytes follow"
    );
}

#[test]
fn unseal_rejects_a_tampered_ciphertext_or_tag() {
    let sealed = seal(key_2048().public_key(), b"prod/db", b"attack at dawn").unwrap();
    for index in [2 + 256, sealed.len() - 1] {
        let mut tampered = sealed.clone();
        tampered[index] ^= 0x01;
        let err = unseal(keys(), b"prod/db", &tampered).unwrap_err();
        assert!(
            matches!(err, Error::Tampered { key_index: 0, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("sealed value was tampered with or corrupted")
        );
    }
}

#[test]
fn unseal_rejects_a_tampered_rsa_block_as_unopenable() {
    let mut sealed = seal(key_2048().public_key(), b"prod/db", b"v").unwrap();
    sealed[10] ^= 0x80;
    let err = unseal(keys(), b"prod/db", &sealed).unwrap_err();
    assert!(matches!(err, Error::NoKeyOpened { .. }), "{err:?}");
}

#[test]
fn unseal_rejects_values_over_one_mebibyte() {
    let huge = vec![0u8; MAX_SEALED_LEN + 1];
    let err = unseal(keys(), b"", &huge).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    let text = STANDARD.encode(&huge);
    let err = unseal_base64(keys(), b"", &text).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
}

#[test]
fn seal_rejects_plaintext_over_one_mebibyte_and_accepts_exactly_one() {
    let public = key_2048().public_key();
    let err = seal(public, b"", &vec![0u8; MAX_PLAINTEXT_LEN + 1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "value to seal is too large: 1048577 bytes, the limit is 1048576 bytes (1 MiB)"
    );
    let sealed = seal(public, b"", &vec![7u8; MAX_PLAINTEXT_LEN]).unwrap();
    assert_eq!(
        unseal(keys(), b"", &sealed).unwrap().plaintext().len(),
        MAX_PLAINTEXT_LEN
    );
}

#[test]
fn session_key_of_an_unusable_length_is_reported() {
    use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
    let public = PublicEncryptingKey::from_der(key_2048().public_key().to_spki_der()).unwrap();
    let oaep = OaepPublicEncryptingKey::new(public).unwrap();
    let mut block = vec![0u8; oaep.ciphertext_size()];
    oaep.encrypt(&OAEP_SHA256_MGF1SHA256, &[1u8; 20], &mut block, Some(b"l"))
        .unwrap();
    let mut sealed = 256u16.to_be_bytes().to_vec();
    sealed.extend_from_slice(&block);
    sealed.extend_from_slice(&[0u8; 16]);
    let err = unseal(keys(), b"l", &sealed).unwrap_err();
    assert!(matches!(err, Error::BadSessionKey { len: 20 }), "{err:?}");
}

#[test]
fn expired_certificate_is_refused_with_its_expiry_date() {
    let options = KeyOptions {
        size: KeySize::Rsa2048,
        common_name: String::new(),
        validity: Duration::from_secs(60),
    };
    let cert = self_signed_certificate(key_2048(), &options).unwrap();
    assert!(cert.ensure_not_expired_at(SystemTime::now()).is_ok());
    let later = SystemTime::now() + Duration::from_secs(3600);
    let err = cert.ensure_not_expired_at(later).unwrap_err();
    assert!(matches!(err, Error::CertificateExpired { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("the certificate (public key "),
        "{message}"
    );
    assert!(message.contains(" expired at 20"), "{message}");
    assert!(
        message.ends_with("fetch the controller's current certificate"),
        "{message}"
    );
}

#[test]
fn certificate_from_pem_reads_the_first_of_several() {
    let first = self_signed_certificate(key_2048(), &KeyOptions::default()).unwrap();
    let other = self_signed_certificate(common::other_key_2048(), &KeyOptions::default()).unwrap();
    let chain = format!("{}{}", first.to_pem(), other.to_pem());
    assert_eq!(Certificate::parse_pem_chain(&chain).unwrap().len(), 2);
    assert_eq!(
        Certificate::from_pem(&chain).unwrap().fingerprint(),
        first.fingerprint()
    );
}

#[test]
fn generated_certificate_is_too_long_lived_for_an_absurd_validity() {
    let options = KeyOptions {
        validity: Duration::MAX,
        ..KeyOptions::default()
    };
    let err = self_signed_certificate(key_2048(), &options).unwrap_err();
    assert!(matches!(err, Error::CertificateCreation { .. }), "{err:?}");
}
