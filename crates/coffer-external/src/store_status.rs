//! The `Ready` condition of SecretStores and ClusterSecretStores: each new
//! generation of a store is validated once (its client built, its
//! credentials checked), and a store naming a provider Coffer does not
//! implement says so here rather than being ignored.
//!
//! Validation runs on its own task per store so that a slow or unreachable
//! provider never holds up the watch that feeds the store caches.

use std::future::Future;
use std::sync::{Arc, PoisonError};

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

fn spawn_validation<K: StoreKind>(ctx: &Arc<Context>, store: K) {
    let class = store.spec().controller.as_deref().unwrap_or_default();
    if !class.is_empty() && class != ctx.config.controller_class {
        return;
    }
    let uid = store.meta().uid.clone().unwrap_or_default();
    let generation = store.meta().generation.unwrap_or_default();
    {
        let mut seen = ctx.validated.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.get(&uid) == Some(&generation) {
            return;
        }
        seen.insert(uid, generation);
    }
    let ctx = ctx.clone();
    tokio::spawn(async move { validate(&ctx, &store).await });
}

async fn validate<K: StoreKind>(ctx: &Context, store: &K) {
    let namespace = store.namespace();
    let label = match &namespace {
        Some(ns) => format!("{} {ns}/{}", K::kind(&()), store.name_any()),
        None => format!("{} {}", K::kind(&()), store.name_any()),
    };
    let es_namespace = namespace.as_deref().unwrap_or(CLUSTER_VALIDATION_NAMESPACE);
    let outcome = match build_config(
        ctx,
        store.spec(),
        &label,
        namespace.as_deref(),
        es_namespace,
    )
    .await
    {
        Err(e) => Err((
            REASON_INVALID_PROVIDER_CONFIG,
            format!("unable to create client: {e}"),
        )),
        Ok((config, scope)) => match ctx.sessions.client(&label, scope.as_deref(), &config).await {
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
    };
    let (ready, reason, message) = match &outcome {
        Ok(()) => (true, REASON_STORE_VALID, "store validated".to_owned()),
        Err((reason, message)) => (false, *reason, message.clone()),
    };
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
