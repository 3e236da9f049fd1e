//! A Secret that exists although the controller's Secret watches have not
//! shown it (created a moment ago, or a stale entry): the reconcile plans
//! a create without reading, the API server refuses it (409), and the
//! reconcile reads the Secret and applies the usual rules to it, so a
//! tenant's Secret is still never overwritten and the `managed` annotation
//! still hands one over.
//!
//! The controller runs watching another namespace, and its caches are told
//! that the test's namespace was listed and holds no Secret; the test then
//! calls the reconcile itself, as a watch event would.

use std::collections::BTreeMap;
use std::sync::Arc;

use coffer_controller::Running;
use coffer_controller::sealed::reconcile::reconcile;
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::runtime::watcher::Event;

use crate::common::{World, data_of};

/// A controller whose Secret caches hold `world`'s namespace as listed
/// and empty, with nothing watching it, and the recorders that keep it so.
async fn controller_blind_to(
    world: &World,
) -> (
    Running,
    coffer_controller::sealed::written::Recorder,
    coffer_controller::sealed::others::OthersRecorder,
) {
    let mut config = world.config();
    config.watch_namespaces = vec![world.ctrl_ns.name().to_owned()];
    let running = world.start_with(config).await;
    let sealed = &running.context.sealed;
    let scope = Some(world.ns.name().to_owned());
    let mut written = sealed
        .written
        .recorder(scope.clone(), running.context.keys.clone());
    let mut others = sealed.others.recorder(scope);
    written.record(&Event::Init);
    written.record(&Event::InitDone);
    others.record(&Event::Init);
    others.record(&Event::InitDone);
    (running, written, others)
}

/// Creates `secret` (with `annotation: "true"` if any) behind the
/// controller's back, then a SealedSecret of the same name holding
/// `password: ours`, and reconciles it once.
async fn seal_over_unseen(
    world: &World,
    running: &Running,
    mut secret: Secret,
    annotation: Option<&str>,
) -> Secret {
    if let Some(annotation) = annotation {
        secret.metadata.annotations = Some(BTreeMap::from([(annotation.into(), "true".into())]));
    }
    let name = secret.metadata.name.clone().unwrap_or_default();
    let before = world
        .secrets()
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let sealed = world
        .create_sealed(running, &world.secret(&name, &[("password", "ours")]))
        .await;
    reconcile(Arc::new(sealed), running.context.clone())
        .await
        .expect("the refused create is not an error");
    before
}

#[tokio::test]
async fn an_unseen_tenant_secret_is_refused_after_the_conflict_not_overwritten() {
    let world = World::new("unseen-foreign").await;
    let (running, _written, _others) = controller_blind_to(&world).await;
    let theirs = world.secret("db", &[("password", "theirs")]);
    let before = seal_over_unseen(&world, &running, theirs, None).await;

    // Decrypted before the create was refused: the path without a read
    // was taken (a read first refuses without decrypting).
    assert_eq!(running.context.metrics.decryptions(), 1);
    let after = world.secrets().get("db").await.unwrap();
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    assert_eq!(data_of(&after)["password"], "theirs");
    let status = world.sealed_secrets().get("db").await.unwrap().status;
    let condition = status.expect("a status").conditions.remove(0);
    assert_eq!(condition.status, "False");
    assert_eq!(condition.reason.as_deref(), Some("ErrUpdateFailed"));
    let message = condition.message.unwrap_or_default();
    assert!(
        message.contains("already exists and is not managed"),
        "the foreign-Secret refusal, not the 409: {message}"
    );
}

#[tokio::test]
async fn an_unseen_managed_secret_is_taken_over_after_the_conflict() {
    let world = World::new("unseen-managed").await;
    let (running, _written, _others) = controller_blind_to(&world).await;
    let theirs = world.secret("db", &[("password", "theirs"), ("extra", "x")]);
    seal_over_unseen(
        &world,
        &running,
        theirs,
        Some("sealedsecrets.bitnami.com/managed"),
    )
    .await;

    let after = world.secrets().get("db").await.unwrap();
    assert_eq!(data_of(&after)["password"], "ours");
    assert!(after.metadata.owner_references.is_some(), "now owned");
    let status = world.sealed_secrets().get("db").await.unwrap().status;
    let condition = status.expect("a status").conditions.remove(0);
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_deref()),
        ("True", Some("Unsealed"))
    );
}

#[tokio::test]
async fn an_unseen_secret_patched_by_annotation_keeps_its_other_keys() {
    let world = World::new("unseen-patch").await;
    let (running, _written, _others) = controller_blind_to(&world).await;
    let theirs = world.secret("db", &[("password", "theirs"), ("extra", "x")]);
    seal_over_unseen(
        &world,
        &running,
        theirs,
        Some("sealedsecrets.bitnami.com/patch"),
    )
    .await;

    let after = world.secrets().get("db").await.unwrap();
    assert_eq!(
        data_of(&after),
        BTreeMap::from([
            ("extra".to_owned(), "x".to_owned()),
            ("password".to_owned(), "ours".to_owned())
        ])
    );
    assert_eq!(
        after.metadata.owner_references, None,
        "patched, not taken over"
    );
}
