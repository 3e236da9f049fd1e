//! Test fixtures for ExternalSecret tests: manifests for SecretStores,
//! ClusterSecretStores and ExternalSecrets built in code (with Vault logins
//! and AWS credentials), server-side apply of any manifest, and OpenBao KV
//! reads and writes. Shared by `coffer-external`'s tests and the
//! controller's.
//!
//! Manifests are JSON text, which is YAML, and name their namespace
//! [`NAMESPACE`], which [`apply`] replaces; the API server judges them as
//! it judges users' documents.

mod manifests;

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;

use crate::services::{Aws, Vault};

pub use manifests::{AwsCredentials, ExternalSecretManifest, StoreManifest, VaultLogin};

/// The placeholder for the test namespace in manifests.
pub const NAMESPACE: &str = "NAMESPACE";

/// The field manager tests apply with.
const FIELD_MANAGER: &str = "coffer-test";

/// Applies a manifest (YAML or JSON, any kind) with server-side apply,
/// [`NAMESPACE`] replaced by `namespace`; namespaced kinds go into
/// `namespace`.
///
/// # Panics
/// When the manifest is not YAML or the API server refuses it.
pub async fn apply(client: &kube::Client, namespace: &str, manifest: &str) {
    let manifest = manifest.replace(NAMESPACE, namespace);
    let value: serde_json::Value = serde_saphyr::from_str(&manifest).expect("manifest is YAML");
    let api_version = value["apiVersion"].as_str().expect("apiVersion").to_owned();
    let kind = value["kind"].as_str().expect("kind").to_owned();
    let name = value["metadata"]["name"].as_str().expect("name").to_owned();
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let gvk = GroupVersionKind::gvk(group, version, &kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, &format!("{}s", kind.to_lowercase()));
    let cluster_scoped = matches!(
        kind.as_str(),
        "ClusterSecretStore" | "ClusterExternalSecret" | "Namespace"
    );
    let api: Api<DynamicObject> = if cluster_scoped {
        Api::all_with(client.clone(), &resource)
    } else {
        Api::namespaced_with(client.clone(), namespace, &resource)
    };
    let object: DynamicObject = serde_json::from_value(value).expect("object");
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {kind} {name}: {e}"));
}

/// The Events recorded on ExternalSecret `name` (through the core/v1 Event
/// API, as `kubectl describe` shows them).
pub async fn external_secret_events(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().fields(&format!(
        "involvedObject.kind=ExternalSecret,involvedObject.name={name}"
    ));
    api.list(&params).await.map(|l| l.items).unwrap_or_default()
}

impl Vault {
    /// Writes KV v2 `data` at `secret/<path>` with the root token.
    ///
    /// # Panics
    /// When OpenBao is unreachable or refuses the write.
    pub async fn put(&self, path: &str, data: serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/secret/data/{path}", self.addr))
            .header("X-Vault-Token", &self.token)
            .json(&serde_json::json!({ "data": data }))
            .send()
            .await
            .expect("openbao reachable");
        assert!(
            response.status().is_success(),
            "openbao write: {}",
            response.status()
        );
    }

    /// Deletes every version of `secret/<path>`.
    ///
    /// # Panics
    /// When OpenBao is unreachable or refuses the delete.
    pub async fn delete(&self, path: &str) {
        let response = reqwest::Client::new()
            .delete(format!("{}/v1/secret/metadata/{path}", self.addr))
            .header("X-Vault-Token", &self.token)
            .send()
            .await
            .expect("openbao reachable");
        assert!(
            response.status().is_success(),
            "openbao delete: {}",
            response.status()
        );
    }
}

impl Aws {
    /// Sets secret `name` (default account, [`Aws::region`]) to the string
    /// `value`, creating it if needed, through moto's AWS JSON protocol
    /// (moto reads the region from the signature's scope and checks
    /// nothing else of it).
    ///
    /// # Panics
    /// When moto is unreachable or refuses the write.
    pub async fn put(&self, name: &str, value: &str) {
        let put = self
            .call(
                "PutSecretValue",
                serde_json::json!({"SecretId": name, "SecretString": value}),
            )
            .await;
        if put.0 == 200 {
            return;
        }
        assert!(
            put.1.contains("ResourceNotFoundException"),
            "moto PutSecretValue: HTTP {}: {}",
            put.0,
            put.1
        );
        let created = self
            .call(
                "CreateSecret",
                serde_json::json!({"Name": name, "SecretString": value}),
            )
            .await;
        assert_eq!(created.0, 200, "moto CreateSecret: {}", created.1);
    }

    async fn call(&self, action: &str, body: serde_json::Value) -> (u16, String) {
        let scope = format!(
            "Credential=testing/20260101/{}/secretsmanager/aws4_request",
            self.region
        );
        let response = reqwest::Client::new()
            .post(&self.endpoint)
            .header("x-amz-target", format!("secretsmanager.{action}"))
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "authorization",
                format!("AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0"),
            )
            .body(body.to_string())
            .send()
            .await
            .expect("moto reachable");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }
}
