//! SecretStore and ClusterSecretStore status and scope.

use std::time::Duration;

use coffer_external::Config;
use serde_json::json;

use crate::common::*;

/// The Ready condition of SecretStore `name`, once it has one.
async fn ready_condition(world: &World, name: &str) -> coffer_api::external::SecretStoreCondition {
    let api: kube::Api<coffer_api::SecretStore> =
        kube::Api::namespaced(world.client.clone(), world.name());
    eventually("the store's Ready condition", || async {
        let store = api.get(name).await.ok()?;
        store
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready")
    })
    .await
}

#[tokio::test]
async fn a_store_with_an_unsupported_provider_says_so_in_its_status() {
    let world = World::new("store-unsupported").await;
    let gcp = json!({"gcpsm": {"projectID": "my-project"}});
    world.apply(StoreManifest::with_provider("gcp", gcp)).await;
    let condition = ready_condition(&world, "gcp").await;
    assert_eq!(condition.status, "False");
    assert_eq!(condition.reason.as_deref(), Some("InvalidProviderConfig"));
    let message = condition.message.unwrap_or_default();
    assert!(
        message.contains("gcpsm") && message.contains("not supported"),
        "{message}"
    );
}

#[tokio::test]
async fn retry_settings_are_refused_by_name_not_ignored() {
    let world = World::new("store-retries").await;
    let vault = &world.env.vault;
    world
        .put_secret("vault-token", &[("token", &vault.token)])
        .await;
    world
        .apply(
            StoreManifest::vault(
                "retrying",
                &vault.addr,
                "secret",
                VaultLogin::token("vault-token", "token"),
            )
            .set(
                "retrySettings",
                json!({"maxRetries": 5, "retryInterval": "10s"}),
            ),
        )
        .await;
    let condition = ready_condition(&world, "retrying").await;
    assert_eq!(condition.status, "False");
    let message = condition.message.unwrap_or_default();
    assert!(message.contains("spec.retrySettings"), "{message}");
}

#[tokio::test]
async fn a_valid_store_is_ready() {
    let world = World::new("store-valid").await;
    root_vault_store(&world).await;
    let condition = ready_condition(&world, "vault").await;
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_deref()),
        ("True", Some("Valid"))
    );
}

/// The store's Ready condition once `pred` holds for it.
async fn ready_when(
    world: &World,
    name: &str,
    what: &str,
    pred: impl Fn(&coffer_api::external::SecretStoreCondition) -> bool,
) -> coffer_api::external::SecretStoreCondition {
    let api: kube::Api<coffer_api::SecretStore> =
        kube::Api::namespaced(world.client.clone(), world.name());
    eventually(what, || async {
        let store = api.get(name).await.ok()?;
        store
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready" && pred(c))
    })
    .await
}

#[tokio::test]
async fn a_store_is_validated_again_every_refresh_interval_in_either_form() {
    let mut world = World::without_controller("store-revalidate").await;
    // The controller's default would be 5 minutes: longer than the test.
    world
        .start_with(Config {
            store_requeue_interval: Duration::from_secs(3600),
            ..world.config()
        })
        .await;
    // Its token Secret does not exist yet.
    let login = VaultLogin::token("late-token", "token");
    // 1 s and "1s" are raised to the floor (coffer_external::store_status::MIN_REVALIDATE, 10 s).
    for (name, interval) in [("seconds", json!(1)), ("go-duration", json!("1s"))] {
        let store = StoreManifest::vault(name, &world.env.vault.addr, "secret", login.clone())
            .provider("version", "v2")
            .set("refreshInterval", interval);
        world.apply(store).await;
        ready_when(&world, name, "Ready=False without the token", |c| {
            c.status == "False"
        })
        .await;
    }
    world
        .put_secret("late-token", &[("token", &world.env.vault.token)])
        .await;
    for name in ["seconds", "go-duration"] {
        ready_when(
            &world,
            name,
            "Ready=True once the token exists, without an edit",
            |c| c.status == "True",
        )
        .await;
    }
    // A refreshInterval that is no duration is refused by name.
    let store = StoreManifest::vault("bad-interval", &world.env.vault.addr, "secret", login)
        .provider("version", "v2")
        .set("refreshInterval", "soon");
    world.apply(store).await;
    let refused = ready_when(&world, "bad-interval", "refused", |c| c.status == "False").await;
    assert!(
        refused
            .message
            .unwrap_or_default()
            .contains("spec.refreshInterval: invalid duration \"soon\""),
    );
}

#[tokio::test]
async fn one_cluster_secret_store_serves_two_namespaces_and_refuses_a_third() {
    let world = World::new("css-a").await;
    let other = World::new("css-b").await;
    let denied = World::new("css-c").await;
    let store = format!("css-{}", world.name());
    let key = remote(&world, "shared");
    aws_put(&key, "for-both").await;
    aws_creds(&world).await;
    let credentials = AwsCredentials::static_keys_in("aws-creds", world.name());
    world
        .apply(
            StoreManifest::aws(&store, &world.env.aws.region, credentials)
                .cluster()
                .set(
                    "conditions",
                    json!([{"namespaces": [world.name(), other.name()]}]),
                ),
        )
        .await;
    let es = ExternalSecretManifest::new("shared", &store)
        .cluster_store()
        .data("v", &key)
        .unset("refreshInterval");
    for w in [&world, &other, &denied] {
        w.apply(&es).await;
    }
    for w in [&world, &other] {
        w.wait_secret("shared", "the Secret in an allowed namespace", |s| {
            value(s, "v").as_deref() == Some("for-both")
        })
        .await;
    }
    let refused = denied
        .wait_ready("shared", "Ready=False", |c| c.status == "False")
        .await;
    assert!(
        refused
            .message
            .unwrap_or_default()
            .contains("denied by spec.condition")
    );
    let api: kube::Api<coffer_api::ClusterSecretStore> = kube::Api::all(world.client.clone());
    api.delete(&store, &Default::default()).await.unwrap();
}

/// ESO's `--controller-class` (default `default`; a store naming no class
/// is everyone's) and `--enable-flood-gate` (a store not Ready is not
/// used).
#[tokio::test]
async fn controller_classes_and_the_flood_gate_as_eso() {
    let mut world = World::without_controller("store-class").await;
    let mut config = world.config();
    config.flood_gate = true;
    world.start_with(config).await;
    let key = remote(&world, "app");
    let vault = world.env.vault.clone();
    world.env.vault.put(&key, json!({"v": "ok"})).await;
    world.put_secret("token", &[("token", &vault.token)]).await;
    world.put_secret("bad", &[("token", "not-a-token")]).await;
    for (name, class, secret) in [
        ("mine", Some("default"), "token"),
        ("theirs", Some("other"), "token"),
        ("broken", None, "bad"),
    ] {
        let mut store = StoreManifest::vault(
            name,
            &vault.addr,
            "secret",
            VaultLogin::token(secret, "token"),
        )
        .provider("version", "v2");
        if let Some(class) = class {
            store = store.set("controller", class);
        }
        world.apply(store).await;
    }
    // The broken store is validated (and found not Ready) before its
    // ExternalSecret is looked at.
    ready_when(&world, "broken", "the broken store not Ready", |c| {
        c.status == "False"
    })
    .await;
    for store in ["theirs", "broken", "mine"] {
        world
            .apply(ExternalSecretManifest::new(store, store).property("v", &key, "v"))
            .await;
    }
    let secret = world
        .wait_secret("mine", "the default class's Secret", |s| {
            value(s, "v").is_some()
        })
        .await;
    assert_eq!(value(&secret, "v").as_deref(), Some("ok"));
    let gated = world
        .wait_ready("broken", "the flood gate's condition", |c| {
            c.status == "False"
        })
        .await;
    let message = gated.message.unwrap_or_default();
    assert!(
        message.contains(&format!("SecretStore {}/broken is not ready", world.name())),
        "{message}"
    );
    // Another class's store: left alone, no Secret and no status.
    let theirs = world.external_secrets().get("theirs").await.unwrap();
    assert!(
        theirs.status.is_none_or(|s| s.conditions.is_empty()),
        "another controller class's ExternalSecret is not touched"
    );
    assert!(world.secrets().get_opt("theirs").await.unwrap().is_none());
}
