//! creationPolicy, deletionPolicy, refresh policies, drift and restarts.

use crate::common::*;

async fn es_for(
    world: &World,
    name: &str,
    key: &str,
    creation: &str,
    deletion: &str,
    interval: &str,
) {
    world
        .apply(
            ExternalSecretManifest::new(name, "aws")
                .refresh(interval)
                .target(serde_json::json!({
                    "name": name,
                    "creationPolicy": creation,
                    "deletionPolicy": deletion,
                }))
                .data("value", key),
        )
        .await;
}

#[tokio::test]
async fn a_remote_key_deleted_under_each_deletion_policy() {
    let world = World::new("deletion-policies").await;
    aws_store(&world, "aws").await;
    for policy in ["Retain", "Delete", "Merge"] {
        let key = remote(&world, &format!("gone-{policy}"));
        aws_put(&key, "here").await;
        let name = format!("gone-{}", policy.to_lowercase());
        es_for(&world, &name, &key, "Owner", policy, "1s").await;
        world
            .wait_secret(&name, "the first sync", |s| {
                value(s, "value").as_deref() == Some("here")
            })
            .await;
        aws_delete(&key).await;
    }
    // Retain: the Secret is kept and the ExternalSecret reports the error.
    let retained = world
        .wait_ready("gone-retain", "Ready=False under Retain", |c| {
            c.status == "False"
        })
        .await;
    assert!(retained.message.unwrap_or_default().contains("not found"));
    let kept = world.secrets().get("gone-retain").await.unwrap();
    assert_eq!(value(&kept, "value").as_deref(), Some("here"));
    // Delete: the Secret goes.
    eventually("the Secret deleted under Delete", || async {
        world
            .secrets()
            .get_opt("gone-delete")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let deleted = world
        .wait_ready("gone-delete", "SecretDeleted", |c| {
            c.reason.as_deref() == Some("SecretDeleted")
        })
        .await;
    assert_eq!(deleted.status, "True");
    // Merge: the Secret stays, without the managed key.
    world
        .wait_secret("gone-merge", "the key removed under Merge", |s| {
            value(s, "value").is_none()
        })
        .await;
}

#[tokio::test]
async fn merge_writes_into_an_existing_secret_and_keeps_its_other_keys() {
    let world = World::new("creation-merge").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "m");
    aws_put(&key, "from-aws").await;
    es_for(&world, "merged", &key, "Merge", "Retain", "1h").await;
    let missing = world
        .wait_ready("merged", "SecretMissing", |c| {
            c.reason.as_deref() == Some("SecretMissing")
        })
        .await;
    assert_eq!(missing.status, "True");
    assert!(
        world.secrets().get_opt("merged").await.unwrap().is_none(),
        "Merge never creates"
    );

    world.put_secret("merged", &[("local", "mine")]).await;
    // Any metadata change re-syncs (the force-sync idiom).
    world.annotate_es("merged", "force-sync", "1").await;
    let secret = world
        .wait_secret("merged", "merged keys", |s| value(s, "value").is_some())
        .await;
    assert_eq!(value(&secret, "local").as_deref(), Some("mine"));
    assert_eq!(value(&secret, "value").as_deref(), Some("from-aws"));
    assert!(
        secret
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty(),
        "Merge takes no ownership"
    );
}

#[tokio::test]
async fn create_or_merge_creates_a_missing_secret_unowned_and_merges_into_an_existing_one() {
    let world = World::new("creation-create-or-merge").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "com");
    aws_put(&key, "from-aws").await;

    // Missing: created, without an owner reference (unlike Owner).
    es_for(&world, "created", &key, "CreateOrMerge", "Retain", "1h").await;
    let created = world
        .wait_secret("created", "the Secret created", |s| {
            value(s, "value").is_some()
        })
        .await;
    assert_eq!(value(&created, "value").as_deref(), Some("from-aws"));
    assert!(
        created
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty(),
        "CreateOrMerge takes no ownership"
    );

    // Existing: merged into, its other keys kept (unlike Orphan).
    world.put_secret("existing", &[("local", "mine")]).await;
    es_for(&world, "existing", &key, "CreateOrMerge", "Retain", "1h").await;
    let merged = world
        .wait_secret("existing", "merged keys", |s| value(s, "value").is_some())
        .await;
    assert_eq!(value(&merged, "local").as_deref(), Some("mine"));
    assert_eq!(value(&merged, "value").as_deref(), Some("from-aws"));

    // deletionPolicy Delete needs a Secret the controller owns, as in ESO.
    es_for(&world, "refused", &key, "CreateOrMerge", "Delete", "1h").await;
    let refused = world
        .wait_ready("refused", "refused", |c| c.status == "False")
        .await;
    assert!(
        refused
            .message
            .unwrap_or_default()
            .contains("creationPolicy=Owner"),
        "the condition names the rule"
    );
}

#[tokio::test]
async fn a_secret_owned_by_another_external_secret_is_refused() {
    let world = World::new("owned-by-other").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "o");
    aws_put(&key, "v").await;
    es_for(&world, "first", &key, "Owner", "Retain", "1h").await;
    world
        .wait_secret("first", "the first owner's Secret", |s| {
            value(s, "value").is_some()
        })
        .await;
    world
        .apply(&format!(
            r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: second
  namespace: NAMESPACE
spec:
  secretStoreRef:
    name: aws
  target:
    name: first
  data:
  - secretKey: other
    remoteRef:
      key: {key}
"#
        ))
        .await;
    let refused = world
        .wait_ready("second", "Ready=False", |c| c.status == "False")
        .await;
    assert!(
        refused
            .message
            .unwrap_or_default()
            .contains("owned by another ExternalSecret")
    );
    let secret = world.secrets().get("first").await.unwrap();
    assert!(value(&secret, "other").is_none());
}

#[tokio::test]
async fn a_deleted_or_edited_secret_is_restored_even_with_refresh_interval_zero() {
    let world = World::new("drift").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "d");
    aws_put(&key, "original").await;
    es_for(&world, "drift", &key, "Owner", "Retain", "0").await;
    world
        .wait_secret("drift", "the first sync", |s| value(s, "value").is_some())
        .await;
    world.put_secret("drift", &[("value", "tampered")]).await;
    world
        .wait_secret("drift", "the edit reverted", |s| {
            value(s, "value").as_deref() == Some("original")
        })
        .await;
    world
        .secrets()
        .delete("drift", &Default::default())
        .await
        .unwrap();
    world
        .wait_secret("drift", "the Secret recreated", |s| {
            value(s, "value").as_deref() == Some("original")
        })
        .await;
}

#[tokio::test]
async fn a_restart_reads_nothing_and_writes_nothing_before_the_interval() {
    let mut world = World::new("restart").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "r");
    aws_put(&key, "steady").await;
    es_for(&world, "steady", &key, "Owner", "Retain", "1h").await;
    let before = world
        .wait_secret("steady", "the first sync", |s| value(s, "value").is_some())
        .await;
    world
        .wait_ready("steady", "Ready", |c| c.status == "True")
        .await;
    world.stop().await;
    world.start().await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(
        world.metrics.sync_calls(world.name(), "steady") >= 1,
        "the restarted controller reconciled"
    );
    let mut calls = String::new();
    world.metrics.render(&mut calls);
    assert_eq!(
        world
            .metrics
            .provider_calls("AWS/SecretsManager", "GetSecretValue", "success")
            + world
                .metrics
                .provider_calls("AWS/SecretsManager", "BatchGetSecretValue", "success"),
        0,
        "no provider call after a restart: {calls}"
    );
    let after = world.secrets().get("steady").await.unwrap();
    assert_eq!(rv(&after), rv(&before), "the Secret was not rewritten");
}
