//! The `vault` provider of a SecretStore: a HashiCorp Vault (or OpenBao) KV
//! engine, as ESO configures it. The auth methods Coffer implements are
//! typed; the others are kept as given so the controller can name them.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meta::{
    DNS_LABEL, DNS_SUBDOMAIN, SECRET_KEY, SecretKeySelector, ServiceAccountSelector,
};

/// Configures a store to sync secrets from a Vault KV engine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultProvider {
    /// How to authenticate with Vault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<VaultAuth>,

    /// The server address, e.g. `https://vault.example.com:8200`.
    pub server: String,

    /// The KV engine's mount path, e.g. `secret` (`/data` is added for v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,

    /// The KV engine version, `v1` or `v2`. Defaults to `v2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "v2"))]
    pub version: Option<VaultKvVersion>,

    /// The Vault Enterprise namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,

    /// PEM CA bundle (base64 in the manifest) to verify the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::meta::byte_string")]
    pub ca_bundle: Option<ByteString>,

    /// Client certificate for mutual TLS.
    #[serde(default, rename = "tls", skip_serializing_if = "Option::is_none")]
    pub client_tls: Option<VaultClientTls>,

    /// A Secret or ConfigMap holding the CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_provider: Option<CaProvider>,

    /// Read-after-write consistency via replication state headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_your_writes: Option<bool>,

    /// Forward inconsistent reads to the leader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_inconsistent: Option<bool>,

    /// Headers added to every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,

    /// Check-and-set settings for writes (PushSecret in ESO); accepted, not
    /// interpreted by Coffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::meta::open_object")]
    pub check_and_set: Option<serde_json::Value>,
}

impl VaultProvider {
    /// `version`, `v2` when absent.
    pub fn version(&self) -> VaultKvVersion {
        self.version.unwrap_or_default()
    }
}

/// The Vault KV engine version.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum VaultKvVersion {
    /// KV version 1.
    #[serde(rename = "v1")]
    V1,
    /// KV version 2 (versioned).
    #[default]
    #[serde(rename = "v2")]
    V2,
}

/// Client certificate and key for mutual TLS with Vault.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultClientTls {
    /// The certificate (key defaults to `tls.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<SecretKeySelector>,
    /// The private key (key defaults to `tls.key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_secret_ref: Option<SecretKeySelector>,
}

/// A Secret or ConfigMap holding a PEM CA certificate.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct CaProvider {
    /// `Secret` or `ConfigMap`.
    #[serde(rename = "type")]
    pub type_: CaProviderType,
    /// The object's name.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: String,
    /// The key holding the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY))]
    pub key: Option<String>,
    /// The object's namespace (ClusterSecretStore only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL))]
    pub namespace: Option<String>,
}

/// The kind of object a [`CaProvider`] names.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum CaProviderType {
    /// A Secret.
    #[default]
    Secret,
    /// A ConfigMap.
    ConfigMap,
}

/// How to authenticate with Vault; one method is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultAuth {
    /// The namespace to authenticate in (defaults to the provider's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A token read from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretKeySelector>,
    /// AppRole login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_role: Option<VaultAppRole>,
    /// Kubernetes login with a ServiceAccount token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<VaultKubernetesAuth>,
    /// JWT/OIDC login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<VaultJwtAuth>,
    /// LDAP login; accepted, not implemented by Coffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::meta::open_object")]
    pub ldap: Option<serde_json::Value>,
    /// Username/password login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_pass: Option<VaultUserPassAuth>,
    /// TLS certificate login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<VaultCertAuth>,
    /// AWS IAM login; accepted, not implemented by Coffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::meta::open_object")]
    pub iam: Option<serde_json::Value>,
    /// GCP login; accepted, not implemented by Coffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::meta::open_object")]
    pub gcp: Option<serde_json::Value>,
}

impl VaultAuth {
    /// The method in use, by its ESO field name, for the ones Coffer does
    /// not implement (`ldap`, `iam`, `gcp`); `None` when a supported one
    /// (or none) is set.
    pub fn unsupported_method(&self) -> Option<&'static str> {
        [("ldap", &self.ldap), ("iam", &self.iam), ("gcp", &self.gcp)]
            .into_iter()
            .find(|(_, v)| v.is_some())
            .map(|(name, _)| name)
    }
}

/// AppRole login with the role and secret IDs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultAppRole {
    /// Mount path of the AppRole backend. Defaults to `approle`.
    #[serde(default = "default_approle_path")]
    #[schemars(extend("default" = "approle"))]
    pub path: String,
    /// The role ID, given inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<String>,
    /// The role ID, read from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_ref: Option<SecretKeySelector>,
    /// The secret ID, read from a Secret.
    pub secret_ref: SecretKeySelector,
}

/// Kubernetes login with a ServiceAccount token.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultKubernetesAuth {
    /// Mount path of the Kubernetes backend. Defaults to `kubernetes`.
    #[serde(default = "default_kubernetes_path")]
    #[schemars(extend("default" = "kubernetes"))]
    pub mount_path: String,
    /// A ServiceAccount whose token is requested and presented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
    /// A Secret holding a ServiceAccount JWT (key defaults to `token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
    /// The Vault role to log in as.
    pub role: String,
}

/// Username/password login (`auth/<path>/login/<username>`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultUserPassAuth {
    /// Mount path of the userpass backend. Defaults to `userpass`.
    #[serde(default = "default_userpass_path")]
    #[schemars(extend("default" = "userpass"))]
    pub path: String,
    /// The username.
    pub username: String,
    /// The password, read from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
}

/// TLS certificate login (`auth/<path>/login`): the client certificate
/// presented in the handshake is the credential.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultCertAuth {
    /// Mount path of the cert backend. Defaults to `cert`.
    #[serde(default = "default_cert_path")]
    #[schemars(extend("default" = "cert"))]
    pub path: String,
    /// The certificate role to log in as (any matching role when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_role: Option<String>,
    /// The client certificate (key defaults to `tls.crt`); without it and
    /// `secretRef`, the store's `tls` certificate is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<SecretKeySelector>,
    /// The client certificate's private key (key defaults to `tls.key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
}

/// JWT/OIDC login.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultJwtAuth {
    /// Mount path of the JWT backend. Defaults to `jwt`.
    #[serde(default = "default_jwt_path")]
    #[schemars(extend("default" = "jwt"))]
    pub path: String,
    /// The JWT role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A Secret holding the JWT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
    /// A ServiceAccount token requested with the TokenRequest API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_service_account_token: Option<VaultKubernetesServiceAccountTokenAuth>,
}

/// A ServiceAccount token requested for JWT login.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultKubernetesServiceAccountTokenAuth {
    /// The ServiceAccount.
    pub service_account_ref: ServiceAccountSelector,
    /// Audiences (deprecated in ESO; use `serviceAccountRef.audiences`).
    /// Defaults to `vault`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audiences: Option<Vec<String>>,
    /// Token lifetime in seconds (deprecated in ESO). Defaults to 600;
    /// values below 600, the API server's minimum, request 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_seconds: Option<i64>,
}

fn default_approle_path() -> String {
    "approle".to_owned()
}

fn default_kubernetes_path() -> String {
    "kubernetes".to_owned()
}

fn default_jwt_path() -> String {
    "jwt".to_owned()
}

fn default_userpass_path() -> String {
    "userpass".to_owned()
}

fn default_cert_path() -> String {
    "cert".to_owned()
}
