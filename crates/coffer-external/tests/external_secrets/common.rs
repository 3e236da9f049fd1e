//! Helpers: a namespace with a controller watching it, manifests applied
//! from YAML (so the API server judges ESO's documents, not our
//! serializer), provider seeding, and polling with a deadline.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use coffer_api::ExternalSecret;
use coffer_api::external::ExternalSecretCondition;
use coffer_external::{Config, Metrics};
pub use coffer_testenv::external::{
    self, AwsCredentials, ExternalSecretManifest, StoreManifest, VaultLogin,
};
use coffer_testenv::{TestEnv, TestNamespace};
use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use tokio::sync::oneshot;

pub const TIMEOUT: Duration = Duration::from_secs(45);

/// A test's namespace and the controller watching it.
pub struct World {
    pub env: &'static TestEnv,
    pub client: kube::Client,
    pub ns: TestNamespace,
    pub metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl World {
    /// A namespace and a running controller.
    pub async fn new(test: &str) -> World {
        let mut world = World::without_controller(test).await;
        world.start().await;
        world
    }

    /// A namespace only; call [`World::start`] later.
    pub async fn without_controller(test: &str) -> World {
        let env = TestEnv::shared().await;
        World {
            env,
            client: env.client().await,
            ns: env.namespace(test).await,
            metrics: Arc::new(Metrics::default()),
            stop: None,
            task: None,
        }
    }

    pub fn name(&self) -> &str {
        self.ns.name()
    }

    pub fn config(&self) -> Config {
        Config {
            namespaces: vec![self.ns.name().to_owned()],
            cluster_external_secrets: false,
            ..Config::default()
        }
    }

    /// Starts a controller (with fresh metrics) on a client of its own.
    pub async fn start(&mut self) {
        self.start_with(self.config()).await;
    }

    pub async fn start_with(&mut self, config: Config) {
        self.metrics = Arc::new(Metrics::default());
        let (tx, rx) = oneshot::channel::<()>();
        let client = self.env.client().await;
        let metrics = self.metrics.clone();
        self.task = Some(tokio::spawn(coffer_external::run(
            client,
            config,
            metrics,
            async move {
                let _ = rx.await;
            },
        )));
        self.stop = Some(tx);
    }

    /// Stops the controller and waits for it to finish.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(20), task).await;
        }
    }

    /// Applies a manifest (any kind; YAML, or a fixture from
    /// [`coffer_testenv::external`]) into the test namespace.
    pub async fn apply(&self, manifest: impl std::fmt::Display) {
        external::apply(&self.client, self.name(), &manifest.to_string()).await;
    }

    /// Creates or replaces an Opaque Secret in the namespace.
    pub async fn put_secret(&self, name: &str, data: &[(&str, &str)]) {
        let data: BTreeMap<String, String> = data
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let secret = serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": { "name": name, "namespace": self.name() },
            "stringData": data,
        });
        self.secrets()
            .patch(
                name,
                &PatchParams::apply("coffer-test").force(),
                &Patch::Apply(secret),
            )
            .await
            .expect("secret applied");
    }

    /// Sets an annotation on an ExternalSecret (as `kubectl annotate`).
    pub async fn annotate_es(&self, name: &str, key: &str, value: &str) {
        let patch = serde_json::json!({ "metadata": { "annotations": { key: value } } });
        self.external_secrets()
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .expect("annotated");
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), self.name())
    }

    pub fn external_secrets(&self) -> Api<ExternalSecret> {
        Api::namespaced(self.client.clone(), self.name())
    }

    /// Waits until Secret `name` exists and `pred` holds for it.
    pub async fn wait_secret(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&Secret) -> bool,
    ) -> Secret {
        let api = self.secrets();
        eventually(what, || async {
            api.get_opt(name).await.ok().flatten().filter(|s| pred(s))
        })
        .await
    }

    /// Waits until the ExternalSecret's Ready condition satisfies `pred`.
    pub async fn wait_ready(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&ExternalSecretCondition) -> bool,
    ) -> ExternalSecretCondition {
        let api = self.external_secrets();
        eventually(what, || async {
            let es = api.get_opt(name).await.ok().flatten()?;
            es.status?
                .conditions
                .into_iter()
                .find(|c| c.type_ == "Ready")
                .filter(|c| pred(c))
        })
        .await
    }
}

impl World {
    /// `status.refreshTime` of ExternalSecret `name`, if it has one.
    pub async fn refresh_time(&self, name: &str) -> Option<Timestamp> {
        let es = self.external_secrets().get_opt(name).await.ok()??;
        Some(es.status?.refresh_time?.0)
    }

    /// The Events recorded on the ExternalSecret `name`.
    pub async fn events(&self, name: &str) -> Vec<Event> {
        external::external_secret_events(&self.client, self.name(), name).await
    }

    /// Waits until an Event with `reason` is recorded on ExternalSecret
    /// `name`, and returns it.
    /// The first Event on `name` with `reason` whose note contains `text`
    /// (an earlier one with the same reason may be about something else,
    /// e.g. a store not yet cached when the ExternalSecret was first seen).
    pub async fn wait_event_saying(&self, name: &str, reason: &str, text: &str) -> Event {
        eventually(
            &format!("a {reason} Event on {name} saying {text:?}"),
            || async {
                self.events(name).await.into_iter().find(|e| {
                    e.reason.as_deref() == Some(reason)
                        && e.message.as_deref().is_some_and(|m| m.contains(text))
                })
            },
        )
        .await
    }

    pub async fn wait_event(&self, name: &str, reason: &str) -> Event {
        eventually(&format!("a {reason} Event on {name}"), || async {
            self.events(name)
                .await
                .into_iter()
                .find(|e| e.reason.as_deref() == Some(reason))
        })
        .await
    }

    /// Proof that the controller has polled `key` since it changed to
    /// `value`: a `Periodic` 1s ExternalSecret `witness` over the same key
    /// shows the new value, then refreshes twice more. An ExternalSecret that
    /// applied upstream changes on a 1s timer has had its chance by then, so
    /// "never applied" is checked after a positive signal, not a sleep.
    pub async fn witness(&self, key: &str, value: &str) {
        self.apply(
            ExternalSecretManifest::new("witness", "aws")
                .refresh("1s")
                .data("value", key),
        )
        .await;
        self.wait_secret("witness", "the witness to see the upstream change", |s| {
            crate::common::value(s, "value").as_deref() == Some(value)
        })
        .await;
        let seen = Timestamp::now()
            .checked_add(Duration::from_secs(1))
            .expect("a time a second from now");
        eventually("two more refreshes of the witness", || async {
            self.refresh_time("witness")
                .await
                .filter(|t| *t > seen)
                .map(|_| ())
        })
        .await;
    }
}

/// Sets (`Some`) or removes (`None`) a label on namespace `ns`.
pub async fn label_namespace(client: &kube::Client, ns: &str, key: &str, value: Option<&str>) {
    let api: Api<Namespace> = Api::all(client.clone());
    let patch = serde_json::json!({ "metadata": { "labels": { key: value } } });
    api.patch(ns, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .unwrap_or_else(|e| panic!("label namespace {ns}: {e}"));
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Polls `probe` until it yields a value or [`TIMEOUT`] passes.
pub async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(what, TIMEOUT, probe).await
}

/// Polls `probe` until it yields a value or `timeout` passes; for waits on
/// kube-controller-manager's garbage collector, which can lag on a loaded
/// machine.
pub async fn eventually_within<T, F, Fut>(what: &str, timeout: Duration, probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The value of `key` in a Secret, as text.
pub fn value(secret: &Secret, key: &str) -> Option<String> {
    secret
        .data
        .as_ref()?
        .get(key)
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
}

/// The Secret's data keys.
pub fn keys(secret: &Secret) -> Vec<String> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect()
}

/// An AWS SDK client on moto (endpoint and credentials from the
/// environment `TestEnv` exported).
pub async fn aws_client() -> aws_sdk_secretsmanager::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&config)
}

/// Creates or overwrites a secret string in moto (default account).
pub async fn aws_put(name: &str, value: &str) {
    let region = &TestEnv::shared().await.aws.region;
    crate::identity::moto_put(region, None, name, value).await;
}

/// Deletes a secret from moto at once.
pub async fn aws_delete(name: &str) {
    aws_client()
        .await
        .delete_secret()
        .secret_id(name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("moto delete_secret");
}

/// A SecretStore named `name` for AWS (static keys from Secret `aws-creds`).
pub async fn aws_store(world: &World, name: &str) {
    aws_creds(world).await;
    let region = &world.env.aws.region;
    world
        .apply(StoreManifest::aws(
            name,
            region,
            AwsCredentials::static_keys("aws-creds"),
        ))
        .await;
}

/// The Secret `aws-creds` with moto's static keys.
pub async fn aws_creds(world: &World) {
    world
        .put_secret(
            "aws-creds",
            &[("access-key", "testing"), ("secret-access-key", "testing")],
        )
        .await;
}

/// A SecretStore named `name` for OpenBao KV v2 at `secret`, token auth.
pub async fn vault_store(world: &World, name: &str, server: &str, token: &str) {
    world.put_secret("vault-token", &[("token", token)]).await;
    let login = VaultLogin::token("vault-token", "token");
    world
        .apply(StoreManifest::vault(name, server, "secret", login).provider("version", "v2"))
        .await;
}

/// The usual store: `vault` on the test OpenBao with its root token.
pub async fn root_vault_store(world: &World) {
    let vault = &world.env.vault;
    vault_store(world, "vault", &vault.addr, &vault.token).await;
}

/// A unique remote key for this test.
pub fn remote(world: &World, key: &str) -> String {
    format!("{}/{key}", world.name())
}

/// ResourceExt helper.
pub fn rv(secret: &Secret) -> String {
    secret.resource_version().unwrap_or_default()
}
