//! An ExternalSecret never takes over, rewrites or deletes a Secret it did
//! not create: a tenant's TLS Secret survives every creation and deletion
//! policy aimed at it; its owner can hand it over with the adopt
//! annotation; a Secret ESO made for the ExternalSecret is adopted as it
//! is, so moving from ESO needs nothing.

use std::collections::BTreeMap;

use coffer_external::{
    ADOPT_ANNOTATION, CREATED_BY_LABEL, DATA_HASH_ANNOTATION, MANAGED_LABEL, created_by,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::api::{ObjectMeta, PostParams};

use crate::common::*;
use crate::sync::assert_undisclosed;

async fn es_for(
    world: &World,
    name: &str,
    key: &str,
    target: &str,
    creation: &str,
    deletion: &str,
) {
    world
        .apply(
            ExternalSecretManifest::new(name, "aws")
                .refresh("1s")
                .target(serde_json::json!({
                    "name": target,
                    "creationPolicy": creation,
                    "deletionPolicy": deletion,
                }))
                .data("tls.key", key),
        )
        .await;
}

/// A Secret as a tenant (or Helm, or cert-manager) makes it.
fn secret(
    world: &World,
    name: &str,
    type_: &str,
    data: &[(&str, &str)],
    annotations: &[(&str, &str)],
) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(world.name().to_owned()),
            annotations: Some(
                annotations
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        type_: Some(type_.to_owned()),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}

#[tokio::test]
async fn a_tenants_tls_secret_survives_every_policy_aimed_at_it() {
    let world = World::new("takeover-refused").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "key");
    aws_put(&key, "attacker-key").await;
    let tls = secret(
        &world,
        "tls",
        "kubernetes.io/tls",
        &[("tls.crt", "the-cert"), ("tls.key", "the-key")],
        &[],
    );
    let before = world
        .secrets()
        .create(&PostParams::default(), &tls)
        .await
        .unwrap();
    let missing = remote(&world, "never-written");
    es_for(&world, "owner", &key, "tls", "Owner", "Retain").await;
    es_for(&world, "orphan", &key, "tls", "Orphan", "Retain").await;
    // The remote key does not exist: Delete would delete the target.
    es_for(&world, "deleter", &missing, "tls", "Owner", "Delete").await;
    for name in ["owner", "orphan", "deleter"] {
        let refused = world
            .wait_ready(name, &format!("{name} Ready=False"), |c| {
                c.status == "False"
            })
            .await;
        assert_eq!(refused.reason.as_deref(), Some("SecretSyncedError"));
        let message = refused.message.unwrap_or_default();
        assert!(
            message.contains("was not created by this ExternalSecret")
                && message.contains(&format!("{ADOPT_ANNOTATION}={name}")),
            "{name}: {message}"
        );
        let event = world.wait_event(name, "UpdateFailed").await;
        assert_eq!(event.type_.as_deref(), Some("Warning"));
    }
    let after = world.secrets().get("tls").await.unwrap();
    assert_eq!(rv(&after), rv(&before), "the Secret was written");
    assert_eq!(after.data, before.data);
    assert_eq!(after.metadata.owner_references, None);
    assert_undisclosed(&world, &["attacker-key", "the-key"]).await;
}

#[tokio::test]
async fn the_adopt_annotation_hands_a_secret_to_the_external_secret_it_names_only() {
    let world = World::new("takeover-adopt").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "key");
    aws_put(&key, "synced-key").await;
    for (name, to) in [("handed", "taker"), ("elsewhere", "someone-else")] {
        let s = secret(
            &world,
            name,
            "Opaque",
            &[("tls.key", "old")],
            &[(ADOPT_ANNOTATION, to)],
        );
        world
            .secrets()
            .create(&PostParams::default(), &s)
            .await
            .unwrap();
    }
    es_for(&world, "taker", &key, "handed", "Owner", "Retain").await;
    es_for(&world, "stranger", &key, "elsewhere", "Owner", "Retain").await;
    let adopted = world
        .wait_secret("handed", "the annotated Secret adopted", |s| {
            value(s, "tls.key").as_deref() == Some("synced-key")
        })
        .await;
    let owners = adopted.metadata.owner_references.unwrap_or_default();
    assert_eq!(owners.len(), 1);
    assert_eq!(
        (owners[0].name.as_str(), owners[0].controller),
        ("taker", Some(true))
    );
    let refused = world
        .wait_ready("stranger", "Ready=False", |c| c.status == "False")
        .await;
    assert!(
        refused
            .message
            .unwrap_or_default()
            .contains("was not created by this ExternalSecret")
    );
    let untouched = world.secrets().get("elsewhere").await.unwrap();
    assert_eq!(value(&untouched, "tls.key").as_deref(), Some("old"));
}

/// What ESO leaves on a Secret it made for ExternalSecret `name` (uid
/// `uid`) under `creationPolicy: Owner`: its labels, its data-hash
/// annotation and, unless it was orphaned, its controller reference.
fn made_by_eso(world: &World, name: &str, uid: Option<&str>) -> Secret {
    let mut s = secret(world, name, "Opaque", &[("tls.key", "from-eso")], &[]);
    s.metadata.labels = Some(BTreeMap::from([
        (MANAGED_LABEL.to_owned(), "true".to_owned()),
        (CREATED_BY_LABEL.to_owned(), created_by(world.name(), name)),
    ]));
    s.metadata.annotations = Some(BTreeMap::from([(
        DATA_HASH_ANNOTATION.to_owned(),
        coffer_external::data_hash([("tls.key", b"from-eso".as_slice())]),
    )]));
    s.metadata.owner_references = uid.map(|uid| {
        vec![OwnerReference {
            api_version: "external-secrets.io/v1".to_owned(),
            kind: "ExternalSecret".to_owned(),
            name: name.to_owned(),
            uid: uid.to_owned(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]
    });
    s
}

#[tokio::test]
async fn secrets_eso_made_for_the_external_secret_are_adopted_as_they_are() {
    let mut world = World::without_controller("takeover-eso").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "key");
    aws_put(&key, "from-coffer").await;
    // The ExternalSecrets exist (ESO synced them); ESO is gone.
    es_for(&world, "owned", &key, "owned", "Owner", "Retain").await;
    es_for(&world, "orphaned", &key, "orphaned", "Owner", "Retain").await;
    let uid = world
        .external_secrets()
        .get("owned")
        .await
        .unwrap()
        .uid()
        .unwrap();
    let mut uids = BTreeMap::new();
    for (name, owner) in [("owned", Some(uid.as_str())), ("orphaned", None)] {
        let created = world
            .secrets()
            .create(&PostParams::default(), &made_by_eso(&world, name, owner))
            .await
            .unwrap();
        uids.insert(name, created.uid().unwrap());
    }
    world.start().await;
    for name in ["owned", "orphaned"] {
        let synced = world
            .wait_secret(name, &format!("{name} synced by Coffer"), |s| {
                value(s, "tls.key").as_deref() == Some("from-coffer")
            })
            .await;
        assert_eq!(
            synced.uid().as_deref(),
            Some(uids[name].as_str()),
            "{name} recreated"
        );
        let owners = synced.metadata.owner_references.unwrap_or_default();
        assert_eq!(owners.len(), 1, "{name}: {owners:?}");
        assert_eq!(owners[0].name, name);
        world
            .wait_ready(name, "Ready=True", |c| c.status == "True")
            .await;
    }
}
