//! SecretStore and ClusterSecretStore status and scope.

use crate::common::*;

#[tokio::test]
async fn a_store_with_an_unsupported_provider_says_so_in_its_status() {
    let world = World::new("store-unsupported").await;
    world
        .apply(
            r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: gcp
  namespace: NAMESPACE
spec:
  provider:
    gcpsm:
      projectID: my-project
"#,
        )
        .await;
    let api: kube::Api<coffer_api::SecretStore> =
        kube::Api::namespaced(world.client.clone(), world.name());
    let condition = eventually("the store's Ready condition", || async {
        let store = api.get("gcp").await.ok()?;
        store
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready")
    })
    .await;
    assert_eq!(condition.status, "False");
    assert_eq!(condition.reason.as_deref(), Some("InvalidProviderConfig"));
    let message = condition.message.unwrap_or_default();
    assert!(
        message.contains("gcpsm") && message.contains("not supported"),
        "{message}"
    );
}

#[tokio::test]
async fn a_valid_store_is_ready() {
    let world = World::new("store-valid").await;
    vault_store(
        &world,
        "vault",
        &world.env.vault.addr,
        &world.env.vault.token,
    )
    .await;
    let api: kube::Api<coffer_api::SecretStore> =
        kube::Api::namespaced(world.client.clone(), world.name());
    let condition = eventually("the store's Ready condition", || async {
        let store = api.get("vault").await.ok()?;
        store
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready")
    })
    .await;
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_deref()),
        ("True", Some("Valid"))
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
    world
        .put_secret(
            "aws-creds",
            &[("access-key", "testing"), ("secret-access-key", "testing")],
        )
        .await;
    world
        .apply(&format!(
            r#"
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: {store}
spec:
  conditions:
  - namespaces: [{a}, {b}]
  provider:
    aws:
      service: SecretsManager
      region: {region}
      auth:
        secretRef:
          accessKeyIDSecretRef:
            name: aws-creds
            namespace: {a}
            key: access-key
          secretAccessKeySecretRef:
            name: aws-creds
            namespace: {a}
            key: secret-access-key
"#,
            a = world.name(),
            b = other.name(),
            region = world.env.aws.region
        ))
        .await;
    let es = format!(
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: shared
  namespace: NAMESPACE
spec:
  secretStoreRef:
    kind: ClusterSecretStore
    name: {store}
  data:
  - secretKey: v
    remoteRef:
      key: {key}
"#
    );
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
