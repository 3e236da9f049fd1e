//! Coffer's ExternalSecret controller: reads AWS Secrets Manager and Vault
//! through the `external-secrets.io/v1` API (SecretStore,
//! ClusterSecretStore, ExternalSecret, ClusterExternalSecret) and keeps
//! Kubernetes Secrets in step, on a refresh interval.
//!
//! ESO manifests work unchanged; what differs is cost: one provider session
//! per store, identical reads shared across ExternalSecrets, AWS reads
//! batched, refreshes spread with jitter (see `coffer-providers` and
//! `schedule.rs`), and managed Secrets tracked by hash rather than cached
//! whole (`secrets.rs`). A provider error never touches an existing Secret.
//!
//! [`run`] starts everything and returns when `shutdown` fires; the
//! controller binary runs it under leader election.

#![forbid(unsafe_code)]

mod build;
mod cluster_external_secret;
mod context;
mod error;
pub mod events;
mod fetch;
mod hash;
mod metrics;
mod ownership;
mod pool;
mod reconcile;
mod rendered;
mod retries;
mod schedule;
mod secrets;
mod selector;
mod store;
mod store_status;
mod sweep;
mod token;
mod transform;
mod write;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use coffer_api::{ClusterSecretStore, ExternalSecret, SecretStore};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, PredicateConfig, WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

pub use context::{AwsEndpoints, Config, Context, DEFAULT_CONCURRENCY};
pub use error::{Error, Result, TemplateError};
pub use hash::{CREATED_BY_LABEL, DATA_HASH_ANNOTATION, MANAGED_LABEL, created_by, data_hash};
pub use metrics::{Metrics, ReconcileTimer};
pub use ownership::ADOPT_ANNOTATION;
pub use pool::RenderPool;
pub use retries::Retries;
pub use sweep::{SWEEP_EVERY, every as sweep_every, listed};

/// Entry points for the fuzz targets in fuzz/ (feature `fuzzing`, hidden):
/// the transforms and the `KeysAndValues` reader, which the public API
/// reaches only through a whole reconcile. Not an API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::build::keys_and_values;
    pub use crate::transform::{
        Conversion, Decoding, Rewrite, SecretData, convert_key, convert_keys, decode,
        is_valid_secret_key, rewrite_keys,
    };
}

/// Runs the ExternalSecret, store and ClusterExternalSecret controllers
/// until `shutdown` fires, then lets in-flight reconciles finish.
pub async fn run(
    client: kube::Client,
    config: Config,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let scopes = scopes(&config);

    // Caches: stores (namespaced and cluster) and managed Secrets.
    // SecretStores only in the watched namespaces: a store elsewhere is
    // neither usable nor this controller's to validate.
    let mut stores = Vec::new();
    let mut store_watches = Vec::new();
    for scope in &scopes {
        let (store, writer) = reflector::store::<SecretStore>();
        let api: Api<SecretStore> = api_in(&client, scope);
        store_watches.push(
            reflector::reflector(writer, watcher(api, watcher::Config::default()))
                .default_backoff()
                .touched_objects(),
        );
        stores.push(store);
    }
    let (cluster_stores, cluster_writer) = reflector::store::<ClusterSecretStore>();
    let cluster_api: Api<ClusterSecretStore> = Api::all(client.clone());
    let cluster_watch = reflector::reflector(
        cluster_writer,
        watcher(cluster_api, watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects();
    let index = secrets::SecretIndex::new(scopes.len());
    let ctx = Arc::new(Context::new(
        client.clone(),
        config.clone(),
        metrics,
        stores.clone(),
        cluster_stores.clone(),
        index.clone(),
    ));

    // NB: a JoinSet aborts its tasks when dropped, so a caller that gives
    // up waiting (the controller at its lease deadline) stops them all
    // rather than leaving them running detached.
    let mut tasks = tokio::task::JoinSet::new();
    // The store controllers consume the store watches (which feed the
    // caches) and keep each store's Ready condition.
    for watch in store_watches {
        tasks.spawn(store_status::run_namespaced(
            ctx.clone(),
            watch,
            shutdown.clone(),
        ));
    }
    tasks.spawn(store_status::run_cluster(
        ctx.clone(),
        cluster_watch,
        shutdown.clone(),
    ));
    if config.cluster_external_secrets {
        tasks.spawn(cluster_external_secret::run(ctx.clone(), shutdown.clone()));
    }

    // ExternalSecrets wait for the caches, so that a missing entry means a
    // missing object and a restart does not rewrite every Secret.
    wait_listed(&stores, &cluster_stores, &index, &ctx, &scopes).await;
    for scope in scopes {
        tasks.spawn(sync_controller(ctx.clone(), scope, shutdown.clone()));
    }
    tasks.spawn(sweep::run(ctx.clone(), shutdown.clone()));
    tasks.spawn(store_status::revalidate(ctx.clone(), shutdown.clone()));
    tracing::info!("ExternalSecret controller started");
    while tasks.join_next().await.is_some() {}
}

/// The namespaces watched: each configured one, or all (`None`).
fn scopes(config: &Config) -> Vec<Option<String>> {
    if config.namespaces.is_empty() {
        vec![None]
    } else {
        config.namespaces.iter().cloned().map(Some).collect()
    }
}

/// The API for `K` in one scope.
fn api_in<K>(client: &kube::Client, scope: &Option<String>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match scope {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The ExternalSecret controller of one scope, woken by its ExternalSecrets
/// and by their Secrets (see [`wakes`]).
async fn sync_controller(
    ctx: Arc<Context>,
    scope: Option<String>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let mut es_watch = watcher::Config::default();
    if let Some(selector) = &ctx.config.label_selector {
        es_watch = es_watch.labels(selector);
    }
    // The cache sees every change; reconciles are triggered only by those
    // that can change a sync (see `sync_inputs`), as in ESO: a status
    // write, ours included, wakes nothing.
    let (es_store, writer) = reflector::store::<ExternalSecret>();
    // NB: the cache drops each object's managedFields, which nothing here
    // reads and which are most of an ExternalSecret's size in memory once
    // its status has been written (a tree of JSON maps per field manager).
    let es_events = reflector::reflector(
        writer,
        watcher(api_in::<ExternalSecret>(&ctx.client, &scope), es_watch)
            .modify(|es| es.managed_fields_mut().clear()),
    )
    .applied_objects()
    .predicate_filter(sync_inputs, PredicateConfig::default().ttl(PREDICATE_TTL));
    let controller = Controller::for_stream(es_events, es_store.clone()).with_config(
        kube::runtime::controller::Config::default().concurrency(ctx.config.concurrency),
    );
    ctx.register_external_secrets(es_store.clone());
    let secret_events = ctx
        .secrets
        .watch(api_in::<Secret>(&ctx.client, &scope), scope.clone());
    let known = ctx.secrets.clone();
    let gains = coffer_shard::gains(ctx.config.partition.as_deref());
    controller
        .reconcile_all_on(gains)
        .watches_stream(secret_events, move |secret: Secret| {
            let deleted = secret
                .namespace()
                .is_some_and(|ns| known.get(&ns, &secret.name_any()).is_none());
            wakes(
                &secret,
                deleted,
                es_store.state().iter().map(|es| es.as_ref()),
            )
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, reconcile::error_policy, ctx.clone())
        .for_each(|result| {
            // A deleted ExternalSecret shows up here (its trigger finds no
            // object): its metric series go now, the rest at the next sweep.
            if let Err(kube::runtime::controller::Error::ObjectNotFound(gone)) = &result {
                ctx.metrics
                    .forget(gone.namespace.as_deref().unwrap_or_default(), &gone.name);
            }
            async move {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "reconcile trigger failed");
                }
            }
        })
        .await;
}

/// How long the event filter remembers an ExternalSecret it has not heard
/// of since (kube's default is an hour). Its memory is one entry per uid,
/// deleted objects included, so churn grows it for that long; forgetting
/// sooner costs at most one extra reconcile of an object idle that long,
/// which finds nothing due.
const PREDICATE_TTL: Duration = Duration::from_secs(10 * 60);

/// What in an ExternalSecret can change what a sync does: its spec
/// (through the generation), labels, annotations (ESO's `force-sync`
/// idiom), finalizers and deletion; not its status. ESO's controller
/// filters its ExternalSecret events the same way. (The predicate cache is
/// keyed by uid too, so a re-created object always triggers.)
fn sync_inputs(es: &ExternalSecret) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let meta = &es.metadata;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    meta.labels.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    meta.finalizers.hash(&mut hasher);
    meta.deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .hash(&mut hasher);
    Some(hasher.finish())
}

/// Waits until the store caches and the Secret index have their initial
/// lists (the index only fills once its watches run, so it is polled).
async fn wait_listed(
    stores: &[Store<SecretStore>],
    cluster_stores: &Store<ClusterSecretStore>,
    index: &secrets::SecretIndex,
    ctx: &Arc<Context>,
    scopes: &[Option<String>],
) {
    for store in stores {
        let _ = store.wait_until_ready().await;
    }
    let _ = cluster_stores.wait_until_ready().await;
    // The index's watches start with the controllers; before that, prime
    // it with one list per scope so the first reconciles see every Secret.
    for scope in scopes {
        let api: Api<Secret> = api_in(&ctx.client, scope);
        let params = kube::api::ListParams::default().labels(&format!("{}=true", MANAGED_LABEL));
        loop {
            match api.list(&params).await {
                Ok(list) => {
                    for s in &list.items {
                        index.record(s);
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listing managed Secrets failed; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }
}

/// The ExternalSecrets a Secret event concerns: its controller owner, or
/// any ExternalSecret in its namespace targeting its name. A `deleted`
/// Secret (gone from the index) wakes every ExternalSecret targeting its
/// name, as ESO does: one that was refused because another ExternalSecret
/// owned the Secret (a renamed ExternalSecret, a ClusterExternalSecret's
/// new `externalSecretName`) can now create it.
fn wakes<'a>(
    secret: &Secret,
    deleted: bool,
    external_secrets: impl Iterator<Item = &'a ExternalSecret>,
) -> Vec<ObjectRef<ExternalSecret>> {
    let Some(namespace) = secret.namespace() else {
        return Vec::new();
    };
    let name = secret.name_any();
    let owner = secret
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true) && o.kind == "ExternalSecret")
        .map(|o| ObjectRef::new(&o.name).within(&namespace));
    if let Some(owner) = &owner
        && !deleted
    {
        // NB: the common case (a Secret the controller wrote changed) costs
        // no scan of the ExternalSecrets.
        return vec![owner.clone()];
    }
    let mut targeting: Vec<ObjectRef<ExternalSecret>> = external_secrets
        .filter(|es| es.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|es| es.spec.target.secret_name(&es.name_any()) == name)
        .map(ObjectRef::from_obj)
        .collect();
    if let Some(owner) = owner
        && !targeting.contains(&owner)
    {
        targeting.push(owner);
    }
    targeting
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    use super::*;

    fn es(namespace: &str, name: &str, target: Option<&str>) -> ExternalSecret {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"target": {"name": target}},
        }))
        .unwrap()
    }

    fn secret(name: &str, controller: Option<&str>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("team".into()),
                owner_references: controller.map(|c| {
                    vec![OwnerReference {
                        api_version: "external-secrets.io/v1".into(),
                        kind: "ExternalSecret".into(),
                        name: c.into(),
                        uid: "u".into(),
                        controller: Some(true),
                        block_owner_deletion: None,
                    }]
                }),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        }
    }

    #[test]
    fn a_secret_event_wakes_its_owner_or_the_external_secrets_targeting_it() {
        let all = [
            es("team", "db", None),
            es("team", "renamed", Some("db")),
            es("other", "db", None),
            es("team", "api", None),
        ];
        let woken = |secret: &Secret, deleted: bool| -> Vec<String> {
            let mut names: Vec<String> = wakes(secret, deleted, all.iter())
                .into_iter()
                .map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name))
                .collect();
            names.sort();
            names
        };
        #[rustfmt::skip]
        let cases: [(&str, Secret, bool, &[&str]); 5] = [
            ("owned, changed: only its owner", secret("db", Some("db")), false, &["team/db"]),
            ("owned, deleted: owner and all targeting it", secret("db", Some("db")), true, &["team/db", "team/renamed"]),
            ("owned by a gone ExternalSecret, deleted", secret("db", Some("old")), true, &["team/db", "team/old", "team/renamed"]),
            ("not owned: all targeting it in its namespace", secret("db", None), false, &["team/db", "team/renamed"]),
            ("nobody targets it", secret("unrelated", None), false, &[]),
        ];
        for (case, secret, deleted, expect) in cases {
            assert_eq!(woken(&secret, deleted), expect, "{case}");
        }
    }

    #[test]
    fn only_changes_that_can_change_a_sync_trigger_one() {
        let base = es("team", "db", None);
        let mut status_only = base.clone();
        status_only.status = Some(coffer_api::external::ExternalSecretStatus {
            refresh_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            )),
            ..Default::default()
        });
        status_only.metadata.resource_version = Some("2".into());
        assert_eq!(sync_inputs(&status_only), sync_inputs(&base), "status");
        let mut edits = Vec::new();
        let mut spec = base.clone();
        spec.metadata.generation = Some(2);
        edits.push(("generation", spec));
        let mut forced = base.clone();
        forced.metadata.annotations = Some([("force-sync".to_owned(), "1".to_owned())].into());
        edits.push(("annotation", forced));
        let mut labelled = base.clone();
        labelled.metadata.labels = Some([("team".to_owned(), "a".to_owned())].into());
        edits.push(("label", labelled));
        for (what, edited) in edits {
            assert_ne!(sync_inputs(&edited), sync_inputs(&base), "{what}");
        }
    }
}
