//! What `remoteRef` asks of a value or key on its way to the Secret:
//! `decodingStrategy`, `conversionStrategy` and `metadataPolicy: Fetch`.

use aws_sdk_secretsmanager::types::Tag;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn decoding_strategies_turn_base64_provider_values_into_bytes() {
    let world = World::new("remote-decoding").await;
    aws_store(&world, "aws").await;
    let encoded = remote(&world, "encoded");
    let plain = remote(&world, "plain");
    let map = remote(&world, "map");
    aws_put(&encoded, "aGVsbG8gd29ybGQ=").await;
    aws_put(&plain, "not base64!").await;
    aws_put(&map, r#"{"a":"Zmlyc3Q=","b":"c2Vjb25k"}"#).await;
    let decode = |key: &str, strategy: &str| json!({"key": key, "decodingStrategy": strategy});
    world
        .apply(
            ExternalSecretManifest::new("decoded", "aws")
                .data_ref("base64", decode(&encoded, "Base64"))
                .data_ref("auto", decode(&encoded, "Auto"))
                .data_ref("auto-plain", decode(&plain, "Auto"))
                .data("as-is", &encoded)
                .extract_ref(decode(&map, "Base64")),
        )
        .await;
    let secret = world
        .wait_secret("decoded", "the decoded Secret", |s| keys(s).len() == 6)
        .await;
    assert_eq!(value(&secret, "base64").as_deref(), Some("hello world"));
    assert_eq!(value(&secret, "auto").as_deref(), Some("hello world"));
    assert_eq!(
        value(&secret, "auto-plain").as_deref(),
        Some("not base64!"),
        "Auto keeps what is not base64"
    );
    assert_eq!(value(&secret, "as-is").as_deref(), Some("aGVsbG8gd29ybGQ="));
    assert_eq!(value(&secret, "a").as_deref(), Some("first"));
    assert_eq!(value(&secret, "b").as_deref(), Some("second"));

    // Base64 on a value that is not: the sync fails, naming the key only.
    world
        .apply(
            ExternalSecretManifest::new("undecodable", "aws")
                .data_ref("token", decode(&plain, "Base64")),
        )
        .await;
    let failed = world
        .wait_ready("undecodable", "Ready=False", |c| c.status == "False")
        .await;
    let message = failed.message.unwrap_or_default();
    assert!(message.contains("base64"), "{message}");
    assert!(message.contains("token"), "{message}");
    assert!(
        !message.contains("not base64!"),
        "the value leaked: {message}"
    );
    assert!(
        world
            .secrets()
            .get_opt("undecodable")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn conversion_strategy_rewrites_keys_a_secret_cannot_hold() {
    let world = World::new("remote-conversion").await;
    aws_store(&world, "aws").await;
    let map = remote(&world, "odd-keys");
    aws_put(&map, r#"{"db/user":"app","api key":"k","ok-key.1":"v"}"#).await;
    for strategy in ["Default", "Unicode"] {
        world
            .apply(
                ExternalSecretManifest::new(&strategy.to_lowercase(), "aws")
                    .extract_ref(json!({"key": map, "conversionStrategy": strategy})),
            )
            .await;
    }
    let default = world
        .wait_secret("default", "Default conversion", |s| keys(s).len() == 3)
        .await;
    assert_eq!(keys(&default), ["api_key", "db_user", "ok-key.1"]);
    assert_eq!(value(&default, "db_user").as_deref(), Some("app"));
    let unicode = world
        .wait_secret("unicode", "Unicode conversion", |s| keys(s).len() == 3)
        .await;
    assert_eq!(
        keys(&unicode),
        ["api_U0020_key", "db_U002f_user", "ok-key.1"]
    );
}

#[tokio::test]
async fn metadata_policy_fetch_reads_the_secrets_tags_instead_of_its_value() {
    let world = World::new("remote-metadata").await;
    aws_store(&world, "aws").await;
    let key = remote(&world, "tagged");
    aws_client()
        .await
        .create_secret()
        .name(&key)
        .secret_string("the-value")
        .tags(Tag::builder().key("team").value("payments").build())
        .tags(Tag::builder().key("env").value("prod").build())
        .send()
        .await
        .expect("moto create_secret with tags");
    let fetch = json!({"key": key, "metadataPolicy": "Fetch"});
    world
        .apply(
            ExternalSecretManifest::new("tags", "aws")
                .data_ref("all-tags", fetch.clone())
                .data_ref(
                    "team",
                    json!({"key": key, "metadataPolicy": "Fetch", "property": "team"}),
                )
                .data("value", &key)
                .extract_ref(fetch),
        )
        .await;
    let secret = world
        .wait_secret("tags", "the tags Secret", |s| keys(s).len() == 4)
        .await;
    assert_eq!(
        value(&secret, "all-tags").as_deref(),
        Some(r#"{"env":"prod","team":"payments"}"#)
    );
    assert_eq!(value(&secret, "team").as_deref(), Some("payments"));
    assert_eq!(value(&secret, "value").as_deref(), Some("the-value"));
    assert_eq!(value(&secret, "env").as_deref(), Some("prod"));
}
