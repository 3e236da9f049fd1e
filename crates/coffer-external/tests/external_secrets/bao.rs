//! OpenBao set up the way an operator would, through its HTTP API with the
//! root token: KV mounts, policies, auth methods and their roles, and
//! namespaces. Every helper panics with OpenBao's answer when it refuses,
//! so a broken setup is not mistaken for a controller failure.

#![allow(dead_code)]

use coffer_testenv::TestEnv;
use serde_json::{Value, json};

/// The shared OpenBao dev server, driven as root.
pub struct Bao {
    pub addr: String,
    root: String,
    /// The OpenBao namespace requests go to (`None`: the root namespace).
    namespace: Option<String>,
    http: reqwest::Client,
}

impl Bao {
    pub fn new(env: &TestEnv) -> Bao {
        Bao {
            addr: env.vault.addr.clone(),
            root: env.vault.token.clone(),
            namespace: None,
            http: reqwest::Client::new(),
        }
    }

    /// The same server, with every request sent to OpenBao namespace `ns`.
    pub fn in_namespace(&self, ns: &str) -> Bao {
        Bao {
            addr: self.addr.clone(),
            root: self.root.clone(),
            namespace: Some(ns.to_owned()),
            http: self.http.clone(),
        }
    }

    /// A request as root, in this handle's namespace.
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self
            .http
            .request(method, format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", &self.root);
        match &self.namespace {
            Some(ns) => request.header("X-Vault-Namespace", ns),
            None => request,
        }
    }

    /// Sends an admin request; panics unless OpenBao answers 2xx.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let mut request = self.request(method.clone(), path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("openbao reachable");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "openbao {method} {path} (namespace {:?}): {status}: {text}",
            self.namespace
        );
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("openbao answers JSON")
        }
    }

    /// Creates namespace `name` (in the root namespace).
    pub async fn create_namespace(&self, name: &str) {
        self.call("POST", &format!("sys/namespaces/{name}"), Some(json!({})))
            .await;
    }

    /// Enables a KV engine of `version` (`"1"` or `"2"`) at `path`.
    pub async fn mount_kv(&self, path: &str, version: &str) {
        self.call(
            "POST",
            &format!("sys/mounts/{path}"),
            Some(json!({"type": "kv", "options": {"version": version}})),
        )
        .await;
        if version == "2" {
            // A new KV v2 mount upgrades itself in the background and
            // refuses writes ("Upgrading from non-versioned to versioned
            // data") until done; its config answers once it is ready.
            for _ in 0..100 {
                let request = self.request(reqwest::Method::GET, &format!("{path}/config"));
                if request.send().await.is_ok_and(|r| r.status().is_success()) {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("the KV v2 mount {path} never became ready");
        }
    }

    /// Writes `data` at `key` of the KV v2 engine at `mount`.
    pub async fn put_v2(&self, mount: &str, key: &str, data: Value) {
        self.call(
            "POST",
            &format!("{mount}/data/{key}"),
            Some(json!({ "data": data })),
        )
        .await;
    }

    /// Writes `data` at `key` of the KV v1 engine at `mount`.
    pub async fn put_v1(&self, mount: &str, key: &str, data: Value) {
        self.call("POST", &format!("{mount}/{key}"), Some(data))
            .await;
    }

    /// Sets a KV v2 secret's `custom_metadata`.
    pub async fn custom_metadata(&self, mount: &str, key: &str, metadata: Value) {
        self.call(
            "POST",
            &format!("{mount}/metadata/{key}"),
            Some(json!({ "custom_metadata": metadata })),
        )
        .await;
    }

    /// An ACL policy `name` that reads (and lists) every path under each of
    /// `prefixes` (API paths, e.g. `secret/data/app`).
    pub async fn read_policy(&self, name: &str, prefixes: &[&str]) {
        let rules: String = prefixes
            .iter()
            .map(|p| format!("path \"{p}*\" {{ capabilities = [\"read\", \"list\"] }}\n"))
            .collect();
        self.call(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(json!({ "policy": rules })),
        )
        .await;
    }

    /// Enables auth method `kind` (`approle`, `kubernetes`, `jwt`) at `path`.
    pub async fn enable_auth(&self, path: &str, kind: &str) {
        self.call(
            "POST",
            &format!("sys/auth/{path}"),
            Some(json!({ "type": kind })),
        )
        .await;
    }

    /// An AppRole role `role` at auth mount `mount` granting `policy`, and a
    /// fresh secret id for it; returns (role id, secret id). `role_id`
    /// fixes the role id (as a documented example gives one).
    pub async fn approle(
        &self,
        mount: &str,
        role: &str,
        policy: &str,
        role_id: Option<&str>,
    ) -> (String, String) {
        let mut body = json!({ "token_policies": [policy], "token_ttl": "1h" });
        if let Some(id) = role_id {
            body["role_id"] = json!(id);
        }
        self.call("POST", &format!("auth/{mount}/role/{role}"), Some(body))
            .await;
        let role_id = self
            .call("GET", &format!("auth/{mount}/role/{role}/role-id"), None)
            .await["data"]["role_id"]
            .as_str()
            .expect("role_id")
            .to_owned();
        let secret_id = self
            .call("POST", &format!("auth/{mount}/role/{role}/secret-id"), None)
            .await["data"]["secret_id"]
            .as_str()
            .expect("secret_id")
            .to_owned();
        (role_id, secret_id)
    }
}
