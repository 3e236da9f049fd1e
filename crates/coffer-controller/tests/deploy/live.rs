//! The manifests on the real API server: their ServiceAccount and RBAC are
//! applied, a token for the ServiceAccount comes from the TokenRequest API,
//! and the controller runs in-process with a client that authenticates with
//! that token alone (no admin certificate, no impersonation), so every call
//! it makes is judged against exactly the deployed permissions.

use coffer_api::ExternalSecret;
use coffer_controller::LeaseConfig;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::Value;

use crate::common::{self, World, eventually, secret_with_data};
use crate::{dry_run, render};

/// Cluster-wide kinds a kustomization creates, whose names get a suffix in
/// a test (they outlive its namespace); CRDs are the test environment's.
const CLUSTER_KINDS: &[&str] = &[
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
];

/// Applies (server-side, strictly validated) what `kustomize build
/// <overlay>` renders into the controller namespace `ns`: namespaced
/// objects move there, cluster-wide ones get the suffix `-<ns>` (and the
/// references to them follow), and ServiceAccount subjects point at `ns`.
/// Returns the cluster-wide objects made, for [`remove`].
pub(crate) async fn apply_overlay(client: &kube::Client, overlay: &str, ns: &str) -> Vec<Value> {
    let rendering = render::named(&format!("kustomize build {overlay}"));
    let mut cluster_wide = Vec::new();
    for doc in &rendering.docs {
        let kind = doc["kind"].as_str().unwrap_or_default();
        if kind == "CustomResourceDefinition" {
            continue;
        }
        let mut doc = doc.clone();
        let suffixed = |name: &Value| Value::from(format!("{}-{ns}", name.as_str().unwrap()));
        if CLUSTER_KINDS.contains(&kind) {
            doc["metadata"]["name"] = suffixed(&doc["metadata"]["name"]);
            cluster_wide.push(doc.clone());
        } else {
            doc["metadata"]["namespace"] = Value::from(ns);
        }
        if kind == "ClusterRoleBinding" {
            doc["roleRef"]["name"] = suffixed(&doc["roleRef"]["name"]);
        }
        if kind == "ValidatingAdmissionPolicyBinding" {
            doc["spec"]["policyName"] = suffixed(&doc["spec"]["policyName"]);
        }
        // NB: `get_mut`, as indexing a JSON object mutably adds the key.
        let subjects = doc.get_mut("subjects").and_then(Value::as_array_mut);
        for subject in subjects.into_iter().flatten() {
            if subject["kind"] == "ServiceAccount" {
                subject["namespace"] = Value::from(ns);
            }
        }
        // The Deployment is stored and validated; no kubelet runs it here.
        dry_run::apply(client, &doc, false)
            .await
            .unwrap_or_else(|e| panic!("{}: apply {kind}: {e}", rendering.name));
    }
    cluster_wide
}

/// Deletes the cluster-wide objects [`apply_overlay`] made.
pub(crate) async fn remove(client: &kube::Client, cluster_wide: Vec<Value>) {
    for doc in cluster_wide {
        let object: DynamicObject = serde_json::from_value(doc).unwrap();
        let gvk = GroupVersionKind::try_from(object.types.as_ref().unwrap()).unwrap();
        let (resource, _) = kube::discovery::pinned_kind(client, &gvk).await.unwrap();
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let _ = api
            .delete(
                object.metadata.name.as_deref().unwrap(),
                &Default::default(),
            )
            .await;
    }
}

/// A client that authenticates as ServiceAccount `ns/name` with a token
/// from the TokenRequest API, and nothing else.
pub(crate) async fn service_account_client(world: &World, ns: &str, name: &str) -> kube::Client {
    let accounts: Api<ServiceAccount> = Api::namespaced(world.client.clone(), ns);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: None,
            expiration_seconds: Some(3600),
            ..Default::default()
        }),
        ..Default::default()
    };
    let issued: TokenRequest = accounts
        .create_subresource("token", name, &PostParams::default(), &request)
        .await
        .expect("TokenRequest for the controller's ServiceAccount");
    let token = issued.status.expect("a token").token;
    let mut config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(world.env.kubeconfig()).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    // NB: replaces the kubeconfig's admin client certificate.
    config.auth_info = serde_json::from_value(serde_json::json!({ "token": token })).unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Applies a namespaced manifest (YAML, `NAMESPACE` replaced) as admin.
pub(crate) async fn apply_yaml(world: &World, yaml: &str) {
    let yaml = yaml.replace("NAMESPACE", world.ns.name());
    let value: Value = serde_saphyr::from_str(&yaml).expect("manifest is YAML");
    let api_version = value["apiVersion"].as_str().expect("apiVersion").to_owned();
    let kind = value["kind"].as_str().expect("kind").to_owned();
    let name = value["metadata"]["name"].as_str().expect("name").to_owned();
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let plural = format!("{}s", kind.to_lowercase());
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, &kind), &plural);
    let api: Api<DynamicObject> =
        Api::namespaced_with(world.client.clone(), world.ns.name(), &resource);
    let object: DynamicObject = serde_json::from_value(value).expect("object");
    api.patch(
        &name,
        &PatchParams::apply("coffer-test").force(),
        &Patch::Apply(&object),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {kind} {name}: {e}"));
}

/// Writes (`Some`) or deletes with every version (`None`) the KV v2
/// secret `secret/<path>` in OpenBao.
pub(crate) async fn vault(world: &World, path: &str, data: Option<Value>) {
    let vault = &world.env.vault;
    let http = reqwest::Client::new();
    let request = match data {
        Some(data) => http
            .post(format!("{}/v1/secret/data/{path}", vault.addr))
            .json(&serde_json::json!({ "data": data })),
        None => http.delete(format!("{}/v1/secret/metadata/{path}", vault.addr)),
    };
    let response = request
        .header("X-Vault-Token", &vault.token)
        .send()
        .await
        .expect("openbao reachable");
    assert!(response.status().is_success(), "{}", response.status());
}

async fn gone(api: &Api<Secret>, name: &str) -> Option<()> {
    api.get_opt(name).await.unwrap().is_none().then_some(())
}

#[tokio::test]
async fn controller_with_exactly_the_manifests_permissions_unseals_syncs_renames_and_deletes() {
    let world = World::new("deploy-rbac").await;
    let ns = world.ctrl_ns.name().to_owned();
    let cluster_wide = apply_overlay(&world.client, "base", &ns).await;
    let client = service_account_client(&world, &ns, "coffer-controller").await;
    // The token carries the ServiceAccount's rights, not the admin's.
    let pods: Api<Pod> = Api::namespaced(client.clone(), world.ns.name());
    match pods.list(&Default::default()).await {
        Err(kube::Error::Api(e)) if e.code == 403 => {}
        other => panic!("the controller's token may list pods: {other:?}"),
    }

    // The controller as that ServiceAccount, with leader election on and
    // both controllers (the ClusterExternalSecret one too).
    let mut config = world.config();
    config.leader_election = Some(LeaseConfig::new("coffer-controller", &ns));
    config.external_secrets = Some(coffer_external::Config {
        namespaces: vec![world.ns.name().to_owned()],
        ..coffer_external::Config::default()
    });
    let running = coffer_controller::start(client, config)
        .await
        .expect("starts with the manifests' permissions");
    let leadership = running.leadership.clone();
    tokio::time::timeout(common::TIMEOUT, leadership.until_leader())
        .await
        .expect("acquires the Lease with the manifests' permissions");

    // SealedSecret: key creation, unsealing, status.
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
    assert_eq!(
        running
            .context
            .metrics
            .unseal_errors("status", world.ns.name()),
        0
    );

    // ExternalSecret: create the target, rename it (the old Secret is
    // deleted), then lose the remote secret under deletionPolicy Delete
    // (the Secret is deleted).
    let path = format!("{}/app", world.ns.name());
    vault(&world, &path, Some(serde_json::json!({ "password": "p1" }))).await;
    apply_yaml(
        &world,
        &format!(
            r#"
apiVersion: v1
kind: Secret
metadata:
  name: vault-token
  namespace: NAMESPACE
stringData:
  token: "{token}"
"#,
            token = world.env.vault.token
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
    let es = |target: &str| {
        format!(
            r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: app
  namespace: NAMESPACE
spec:
  refreshInterval: 1s
  secretStoreRef:
    name: vault
  target:
    name: {target}
    creationPolicy: Owner
    deletionPolicy: Delete
  data:
  - secretKey: password
    remoteRef:
      key: {path}
      property: password
"#
        )
    };
    apply_yaml(&world, &es("app-v1")).await;
    secret_with_data(&world, "app-v1", &[("password", "p1")]).await;
    apply_yaml(&world, &es("app-v2")).await;
    secret_with_data(&world, "app-v2", &[("password", "p1")]).await;
    let secrets = world.secrets();
    eventually("the renamed target's old Secret deleted", || {
        gone(&secrets, "app-v1")
    })
    .await;
    vault(&world, &path, None).await;
    eventually("the target deleted under deletionPolicy Delete", || {
        gone(&secrets, "app-v2")
    })
    .await;
    let ess: Api<ExternalSecret> = Api::namespaced(world.client.clone(), world.ns.name());
    eventually("Ready=True, SecretDeleted", || async {
        let es = ess.get("app").await.ok()?;
        es.status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready" && c.reason.as_deref() == Some("SecretDeleted"))
    })
    .await;

    // Cluster-wide objects outlive the namespace: remove them.
    remove(&world.client, cluster_wide).await;
}
