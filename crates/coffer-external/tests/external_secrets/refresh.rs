//! refreshPolicy (`CreatedOnce`, `OnChange`), `refreshInterval: 0` and the
//! force-sync idiom: which upstream changes reach the Secret, and when.
//! (Plain `Periodic` refreshes are in aws.rs.)

use crate::common::*;

async fn es_with_policy(world: &World, name: &str, key: &str, policy: &str, interval: &str) {
    world
        .apply(
            ExternalSecretManifest::new(name, "aws")
                .refresh(interval)
                .set("refreshPolicy", policy)
                .data("value", key),
        )
        .await;
}

/// Sets the force-sync annotation and waits until the controller has
/// reconciled the ExternalSecret at least once since (a positive signal
/// before asserting that nothing changed).
async fn force_sync_and_wait_for_a_reconcile(world: &World, name: &str, value: &str) {
    let before = world.metrics.sync_calls(world.name(), name);
    world
        .annotate_es(name, "external-secrets.io/force-sync", value)
        .await;
    eventually("a reconcile after the annotation", || async {
        (world.metrics.sync_calls(world.name(), name) > before).then_some(())
    })
    .await;
}

fn text(secret: &k8s_openapi::api::core::v1::Secret) -> Option<String> {
    value(secret, "value")
}

#[tokio::test]
async fn created_once_ignores_upstream_and_spec_changes_but_recreates_a_deleted_secret() {
    let world = World::new("refresh-created-once").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "once");
    aws_put(&key, "first").await;
    // A 1s interval: were the policy ignored, the change would land at once.
    es_with_policy(&world, "once", &key, "CreatedOnce", "1s").await;
    let synced = world
        .wait_secret("once", "the first sync", |s| {
            text(s).as_deref() == Some("first")
        })
        .await;
    world
        .wait_ready("once", "Ready=True", |c| c.status == "True")
        .await;

    aws_put(&key, "second").await;
    world.witness(&key, "second").await;
    let kept = world.secrets().get("once").await.unwrap();
    assert_eq!(
        text(&kept).as_deref(),
        Some("first"),
        "upstream change applied"
    );
    assert_eq!(rv(&kept), rv(&synced), "the Secret was rewritten");

    // ESO: CreatedOnce does not sync again when the ExternalSecret changes.
    force_sync_and_wait_for_a_reconcile(&world, "once", "1").await;
    let kept = world.secrets().get("once").await.unwrap();
    assert_eq!(text(&kept).as_deref(), Some("first"), "spec change synced");

    // A missing Secret is still recreated (with what the provider has now).
    world
        .secrets()
        .delete("once", &Default::default())
        .await
        .unwrap();
    world
        .wait_secret("once", "the Secret recreated", |s| {
            text(s).as_deref() == Some("second")
        })
        .await;
}

#[tokio::test]
async fn on_change_applies_upstream_changes_only_when_the_external_secret_changes() {
    let world = World::new("refresh-on-change").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "onchange");
    aws_put(&key, "first").await;
    es_with_policy(&world, "onchange", &key, "OnChange", "1s").await;
    world
        .wait_secret("onchange", "the first sync", |s| {
            text(s).as_deref() == Some("first")
        })
        .await;

    aws_put(&key, "second").await;
    world.witness(&key, "second").await;
    let kept = world.secrets().get("onchange").await.unwrap();
    assert_eq!(
        text(&kept).as_deref(),
        Some("first"),
        "OnChange refreshed on its interval"
    );

    world
        .annotate_es("onchange", "external-secrets.io/force-sync", "1")
        .await;
    world
        .wait_secret("onchange", "the change applied after force-sync", |s| {
            text(s).as_deref() == Some("second")
        })
        .await;
}

#[tokio::test]
async fn refresh_interval_zero_syncs_once_like_created_once() {
    let world = World::new("refresh-zero").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "zero");
    aws_put(&key, "first").await;
    es_with_policy(&world, "zero", &key, "Periodic", "0").await;
    let synced = world
        .wait_secret("zero", "the first sync", |s| {
            text(s).as_deref() == Some("first")
        })
        .await;

    aws_put(&key, "second").await;
    world.witness(&key, "second").await;
    let kept = world.secrets().get("zero").await.unwrap();
    assert_eq!(text(&kept).as_deref(), Some("first"));

    // ESO: "refreshInterval: 0 with Periodic behaves like CreatedOnce", so
    // not even a force-sync reads the provider again.
    force_sync_and_wait_for_a_reconcile(&world, "zero", "1").await;
    let kept = world.secrets().get("zero").await.unwrap();
    assert_eq!(
        text(&kept).as_deref(),
        Some("first"),
        "refreshInterval 0 synced again on a metadata change"
    );
    assert_eq!(rv(&kept), rv(&synced));
}

#[tokio::test]
async fn each_new_force_sync_value_refreshes_a_periodic_secret_before_its_interval() {
    let world = World::new("refresh-force-sync").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "forced");
    aws_put(&key, "first").await;
    es_with_policy(&world, "forced", &key, "Periodic", "1h").await;
    world
        .wait_secret("forced", "the first sync", |s| {
            text(s).as_deref() == Some("first")
        })
        .await;
    world
        .wait_ready("forced", "Ready=True", |c| c.status == "True")
        .await;
    let version =
        |es: coffer_api::ExternalSecret| es.status.and_then(|s| s.synced_resource_version);
    let first = version(world.external_secrets().get("forced").await.unwrap());

    for (n, value) in ["second", "third"].into_iter().enumerate() {
        aws_put(&key, value).await;
        world
            .annotate_es(
                "forced",
                "external-secrets.io/force-sync",
                &(n + 1).to_string(),
            )
            .await;
        world
            .wait_secret("forced", "the forced refresh", |s| {
                text(s).as_deref() == Some(value)
            })
            .await;
    }
    let last = version(world.external_secrets().get("forced").await.unwrap());
    assert_ne!(last, first, "syncedResourceVersion follows the annotation");
    world
        .wait_ready("forced", "Ready=True", |c| c.status == "True")
        .await;
}

/// `refreshInterval` is any string the API server accepts. The duration
/// parser used to recurse once per leading `-`, so a tenant's million of
/// them overflowed the controller's stack and took the whole process down.
#[tokio::test]
async fn a_refresh_interval_of_a_million_signs_fails_clearly_and_the_controller_keeps_syncing() {
    let world = World::new("refresh-hostile").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "hostile");
    aws_put(&key, "synced").await;
    let interval = format!("{}5s", "-".repeat(1_000_000));
    es_with_policy(&world, "hostile", &key, "Periodic", &interval).await;
    let message = crate::sync::assert_failed(&world, "hostile").await;
    assert!(
        message.contains("spec.refreshInterval") && message.contains("expected a number"),
        "{message}"
    );
    assert!(
        message.len() < 300,
        "the message repeats the whole interval"
    );

    es_with_policy(&world, "fine", &key, "Periodic", "1h").await;
    world
        .wait_secret("fine", "the same controller to sync another", |s| {
            text(s).as_deref() == Some("synced")
        })
        .await;
}

#[tokio::test]
async fn a_refresh_time_slack_skips_status_writes_but_never_a_secret_update() {
    let mut world = World::without_controller("refresh-time-slack").await;
    let mut config = world.config();
    config.refresh_time_slack = std::time::Duration::from_secs(3600);
    world.start_with(config).await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "slack");
    aws_put(&key, "first").await;
    es_with_policy(&world, "slack", &key, "Periodic", "1s").await;
    world
        .wait_secret("slack", "the first value", |s| {
            text(s).as_deref() == Some("first")
        })
        .await;
    let recorded = eventually("a refreshTime", || world.refresh_time("slack")).await;
    let syncs = world.metrics.sync_calls(world.name(), "slack");

    aws_put(&key, "second").await;
    world
        .wait_secret("slack", "the upstream change", |s| {
            text(s).as_deref() == Some("second")
        })
        .await;
    eventually("more refreshes", || async {
        (world.metrics.sync_calls(world.name(), "slack") >= syncs + 3).then_some(())
    })
    .await;
    assert_eq!(
        world.refresh_time("slack").await,
        Some(recorded),
        "refreshTime is written again only once an hour behind"
    );
}
