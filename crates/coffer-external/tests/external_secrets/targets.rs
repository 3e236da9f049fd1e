//! The target Secret: `immutable`, and what `creationPolicy` Owner, Orphan
//! and None mean once the ExternalSecret is gone (Merge and the deletion
//! policies are in policies.rs).

use serde_json::json;

use crate::common::*;

async fn es_for(world: &World, name: &str, key: &str, target: serde_json::Value) {
    world
        .apply(
            ExternalSecretManifest::new(name, "aws")
                .refresh("1s")
                .target(target)
                .data("value", key),
        )
        .await;
}

#[tokio::test]
async fn an_immutable_target_keeps_its_value_reports_the_refused_update_and_is_recreated_fresh() {
    let world = World::new("target-immutable").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "frozen");
    aws_put(&key, "first").await;
    es_for(&world, "frozen", &key, json!({"immutable": true})).await;
    let created = world
        .wait_secret("frozen", "the first sync", |s| {
            value(s, "value").as_deref() == Some("first")
        })
        .await;
    assert_eq!(created.immutable, Some(true), "the Secret is immutable");

    aws_put(&key, "second").await;
    let refused = world
        .wait_ready("frozen", "Ready=False after the upstream change", |c| {
            c.status == "False"
        })
        .await;
    assert_eq!(refused.reason.as_deref(), Some("SecretSyncedError"));
    let message = refused.message.unwrap_or_default();
    assert!(
        message.starts_with("could not update secret, target is immutable"),
        "{message}"
    );
    assert!(!message.contains("second"), "the value leaked: {message}");
    let failed = world.wait_event("frozen", "UpdateFailed").await;
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    let kept = world.secrets().get("frozen").await.unwrap();
    assert_eq!(value(&kept, "value").as_deref(), Some("first"));
    assert_eq!(rv(&kept), rv(&created));

    // ESO: immutability protects an existing Secret's data; a deleted one
    // is created afresh.
    world
        .secrets()
        .delete("frozen", &Default::default())
        .await
        .unwrap();
    let recreated = world
        .wait_secret("frozen", "the Secret recreated", |s| {
            value(s, "value").as_deref() == Some("second")
        })
        .await;
    assert_eq!(recreated.immutable, Some(true));
    world
        .wait_ready("frozen", "Ready=True again", |c| c.status == "True")
        .await;
}

#[tokio::test]
async fn an_owner_secret_is_garbage_collected_and_an_orphan_secret_survives_its_external_secret() {
    let world = World::new("target-owner-orphan").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "gc");
    aws_put(&key, "v").await;
    es_for(&world, "owned", &key, json!({"creationPolicy": "Owner"})).await;
    es_for(
        &world,
        "orphaned",
        &key,
        json!({"creationPolicy": "Orphan"}),
    )
    .await;
    let owned = world
        .wait_secret("owned", "the Owner Secret", |s| value(s, "value").is_some())
        .await;
    let orphaned = world
        .wait_secret("orphaned", "the Orphan Secret", |s| {
            value(s, "value").is_some()
        })
        .await;
    assert_eq!(
        owned.metadata.owner_references.unwrap_or_default().len(),
        1,
        "Owner sets an owner reference"
    );
    assert!(
        orphaned
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty(),
        "Orphan sets none"
    );
    let labels = orphaned.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("reconcile.external-secrets.io/managed")
            .map(String::as_str),
        Some("true")
    );
    assert!(
        !labels.contains_key("reconcile.external-secrets.io/created-by"),
        "ESO sets created-by only under Owner"
    );

    for name in ["owned", "orphaned"] {
        world
            .external_secrets()
            .delete(name, &Default::default())
            .await
            .unwrap();
    }
    // kube-controller-manager's garbage collector removes the owned Secret;
    // once it has, it has had its chance at the orphan too.
    eventually("the Owner Secret garbage-collected", || async {
        world
            .secrets()
            .get_opt("owned")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let kept = world
        .secrets()
        .get_opt("orphaned")
        .await
        .unwrap()
        .expect("the Orphan Secret outlives its ExternalSecret");
    assert_eq!(value(&kept, "value").as_deref(), Some("v"));
}

#[tokio::test]
async fn creation_policy_none_writes_nothing_and_reports_ready() {
    let world = World::new("target-none").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "none");
    aws_put(&key, "from-aws").await;
    // A Secret of the target's name exists: None must not touch it either.
    world.put_secret("existing", &[("local", "mine")]).await;
    let before = world.secrets().get("existing").await.unwrap();
    es_for(
        &world,
        "nothing",
        &key,
        json!({"name": "existing", "creationPolicy": "None"}),
    )
    .await;
    es_for(&world, "absent", &key, json!({"creationPolicy": "None"})).await;
    for name in ["nothing", "absent"] {
        let ready = world
            .wait_ready(name, "Ready=True", |c| c.status == "True")
            .await;
        assert_eq!(ready.reason.as_deref(), Some("SecretSynced"));
        let status = world
            .external_secrets()
            .get(name)
            .await
            .unwrap()
            .status
            .unwrap();
        assert!(status.refresh_time.is_some());
        assert!(status.binding.is_none(), "no Secret is bound");
    }
    assert!(
        world.secrets().get_opt("absent").await.unwrap().is_none(),
        "creationPolicy None created a Secret"
    );
    let after = world.secrets().get("existing").await.unwrap();
    assert_eq!(
        rv(&after),
        rv(&before),
        "creationPolicy None wrote a Secret"
    );
    assert!(value(&after, "value").is_none());
}

/// Renaming the target deletes the Secret written under the old name (as
/// ESO), found by the `created-by` label; only a rename looks for one, so a
/// first sync costs no LIST (checked through the written `status.binding`).
#[tokio::test]
async fn renaming_the_target_deletes_the_secret_under_the_old_name() {
    let world = World::new("target-rename").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "renamed");
    aws_put(&key, "v").await;
    es_for(&world, "app", &key, json!({"name": "first"})).await;
    world
        .wait_secret("first", "the first target", |s| value(s, "value").is_some())
        .await;
    world
        .wait_ready("app", "bound to the first target", |c| c.status == "True")
        .await;
    es_for(&world, "app", &key, json!({"name": "second"})).await;
    world
        .wait_secret("second", "the renamed target", |s| {
            value(s, "value").is_some()
        })
        .await;
    eventually("the old target deleted", || async {
        world
            .secrets()
            .get_opt("first")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let es = world.external_secrets().get("app").await.unwrap();
    assert_eq!(
        es.status.and_then(|s| s.binding).map(|b| b.name).as_deref(),
        Some("second")
    );
}
