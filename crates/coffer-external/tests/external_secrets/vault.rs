//! Vault (OpenBao) through SecretStores and ExternalSecrets.

use crate::common::*;

#[tokio::test]
async fn vault_extract_with_template_builds_the_secret() {
    let world = World::new("vault-template").await;
    let path = remote(&world, "db");
    world
        .env
        .vault
        .put(&path, serde_json::json!({"user": "app", "password": "pw1"}))
        .await;
    root_vault_store(&world).await;
    world
        .apply(
            ExternalSecretManifest::new("db", "vault")
                .target(serde_json::json!({"template": {
                    "type": "kubernetes.io/basic-auth",
                    "metadata": {"labels": {"app": "db"}},
                    "data": {
                        "username": "{{ .user }}",
                        "password": "{{ .password }}",
                        "url": "postgres://{{ .user }}:{{ .password }}@db:5432",
                    },
                }}))
                .extract(&path),
        )
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
    world
        .env
        .vault
        .put(&path, serde_json::json!({"token": "before"}))
        .await;
    root_vault_store(&world).await;
    world
        .apply(
            ExternalSecretManifest::new("svc", "vault")
                .refresh("1s")
                .property("token", &path, "token"),
        )
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

    world
        .env
        .vault
        .put(&path, serde_json::json!({"token": "after"}))
        .await;
    root_vault_store(&world).await;
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
    world
        .env
        .vault
        .put(&path, serde_json::json!({"k": "v"}))
        .await;
    vault_store(
        &world,
        "vault",
        &world.env.vault.addr,
        "not-a-real-token-5c1d",
    )
    .await;
    // No refreshInterval: ESO's default.
    let x = ExternalSecretManifest::new("x", "vault").property("k", &path, "k");
    world.apply(x.unset("refreshInterval")).await;
    let failed = world
        .wait_ready("x", "Ready=False", |c| c.status == "False")
        .await;
    let message = failed.message.unwrap_or_default();
    assert_eq!(failed.reason.as_deref(), Some("SecretSyncedError"));
    assert!(!message.contains("not-a-real-token-5c1d"), "{message}");
    assert!(world.secrets().get_opt("x").await.unwrap().is_none());
}

#[tokio::test]
async fn null_byte_policy_fail_refuses_a_binary_value_naming_the_key() {
    let world = World::new("vault-null-bytes").await;
    let path = remote(&world, "bin");
    world
        .env
        .vault
        .put(
            &path,
            serde_json::json!({"blob": "a\u{0}b", "text": "plain"}),
        )
        .await;
    root_vault_store(&world).await;
    let with_policy = |name: &str, policy: Option<&str>| {
        let mut remote_ref = serde_json::json!({"key": path, "property": "blob"});
        if let Some(p) = policy {
            remote_ref["nullBytePolicy"] = p.into();
        }
        ExternalSecretManifest::new(name, "vault").data_ref("blob", remote_ref)
    };
    // Ignore (the default) takes binary data as it is.
    world.apply(with_policy("ignored", None)).await;
    let secret = world
        .wait_secret("ignored", "the binary value", |s| {
            value(s, "blob").is_some()
        })
        .await;
    assert_eq!(value(&secret, "blob").as_deref(), Some("a\u{0}b"));
    // Fail refuses it, naming the key, writing nothing.
    world.apply(with_policy("refused", Some("Fail"))).await;
    let refused = world
        .wait_ready("refused", "refused", |c| c.status == "False")
        .await;
    let message = refused.message.unwrap_or_default();
    assert!(
        message.contains("key \"blob\" contains null bytes"),
        "{message}"
    );
    assert!(world.secrets().get_opt("refused").await.unwrap().is_none());
    // On a dataFrom extract too.
    world
        .apply(
            ExternalSecretManifest::new("extracted", "vault")
                .extract_ref(serde_json::json!({"key": path, "nullBytePolicy": "Fail"})),
        )
        .await;
    let refused = world
        .wait_ready("extracted", "refused", |c| c.status == "False")
        .await;
    assert!(
        refused
            .message
            .unwrap_or_default()
            .contains("contains null bytes")
    );
}
