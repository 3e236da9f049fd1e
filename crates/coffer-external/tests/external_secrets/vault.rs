//! Vault (OpenBao) through SecretStores and ExternalSecrets.

use crate::common::*;

#[tokio::test]
async fn vault_extract_with_template_builds_the_secret() {
    let world = World::new("vault-template").await;
    let path = remote(&world, "db");
    vault_put(
        world.env,
        &path,
        serde_json::json!({"user": "app", "password": "pw1"}),
    )
    .await;
    vault_store(
        &world,
        "vault",
        &world.env.vault.addr,
        &world.env.vault.token,
    )
    .await;
    world
        .apply(&format!(
            r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: db
  namespace: NAMESPACE
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: vault
  target:
    template:
      type: kubernetes.io/basic-auth
      metadata:
        labels:
          app: db
      data:
        username: "{{{{ .user }}}}"
        password: "{{{{ .password }}}}"
        url: "postgres://{{{{ .user }}}}:{{{{ .password }}}}@db:5432"
  dataFrom:
  - extract:
      key: {path}
"#
        ))
        .await;
    let secret = world
        .wait_secret("db", "the templated Secret", |s| value(s, "url").is_some())
        .await;
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert_eq!(
        value(&secret, "url").as_deref(),
        Some("postgres://app:pw1@db:5432")
    );
    assert_eq!(keys(&secret), ["password", "url", "username"]);
    assert_eq!(secret.metadata.labels.unwrap()["app"], "db");
}

#[tokio::test]
async fn a_provider_outage_keeps_the_secret_and_recovers() {
    let world = World::new("vault-outage").await;
    let path = remote(&world, "svc");
    vault_put(world.env, &path, serde_json::json!({"token": "before"})).await;
    vault_store(
        &world,
        "vault",
        &world.env.vault.addr,
        &world.env.vault.token,
    )
    .await;
    world
        .apply(&format!(
            r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: svc
  namespace: NAMESPACE
spec:
  refreshInterval: 1s
  secretStoreRef:
    name: vault
  data:
  - secretKey: token
    remoteRef:
      key: {path}
      property: token
"#
        ))
        .await;
    let synced = world
        .wait_secret("svc", "the first sync", |s| {
            value(s, "token").as_deref() == Some("before")
        })
        .await;

    // The store now points at an address where nothing listens: every read
    // fails, as in an outage.
    let dead = format!("http://127.0.0.1:{}", coffer_testenv::free_port().unwrap());
    vault_store(&world, "vault", &dead, &world.env.vault.token).await;
    let failed = world
        .wait_ready("svc", "Ready=False during the outage", |c| {
            c.status == "False"
        })
        .await;
    let message = failed.message.unwrap_or_default();
    assert!(message.contains("SecretStore"), "{message}");
    assert!(
        !message.contains("before"),
        "condition leaks the value: {message}"
    );
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let during = world.secrets().get("svc").await.unwrap();
    assert_eq!(
        value(&during, "token").as_deref(),
        Some("before"),
        "the Secret is kept"
    );
    assert_eq!(
        rv(&during),
        rv(&synced),
        "the Secret was not written during the outage"
    );

    vault_put(world.env, &path, serde_json::json!({"token": "after"})).await;
    vault_store(
        &world,
        "vault",
        &world.env.vault.addr,
        &world.env.vault.token,
    )
    .await;
    world
        .wait_secret("svc", "the update once the provider is back", |s| {
            value(s, "token").as_deref() == Some("after")
        })
        .await;
    world
        .wait_ready("svc", "Ready=True again", |c| c.status == "True")
        .await;
}

#[tokio::test]
async fn wrong_credentials_fail_without_creating_a_secret_or_leaking_the_token() {
    let world = World::new("vault-badcreds").await;
    let path = remote(&world, "x");
    vault_put(world.env, &path, serde_json::json!({"k": "v"})).await;
    vault_store(
        &world,
        "vault",
        &world.env.vault.addr,
        "not-a-real-token-5c1d",
    )
    .await;
    world
        .apply(&format!(
            r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: x
  namespace: NAMESPACE
spec:
  secretStoreRef:
    name: vault
  data:
  - secretKey: k
    remoteRef:
      key: {path}
      property: k
"#
        ))
        .await;
    let failed = world
        .wait_ready("x", "Ready=False", |c| c.status == "False")
        .await;
    let message = failed.message.unwrap_or_default();
    assert_eq!(failed.reason.as_deref(), Some("SecretSyncedError"));
    assert!(!message.contains("not-a-real-token-5c1d"), "{message}");
    assert!(world.secrets().get_opt("x").await.unwrap().is_none());
}
