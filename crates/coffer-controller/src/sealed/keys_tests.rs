//! Unit tests of the key registry: order, dedup, unusable key Secrets.
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::sealed::key_settings::{KeyOrder, KeySettings};

fn registry() -> KeyRegistry {
    registry_ordered_by(KeyOrder::SecretCreationTimestamp)
}

fn registry_ordered_by(order: KeyOrder) -> KeyRegistry {
    KeyRegistry {
        namespace: "kube-system".into(),
        settings: KeySettings {
            order,
            ..KeySettings::default()
        },
        snapshot: RwLock::default(),
        changed: watch::channel(0).0,
    }
}

fn key_secret(name: &str, created_secs: i64, pair: &KeyPair) -> Secret {
    let metadata = ObjectMeta {
        name: Some(name.into()),
        creation_timestamp: Some(Time(Timestamp::from_second(created_secs).unwrap())),
        ..ObjectMeta::default()
    };
    key_secret::build(pair, metadata).unwrap().into_secret()
}

fn pair() -> KeyPair {
    KeyPair::generate(&KeyOptions {
        size: KeySize::Rsa2048,
        ..KeyOptions::default()
    })
    .unwrap()
}

#[test]
fn keys_are_ordered_newest_first_whatever_the_load_order() {
    let (old, new) = (pair(), pair());
    let registry = registry();
    let version = registry.version();
    assert!(registry.insert(&key_secret("new", 2_000, &new)).unwrap());
    assert!(registry.insert(&key_secret("old", 1_000, &old)).unwrap());
    let names: Vec<String> = registry.keys().iter().map(|k| k.name.clone()).collect();
    assert_eq!(names, ["new", "old"]);
    assert_eq!(registry.newest().unwrap().name, "new");
    assert_eq!(registry.private_keys()[0].fingerprint(), new.fingerprint());
    assert!(registry.version() > version, "subscribers are told");

    // The same key under another Secret name is not loaded twice.
    assert!(!registry.insert(&key_secret("copy", 3_000, &new)).unwrap());
    assert_eq!(registry.keys().len(), 2);
}

#[test]
fn unusable_key_secret_is_refused_naming_it_without_key_material() {
    let registry = registry();
    let mut secret = key_secret("broken", 1, &pair());
    let pem = secret.data.as_mut().unwrap().remove("tls.key").unwrap();
    let err = registry.insert(&secret).unwrap_err().to_string();
    assert!(
        err.contains("kube-system/broken") && err.contains("tls.key"),
        "{err}"
    );

    // A certificate of another key.
    let mut mismatched = key_secret("mismatched", 1, &pair());
    mismatched
        .data
        .as_mut()
        .unwrap()
        .insert("tls.key".into(), pem.clone());
    let err = registry.insert(&mismatched).unwrap_err().to_string();
    assert!(err.contains("kube-system/mismatched"), "{err}");
    let pem_text = String::from_utf8(pem.0).unwrap();
    let body_line = pem_text.lines().nth(1).unwrap();
    assert!(!err.contains(body_line), "no key material in errors");
    assert!(registry.keys().is_empty());
    registry.insert(&key_secret("good", 1, &pair())).unwrap();
    let debug = format!("{registry:?}");
    assert!(
        debug.contains("good") && !debug.contains(body_line),
        "{debug}"
    );
}

#[test]
fn keys_are_ordered_by_certificate_not_before_by_default_so_a_restored_key_stays_old() {
    let old = pair();
    // NB: certificate times have whole seconds; wait for the next one.
    let second = Timestamp::now().as_second();
    while Timestamp::now().as_second() <= second {
        std::thread::sleep(Duration::from_millis(50));
    }
    let new = pair();
    let registry = registry_ordered_by(KeyOrder::CertNotBefore);
    // The old key's Secret was restored (created) after the new one's.
    registry.insert(&key_secret("new", 1_000, &new)).unwrap();
    registry
        .insert(&key_secret("restored", 2_000, &old))
        .unwrap();
    assert_eq!(registry.newest().unwrap().name, "new");

    let by_creation = registry_ordered_by(KeyOrder::SecretCreationTimestamp);
    by_creation.insert(&key_secret("new", 1_000, &new)).unwrap();
    by_creation
        .insert(&key_secret("restored", 2_000, &old))
        .unwrap();
    assert_eq!(by_creation.newest().unwrap().name, "restored");
}
