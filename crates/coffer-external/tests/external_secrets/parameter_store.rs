//! `service: ParameterStore` against moto's SSM: values, versions,
//! properties, tags (`metadataPolicy: Fetch`), `find` by path and by tags.

use aws_sdk_ssm::types::{ParameterType, Tag};
use serde_json::json;

use crate::common::*;

/// moto's SSM in `region` (the endpoint from the environment).
async fn ssm(region: &str) -> aws_sdk_ssm::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .load()
        .await;
    aws_sdk_ssm::Client::new(&config)
}

/// Puts `value` at `name` in `region` (a new version when it exists) and
/// returns the version.
pub async fn put(region: &str, name: &str, value: &str, secure: bool) -> i64 {
    let type_ = if secure {
        ParameterType::SecureString
    } else {
        ParameterType::String
    };
    ssm(region)
        .await
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(type_)
        .overwrite(true)
        .send()
        .await
        .expect("moto takes the parameter")
        .version
}

/// Tags parameter `name` in `region` with `key` = `value`.
pub async fn tag(region: &str, name: &str, key: &str, value: &str) {
    ssm(region)
        .await
        .add_tags_to_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .tags(Tag::builder().key(key).value(value).build().unwrap())
        .send()
        .await
        .expect("moto tags the parameter");
}

#[tokio::test]
async fn parameter_store_values_versions_properties_tags_and_finds() {
    let world = World::new("params").await;
    let region = &world.env.aws.region;
    // (moto refuses names starting with /aws or /ssm, as AWS does.)
    let base = format!("/{}", world.name());
    let password = format!("{base}/db/password");
    let first = put(region, &password, "pw-one", true).await;
    put(region, &password, "pw-two", true).await;
    put(
        region,
        &format!("{base}/db/config"),
        r#"{"user":"app"}"#,
        false,
    )
    .await;
    put(region, &format!("{base}/other/flag"), "on", false).await;
    tag(region, &format!("{base}/db/config"), "team", "payments").await;
    tag(region, &format!("{base}/other/flag"), "team", "payments").await;
    aws_creds(&world).await;
    world
        .apply(
            StoreManifest::aws(
                "ssm",
                &world.env.aws.region,
                AwsCredentials::static_keys("aws-creds"),
            )
            .provider("service", "ParameterStore"),
        )
        .await;
    let remote = |key: &str, extra: serde_json::Value| {
        let mut r = json!({"key": key});
        r.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        r
    };
    world
        .apply(
            ExternalSecretManifest::new("db", "ssm")
                .push("data", json!({"secretKey": "password", "remoteRef": remote(&password, json!({}))}))
                .push(
                    "data",
                    json!({"secretKey": "first", "remoteRef": remote(&password, json!({"version": first.to_string()}))}),
                )
                .push(
                    "data",
                    json!({"secretKey": "user", "remoteRef": remote(&format!("{base}/db/config"), json!({"property": "user"}))}),
                )
                .push(
                    "data",
                    json!({"secretKey": "tags", "remoteRef": remote(&format!("{base}/db/config"), json!({"metadataPolicy": "Fetch"}))}),
                ),
        )
        .await;
    let secret = world
        .wait_secret("db", "the parameters", |s| keys(s).len() == 4)
        .await;
    assert_eq!(value(&secret, "password").as_deref(), Some("pw-two"));
    assert_eq!(value(&secret, "first").as_deref(), Some("pw-one"));
    assert_eq!(value(&secret, "user").as_deref(), Some("app"));
    assert_eq!(
        value(&secret, "tags").as_deref(),
        Some(r#"{"team":"payments"}"#)
    );

    // find by path (recursive, with a name filter) and by tags.
    world
        .apply(
            ExternalSecretManifest::new("found", "ssm")
                .push(
                    "dataFrom",
                    json!({
                        "find": {"path": format!("{base}/db"), "name": {"regexp": "pass"}},
                        "rewrite": [{"regexp": {"source": ".*/", "target": "path_"}}],
                    }),
                )
                .push(
                    "dataFrom",
                    json!({
                        "find": {"tags": {"team": "payments"}, "path": base},
                        "rewrite": [{"regexp": {"source": ".*/", "target": "tag_"}}],
                    }),
                ),
        )
        .await;
    let secret = world
        .wait_secret("found", "the found parameters", |s| keys(s).len() == 3)
        .await;
    assert_eq!(value(&secret, "path_password").as_deref(), Some("pw-two"));
    assert_eq!(
        value(&secret, "tag_config").as_deref(),
        Some(r#"{"user":"app"}"#)
    );
    assert_eq!(value(&secret, "tag_flag").as_deref(), Some("on"));

    // A missing parameter is a provider-confirmed NotFound: ESO's error.
    world
        .apply(ExternalSecretManifest::new("missing", "ssm").data("v", &format!("{base}/nope")))
        .await;
    world
        .wait_event_saying("missing", "UpdateFailed", "nope")
        .await;
}
