//! Each single-controller overlay on the real API server, as `live` does
//! for the base: the controller runs with a token of the ServiceAccount the
//! overlay creates and does its job, is refused the other controller's
//! objects, and cannot plant a key Secret outside its namespace (the
//! overlay's admission policy), neither directly nor through an
//! ExternalSecret template.

use coffer_api::ExternalSecret;
use coffer_controller::LeaseConfig;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};

use crate::common::{self, World, eventually, secret_with_data};
use crate::live::{apply_overlay, apply_yaml, remove, service_account_client, vault};

const KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";

fn key_secret(name: &str, labelled: bool) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: labelled.then(|| [(KEY_LABEL.to_owned(), "active".to_owned())].into()),
            ..ObjectMeta::default()
        },
        data: Some([("tls.key".to_owned(), ByteString(b"not a key".to_vec()))].into()),
        ..Secret::default()
    }
}

/// The refusal of the overlay's admission policy, if `result` is one.
fn refused<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Option<Box<kube::core::Status>> {
    match result {
        Err(kube::Error::Api(e)) if e.message.contains("only in its own namespace") => Some(e),
        _ => None,
    }
}

/// The controller's identity (`sa`, ServiceAccount of namespace `home`)
/// may write Secrets in `elsewhere` (its job) but no key Secret there, on
/// create or on update; in `home` it may.
async fn key_secrets_only_at_home(sa: &kube::Client, home: &str, elsewhere: &str) {
    let away: Api<Secret> = Api::namespaced(sa.clone(), elsewhere);
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    // The policy takes effect shortly after it is created: poll with dry
    // runs (admission judges them too; nothing is stored).
    let refusal = eventually(
        "the admission policy to refuse a key Secret outside the controller's namespace",
        || {
            let away = away.clone();
            let dry = dry.clone();
            async move { refused(away.create(&dry, &key_secret("planted", true)).await) }
        },
    )
    .await;
    assert_eq!(refusal.code, 403, "{refusal:?}");
    assert!(
        refused(
            away.create(&PostParams::default(), &key_secret("planted", true))
                .await
        )
        .is_some(),
        "a real create is refused too"
    );
    assert!(away.get_opt("planted").await.unwrap().is_none());
    // A plain Secret is the controller's job; relabelling it as a key is
    // not.
    let plain = away
        .create(&PostParams::default(), &key_secret("plain", false))
        .await
        .expect("the controller writes ordinary Secrets in any namespace");
    let mut relabelled = plain.clone();
    relabelled.metadata.labels = key_secret("plain", true).metadata.labels;
    assert!(
        refused(
            away.replace("plain", &PostParams::default(), &relabelled)
                .await
        )
        .is_some(),
        "an update that makes a key Secret outside the namespace is refused"
    );
    let at_home: Api<Secret> = Api::namespaced(sa.clone(), home);
    at_home
        .create(&dry, &key_secret("own-key", true))
        .await
        .expect("key Secrets in the controller's own namespace are allowed");
}

/// `api` answers 403 to the controller's token.
async fn forbidden<T>(api: Api<T>, what: &str)
where
    T: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    match api.list(&Default::default()).await {
        Err(kube::Error::Api(e)) if e.code == 403 => {}
        other => panic!("the controller's token may list {what}: {other:?}"),
    }
}

#[tokio::test]
async fn sealed_secrets_overlay_unseals_with_its_own_account_and_no_more() {
    let world = World::new("deploy-sealed-only").await;
    let ns = world.ctrl_ns.name().to_owned();
    let cluster_wide = apply_overlay(&world.client, "overlays/sealed-secrets", &ns).await;
    let client = service_account_client(&world, &ns, "coffer-controller").await;
    forbidden(
        Api::<ExternalSecret>::namespaced(client.clone(), world.ns.name()),
        "ExternalSecrets",
    )
    .await;

    let mut config = world.config();
    config.leader_election = Some(LeaseConfig::new("coffer-controller", &ns));
    config.external_secrets = None;
    let running = coffer_controller::start(client.clone(), config)
        .await
        .expect("starts with the overlay's permissions");
    tokio::time::timeout(common::TIMEOUT, running.leadership.clone().until_leader())
        .await
        .expect("acquires the Lease with the overlay's permissions");
    let key = eventually("the leader to create a key", || {
        let keys = running.context.keys.clone();
        async move { keys.newest().ok() }
    })
    .await;
    let sealed = coffer_sealed::seal_secret(
        &world.secret("db", &[("password", "hunter2")]),
        key.certificate().public_key(),
        None,
    )
    .unwrap();
    world
        .sealed_secrets()
        .create(&Default::default(), &sealed)
        .await
        .unwrap();
    secret_with_data(&world, "db", &[("password", "hunter2")]).await;
    common::synced(&world, "db", "True").await;

    key_secrets_only_at_home(&client, &ns, world.ns.name()).await;
    remove(&world.client, cluster_wide).await;
}

#[tokio::test]
async fn external_secrets_overlay_syncs_with_its_own_account_and_no_more() {
    let world = World::new("deploy-external-only").await;
    let ns = world.ctrl_ns.name().to_owned();
    let cluster_wide = apply_overlay(&world.client, "overlays/external-secrets", &ns).await;
    let client = service_account_client(&world, &ns, "coffer-controller").await;
    forbidden(
        Api::<coffer_api::SealedSecret>::namespaced(client.clone(), world.ns.name()),
        "SealedSecrets",
    )
    .await;
    key_secrets_only_at_home(&client, &ns, world.ns.name()).await;

    let mut config = world.config();
    config.leader_election = Some(LeaseConfig::new("coffer-controller", &ns));
    config.sealed_secrets = false;
    config.external_secrets = Some(coffer_external::Config {
        namespaces: vec![world.ns.name().to_owned()],
        ..coffer_external::Config::default()
    });
    let running = coffer_controller::start(client, config)
        .await
        .expect("starts with the overlay's permissions");
    tokio::time::timeout(common::TIMEOUT, running.leadership.clone().until_leader())
        .await
        .expect("acquires the Lease with the overlay's permissions");

    let path = format!("{}/app", world.ns.name());
    vault(&world, &path, Some(serde_json::json!({ "password": "p1" }))).await;
    apply_yaml(
        &world,
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: vault-token\n  namespace: NAMESPACE\nstringData:\n  token: \"{}\"\n",
            world.env.vault.token
        ),
    )
    .await;
    apply_yaml(
        &world,
        &format!(
            r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: vault
  namespace: NAMESPACE
spec:
  provider:
    vault:
      server: "{server}"
      path: secret
      version: v2
      auth:
        tokenSecretRef:
          name: vault-token
          key: token
"#,
            server = world.env.vault.addr
        ),
    )
    .await;
    // `labels` lets a tenant's template try to label its target as a
    // sealing key: the admission policy refuses that write.
    let es = |name: &str, labels: &str| {
        format!(
            r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: {name}
  namespace: NAMESPACE
spec:
  refreshInterval: 1s
  secretStoreRef:
    name: vault
  target:
    name: {name}
    template:
      metadata:
        labels: {labels}
  data:
  - secretKey: password
    remoteRef:
      key: {path}
      property: password
"#
        )
    };
    apply_yaml(&world, &es("app", "{}")).await;
    secret_with_data(&world, "app", &[("password", "p1")]).await;
    apply_yaml(
        &world,
        &es("planted", &format!("{{\"{KEY_LABEL}\": active}}")),
    )
    .await;
    let ess: Api<ExternalSecret> = Api::namespaced(world.client.clone(), world.ns.name());
    eventually(
        "the key-labelled target's write refused (Ready=False)",
        || async {
            let es = ess.get("planted").await.ok()?;
            es.status?
                .conditions
                .into_iter()
                .find(|c| c.type_ == "Ready" && c.status == "False")
        },
    )
    .await;
    assert!(
        world.secrets().get_opt("planted").await.unwrap().is_none(),
        "no key-labelled Secret outside the controller's namespace"
    );
    remove(&world.client, cluster_wide).await;
}
