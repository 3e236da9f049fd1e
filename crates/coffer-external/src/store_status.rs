//! The `Ready` condition of SecretStores and ClusterSecretStores: each new
//! generation of a store is validated (its client built, its credentials
//! checked), and again every `spec.refreshInterval` (or the controller's
//! `store_requeue_interval`), so a store whose credentials appear or break
//! later follows without an edit; a store naming a provider Coffer does
//! not implement says so here rather than being ignored.
//!
//! Validation runs on its own task per store so that a slow or unreachable
//! provider never holds up the watch that feeds the store caches.

use std::future::Future;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use coffer_api::external::{
    REASON_INVALID_PROVIDER_CONFIG, REASON_STORE_VALID, REASON_VALIDATION_FAILED,
    STORE_CONDITION_READY, SecretStoreCapabilities, SecretStoreCondition, SecretStoreStatus,
};
use coffer_api::{ClusterSecretStore, SecretStore, SecretStoreSpec};
use futures::{Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};

use crate::context::Context;
use crate::store::build_config;

/// Namespace used to resolve a ClusterSecretStore's credential references
/// that name none, when validating the store on its own.
const CLUSTER_VALIDATION_NAMESPACE: &str = "default";

/// Validates SecretStores as the watch delivers them.
pub async fn run_namespaced<S, E>(ctx: Arc<Context>, stores: S, shutdown: impl Future<Output = ()>)
where
    S: Stream<Item = Result<SecretStore, E>>,
    E: std::fmt::Display,
{
    let run = stores.for_each(|event| {
        match event {
            Ok(store) => spawn_validation(&ctx, store),
            Err(e) => tracing::debug!(error = %e, "SecretStore watch error"),
        }
        futures::future::ready(())
    });
    tokio::select! {
        () = run => {}
        () = shutdown => {}
    }
}

/// Validates ClusterSecretStores as the watch delivers them.
pub async fn run_cluster<S, E>(ctx: Arc<Context>, stores: S, shutdown: impl Future<Output = ()>)
where
    S: Stream<Item = Result<ClusterSecretStore, E>>,
    E: std::fmt::Display,
{
    let run = stores.for_each(|event| {
        match event {
            Ok(store) => spawn_validation(&ctx, store),
            Err(e) => tracing::debug!(error = %e, "ClusterSecretStore watch error"),
        }
        futures::future::ready(())
    });
    tokio::select! {
        () = run => {}
        () = shutdown => {}
    }
}

/// Which store kinds this module validates.
trait StoreKind:
    Resource<DynamicType = ()>
    + Clone
    + Send
    + Sync
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + 'static
{
    fn spec(&self) -> &SecretStoreSpec;
    fn status(&self) -> Option<&SecretStoreStatus>;
    fn api(client: kube::Client, namespace: Option<&str>) -> Api<Self>;
}

impl StoreKind for SecretStore {
    fn spec(&self) -> &SecretStoreSpec {
        &self.spec
    }
    fn status(&self) -> Option<&SecretStoreStatus> {
        self.status.as_ref()
    }
    fn api(client: kube::Client, namespace: Option<&str>) -> Api<Self> {
        Api::namespaced(client, namespace.unwrap_or_default())
    }
}

impl StoreKind for ClusterSecretStore {
    fn spec(&self) -> &SecretStoreSpec {
        &self.spec
    }
    fn status(&self) -> Option<&SecretStoreStatus> {
        self.status.as_ref()
    }
    fn api(client: kube::Client, _: Option<&str>) -> Api<Self> {
        Api::all(client)
    }
}

/// Validates `store` on a task of its own if this generation was not
/// validated yet, or (`when_due`) its interval has passed since the last
/// validation.
fn spawn_validation<K: StoreKind>(ctx: &Arc<Context>, store: K) {
    spawn_if(ctx, store, false);
}

fn spawn_if<K: StoreKind>(ctx: &Arc<Context>, store: K, when_due: bool) {
    let class = store.spec().controller.as_deref().unwrap_or_default();
    if !class.is_empty() && class != ctx.config.controller_class {
        return;
    }
    // NB: a store another replica holds is left to it, and not recorded:
    // once this replica gains its shard, the next round validates it.
    let ticket = match &ctx.config.partition {
        Some(partition) => {
            let namespace = store.namespace().unwrap_or_default();
            let Some(ticket) = partition.ticket(&namespace, &store.name_any()) else {
                return;
            };
            Some(ticket)
        }
        None => None,
    };
    let uid = store.meta().uid.clone().unwrap_or_default();
    let generation = store.meta().generation.unwrap_or_default();
    let interval = revalidate_every(ctx, store.spec());
    {
        let mut seen = ctx.validated.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = seen.get(&uid).is_some_and(|(validated, at)| {
            *validated == generation && (!when_due || at.elapsed() < interval)
        });
        if fresh {
            return;
        }
        // NB: a time in the future reads as "not due" (`elapsed` is 0)
        // until the validation ends and records its own time, so a
        // provider slower than the interval never has two validations of
        // one store in flight.
        seen.insert(uid.clone(), (generation, Instant::now() + IN_FLIGHT));
    }
    let ctx = ctx.clone();
    tokio::spawn(async move {
        match ticket {
            Some(ticket) => {
                // NB: a validation cut short by losing the shard is
                // recorded as done; the new holder validates on its own.
                let _ = ticket.run(Box::pin(validate(&ctx, &store))).await;
            }
            None => validate(&ctx, &store).await,
        }
        let mut seen = ctx.validated.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = seen.get_mut(&uid)
            && entry.0 == generation
        {
            entry.1 = Instant::now();
        }
    });
}

/// Marks a validation in flight (see [`spawn_if`]).
const IN_FLIGHT: Duration = Duration::from_secs(3600);

/// The shortest re-validation interval: a store's `refreshInterval` is
/// written by whoever may create a store in a namespace, and each
/// validation may call the provider and write status, so `1` on many
/// stores must not turn into a flood.
pub const MIN_REVALIDATE: Duration = Duration::from_secs(10);

/// The store's own `refreshInterval`, else the controller's (also when
/// the store's cannot be read: validation reports that); never shorter
/// than [`MIN_REVALIDATE`].
fn revalidate_every(ctx: &Context, spec: &SecretStoreSpec) -> Duration {
    spec.refresh_interval()
        .ok()
        .flatten()
        .unwrap_or(ctx.config.store_requeue_interval)
        .max(MIN_REVALIDATE)
}

/// How often the caches are looked through for stores due again.
const REVALIDATE_TICK: Duration = Duration::from_secs(1);

/// Validates again every cached store whose interval has passed, until
/// `shutdown` fires.
pub async fn revalidate(ctx: Arc<Context>, shutdown: impl Future<Output = ()>) {
    let rounds = async {
        let mut tick = tokio::time::interval(REVALIDATE_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for store in ctx.stores.iter().flat_map(|s| s.state()) {
                spawn_if(&ctx, (*store).clone(), true);
            }
            for store in ctx.cluster_stores.state() {
                spawn_if(&ctx, (*store).clone(), true);
            }
            // Deleted stores' series go, and with shards those another
            // replica now validates.
            let partition = ctx.config.partition.as_deref();
            ctx.metrics.retain_stores(|prefix, ns, name| {
                if !coffer_shard::holds(partition, ns, name) {
                    return false;
                }
                if prefix == "clustersecretstore" {
                    ctx.cluster_stores.get(&ObjectRef::new(name)).is_some()
                } else {
                    ctx.stores
                        .iter()
                        .any(|s| s.get(&ObjectRef::new(name).within(ns)).is_some())
                }
            });
        }
    };
    tokio::select! {
        () = rounds => {}
        () = shutdown => {}
    }
}

async fn validate<K: StoreKind>(ctx: &Context, store: &K) {
    let namespace = store.namespace();
    let label = match &namespace {
        Some(ns) => format!("{} {ns}/{}", K::kind(&()), store.name_any()),
        None => format!("{} {}", K::kind(&()), store.name_any()),
    };
    let es_namespace = namespace.as_deref().unwrap_or(CLUSTER_VALIDATION_NAMESPACE);
    let outcome = if let Err(e) = store.spec().refresh_interval() {
        Err((
            REASON_INVALID_PROVIDER_CONFIG,
            format!("spec.refreshInterval: {e}"),
        ))
    } else {
        check(
            ctx,
            store.spec(),
            &label,
            &store.name_any(),
            namespace.as_deref(),
            es_namespace,
        )
        .await
    };
    let (ready, reason, message) = match &outcome {
        Ok(()) => (true, REASON_STORE_VALID, "store validated".to_owned()),
        Err((reason, message)) => (false, *reason, message.clone()),
    };
    ctx.metrics.store_ready(
        &K::kind(&()),
        namespace.as_deref().unwrap_or_default(),
        &store.name_any(),
        ready,
    );
    let current = store.status().and_then(|s| {
        s.conditions
            .iter()
            .find(|c| c.type_ == STORE_CONDITION_READY)
    });
    let value = if ready { "True" } else { "False" };
    if current.is_some_and(|c| {
        c.status == value
            && c.reason.as_deref() == Some(reason)
            && c.message.as_deref() == Some(&message)
    }) {
        return;
    }
    let event = Event {
        type_: if ready {
            EventType::Normal
        } else {
            EventType::Warning
        },
        reason: reason.to_owned(),
        note: Some(message.clone()),
        action: "Validate".to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &store.object_ref(&())).await {
        tracing::debug!(error = %e, "failed to publish store Event");
    }
    let transition = match current {
        Some(c) if c.status == value => c.last_transition_time.clone(),
        _ => Some(Time(Timestamp::now())),
    };
    let status = SecretStoreStatus {
        conditions: vec![SecretStoreCondition {
            type_: STORE_CONDITION_READY.to_owned(),
            status: value.to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(message),
            last_transition_time: transition,
        }],
        capabilities: Some(SecretStoreCapabilities::ReadOnly),
    };
    let api = K::api(ctx.client.clone(), namespace.as_deref());
    let patch = serde_json::json!({ "status": status });
    if let Err(e) = api
        .patch_status(
            &store.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        tracing::warn!(store = %label, error = %e, "could not write the store's status");
    }
    tracing::info!(store = %label, ready, "store validated");
}

/// Builds the store's client and asks the provider to validate it.
async fn check(
    ctx: &Context,
    spec: &SecretStoreSpec,
    label: &str,
    name: &str,
    namespace: Option<&str>,
    es_namespace: &str,
) -> Result<(), (&'static str, String)> {
    match build_config(ctx, spec, label, name, namespace, es_namespace).await {
        Err(e) => Err((
            REASON_INVALID_PROVIDER_CONFIG,
            format!("unable to create client: {e}"),
        )),
        Ok((config, scope)) => match ctx.sessions.client(label, scope.as_deref(), &config).await {
            Err(e) => Err((
                REASON_INVALID_PROVIDER_CONFIG,
                format!("unable to create client: {e}"),
            )),
            Ok(client) => match client.validate().await {
                Ok(()) => Ok(()),
                Err(e) => Err((
                    REASON_VALIDATION_FAILED,
                    format!("unable to validate store: {e}"),
                )),
            },
        },
    }
}
