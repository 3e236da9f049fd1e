//! The SealedSecret controller against a real API server: what a user sees
//! when they create, change and delete SealedSecrets and Secrets.

mod common;
mod hostile_templates;
mod unseen_secrets;

use std::collections::BTreeMap;

use coffer_api::SealedSecret;
use coffer_controller::Running;
use common::{World, data_of, eventually, secret_with_data, synced};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};

#[tokio::test]
async fn sealed_secret_becomes_secret_with_plaintext_owner_reference_and_event() {
    let world = World::new("create").await;
    let running = world.start().await;
    let sealed = world
        .create_sealed(&running, &world.secret("db", &[("password", "hunter2")]))
        .await;

    let secret = secret_with_data(&world, "db", &[("password", "hunter2")]).await;
    let owner = &secret
        .metadata
        .owner_references
        .as_ref()
        .expect("owner reference")[0];
    assert_eq!(owner.kind, "SealedSecret");
    assert_eq!(owner.name, "db");
    assert_eq!(Some(&owner.uid), sealed.metadata.uid.as_ref());
    assert_eq!(owner.controller, Some(true));

    let condition = synced(&world, "db", "True").await;
    assert_eq!(condition.reason.as_deref(), Some("Unsealed"));
    let status = world
        .sealed_secrets()
        .get("db")
        .await
        .unwrap()
        .status
        .unwrap();
    assert_eq!(status.observed_generation, sealed.metadata.generation);

    let events: Api<Event> = Api::namespaced(world.client.clone(), world.ns.name());
    eventually("an Unsealed Event on the SealedSecret", || {
        let events = events.clone();
        async move {
            let list = events
                .list(&ListParams::default())
                .await
                .expect("list Events");
            list.items
                .into_iter()
                .find(|e| {
                    e.reason.as_deref() == Some("Unsealed")
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("db")
                })
                .map(|_| ())
        }
    })
    .await;
    assert!(running.context.metrics.decryptions() >= 1);
}

#[tokio::test]
async fn updating_the_sealed_secret_updates_the_secret() {
    let world = World::new("update").await;
    let running = world.start().await;
    world
        .create_sealed(&running, &world.secret("db", &[("password", "one")]))
        .await;
    secret_with_data(&world, "db", &[("password", "one")]).await;

    let key = running.context.keys.newest().unwrap();
    let new = coffer_sealed::seal_secret(
        &world.secret("db", &[("password", "two"), ("user", "app")]),
        key.certificate().public_key(),
        None,
    )
    .unwrap();
    let patch = serde_json::json!({ "spec": { "encryptedData": new.spec.encrypted_data } });
    world
        .sealed_secrets()
        .patch("db", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patch SealedSecret");
    secret_with_data(&world, "db", &[("password", "two"), ("user", "app")]).await;
}

#[tokio::test]
async fn deleted_or_edited_secret_is_put_back() {
    let world = World::new("recreate").await;
    let running = world.start().await;
    world
        .create_sealed(&running, &world.secret("db", &[("password", "hunter2")]))
        .await;
    let first = secret_with_data(&world, "db", &[("password", "hunter2")]).await;

    world
        .secrets()
        .delete("db", &DeleteParams::default())
        .await
        .expect("delete Secret");
    let second = eventually("the Secret to be recreated", || {
        let api = world.secrets();
        let old_uid = first.metadata.uid.clone();
        async move {
            let s = api.get_opt("db").await.expect("read")?;
            (s.metadata.uid != old_uid).then_some(s)
        }
    })
    .await;
    assert_eq!(data_of(&second)["password"], "hunter2");

    let edit = serde_json::json!({ "data": { "password": "dGFtcGVyZWQ=" } });
    world
        .secrets()
        .patch("db", &PatchParams::default(), &Patch::Merge(edit))
        .await
        .expect("edit Secret");
    secret_with_data(&world, "db", &[("password", "hunter2")]).await;
}

#[tokio::test]
async fn value_sealed_for_another_name_reports_synced_false_and_creates_no_secret() {
    let world = World::new("scope").await;
    let running = world.start().await;
    let key = running.context.keys.newest().unwrap();
    let mut sealed = coffer_sealed::seal_secret(
        &world.secret("original", &[("password", "hunter2")]),
        key.certificate().public_key(),
        None,
    )
    .unwrap();
    sealed.metadata.name = Some("renamed".into());
    world
        .sealed_secrets()
        .create(&PostParams::default(), &sealed)
        .await
        .unwrap();

    let condition = synced(&world, "renamed", "False").await;
    let message = condition.message.unwrap_or_default();
    assert_eq!(condition.reason.as_deref(), Some("ErrUnsealFailed"));
    assert!(
        message.contains(&format!("{}/renamed", world.ns.name()))
            && message.contains("\"password\"")
            && message.contains("scope strict"),
        "{message}"
    );
    assert!(!message.contains("hunter2"));
    assert!(world.secrets().get_opt("renamed").await.unwrap().is_none());
    assert_eq!(
        running
            .context
            .metrics
            .unseal_errors("unseal", world.ns.name()),
        1
    );
}

/// Waits for a Warning Event with `reason` on SealedSecret `name`.
async fn warning(world: &World, name: &str, reason: &str) -> Event {
    let events: Api<Event> = Api::namespaced(world.client.clone(), world.ns.name());
    eventually(&format!("a {reason} Event on {name}"), || {
        let events = events.clone();
        async move {
            events
                .list(&ListParams::default())
                .await
                .expect("list Events")
                .items
                .into_iter()
                .find(|e| {
                    e.reason.as_deref() == Some(reason)
                        && e.type_.as_deref() == Some("Warning")
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                })
        }
    })
    .await
}

#[tokio::test]
async fn a_tenants_tls_secret_is_not_overwritten() {
    let world = World::new("foreign").await;
    let running = world.start().await;
    let mut theirs = world.secret("tls", &[("tls.crt", "cert"), ("tls.key", "theirs")]);
    theirs.type_ = Some("kubernetes.io/tls".into());
    let before = world
        .secrets()
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();
    let mut ours = world.secret("tls", &[("tls.crt", "x"), ("tls.key", "ours")]);
    ours.type_ = Some("kubernetes.io/tls".into());
    world.create_sealed(&running, &ours).await;

    let condition = synced(&world, "tls", "False").await;
    assert_eq!(condition.reason.as_deref(), Some("ErrUpdateFailed"));
    let message = condition.message.unwrap_or_default();
    assert!(
        message.contains("already exists and is not managed"),
        "{message}"
    );
    warning(&world, "tls", "ErrUpdateFailed").await;
    let after = world.secrets().get("tls").await.unwrap();
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    assert_eq!(data_of(&after)["tls.key"], "theirs");
    assert_eq!(after.metadata.owner_references, None);
}

/// Regression: with `skip-set-owner-references`, a Secret carrying this
/// controller's inputs-hash annotation counted as ours even when another
/// object controls it (another SealedSecret, or an earlier SealedSecret of
/// the same name).
#[tokio::test]
async fn a_secret_controlled_by_another_sealed_secret_is_not_taken_over() {
    let world = World::new("other-owner").await;
    let running = world.start().await;
    let other = world
        .create_sealed(&running, &world.secret("other", &[("k", "v")]))
        .await;
    let owner = k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: "bitnami.com/v1alpha1".into(),
        kind: "SealedSecret".into(),
        name: "other".into(),
        uid: other.metadata.uid.clone().unwrap(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let mut skip = BTreeMap::new();
    skip.insert(
        "sealedsecrets.bitnami.com/skip-set-owner-references".to_owned(),
        "true".to_owned(),
    );
    for (name, annotations) in [("plain", BTreeMap::new()), ("skipping", skip)] {
        let mut theirs = world.secret(name, &[("password", "theirs")]);
        theirs.metadata.owner_references = Some(vec![owner.clone()]);
        theirs.metadata.annotations = Some(BTreeMap::from([(
            "coffer.dev/sealed-inputs-hash".to_owned(),
            "stamped-by-us-once".to_owned(),
        )]));
        let before = world
            .secrets()
            .create(&PostParams::default(), &theirs)
            .await
            .unwrap();
        let mut ours = world.secret(name, &[("password", "ours")]);
        ours.metadata.annotations = Some(annotations);
        world.create_sealed(&running, &ours).await;
        let condition = synced(&world, name, "False").await;
        assert!(
            condition
                .message
                .unwrap_or_default()
                .contains("not managed by SealedSecret"),
            "{name}"
        );
        warning(&world, name, "ErrUpdateFailed").await;
        let after = world.secrets().get(name).await.unwrap();
        assert_eq!(
            after.metadata.resource_version, before.metadata.resource_version,
            "{name}"
        );
        assert_eq!(data_of(&after)["password"], "theirs", "{name}");
    }
}

/// A tenant's Secret `db` (`password: theirs`, `extra: x`) annotated
/// `annotation: "true"`, then a SealedSecret for `db` with `password: ours`.
async fn seal_over_an_annotated_secret(world: &World, running: &Running, annotation: &str) {
    let mut theirs = world.secret("db", &[("password", "theirs"), ("extra", "x")]);
    theirs.metadata.annotations = Some(BTreeMap::from([(annotation.into(), "true".into())]));
    world
        .secrets()
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();
    world
        .create_sealed(running, &world.secret("db", &[("password", "ours")]))
        .await;
}

#[tokio::test]
async fn managed_annotation_lets_the_controller_take_over() {
    let world = World::new("managed").await;
    let running = world.start().await;
    seal_over_an_annotated_secret(&world, &running, "sealedsecrets.bitnami.com/managed").await;

    let secret = secret_with_data(&world, "db", &[("password", "ours")]).await;
    assert!(secret.metadata.owner_references.is_some(), "now owned");
    synced(&world, "db", "True").await;
}

#[tokio::test]
async fn patch_annotation_merges_sealed_keys_into_existing_secret() {
    let world = World::new("patch").await;
    let running = world.start().await;
    seal_over_an_annotated_secret(&world, &running, "sealedsecrets.bitnami.com/patch").await;

    let secret = secret_with_data(&world, "db", &[("extra", "x"), ("password", "ours")]).await;
    assert_eq!(
        secret.metadata.owner_references, None,
        "patched, not taken over"
    );
}

#[tokio::test]
async fn restart_with_unchanged_objects_decrypts_nothing() {
    let world = World::new("restart").await;
    let first = world.start().await;
    world
        .create_sealed(&first, &world.secret("db", &[("password", "hunter2")]))
        .await;
    secret_with_data(&world, "db", &[("password", "hunter2")]).await;
    synced(&world, "db", "True").await;
    drop(first);

    let second = world.start().await;
    assert_eq!(
        second.context.keys.keys().len(),
        1,
        "the stored key is reused"
    );
    let metrics = second.context.metrics.clone();
    eventually(
        "the restarted controller to reconcile the SealedSecret",
        || {
            let metrics = metrics.clone();
            async move { (metrics.unseal_requests() >= 1).then_some(()) }
        },
    )
    .await;
    assert_eq!(second.context.metrics.decryptions(), 0);

    // Still watching: a change after restart is decrypted and applied.
    world
        .secrets()
        .delete("db", &DeleteParams::default())
        .await
        .unwrap();
    secret_with_data(&world, "db", &[("password", "hunter2")]).await;
    assert_eq!(second.context.metrics.decryptions(), 1);
}

#[tokio::test]
async fn immutable_secret_update_is_refused_with_a_clear_condition() {
    let world = World::new("immutable").await;
    let running = world.start().await;
    let mut s = world.secret("db", &[("password", "one")]);
    s.immutable = Some(true);
    world.create_sealed(&running, &s).await;
    secret_with_data(&world, "db", &[("password", "one")]).await;

    reseal_password(&world, &running, &mut s, "two").await;
    let condition = synced(&world, "db", "False").await;
    let message = condition.message.unwrap_or_default();
    assert!(
        message.contains("the target Secret is immutable"),
        "{message}"
    );
    let secret: Secret = world.secrets().get("db").await.unwrap();
    assert_eq!(data_of(&secret)["password"], "one");
    let _: Option<SealedSecret> = None;
}

/// Sets `password` of `s` to `value` and patches the SealedSecret `db`
/// with `s` sealed again to the controller's newest key.
async fn reseal_password(world: &World, running: &Running, s: &mut Secret, value: &str) {
    let key = running.context.keys.newest().unwrap();
    s.data = Some(BTreeMap::from([(
        "password".into(),
        k8s_openapi::ByteString(value.as_bytes().to_vec()),
    )]));
    let new = coffer_sealed::seal_secret(s, key.certificate().public_key(), None).unwrap();
    let patch = serde_json::json!({ "spec": { "encryptedData": new.spec.encrypted_data } });
    world
        .sealed_secrets()
        .patch("db", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .unwrap();
}

#[tokio::test]
async fn skip_owner_reference_annotation_leaves_secret_unowned_but_kept_in_sync() {
    let world = World::new("skip-owner").await;
    let running = world.start().await;
    let mut s = world.secret("db", &[("password", "one")]);
    s.metadata.annotations = Some(BTreeMap::from([(
        "sealedsecrets.bitnami.com/skip-set-owner-references".into(),
        "true".into(),
    )]));
    world.create_sealed(&running, &s).await;
    let secret = secret_with_data(&world, "db", &[("password", "one")]).await;
    assert_eq!(secret.metadata.owner_references, None);
    synced(&world, "db", "True").await;

    reseal_password(&world, &running, &mut s, "two").await;
    secret_with_data(&world, "db", &[("password", "two")]).await;
}

#[tokio::test]
async fn template_entries_render_and_null_removes_a_sealed_key_as_bitnami_0_40() {
    let world = World::new("template").await;
    let running = world.start().await;
    let key = running.context.keys.newest().unwrap();
    let mut sealed = coffer_sealed::seal_secret(
        &world.secret("db", &[("password", "pw"), ("user", "app")]),
        key.certificate().public_key(),
        None,
    )
    .unwrap();
    sealed.spec.template.get_or_insert_default().data = Some(BTreeMap::from([
        ("host".into(), Some("db.prod".into())),
        (
            "dsn".into(),
            Some("{{ .user }}:{{ .password }}@{{ .host }}".into()),
        ),
        ("user".into(), None),
    ]));
    // The API server keeps the null entry (Bitnami's CRD refuses it).
    let created = world
        .sealed_secrets()
        .create(&PostParams::default(), &sealed)
        .await
        .expect("create with a null template entry");
    let stored = created.spec.template.unwrap().data.unwrap();
    assert_eq!(stored.get("user"), Some(&None));
    secret_with_data(
        &world,
        "db",
        &[
            ("password", "pw"),
            ("host", "db.prod"),
            ("dsn", "app:pw@db.prod"),
        ],
    )
    .await;
    synced(&world, "db", "True").await;
}
