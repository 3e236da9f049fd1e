//! Builders for ESO's store and ExternalSecret manifests. Each starts from
//! what most tests want and says what it adds; [`StoreManifest::set`] and
//! [`ExternalSecretManifest::set`] reach any other field.

use std::fmt;

use serde_json::{Value, json};

use super::NAMESPACE;

const API_VERSION: &str = "external-secrets.io/v1";

/// A Vault login (`spec.provider.vault.auth`).
#[derive(Debug, Clone)]
pub struct VaultLogin(Value);

impl VaultLogin {
    /// `tokenSecretRef`: the token in Secret `secret`, key `key`.
    pub fn token(secret: &str, key: &str) -> Self {
        VaultLogin(json!({"tokenSecretRef": {"name": secret, "key": key}}))
    }

    /// `appRole` at `path` with a literal role ID and the secret ID in
    /// Secret `secret`, key `key`.
    pub fn app_role(path: &str, role_id: &str, secret: &str, key: &str) -> Self {
        VaultLogin(json!({"appRole": {
            "path": path,
            "roleId": role_id,
            "secretRef": {"name": secret, "key": key},
        }}))
    }

    /// `kubernetes` at `mount_path` as `role`, with a token requested for
    /// ServiceAccount `service_account`.
    pub fn kubernetes(mount_path: &str, role: &str, service_account: &str) -> Self {
        VaultLogin(json!({"kubernetes": {
            "mountPath": mount_path,
            "role": role,
            "serviceAccountRef": {"name": service_account},
        }}))
    }

    /// `jwt` at `path` as `role`, with a token requested for ServiceAccount
    /// `service_account` (`audiences` when given; ESO's default otherwise).
    pub fn jwt(path: &str, role: &str, service_account: &str, audiences: Option<&[&str]>) -> Self {
        let mut token = json!({"serviceAccountRef": {"name": service_account}});
        if let Some(audiences) = audiences {
            token["audiences"] = json!(audiences);
        }
        VaultLogin(json!({"jwt": {
            "path": path,
            "role": role,
            "kubernetesServiceAccountToken": token,
        }}))
    }

    /// `jwt` at `path` as `role`, with the token in Secret `secret`, key
    /// `key`.
    pub fn jwt_secret(path: &str, role: &str, secret: &str, key: &str) -> Self {
        VaultLogin(json!({"jwt": {
            "path": path,
            "role": role,
            "secretRef": {"name": secret, "key": key},
        }}))
    }

    /// Any other login, as ESO's `auth` object.
    pub fn other(auth: Value) -> Self {
        VaultLogin(auth)
    }
}

/// AWS credentials (`spec.provider.aws.auth`).
#[derive(Debug, Clone)]
pub struct AwsCredentials(Value);

impl AwsCredentials {
    /// Static keys in Secret `secret`, keys `access-key` and
    /// `secret-access-key`.
    pub fn static_keys(secret: &str) -> Self {
        AwsCredentials(json!({"secretRef": {
            "accessKeyIDSecretRef": {"name": secret, "key": "access-key"},
            "secretAccessKeySecretRef": {"name": secret, "key": "secret-access-key"},
        }}))
    }

    /// Static keys as [`AwsCredentials::static_keys`], in namespace
    /// `namespace` (a ClusterSecretStore's credentials).
    pub fn static_keys_in(secret: &str, namespace: &str) -> Self {
        let mut keys = AwsCredentials::static_keys(secret);
        for selector in ["accessKeyIDSecretRef", "secretAccessKeySecretRef"] {
            keys.0["secretRef"][selector]["namespace"] = json!(namespace);
        }
        keys
    }

    /// Web identity with a token for ServiceAccount `service_account`.
    pub fn web_identity(service_account: &str) -> Self {
        AwsCredentials(json!({"jwt": {"serviceAccountRef": {"name": service_account}}}))
    }
}

/// A SecretStore (or, after [`StoreManifest::cluster`], a ClusterSecretStore).
#[derive(Debug, Clone)]
pub struct StoreManifest(Value);

impl StoreManifest {
    /// A Vault store on `server`, KV mount `path`, logging in with `login`.
    pub fn vault(name: &str, server: &str, path: &str, login: VaultLogin) -> Self {
        StoreManifest::with_provider(
            name,
            json!({"vault": {"server": server, "path": path, "auth": login.0}}),
        )
    }

    /// An AWS Secrets Manager store in `region`.
    pub fn aws(name: &str, region: &str, credentials: AwsCredentials) -> Self {
        StoreManifest::with_provider(
            name,
            json!({"aws": {"service": "SecretsManager", "region": region, "auth": credentials.0}}),
        )
    }

    /// A store with any `provider` object.
    pub fn with_provider(name: &str, provider: Value) -> Self {
        StoreManifest(json!({
            "apiVersion": API_VERSION,
            "kind": "SecretStore",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"provider": provider},
        }))
    }

    /// Makes it a ClusterSecretStore.
    pub fn cluster(mut self) -> Self {
        self.0["kind"] = json!("ClusterSecretStore");
        if let Some(meta) = self.0["metadata"].as_object_mut() {
            meta.remove("namespace");
        }
        self
    }

    /// Sets a field of the provider (`version`, `namespace`, `role`, ...).
    pub fn provider(mut self, field: &str, value: impl Into<Value>) -> Self {
        if let Some(provider) = self.0["spec"]["provider"]
            .as_object_mut()
            .and_then(|p| p.values_mut().next())
        {
            provider[field] = value.into();
        }
        self
    }

    /// Sets a field of `spec` (`conditions`, `controller`, ...).
    pub fn set(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.0["spec"][field] = value.into();
        self
    }
}

/// An ExternalSecret refreshed every hour, reading from SecretStore
/// `store`.
#[derive(Debug, Clone)]
pub struct ExternalSecretManifest(Value);

impl ExternalSecretManifest {
    pub fn new(name: &str, store: &str) -> Self {
        ExternalSecretManifest(json!({
            "apiVersion": API_VERSION,
            "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": store}},
        }))
    }

    /// Its store is a ClusterSecretStore.
    pub fn cluster_store(mut self) -> Self {
        self.0["spec"]["secretStoreRef"]["kind"] = json!("ClusterSecretStore");
        self
    }

    /// `refreshInterval`.
    pub fn refresh(self, interval: &str) -> Self {
        self.set("refreshInterval", interval)
    }

    /// Adds `data[]`: remote `key` into `secret_key`.
    pub fn data(self, secret_key: &str, key: &str) -> Self {
        self.push(
            "data",
            json!({"secretKey": secret_key, "remoteRef": {"key": key}}),
        )
    }

    /// Adds `data[]`: `property` of remote `key` into `secret_key`.
    pub fn property(self, secret_key: &str, key: &str, property: &str) -> Self {
        self.push(
            "data",
            json!({"secretKey": secret_key, "remoteRef": {"key": key, "property": property}}),
        )
    }

    /// Adds `data[]`: `remote_ref` (ESO's `remoteRef` object) into
    /// `secret_key`.
    pub fn data_ref(self, secret_key: &str, remote_ref: Value) -> Self {
        self.push(
            "data",
            json!({"secretKey": secret_key, "remoteRef": remote_ref}),
        )
    }

    /// Adds `dataFrom[]`: `extract` with `remote_ref` (ESO's `remoteRef`
    /// object).
    pub fn extract_ref(self, remote_ref: Value) -> Self {
        self.push("dataFrom", json!({"extract": remote_ref}))
    }

    /// Adds `dataFrom[]`: every property of remote `key`.
    pub fn extract(self, key: &str) -> Self {
        self.push("dataFrom", json!({"extract": {"key": key}}))
    }

    /// Sets `target` (`name`, `creationPolicy`, `template`, ...).
    pub fn target(self, target: Value) -> Self {
        self.set("target", target)
    }

    /// Sets any field of `spec`.
    pub fn set(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.0["spec"][field] = value.into();
        self
    }

    /// Removes a field of `spec` (`refreshInterval`, for ESO's default).
    pub fn unset(mut self, field: &str) -> Self {
        if let Some(spec) = self.0["spec"].as_object_mut() {
            spec.remove(field);
        }
        self
    }

    /// Adds an entry to a list in `spec`.
    pub fn push(mut self, list: &str, entry: Value) -> Self {
        let spec = &mut self.0["spec"];
        if !spec[list].is_array() {
            spec[list] = json!([]);
        }
        if let Some(items) = spec[list].as_array_mut() {
            items.push(entry);
        }
        self
    }
}

impl fmt::Display for StoreManifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for ExternalSecretManifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(manifest: impl fmt::Display) -> Value {
        serde_saphyr::from_str(&manifest.to_string()).expect("a manifest is YAML")
    }

    #[test]
    fn an_external_secret_reads_its_data_in_order_from_its_store() {
        let es = ExternalSecretManifest::new("app", "aws")
            .refresh("1s")
            .data("user", "db")
            .property("password", "db", "password")
            .extract("shared");
        assert_eq!(
            value(es),
            json!({
                "apiVersion": "external-secrets.io/v1",
                "kind": "ExternalSecret",
                "metadata": {"name": "app", "namespace": "NAMESPACE"},
                "spec": {
                    "refreshInterval": "1s",
                    "secretStoreRef": {"name": "aws"},
                    "data": [
                        {"secretKey": "user", "remoteRef": {"key": "db"}},
                        {"secretKey": "password", "remoteRef": {"key": "db", "property": "password"}},
                    ],
                    "dataFrom": [{"extract": {"key": "shared"}}],
                },
            })
        );
    }

    #[test]
    fn a_cluster_store_has_no_namespace_and_keeps_its_login() {
        let store = StoreManifest::vault(
            "bao",
            "http://127.0.0.1:8200",
            "secret",
            VaultLogin::token("t", "token"),
        )
        .provider("version", "v2")
        .cluster();
        let v = value(store);
        assert_eq!(v["kind"], "ClusterSecretStore");
        assert_eq!(v["metadata"], json!({"name": "bao"}));
        assert_eq!(v["spec"]["provider"]["vault"]["version"], "v2");
        assert_eq!(
            v["spec"]["provider"]["vault"]["auth"],
            json!({"tokenSecretRef": {"name": "t", "key": "token"}})
        );
        let aws = value(StoreManifest::aws(
            "aws",
            "us-east-1",
            AwsCredentials::static_keys("creds"),
        ));
        assert_eq!(
            aws["spec"]["provider"]["aws"]["auth"]["secretRef"]["secretAccessKeySecretRef"],
            json!({"name": "creds", "key": "secret-access-key"})
        );
    }
}
