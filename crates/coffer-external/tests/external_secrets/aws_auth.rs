//! AWS auth and read options through the controller, against moto: web
//! identity with a requested service-account token (the store's role, or
//! the ServiceAccount's IRSA annotation as ESO reads it), role chains with
//! static keys, `prefix`, and `remoteRef.version` stages and ids.
//!
//! moto files requests signed with an assumed role's credentials under the
//! role's account, so each test puts the value it expects in the account
//! of the role that should end up reading it, and a decoy in the default
//! account (where the static test keys and an un-assumed role would read).

use crate::common::*;
use crate::identity::{
    self, assert_role_assumed, moto_assumed_roles, moto_put, world_behind_recording_proxy,
};
use crate::sync::*;

/// A store named `name` reading with web identity as ServiceAccount `sa`,
/// assuming `role` (when given) with its token.
async fn web_identity_store(world: &World, name: &str, sa: &str, role: Option<&str>) {
    let credentials = AwsCredentials::web_identity(sa);
    let store = StoreManifest::aws(name, &world.env.aws.region, credentials);
    match role {
        Some(role) => world.apply(store.provider("role", role)).await,
        None => world.apply(store).await,
    }
}

#[tokio::test]
async fn aws_web_identity_assumes_the_store_role_with_a_service_account_token() {
    let world = World::new("aws-web-identity").await;
    let region = world.env.aws.region.clone();
    let key = remote(&world, "db");
    let role = format!("arn:aws:iam::111111111111:role/{}-reader", world.name());
    moto_put(&region, Some("111111111111"), &key, "read-as-the-role").await;
    moto_put(&region, None, &key, "decoy").await;
    identity::service_account(&world, "app", &[]).await;
    web_identity_store(&world, "aws", "app", Some(&role)).await;
    external_secret(&world, "db", "aws", &key, "").await;
    assert_synced(&world, "db", "read-as-the-role").await;
    assert_role_assumed(world.env, &role).await;
    let (status, reason, message) = store_ready(&world, "aws").await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "Valid"),
        "{message}"
    );

    // Without the ServiceAccount there is no token to trade.
    web_identity_store(&world, "ghost", "ghost", Some(&role)).await;
    external_secret(&world, "lost", "ghost", &key, "").await;
    let message = assert_failed(&world, "lost").await;
    assert!(message.contains("ghost"), "{message}");
}

/// ESO's documented IRSA setup: the role assumed with the token is the
/// ServiceAccount's `eks.amazonaws.com/role-arn` annotation, and the
/// store's `role`, when set, is assumed on top of it.
#[tokio::test]
async fn aws_irsa_annotation_names_the_web_identity_role_and_the_store_role_is_assumed_on_top() {
    let world = World::new("aws-irsa").await;
    let region = world.env.aws.region.clone();
    let key = remote(&world, "db");
    let irsa = format!("arn:aws:iam::222222222222:role/{}-irsa", world.name());
    let team = format!("arn:aws:iam::333333333333:role/{}-team", world.name());
    moto_put(&region, Some("222222222222"), &key, "read-as-irsa").await;
    moto_put(&region, Some("333333333333"), &key, "read-as-team").await;
    moto_put(&region, None, &key, "decoy").await;
    identity::service_account(&world, "app", &[("eks.amazonaws.com/role-arn", &irsa)]).await;

    web_identity_store(&world, "irsa", "app", None).await;
    external_secret(&world, "irsa", "irsa", &key, "").await;
    assert_synced(&world, "irsa", "read-as-irsa").await;

    web_identity_store(&world, "team", "app", Some(&team)).await;
    external_secret(&world, "team", "team", &key, "").await;
    assert_synced(&world, "team", "read-as-team").await;
    let assumed = moto_assumed_roles(world.env).await;
    for role in [&irsa, &team] {
        assert!(
            assumed.iter().any(|(arn, _)| arn == role),
            "STS was never asked for {role}"
        );
    }
}

#[tokio::test]
async fn aws_static_keys_assume_additional_roles_then_the_role_with_its_external_id() {
    let world = World::new("aws-chain").await;
    let region = world.env.aws.region.clone();
    let key = remote(&world, "db");
    let hop = format!("arn:aws:iam::444444444444:role/{}-hop", world.name());
    let last = format!("arn:aws:iam::555555555555:role/{}-reader", world.name());
    let external_id = format!("{}-ext", world.name());
    moto_put(&region, Some("444444444444"), &key, "read-at-the-hop").await;
    moto_put(&region, Some("555555555555"), &key, "read-at-the-end").await;
    moto_put(&region, None, &key, "decoy").await;
    aws_creds(&world).await;
    world
        .apply(
            StoreManifest::aws("aws", &region, AwsCredentials::static_keys("aws-creds"))
                .provider("additionalRoles", vec![hop.clone()])
                .provider("role", last.clone())
                .provider("externalID", external_id.clone()),
        )
        .await;
    external_secret(&world, "db", "aws", &key, "").await;
    assert_synced(&world, "db", "read-at-the-end").await;
    let assumed = moto_assumed_roles(world.env).await;
    assert!(
        assumed.contains(&(hop.clone(), None)),
        "the additional role is assumed without the external id: {assumed:?}"
    );
    assert!(
        assumed.contains(&(last.clone(), Some(external_id.clone()))),
        "the role is assumed with the external id: {assumed:?}"
    );
}

#[tokio::test]
async fn aws_prefix_and_version_stages_and_ids_select_what_is_read() {
    let world = World::new("aws-versions").await;
    let region = world.env.aws.region.clone();
    let prefix = format!("{}/", world.name());
    let first = moto_put(&region, None, &format!("{prefix}api-key"), "key-one").await;
    moto_put(&region, None, &format!("{prefix}api-key"), "key-two").await;
    aws_creds(&world).await;
    world
        .apply(
            StoreManifest::aws("aws", &region, AwsCredentials::static_keys("aws-creds"))
                .provider("prefix", prefix.clone()),
        )
        .await;
    let version = |secret_key: &str, version: &str| serde_json::json!({"secretKey": secret_key, "remoteRef": {"key": "api-key", "version": version}});
    world
        .apply(
            ExternalSecretManifest::new("api-key", "aws")
                .data("current", "api-key")
                .push("data", version("previous", "AWSPREVIOUS"))
                .push("data", version("pinned", &format!("uuid/{first}"))),
        )
        .await;
    let secret = world
        .wait_secret("api-key", "the versioned Secret", |s| keys(s).len() == 3)
        .await;
    assert_eq!(value(&secret, "current").as_deref(), Some("key-two"));
    assert_eq!(value(&secret, "previous").as_deref(), Some("key-one"));
    assert_eq!(value(&secret, "pinned").as_deref(), Some("key-one"));
}

#[tokio::test]
async fn aws_session_tags_go_with_the_role_and_eso_s_endpoint_variables_are_honoured() {
    // One proxy in front of moto serves as both the Secrets Manager and
    // the STS endpoint, and records what was sent.
    let (world, proxy) = world_behind_recording_proxy("aws-session-tags").await;
    let recorded = || -> String {
        proxy
            .requests()
            .iter()
            .map(|r| format!("{:?} {}\n", r.headers, String::from_utf8_lossy(&r.body)))
            .collect()
    };
    let region = world.env.aws.region.clone();
    let key = remote(&world, "db");
    let role = format!("arn:aws:iam::666666666666:role/{}-tagged", world.name());
    moto_put(&region, Some("666666666666"), &key, "read-as-tagged").await;
    moto_put(&region, None, &key, "decoy").await;
    aws_creds(&world).await;
    world
        .apply(
            StoreManifest::aws("aws", &region, AwsCredentials::static_keys("aws-creds"))
                .provider("role", role.clone())
                .provider(
                    "sessionTags",
                    serde_json::json!([{"key": "team", "value": "payments"}]),
                )
                .provider("transitiveTagKeys", vec!["team"]),
        )
        .await;
    external_secret(&world, "db", "aws", &key, "").await;
    assert_synced(&world, "db", "read-as-tagged").await;
    let sent = recorded();
    assert!(
        sent.contains("Action=AssumeRole&"),
        "STS went through the proxy"
    );
    for field in [
        "Tags.member.1.Key=team",
        "Tags.member.1.Value=payments",
        "TransitiveTagKeys.member.1=team",
    ] {
        assert!(sent.contains(field), "AssumeRole carries {field}");
    }
    assert!(
        sent.contains("secretsmanager."),
        "Secrets Manager went through the proxy"
    );

    // Simple: the tags name the reader instead.
    world
        .apply(
            StoreManifest::aws("simple", &region, AwsCredentials::static_keys("aws-creds"))
                .provider("role", role.clone())
                .provider("sessionTagsPolicy", "Simple"),
        )
        .await;
    external_secret(&world, "simple", "simple", &key, "").await;
    assert_synced(&world, "simple", "read-as-tagged").await;
    let sent = recorded();
    for field in [
        format!("Value={}", world.name()),
        "Key=esoStoreName".to_owned(),
        "Key=esoStoreKind".to_owned(),
        "Value=SecretStore".to_owned(),
    ] {
        assert!(sent.contains(&field), "AssumeRole carries {field}");
    }

    // Tags without a role to assume cannot be honoured: refused by name.
    world
        .apply(
            StoreManifest::aws("no-role", &region, AwsCredentials::static_keys("aws-creds"))
                .provider(
                    "sessionTags",
                    serde_json::json!([{"key": "team", "value": "payments"}]),
                ),
        )
        .await;
    external_secret(&world, "no-role", "no-role", &key, "").await;
    world
        .wait_event_saying("no-role", "UpdateFailed", "sessionTags")
        .await;
}
