//! ESO's documented examples, applied as documented: the manifests under
//! `tests/data/eso-examples/` (each file's header names its source and the
//! few values that had to point at the test environment). The test sets up
//! OpenBao and moto the way each example assumes, applies the files in its
//! own namespace, and checks the Secret the docs promise.
//!
//! The examples use fixed names (OpenBao's `approle`, `kubernetes`,
//! `userpass` and `jwt` mounts, `secret/foo`, moto's `friendslist`): each mount belongs
//! to one test, and shared remote values are written identically by every
//! test that needs them.

use std::path::Path;

use serde_json::{Value, json};

use crate::bao::Bao;
use crate::common::*;
use crate::identity::{self, ISSUER, assert_role_assumed, moto_put, world_behind_recording_proxy};
use crate::parameter_store;
use crate::sync::*;

/// The region the AWS examples are written for.
const REGION: &str = "eu-central-1";

/// Applies every document of example `file`, `VAULT_SERVER` replaced by the
/// test's OpenBao, in the test's namespace (whatever namespace the example
/// names: it is the reader's, not part of the example).
async fn apply_example(world: &World, file: &str) {
    apply_example_with(world, file, &[]).await;
}

/// [`apply_example`], with each `(from, to)` of `substitutions` replaced
/// first: the values a reader fills in for the docs' placeholders.
async fn apply_example_with(world: &World, file: &str, substitutions: &[(&str, &str)]) {
    let path = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
    .join("tests/data/eso-examples")
    .join(file);
    let mut text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("VAULT_SERVER", &world.env.vault.addr);
    for (from, to) in substitutions {
        assert!(text.contains(from), "{file} has no {from:?} to substitute");
        text = text.replace(from, to);
    }
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for mut document in documents.into_iter().filter(|d| !d.is_null()) {
        document["metadata"]["namespace"] = json!(world.name());
        world.apply(&document.to_string()).await;
    }
}

/// `secret/foo` as the Vault example's `vault kv put` leaves it, with the
/// custom metadata its `metadataPolicy: Fetch` entries read, and a policy
/// reading it.
async fn vault_docs_secret(bao: &Bao) -> &'static str {
    bao.put_v2("secret", "foo", json!({"my-value": "s3cr3t"}))
        .await;
    bao.custom_metadata("secret", "foo", json!({"dev": "jane", "team": "payments"}))
        .await;
    bao.read_policy("eso-docs", &["secret/data/foo", "secret/metadata/foo"])
        .await;
    "eso-docs"
}

/// Checks the Secret the Vault example's ExternalSecret makes.
async fn assert_vault_example_synced(world: &World) {
    let secret = world
        .wait_secret("example-sync", "the Vault example's Secret", |s| {
            keys(s).len() == 3
        })
        .await;
    assert_eq!(value(&secret, "foobar").as_deref(), Some("s3cr3t"));
    assert_eq!(value(&secret, "developer").as_deref(), Some("jane"));
    let tags: Value = serde_json::from_str(&value(&secret, "tags").unwrap()).unwrap();
    assert_eq!(tags["dev"], "jane", "{tags}");
    assert_eq!(tags["team"], "payments", "{tags}");
    let ready = world
        .wait_ready("vault-example", "Ready=True", |c| c.status == "True")
        .await;
    assert_eq!(ready.reason.as_deref(), Some("SecretSynced"));
}

#[tokio::test]
async fn eso_docs_vault_approle_example_syncs() {
    let world = World::new("eso-docs-approle").await;
    let bao = Bao::new(world.env);
    let policy = vault_docs_secret(&bao).await;
    bao.enable_auth("approle", "approle").await;
    let (_, secret_id) = bao
        .approle(
            "approle",
            "eso-docs",
            policy,
            Some("db02de05-fa39-4855-059b-67221c5c2f63"),
        )
        .await;
    world
        .put_secret("my-secret", &[("secret-id", &secret_id)])
        .await;
    apply_example(&world, "vault-approle-store.yaml").await;
    apply_example(&world, "vault-external-secret.yaml").await;
    assert_vault_example_synced(&world).await;
    assert_undisclosed(&world, &[&secret_id]).await;
}

#[tokio::test]
async fn eso_docs_vault_userpass_example_syncs() {
    let world = World::new("eso-docs-userpass").await;
    let bao = Bao::new(world.env);
    let policy = vault_docs_secret(&bao).await;
    bao.enable_auth("userpass", "userpass").await;
    bao.call(
        "POST",
        "auth/userpass/users/username",
        Some(json!({"password": "docs-user-password", "token_policies": [policy]})),
    )
    .await;
    world
        .put_secret("my-secret", &[("password", "docs-user-password")])
        .await;
    apply_example(&world, "vault-userpass-store.yaml").await;
    apply_example(&world, "vault-external-secret.yaml").await;
    assert_vault_example_synced(&world).await;
    assert_undisclosed(&world, &["docs-user-password"]).await;
}

#[tokio::test]
async fn eso_docs_vault_kubernetes_example_syncs() {
    let world = World::new("eso-docs-k8s").await;
    let bao = Bao::new(world.env);
    let policy = vault_docs_secret(&bao).await;
    let (host, ca) = identity::api_server(world.env).await;
    bao.enable_auth("kubernetes", "kubernetes").await;
    bao.call(
        "POST",
        "auth/kubernetes/config",
        Some(json!({
            "kubernetes_host": host,
            "kubernetes_ca_cert": ca,
            "disable_local_ca_jwt": true,
        })),
    )
    .await;
    bao.call(
        "POST",
        "auth/kubernetes/role/demo",
        Some(json!({
            "bound_service_account_names": ["my-sa"],
            "bound_service_account_namespaces": [world.name()],
            "token_policies": [policy],
        })),
    )
    .await;
    identity::service_account(&world, "my-sa", &[]).await;
    identity::auth_delegator(&world, "my-sa").await;
    // The example's secretRef, which serviceAccountRef overrides: a JWT
    // here would be refused, so a sync shows it is not the one used.
    world
        .put_secret("my-secret", &[("vault", "not-a-service-account-jwt")])
        .await;
    apply_example(&world, "vault-kubernetes-store.yaml").await;
    apply_example(&world, "vault-external-secret.yaml").await;
    assert_vault_example_synced(&world).await;
}

#[tokio::test]
async fn eso_docs_vault_jwt_example_syncs() {
    let world = World::new("eso-docs-jwt").await;
    let bao = Bao::new(world.env);
    let policy = vault_docs_secret(&bao).await;
    bao.enable_auth("jwt", "jwt").await;
    bao.call(
        "POST",
        "auth/jwt/config",
        Some(json!({
            "jwt_validation_pubkeys": [identity::service_account_signing_key(world.env)],
            "bound_issuer": ISSUER,
        })),
    )
    .await;
    bao.call(
        "POST",
        "auth/jwt/role/vault-jwt-role",
        Some(json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": ["vault"],
            "bound_subject": format!("system:serviceaccount:{}:my-sa", world.name()),
            "token_policies": [policy],
        })),
    )
    .await;
    identity::service_account(&world, "my-sa", &[]).await;
    let jwt = identity::token_for(&world, "my-sa", &["vault"]).await;
    world.put_secret("my-secret", &[("jwt-token", &jwt)]).await;
    apply_example(&world, "vault-jwt-store.yaml").await;
    apply_example(&world, "vault-external-secret.yaml").await;
    assert_vault_example_synced(&world).await;
    assert_undisclosed(&world, &[&jwt]).await;
}

/// The AWS examples' remote secrets, in moto's default account (where role
/// `external-secrets` and `team-a` of account 123456789012 read).
/// The JSON the AWS docs store under `friendslist`.
const FRIENDS: &str = r#"{"name":{"first":"Tom","last":"Anderson"},"friends":[{"first":"Dale","last":"Murphy"},{"first":"Roger","last":"Craig"},{"first":"Jane","last":"Murphy"}]}"#;

async fn aws_docs_secrets() {
    moto_put(REGION, None, "friendslist", FRIENDS).await;
    moto_put(REGION, None, "database-credentials", r#"{"password":"pw"}"#).await;
    identity::moto_tag(
        REGION,
        "database-credentials",
        &[("dev", "seb"), ("team", "platform")],
    )
    .await;
}

async fn aws_docs_store(world: &World) {
    world
        .put_secret(
            "awssm-secret",
            &[("access-key", "testing"), ("secret-access-key", "testing")],
        )
        .await;
    apply_example(world, "aws-sm-store.yaml").await;
}

#[tokio::test]
async fn eso_docs_aws_secrets_manager_example_syncs() {
    let world = World::new("eso-docs-aws").await;
    aws_docs_secrets().await;
    aws_docs_store(&world).await;
    apply_example(&world, "aws-sm-external-secret.yaml").await;
    let secret = world
        .wait_secret("friends", "the AWS example's Secret", |s| {
            keys(s).len() == 4
        })
        .await;
    assert_eq!(value(&secret, "my_name").as_deref(), Some("Tom"));
    assert_eq!(value(&secret, "first_friend").as_deref(), Some("Roger"));
    assert_eq!(value(&secret, "developer").as_deref(), Some("seb"));
    let tags: Value = serde_json::from_str(&value(&secret, "tags").unwrap()).unwrap();
    assert_eq!(tags, json!({"dev": "seb", "team": "platform"}));
    assert_role_assumed(world.env, "arn:aws:iam::123456789012:role/external-secrets").await;
}

#[tokio::test]
async fn eso_docs_aws_parameter_store_example_syncs() {
    let world = World::new("eso-docs-ssm").await;
    parameter_store::put(REGION, "friendslist", FRIENDS, false).await;
    parameter_store::put(REGION, "database-credentials", r#"{"password":"pw"}"#, true).await;
    for (key, value) in [("dev", "seb"), ("team", "platform")] {
        parameter_store::tag(REGION, "database-credentials", key, value).await;
    }
    world
        .put_secret(
            "awssm-secret",
            &[("access-key", "testing"), ("secret-access-key", "testing")],
        )
        .await;
    apply_example(&world, "aws-parameter-store.yaml").await;
    apply_example(&world, "aws-parameter-store-external-secret.yaml").await;
    let secret = world
        .wait_secret(
            "extract-data",
            "the Parameter Store example's Secret",
            |s| keys(s).len() == 4,
        )
        .await;
    assert_eq!(value(&secret, "my_name").as_deref(), Some("Tom"));
    assert_eq!(value(&secret, "first_friend").as_deref(), Some("Roger"));
    assert_eq!(value(&secret, "developer").as_deref(), Some("seb"));
    let tags: Value = serde_json::from_str(&value(&secret, "tags").unwrap()).unwrap();
    assert_eq!(tags, json!({"dev": "seb", "team": "platform"}));
}

#[tokio::test]
async fn eso_docs_aws_session_tags_example_tags_the_assumed_role() {
    let (world, proxy) = world_behind_recording_proxy("eso-docs-tags").await;
    let key = remote(&world, "db");
    moto_put(REGION, Some("222222222222"), &key, "tagged-read").await;
    apply_example(&world, "aws-session-tags-store.yaml").await;
    world
        .apply(ExternalSecretManifest::new("tagged", "team-b-store").data("value", &key))
        .await;
    let secret = world
        .wait_secret("tagged", "the session-tags example's Secret", |s| {
            !keys(s).is_empty()
        })
        .await;
    assert_eq!(value(&secret, "value").as_deref(), Some("tagged-read"));
    let sent: String = proxy
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    for field in [
        "RoleArn=arn%3Aaws%3Aiam%3A%3A222222222222%3Arole%2Fteam-b",
        "Tags.member.1.Key=cost-center",
        "Tags.member.1.Value=team-b",
        "TransitiveTagKeys.member.1=cost-center",
    ] {
        assert!(sent.contains(field), "AssumeRole carries {field}");
    }
}

#[tokio::test]
async fn eso_docs_multiline_template_example_renders() {
    let world = World::new("eso-docs-template").await;
    for (name, value) in [
        ("/grafana/user", "grafana-admin"),
        ("/grafana/password", "pa\"ss"),
        ("/database/url", "postgres://db.example:5432/app"),
    ] {
        moto_put(REGION, None, name, value).await;
    }
    aws_docs_store(&world).await;
    apply_example_with(
        &world,
        "multiline-template-v2-external-secret.yaml",
        &[(
            "  # ...",
            "  secretStoreRef: {name: aws-secretsmanager, kind: SecretStore}",
        )],
    )
    .await;
    let secret = world
        .wait_secret(
            "secret-to-be-created",
            "the template example's Secret",
            |s| keys(s).len() == 2,
        )
        .await;
    assert_eq!(
        value(&secret, "connection").as_deref(),
        Some("postgresql://db.example:5432/app")
    );
    assert_eq!(
        value(&secret, "config").as_deref(),
        Some(
            "datasources:\n- name: Graphite\n  type: graphite\n  access: proxy\n  \
             url: http://localhost:8080\n  password: \"pa\"ss\"\n  user: \"grafana-admin\"\n"
        )
    );
}

#[tokio::test]
async fn eso_docs_aws_irsa_example_syncs_with_the_annotated_role() {
    let world = World::new("eso-docs-irsa").await;
    aws_docs_secrets().await;
    apply_example(&world, "aws-irsa-store.yaml").await;
    // The docs show no ExternalSecret for this store; any reads through it.
    world
        .apply(
            r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: friend
  namespace: NAMESPACE
spec:
  secretStoreRef:
    name: secretstore-sample
  data:
  - secretKey: value
    remoteRef:
      key: friendslist
      property: friends.0.first
"#,
        )
        .await;
    assert_synced(&world, "friend", "Dale").await;
    assert_role_assumed(world.env, "arn:aws:iam::123456789012:role/team-a").await;
}

#[tokio::test]
async fn eso_docs_aws_versions_examples_read_stages_and_version_ids() {
    let world = World::new("eso-docs-versions").await;
    identity::moto_put_version(
        REGION,
        "production/api-key",
        "key-2023",
        "123e4567-e89b-12d3-a456-426614174000",
    )
    .await;
    identity::moto_put_version(
        REGION,
        "production/api-key",
        "key-2024",
        "9d7e3a52-5b1c-4c1e-8f0e-2f4b6a1c0d99",
    )
    .await;
    aws_docs_store(&world).await;
    apply_example(&world, "aws-sm-versions-stages.yaml").await;
    let secret = world
        .wait_secret("versioned-api-key", "the stages example", |s| {
            keys(s).len() == 2
        })
        .await;
    assert_eq!(
        value(&secret, "previous-api-key").as_deref(),
        Some("key-2023")
    );
    assert_eq!(
        value(&secret, "current-api-key").as_deref(),
        Some("key-2024")
    );

    // The docs' second example has the same name: applying it replaces the
    // first, as `kubectl apply` would.
    apply_example(&world, "aws-sm-versions-uuid.yaml").await;
    let secret = world
        .wait_secret("versioned-api-key", "the version id example", |s| {
            keys(s) == ["api-key"]
        })
        .await;
    assert_eq!(value(&secret, "api-key").as_deref(), Some("key-2023"));
}

/// The base64 body of a PEM block, indented to sit where the Vault
/// certificate example's placeholders stand.
fn pem_body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n    ")
}

#[tokio::test]
async fn eso_docs_vault_cert_example_syncs() {
    let world = World::new("eso-docs-vault-cert").await;
    let bao = Bao::new(world.env);
    let policy = vault_docs_secret(&bao).await;
    bao.enable_auth("cert", "cert").await;
    let tls = &world.env.vault.tls;
    bao.call(
        "POST",
        "auth/cert/certs/eso-docs",
        Some(json!({
            "certificate": tls.ca,
            "allowed_common_names": ["coffer-vault-client"],
            "token_policies": [policy],
            "token_ttl": "1h",
        })),
    )
    .await;
    world
        .apply(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: vault-ca-bundle}}\ndata:\n  ca.crt: {}\n",
            serde_json::to_string(&tls.ca).unwrap()
        ))
        .await;
    let namespace = world.name();
    apply_example_with(
        &world,
        "vault-cert-store.yaml",
        &[
            ("<your-client-certificate>", &pem_body(&tls.client_cert)),
            ("<your-client-private-key>", &pem_body(&tls.client_key)),
            ("https://vault.example.com", &tls.addr),
            (
                "namespace: external-secrets",
                &format!("namespace: {namespace}"),
            ),
            (
                "namespace: \"external-secrets\"",
                &format!("namespace: {namespace}"),
            ),
        ],
    )
    .await;
    world
        .apply(
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: cert-example}\n\
             spec:\n  secretStoreRef: {name: vault-cert-auth, kind: ClusterSecretStore}\n\
             \x20 data:\n  - secretKey: foobar\n    remoteRef: {key: foo, property: my-value}\n",
        )
        .await;
    let secret = world
        .wait_secret(
            "cert-example",
            "the certificate-auth example's Secret",
            |s| !keys(s).is_empty(),
        )
        .await;
    assert_eq!(value(&secret, "foobar").as_deref(), Some("s3cr3t"));
}
