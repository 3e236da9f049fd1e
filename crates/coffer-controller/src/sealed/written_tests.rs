//! Tests of the written-Secrets cache: summaries only, no data.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::ObjectMeta;

use super::*;
use crate::sealed::plan::{Class, classify};
use crate::sealed::test_keys::registry;
use coffer_api::SealedSecret;

const VALUE: &str = "s3cr3t-value-bytes";

/// Secret `ns/name`, owned by the SealedSecret `uid`, stamped as this
/// controller writes it when `ours`.
fn secret(ns: &str, name: &str, ours: bool, keys: &KeyRegistry) -> Secret {
    let mut s = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            owner_references: Some(vec![OwnerReference {
                controller: Some(true),
                uid: "uid-1".into(),
                ..OwnerReference::default()
            }]),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "password".to_owned(),
            ByteString(VALUE.as_bytes().to_vec()),
        )])),
        type_: Some("Opaque".into()),
        ..Secret::default()
    };
    if ours {
        secret::stamp(&mut s, "h", keys);
    }
    s
}

fn sealed(uid: &str) -> SealedSecret {
    let mut sealed = SealedSecret::new("db", coffer_api::SealedSecretSpec::default());
    sealed.metadata.uid = Some(uid.into());
    sealed.spec.encrypted_data = BTreeMap::from([("password".to_owned(), "AgB...".to_owned())]);
    sealed
}

/// The cache's answer for SealedSecret `uid` with inputs `hash`.
fn unchanged(written: &WrittenSecret, uid: &str, hash: &str, keys: &KeyRegistry) -> bool {
    classify(&sealed(uid), hash, written, keys) == Class::Unchanged
}

#[tokio::test]
async fn keeps_a_digest_summary_of_written_secrets_and_never_their_data() {
    let keys = registry().await;
    let cache = Arc::new(WrittenSecrets::default());
    let mut recorder = cache.recorder(None, keys.clone());
    recorder.record(&Event::Apply(secret("a", "db", true, &keys)));
    recorder.record(&Event::Apply(secret("a", "theirs", false, &keys)));
    let written = cache.get("a", "db").expect("kept");
    assert!(cache.get("a", "theirs").is_none(), "not written by us");
    assert!(unchanged(&written, "uid-1", "h", &keys));
    assert!(!unchanged(&written, "uid-2", "h", &keys), "another owner");
    assert!(!unchanged(&written, "uid-1", "h2", &keys), "new inputs");

    let debug = format!("{cache:?} {written:?}");
    assert!(debug.contains("password"), "{debug}");
    assert!(!debug.contains(VALUE), "no value in Debug: {debug}");
    let bytes: Vec<String> = VALUE.bytes().map(|b| b.to_string()).collect();
    assert!(
        !debug.contains(&bytes.join(", ")),
        "not even as bytes: {debug}"
    );
}

#[tokio::test]
async fn an_edited_secret_is_not_unchanged_and_deleted_ones_are_forgotten() {
    let keys = registry().await;
    let cache = Arc::new(WrittenSecrets::default());
    let mut recorder = cache.recorder(None, keys.clone());
    let mut edited = secret("a", "db", true, &keys);
    edited
        .data
        .as_mut()
        .unwrap()
        .insert("password".into(), ByteString(b"tampered".to_vec()));
    recorder.record(&Event::Apply(edited));
    let written = cache.get("a", "db").expect("still one of ours");
    assert!(!unchanged(&written, "uid-1", "h", &keys), "digest fails");

    recorder.record(&Event::Apply(secret("a", "db", true, &keys)));
    assert!(unchanged(
        &cache.get("a", "db").unwrap(),
        "uid-1",
        "h",
        &keys
    ));
    // Someone strips our annotations: no longer a shortcut.
    recorder.record(&Event::Apply(secret("a", "db", false, &keys)));
    assert!(cache.get("a", "db").is_none());
    recorder.record(&Event::Apply(secret("a", "db", true, &keys)));
    recorder.record(&Event::Delete(secret("a", "db", true, &keys)));
    assert!(cache.is_empty());
}

#[test]
fn wiping_an_event_zeroes_its_values_and_keeps_its_name() {
    let mut event = Event::Apply(Secret {
        metadata: ObjectMeta {
            name: Some("db".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "password".to_owned(),
            ByteString(VALUE.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    });
    wipe(&mut event);
    let Event::Apply(s) = event else {
        unreachable!()
    };
    assert_eq!(s.metadata.name.as_deref(), Some("db"));
    assert!(s.data.unwrap()["password"].0.iter().all(|b| *b == 0));
}

#[tokio::test]
async fn ready_waits_for_the_first_full_list_of_a_covering_watch() {
    let keys = registry().await;
    let cache = Arc::new(WrittenSecrets::default());
    // No watch covers "x": no wait.
    tokio::time::timeout(Duration::from_millis(50), cache.ready("x"))
        .await
        .expect("uncovered namespaces do not wait");
    let mut recorder = cache.recorder(Some("a".into()), keys);
    recorder.record(&Event::Init);
    let early = tokio::time::timeout(Duration::from_millis(50), cache.ready("a")).await;
    assert!(early.is_err(), "waits while the first list is running");
    recorder.record(&Event::InitDone);
    tokio::time::timeout(Duration::from_millis(50), cache.ready("a"))
        .await
        .expect("ready after InitDone");
}

#[tokio::test]
async fn relist_replaces_only_its_own_namespace() {
    let keys = registry().await;
    let cache = Arc::new(WrittenSecrets::default());
    let mut a = cache.recorder(Some("a".into()), keys.clone());
    let mut b = cache.recorder(Some("b".into()), keys.clone());
    a.record(&Event::Apply(secret("a", "gone", true, &keys)));
    b.record(&Event::Apply(secret("b", "kept", true, &keys)));

    a.record(&Event::Init);
    a.record(&Event::InitApply(secret("a", "new", true, &keys)));
    assert!(
        cache.get("a", "gone").is_some(),
        "served until the relist ends"
    );
    a.record(&Event::InitDone);
    assert!(
        cache.get("a", "gone").is_none(),
        "deleted while the watch was down"
    );
    assert!(cache.get("a", "new").is_some());
    assert!(cache.get("b", "kept").is_some(), "another watch's scope");

    // A stopped watch forgets its scope, which then waits for nothing.
    drop(b);
    assert!(cache.get("b", "kept").is_none());
    assert!(cache.get("a", "new").is_some());
}
