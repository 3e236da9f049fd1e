//! What the controller watches: `--namespaces` and `--label-selector`
//! narrow it, and a SealedSecret outside the scope is never unsealed.

mod common;

use common::{World, secret_with_data};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};

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
