//! Helpers for the controller's tests against the real local control plane:
//! start a controller in-process (own key namespace, watching one test
//! namespace), seal to its key, and wait for conditions by polling with a
//! deadline.

#![allow(dead_code)]

pub mod process;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use coffer_api::{SealedSecret, SealedSecretCondition};
use coffer_controller::sealed::keys::{KeyRegistry, LoadedKey};
use coffer_controller::{Config, Running};
use coffer_crypto::{KeySize, Scope};
use coffer_testenv::{TestEnv, TestNamespace};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};

pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A test's world: a namespace for its objects, one for the controller's
/// keys, and a controller watching the first.
pub struct World {
    pub env: &'static TestEnv,
    pub client: kube::Client,
    pub ns: TestNamespace,
    pub ctrl_ns: TestNamespace,
}

impl World {
    pub async fn new(test: &str) -> World {
        let env = TestEnv::shared().await;
        World {
            env,
            client: env.client().await,
            ns: env.namespace(test).await,
            ctrl_ns: env.namespace(&format!("{test}-ctrl")).await,
        }
    }

    pub fn config(&self) -> Config {
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        Config {
            controller_namespace: self.ctrl_ns.name().to_owned(),
            key_size: KeySize::Rsa2048,
            watch_namespaces: vec![self.ns.name().to_owned()],
            listen_addr: Some(local),
            metrics_addr: Some(local),
            ..Config::default()
        }
    }

    pub async fn start(&self) -> Running {
        self.start_with(self.config()).await
    }

    /// Starts a controller with `config`, on a client of its own (as a
    /// separate replica would have).
    pub async fn start_with(&self, config: Config) -> Running {
        coffer_controller::start(self.env.client().await, config)
            .await
            .expect("controller starts")
    }

    /// The sealing key the (leading) controller made, once it exists, read
    /// from its key Secrets as `kubeseal --fetch-cert` would see it.
    pub async fn sealing_key(&self) -> std::sync::Arc<LoadedKey> {
        eventually("the controller's sealing key", || {
            let (client, ns) = (self.client.clone(), self.ctrl_ns.name().to_owned());
            async move {
                KeyRegistry::load(client, &ns, "sealed-secrets-key")
                    .await
                    .ok()?
                    .newest()
                    .ok()
            }
        })
        .await
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), self.ns.name())
    }

    pub fn sealed_secrets(&self) -> Api<SealedSecret> {
        Api::namespaced(self.client.clone(), self.ns.name())
    }

    pub fn secret(&self, name: &str, data: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(self.ns.name().into()),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }

    /// Seals `secret` to the running controller's newest key and creates
    /// the SealedSecret.
    pub async fn create_sealed(&self, running: &Running, secret: &Secret) -> SealedSecret {
        let key = running.context.keys.newest().expect("a key");
        let sealed =
            coffer_sealed::seal_secret(secret, key.certificate().public_key(), None::<Scope>)
                .expect("seal");
        self.sealed_secrets()
            .create(&PostParams::default(), &sealed)
            .await
            .expect("create SealedSecret")
    }
}

/// A token Secret `<name>-token` holding `token`, and a Vault (OpenBao, KV
/// v2 at `secret`) SecretStore `name` in the world's namespace using it.
pub async fn vault_store(world: &World, name: &str, token: &str) {
    use coffer_testenv::external::{self, StoreManifest, VaultLogin};
    let secret = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": format!("{name}-token")},
        "stringData": {"token": token},
    });
    external::apply(&world.client, world.ns.name(), &secret.to_string()).await;
    let login = VaultLogin::token(&format!("{name}-token"), "token");
    let store = StoreManifest::vault(name, &world.env.vault.addr, "secret", login)
        .provider("version", "v2");
    external::apply(&world.client, world.ns.name(), &store.to_string()).await;
}

/// GETs `url`, returning the status and body (`None` if unreachable).
pub async fn get(url: &str) -> Option<(u16, String)> {
    let response = reqwest::get(url).await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// The value of an unlabelled sample `name` in a Prometheus text page.
pub fn sample(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Polls `probe` every 200 ms until it returns `Some`, failing the test
/// after [`TIMEOUT`] with `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {TIMEOUT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The Secret's data as strings.
pub fn data_of(secret: &Secret) -> BTreeMap<String, String> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect()
}

/// Waits for Secret `name` to exist with exactly `data`.
pub async fn secret_with_data(world: &World, name: &str, data: &[(&str, &str)]) -> Secret {
    let want: BTreeMap<String, String> = data
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let api = world.secrets();
    eventually(&format!("Secret {name} with the expected data"), || {
        let api = api.clone();
        let want = want.clone();
        async move {
            let s = api.get_opt(name).await.expect("read Secret")?;
            (data_of(&s) == want).then_some(s)
        }
    })
    .await
}

/// Waits for the SealedSecret's `Synced` condition to have `status`.
pub async fn synced(world: &World, name: &str, status: &str) -> SealedSecretCondition {
    let api = world.sealed_secrets();
    eventually(&format!("SealedSecret {name} Synced={status}"), || {
        let api = api.clone();
        async move {
            let s = api.get(name).await.expect("read SealedSecret");
            let c = s
                .status?
                .conditions
                .into_iter()
                .find(|c| c.type_ == "Synced")?;
            (c.status == status).then_some(c)
        }
    })
    .await
}
