//! What the controller watches: `--namespaces` and `--label-selector`
//! narrow it, and a SealedSecret outside the scope is never unsealed. Of
//! Secrets it reads the data only of those it wrote (labelled
//! `coffer.dev/sealed-secret=true`), and labels those an older version
//! wrote without decrypting them again.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use coffer_controller::sealed::keys::KeyRegistry;
use coffer_controller::sealed::secret;
use common::{World, data_of, eventually, secret_with_data, synced};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};

#[tokio::test]
async fn sealed_secret_in_an_unwatched_namespace_is_not_unsealed() {
    let world = World::new("scope-ns").await;
    let other = world.env.namespace("scope-ns-other").await;
    let running = world.start().await;
    let key = running.context.keys.newest().unwrap();

    // Created first, in a namespace the controller does not watch.
    let mut outside = world.secret("db", &[("password", "outside")]);
    outside.metadata.namespace = Some(other.name().to_owned());
    let sealed =
        coffer_sealed::seal_secret(&outside, key.certificate().public_key(), None).expect("seal");
    let other_sealed: Api<coffer_api::SealedSecret> =
        Api::namespaced(world.client.clone(), other.name());
    other_sealed
        .create(&PostParams::default(), &sealed)
        .await
        .unwrap();

    // Then one in the watched namespace: once it is unsealed, the
    // controller has had every chance to see the first.
    world
        .create_sealed(&running, &world.secret("db", &[("password", "inside")]))
        .await;
    secret_with_data(&world, "db", &[("password", "inside")]).await;

    let other_secrets: Api<Secret> = Api::namespaced(world.client.clone(), other.name());
    assert!(other_secrets.get_opt("db").await.unwrap().is_none());
    let untouched = other_sealed.get("db").await.unwrap();
    assert!(
        untouched.status.is_none(),
        "no status written outside scope"
    );
}

#[tokio::test]
async fn sealed_secret_not_matching_the_label_selector_is_not_unsealed() {
    let world = World::new("scope-label").await;
    let mut config = world.config();
    config.label_selector = Some("coffer.dev/unseal=yes".to_owned());
    let running = world.start_with(config).await;
    let key = running.context.keys.newest().unwrap();
    let seal = |name: &str, label: Option<&str>| {
        let mut sealed = coffer_sealed::seal_secret(
            &world.secret(name, &[("password", name)]),
            key.certificate().public_key(),
            None,
        )
        .expect("seal");
        if let Some(value) = label {
            sealed.metadata.labels =
                Some([("coffer.dev/unseal".to_owned(), value.to_owned())].into());
        }
        sealed
    };
    let api = world.sealed_secrets();
    for sealed in [seal("unlabelled", None), seal("other-value", Some("no"))] {
        api.create(&PostParams::default(), &sealed).await.unwrap();
    }
    api.create(&PostParams::default(), &seal("selected", Some("yes")))
        .await
        .unwrap();
    secret_with_data(&world, "selected", &[("password", "selected")]).await;

    for name in ["unlabelled", "other-value"] {
        assert!(
            world.secrets().get_opt(name).await.unwrap().is_none(),
            "{name} is outside the selector"
        );
        assert!(api.get(name).await.unwrap().status.is_none(), "{name}");
    }
}

/// `client`, recording every request as `METHOD uri [accept]`.
fn recording(client: kube::Client, log: Arc<Mutex<Vec<String>>>) -> kube::Client {
    let namespace = client.default_namespace().to_owned();
    let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        let accept = request
            .headers()
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        log.lock()
            .unwrap()
            .push(format!("{} {} [{accept}]", request.method(), request.uri()));
        let client = client.clone();
        async move { client.send(request).await }
    });
    kube::Client::new(service, namespace)
}

#[tokio::test]
async fn the_controller_never_reads_the_data_of_secrets_it_did_not_write() {
    let world = World::new("scope-data").await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let running = coffer_controller::start(
        recording(world.env.client().await, log.clone()),
        world.config(),
    )
    .await
    .unwrap();
    world
        .secrets()
        .create(
            &PostParams::default(),
            &world.secret("unrelated", &[("token", "not-the-controllers")]),
        )
        .await
        .unwrap();
    world
        .create_sealed(&running, &world.secret("db", &[("password", "hunter2")]))
        .await;
    let secret = secret_with_data(&world, "db", &[("password", "hunter2")]).await;
    assert_eq!(
        secret.metadata.labels.unwrap_or_default()[secret::OWNED_LABEL],
        "true"
    );

    // Every read of Secrets is of a Secret the controller writes, or lists
    // only labelled ones (its own, its keys), or only metadata.
    let log = log.lock().unwrap().clone();
    let secret_reads: Vec<&String> = log
        .iter()
        .filter(|line| line.starts_with("GET ") && line.contains("/secrets"))
        .collect();
    assert!(!secret_reads.is_empty(), "{log:#?}");
    for line in secret_reads {
        let own = line.contains("/secrets/db");
        let selected = line.contains("labelSelector=coffer.dev%2Fsealed-secret%3Dtrue")
            || line.contains("labelSelector=sealedsecrets.bitnami.com%2Fsealed-secrets-key");
        let metadata_only = line.contains("as=PartialObjectMetadata");
        assert!(
            own || selected || metadata_only,
            "reads other Secrets' data: {line}"
        );
    }
}

#[tokio::test]
async fn secrets_written_before_the_label_are_labelled_without_decrypting() {
    let world = World::new("scope-legacy").await;
    let first = world.start().await;
    world
        .create_sealed(&first, &world.secret("db", &[("password", "hunter2")]))
        .await;
    synced(&world, "db", "True").await;
    drop(first);

    // What an older coffer wrote: the same Secret and digest, no label.
    let keys = KeyRegistry::load(
        world.client.clone(),
        world.ctrl_ns.name(),
        "sealed-secrets-key",
    )
    .await
    .unwrap();
    let mut legacy = world.secrets().get("db").await.unwrap();
    let labels = legacy.metadata.labels.get_or_insert_default();
    labels.remove(secret::OWNED_LABEL);
    if labels.is_empty() {
        // As stored: no labels at all.
        legacy.metadata.labels = None;
    }
    let hash = secret::inputs_hash_of(&legacy).unwrap().to_owned();
    secret::stamp_digest(&mut legacy, &hash, &keys);
    world
        .secrets()
        .replace("db", &PostParams::default(), &legacy)
        .await
        .unwrap();

    let second = world.start().await;
    let labelled = eventually("the Secret to be labelled", || {
        let api = world.secrets();
        async move {
            let s = api.get("db").await.ok()?;
            secret::is_labelled(s.metadata.labels.as_ref()).then_some(s)
        }
    })
    .await;
    assert_eq!(data_of(&labelled)["password"], "hunter2");
    assert_eq!(second.context.metrics.decryptions(), 0, "nothing decrypted");

    // From then on the Secret watch sees it: a deletion is put back.
    world
        .secrets()
        .delete("db", &Default::default())
        .await
        .unwrap();
    eventually("the Secret to be recreated", || {
        let api = world.secrets();
        let old = labelled.metadata.uid.clone();
        async move {
            let s = api.get_opt("db").await.ok()??;
            (s.metadata.uid != old).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn a_foreign_secret_opted_in_later_is_taken_over_at_once() {
    let world = World::new("scope-opt-in").await;
    let running = world.start().await;
    world
        .secrets()
        .create(
            &PostParams::default(),
            &world.secret("db", &[("password", "theirs")]),
        )
        .await
        .unwrap();
    world
        .create_sealed(&running, &world.secret("db", &[("password", "ours")]))
        .await;
    synced(&world, "db", "False").await;

    // The owner of the Secret lets the controller take it over; no
    // SealedSecret changes, yet the unlabelled Secret's edit is seen.
    let annotate = serde_json::json!({
        "metadata": {"annotations": {"sealedsecrets.bitnami.com/managed": "true"}}
    });
    world
        .secrets()
        .patch("db", &PatchParams::default(), &Patch::Merge(annotate))
        .await
        .unwrap();
    let secret = secret_with_data(&world, "db", &[("password", "ours")]).await;
    let labels: BTreeMap<String, String> = secret.metadata.labels.unwrap_or_default();
    assert_eq!(labels[secret::OWNED_LABEL], "true");
}
