//! Identities the auth tests hand out: ServiceAccounts (with the RBAC a
//! Vault reviewer needs), the API server's address, CA and token signing
//! key (what OpenBao is configured to trust), and AWS accounts in moto.

#![allow(dead_code)]

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use coffer_testenv::TestEnv;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use crate::common::World;

/// The issuer the test API server puts in service-account tokens
/// (`--service-account-issuer` in coffer-testenv).
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Creates ServiceAccount `name` in the test namespace with `annotations`.
pub async fn service_account(world: &World, name: &str, annotations: &[(&str, &str)]) {
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            annotations: Some(
                annotations
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(world.client.clone(), world.name())
        .create(&PostParams::default(), &sa)
        .await
        .unwrap_or_else(|e| panic!("create ServiceAccount {name}: {e}"));
}

/// Binds `system:auth-delegator` to ServiceAccount `name` of the test
/// namespace, so that its token may call the TokenReview API: Vault's
/// Kubernetes auth reviews the login JWT with the JWT itself when it has
/// no reviewer token of its own (as ESO's docs require).
pub async fn auth_delegator(world: &World, name: &str) {
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(format!("{}-{name}-auth-delegator", world.name())),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: "system:auth-delegator".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: name.to_owned(),
            namespace: Some(world.name().to_owned()),
            ..Default::default()
        }]),
    };
    Api::<ClusterRoleBinding>::all(world.client.clone())
        .create(&PostParams::default(), &binding)
        .await
        .unwrap_or_else(|e| panic!("bind system:auth-delegator to {name}: {e}"));
}

/// A token for ServiceAccount `name` with `audiences`, from the
/// TokenRequest API (what a user would put in a Secret for `secretRef`).
pub async fn token_for(world: &World, name: &str, audiences: &[&str]) -> String {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: Some(audiences.iter().map(|a| a.to_string()).collect()),
            expiration_seconds: Some(3600),
            ..Default::default()
        }),
        ..Default::default()
    };
    let response: TokenRequest =
        Api::<ServiceAccount>::namespaced(world.client.clone(), world.name())
            .create_subresource("token", name, &PostParams::default(), &request)
            .await
            .unwrap_or_else(|e| panic!("token for {name}: {e}"));
    response
        .status
        .and_then(|s| s.token)
        .expect("the API server returns a token")
}

/// The API server's URL and its CA certificate (PEM), from the
/// environment's kubeconfig: what Vault's Kubernetes auth is pointed at.
pub async fn api_server(env: &TestEnv) -> (String, String) {
    let kubeconfig = Kubeconfig::read_from(env.kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig config");
    let url = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_owned();
    let ca: String = config
        .root_cert
        .expect("the kubeconfig names a CA")
        .iter()
        .map(|der| pem("CERTIFICATE", der))
        .collect();
    (url, ca)
}

/// The public half of the key the API server signs service-account tokens
/// with (PEM), as coffer-testenv's PKI wrote it: what Vault's JWT auth is
/// told to trust.
pub fn service_account_signing_key(env: &TestEnv) -> String {
    let path = env.dir().join("sa.pub");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the JWT auth tests need coffer-testenv's own control plane, \
             whose signing key they configure OpenBao to trust)",
            path.display()
        )
    })
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// An AWS SDK Secrets Manager client on moto in `region` (endpoint and
/// static keys from the environment coffer-testenv exports).
pub async fn moto_client(region: &str) -> aws_sdk_secretsmanager::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new(
            region.to_owned(),
        ))
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&config)
}

/// Creates (or adds a version to) secret `name` with `value` in moto's
/// `account` (`None`: the default account, 123456789012, which the static
/// test keys map to) and `region`; returns the new version's id. moto files a
/// request under the account in its `x-moto-account-id` header, and a
/// request signed with assumed-role credentials under the role's account,
/// so a value put in a role's account is only visible through that role.
pub async fn moto_put(region: &str, account: Option<&str>, name: &str, value: &str) -> String {
    let client = moto_client(region).await;
    let account = account.map(str::to_owned);
    let header = move |req: &mut aws_sdk_secretsmanager::config::http::HttpRequest| {
        if let Some(account) = &account {
            req.headers_mut()
                .insert("x-moto-account-id", account.clone());
        }
    };
    let created = client
        .create_secret()
        .name(name)
        .secret_string(value)
        .customize()
        .mutate_request(header.clone())
        .send()
        .await;
    let version = match created {
        Ok(out) => out.version_id,
        Err(_) => {
            client
                .put_secret_value()
                .secret_id(name)
                .secret_string(value)
                .customize()
                .mutate_request(header)
                .send()
                .await
                .expect("moto put_secret_value")
                .version_id
        }
    };
    version.expect("moto returns a version id")
}

/// Creates secret `name` or adds a version to it, in the default account,
/// with version id `version_id` (moto, like AWS, makes the client request
/// token the version's id).
pub async fn moto_put_version(region: &str, name: &str, value: &str, version_id: &str) {
    let client = moto_client(region).await;
    let created = client
        .create_secret()
        .name(name)
        .secret_string(value)
        .client_request_token(version_id)
        .send()
        .await;
    if created.is_err() {
        client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .client_request_token(version_id)
            .send()
            .await
            .expect("moto put_secret_value");
    }
}

/// Tags secret `name` (default account) in `region`.
pub async fn moto_tag(region: &str, name: &str, tags: &[(&str, &str)]) {
    let client = moto_client(region).await;
    let mut request = client.tag_resource().secret_id(name);
    for (k, v) in tags {
        request = request.tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key(*k)
                .value(*v)
                .build(),
        );
    }
    request.send().await.expect("moto tag_resource");
}

/// The roles moto's STS has handed credentials for, as (role ARN,
/// external id), from moto's model dump.
pub async fn moto_assumed_roles(env: &TestEnv) -> Vec<(String, Option<String>)> {
    let data: Value = reqwest::get(format!("{}/moto-api/data.json", env.aws.endpoint))
        .await
        .expect("moto reachable")
        .json()
        .await
        .expect("moto model dump is JSON");
    data["sts"]["AssumedRole"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["role_arn"].as_str().unwrap_or_default().to_owned(),
                r["external_id"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// Asserts that moto's STS handed out credentials for `role`.
pub async fn assert_role_assumed(env: &TestEnv, role: &str) {
    assert!(
        moto_assumed_roles(env)
            .await
            .iter()
            .any(|(arn, _)| arn == role),
        "STS was never asked for {role}"
    );
}

/// A World whose controller reaches Secrets Manager and STS through one
/// recording proxy in front of moto (what ESO's AWS_SECRETSMANAGER_ENDPOINT
/// and AWS_STS_ENDPOINT set), and that proxy.
pub async fn world_behind_recording_proxy(test: &str) -> (World, coffer_testenv::RecordingProxy) {
    let mut world = World::without_controller(test).await;
    let proxy = coffer_testenv::RecordingProxy::start(&world.env.aws.endpoint)
        .await
        .unwrap();
    let mut config = world.config();
    config.aws_endpoints = coffer_external::AwsEndpoints {
        secrets_manager: Some(proxy.url()),
        sts: Some(proxy.url()),
        ssm: None,
    };
    world.start_with(config).await;
    (world, proxy)
}
