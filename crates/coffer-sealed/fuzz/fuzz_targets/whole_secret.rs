//! Fuzzes the deprecated whole-Secret form of a SealedSecret (`spec.data`):
//! one sealed blob holding a Secret as JSON. The public key is public, so
//! anyone can seal any bytes there; the JSON inside is untrusted input.
//!
//! Arbitrary non-empty `spec.data` text never opens. Sealed plaintext (with each `@`
//! standing for a secret canary) opens when it is a Secret's JSON, always
//! as a Secret named after the SealedSecret, and `verify` agrees that it
//! opens; when it is not, the error never carries the canary, nor does the
//! `Debug` of what opened unless the canary is a key or the type.
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use coffer_api::{SealedSecret, SealedSecretSpec};
use coffer_crypto::{KeySize, PrivateKey, Scope, seal};
use k8s_openapi::api::core::v1::Secret;
use libfuzzer_sys::fuzz_target;

const CANARY: &str = "CANARY-s3cr3t-9f4e";

fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(KeySize::Rsa2048).expect("generate key"))
}

fn sealed_secret(data: String) -> SealedSecret {
    let spec = SealedSecretSpec {
        data: Some(data),
        ..SealedSecretSpec::default()
    };
    let mut sealed = SealedSecret::new("app", spec);
    sealed.metadata.namespace = Some("team".into());
    sealed
}

fuzz_target!(|data: &[u8]| {
    let keys = std::slice::from_ref(key());
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        // Arbitrary text as `spec.data` (empty is taken as absent: nothing
        // to open).
        if let Ok(text) = std::str::from_utf8(rest)
            && !text.is_empty()
        {
            let sealed = sealed_secret(text.to_owned());
            assert!(coffer_sealed::unseal(&sealed, keys).is_err());
            assert!(coffer_sealed::verify(&sealed, keys).is_err());
        }
        return;
    }
    let plaintext: Vec<u8> = rest
        .iter()
        .flat_map(|&b| {
            if b == b'@' {
                CANARY.as_bytes().to_vec()
            } else {
                vec![b]
            }
        })
        .collect();
    let label = Scope::Strict.label("team", "app");
    let Ok(blob) = seal(key().public_key(), label.as_bytes(), &plaintext) else {
        return; // too large to seal
    };
    let sealed = sealed_secret(base64::engine::general_purpose::STANDARD.encode(blob));
    assert_eq!(
        coffer_sealed::verify(&sealed, keys)
            .expect("verify opens what was sealed")
            .len(),
        1
    );
    let is_secret = serde_json::from_slice::<Secret>(&plaintext).is_ok();
    match coffer_sealed::unseal(&sealed, keys) {
        Ok(unsealed) => {
            assert!(is_secret, "opened a blob that is not a Secret's JSON");
            let secret = &unsealed.secret;
            assert_eq!(secret.metadata.name.as_deref(), Some("app"));
            assert_eq!(secret.metadata.namespace.as_deref(), Some("team"));
            assert!(
                secret.string_data.is_none(),
                "stringData is folded into data"
            );
            let shown = secret
                .data
                .iter()
                .flatten()
                .any(|(k, _)| k.contains(CANARY))
                || secret.type_.as_deref().is_some_and(|t| t.contains(CANARY));
            if !shown {
                assert!(!format!("{unsealed:?}").contains(CANARY), "{unsealed:?}");
            }
        }
        Err(e) => {
            assert!(!is_secret, "a Secret's JSON did not open: {e}");
            assert!(!e.to_string().contains(CANARY), "{e}");
            assert!(!format!("{e:?}").contains(CANARY), "{e:?}");
        }
    }
});
