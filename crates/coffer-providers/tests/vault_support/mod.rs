//! Test support for the Vault provider tests: an admin client for the
//! shared OpenBao dev server (root token) that creates uniquely named
//! mounts, policies and auth roles, and an observer that counts calls.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use coffer_providers::vault::{KvVersion, VaultAuth, VaultConfig};
use coffer_providers::{CallObserver, CallStatus};
use secrecy::SecretString;
use serde_json::{Value, json};

/// A name no other test (or earlier run against the same server) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos:x}", N.fetch_add(1, Ordering::SeqCst))
}

/// Counts provider calls by (call, status).
#[derive(Debug, Default)]
pub struct Counter(Mutex<HashMap<(&'static str, CallStatus), usize>>);

impl CallObserver for Counter {
    fn provider_call(&self, provider: &'static str, call: &'static str, status: CallStatus) {
        assert_eq!(provider, "HashiCorp/Vault");
        *self.0.lock().unwrap().entry((call, status)).or_default() += 1;
    }
}

impl Counter {
    pub fn new() -> Arc<Counter> {
        Arc::new(Counter::default())
    }

    /// Calls named `call`, whatever their status.
    pub fn calls(&self, call: &str) -> usize {
        let map = self.0.lock().unwrap();
        map.iter()
            .filter(|((c, _), _)| *c == call)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn reset(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// The shared OpenBao dev server, driven with its root token.
pub struct Admin {
    pub addr: String,
    pub root: String,
    http: reqwest::Client,
}

impl Admin {
    pub async fn shared() -> Admin {
        let env = coffer_testenv::TestEnv::shared().await;
        Admin {
            addr: env.vault.addr.clone(),
            root: env.vault.token.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// Sends an admin request; panics with Vault's answer unless it is 2xx.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call_ns(None, method, path, body).await
    }

    pub async fn call_ns(
        &self,
        namespace: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method.clone(), format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", &self.root);
        if let Some(ns) = namespace {
            request = request.header("X-Vault-Namespace", ns);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    /// Enables a KV mount of `version` at a fresh path and returns it.
    pub async fn kv_mount(&self, version: KvVersion) -> String {
        let mount = unique("kv");
        let v = if version == KvVersion::V2 { "2" } else { "1" };
        self.call(
            "POST",
            &format!("sys/mounts/{mount}"),
            Some(json!({"type": "kv", "options": {"version": v}})),
        )
        .await;
        mount
    }

    pub async fn put_v2(&self, mount: &str, key: &str, data: Value) {
        self.call(
            "POST",
            &format!("{mount}/data/{key}"),
            Some(json!({"data": data})),
        )
        .await;
    }

    pub async fn put_v1(&self, mount: &str, key: &str, data: Value) {
        self.call("POST", &format!("{mount}/{key}"), Some(data))
            .await;
    }

    pub async fn custom_metadata(&self, mount: &str, key: &str, meta: Value) {
        self.call(
            "POST",
            &format!("{mount}/metadata/{key}"),
            Some(json!({"custom_metadata": meta})),
        )
        .await;
    }

    /// A policy reading and listing everything under `mounts`.
    pub async fn read_policy(&self, mounts: &[&str]) -> String {
        let name = unique("read");
        let rules: String = mounts
            .iter()
            .map(|m| format!("path \"{m}/*\" {{ capabilities = [\"read\", \"list\"] }}\n"))
            .collect();
        self.call(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(json!({"policy": rules})),
        )
        .await;
        name
    }

    /// A token with `policy` (and `default`) and the given TTL.
    pub async fn token(&self, policy: &str, ttl: &str) -> String {
        let reply = self
            .call(
                "POST",
                "auth/token/create",
                Some(json!({"policies": [policy], "ttl": ttl})),
            )
            .await;
        reply["auth"]["client_token"].as_str().unwrap().to_owned()
    }

    /// Enables AppRole at a fresh mount with one role; returns (mount,
    /// role_id, secret_id).
    pub async fn approle(
        &self,
        policy: &str,
        token_ttl: &str,
        token_max_ttl: &str,
    ) -> (String, String, String) {
        let mount = unique("approle");
        self.call(
            "POST",
            &format!("sys/auth/{mount}"),
            Some(json!({"type": "approle"})),
        )
        .await;
        self.call(
            "POST",
            &format!("auth/{mount}/role/app"),
            Some(json!({
                "token_policies": [policy],
                "token_ttl": token_ttl,
                "token_max_ttl": token_max_ttl,
            })),
        )
        .await;
        let role_id = self
            .call("GET", &format!("auth/{mount}/role/app/role-id"), None)
            .await["data"]["role_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let secret_id = self
            .call("POST", &format!("auth/{mount}/role/app/secret-id"), None)
            .await["data"]["secret_id"]
            .as_str()
            .unwrap()
            .to_owned();
        (mount, role_id, secret_id)
    }

    /// A store config for this server.
    pub fn config(&self, path: Option<&str>, version: KvVersion, auth: VaultAuth) -> VaultConfig {
        VaultConfig {
            server: self.addr.clone(),
            path: path.map(str::to_owned),
            version,
            namespace: None,
            auth_namespace: None,
            ca_bundle: None,
            headers: Default::default(),
            client_tls: None,
            read_your_writes: false,
            forward_inconsistent: false,
            auth,
        }
    }

    /// A store config using the root token.
    pub fn root_config(&self, path: Option<&str>, version: KvVersion) -> VaultConfig {
        self.config(
            path,
            version,
            VaultAuth::Token(SecretString::from(self.root.clone())),
        )
    }
}
