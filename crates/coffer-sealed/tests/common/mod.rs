//! Shared fixtures: keys are slow to generate, so each test binary makes
//! two once.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use coffer_crypto::{KeySize, PrivateKey};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(KeySize::Rsa2048).expect("generate key"))
}

pub fn other_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(KeySize::Rsa2048).expect("generate key"))
}

/// Re-reads a key through its PEM, giving an owned copy of the shared one.
pub fn owned(key: &PrivateKey) -> PrivateKey {
    PrivateKey::from_pem(&key.to_pkcs1_pem().expect("pem")).expect("parse pem")
}

pub fn secret(namespace: &str, name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}

pub fn data_of(secret: &Secret) -> BTreeMap<String, String> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8(v.0.clone()).expect("utf-8")))
        .collect()
}
