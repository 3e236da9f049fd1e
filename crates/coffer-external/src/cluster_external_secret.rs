//! ClusterExternalSecret: one ExternalSecret per selected namespace, owned
//! by the ClusterExternalSecret, as ESO does.
//!
//! Namespaces are selected by `namespaceSelector`, `namespaceSelectors[]`
//! and `namespaces[]` (their union). The ExternalSecrets are written with
//! server-side apply, so a field removed from the template disappears from
//! them; those in namespaces that stop matching are deleted; an existing
//! ExternalSecret not owned by this ClusterExternalSecret is left alone and
//! the namespace is reported as failed. The ClusterExternalSecret's
//! `force-sync` annotation is copied to its ExternalSecrets, as ESO does.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use coffer_api::external::{
    ANNOTATION_FORCE_SYNC, CES_CONDITION_READY, ClusterExternalSecretCondition,
    ClusterExternalSecretStatus, NamespaceFailure,
};
use coffer_api::{ClusterExternalSecret, ExternalSecret};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Api, Resource, ResourceExt};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::selector;

/// Field manager of the ExternalSecrets written for ClusterExternalSecrets.
pub const FIELD_MANAGER: &str = "coffer-clusterexternalsecret";

/// Runs the ClusterExternalSecret controller until `shutdown` fires.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let api: Api<ClusterExternalSecret> = Api::all(ctx.client.clone());
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    let owned: Api<ExternalSecret> = Api::all(ctx.client.clone());
    let controller = Controller::new(api, watcher::Config::default());
    let all = controller.store();
    let (known, metrics) = (all.clone(), ctx.metrics.clone());
    let partition = ctx.config.partition.clone();
    controller
        .owns(owned, watcher::Config::default())
        // A namespace created, deleted or relabelled may change any
        // ClusterExternalSecret's selection.
        .watches(namespaces, watcher::Config::default(), move |_| {
            all.state()
                .iter()
                .map(|c| kube::runtime::reflector::ObjectRef::from_obj(c.as_ref()))
                .collect::<Vec<_>>()
        })
        .reconcile_all_on(coffer_shard::gains(ctx.config.partition.as_deref()))
        .graceful_shutdown_on(shutdown)
        .run(reconcile_own, error_policy, ctx)
        .for_each(|_| {
            // Deleted ClusterExternalSecrets' series go, and with shards
            // those another replica now reconciles.
            metrics.retain_cluster_external_secrets(|name| {
                known
                    .get(&kube::runtime::reflector::ObjectRef::new(name))
                    .is_some()
                    && coffer_shard::holds(partition.as_deref(), "", name)
            });
            async {}
        })
        .await;
}

fn error_policy(_: Arc<ClusterExternalSecret>, error: &Error, _: Arc<Context>) -> Action {
    tracing::warn!(error = %error, "ClusterExternalSecret reconcile failed");
    Action::requeue(Duration::from_secs(15))
}

/// [`reconcile`], if this ClusterExternalSecret is this replica's (see
/// `Config::partition`).
async fn reconcile_own(ces: Arc<ClusterExternalSecret>, ctx: Arc<Context>) -> Result<Action> {
    let name = ces.name_any();
    let partition = ctx.config.partition.clone();
    coffer_shard::gated(partition.as_deref(), "", &name, reconcile(ces, ctx))
        .await
        .unwrap_or(Ok(Action::await_change()))
}

async fn reconcile(ces: Arc<ClusterExternalSecret>, ctx: Arc<Context>) -> Result<Action> {
    if ces.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = ces.name_any();
    let es_name = ces.spec.external_secret_name(&name).to_owned();
    let selected = selected_namespaces(&ctx, &ces).await?;
    let previous = ces.status.clone().unwrap_or_default();
    let mut failed = Vec::new();
    let mut provisioned = BTreeSet::new();

    // Renamed: remove the old-named ExternalSecrets first.
    if let Some(old) = previous
        .external_secret_name
        .as_deref()
        .filter(|old| *old != es_name)
    {
        for ns in &previous.provisioned_namespaces {
            if let Err(reason) = delete_owned(&ctx, &ces, ns, old).await {
                failed.push((ns.clone(), reason));
            }
        }
    }
    for ns in previous
        .provisioned_namespaces
        .iter()
        .filter(|ns| !selected.contains(*ns))
    {
        if let Err(reason) = delete_owned(&ctx, &ces, ns, &es_name).await {
            failed.push((
                ns.clone(),
                format!("external secret in non matching namespace could not be deleted: {reason}"),
            ));
        }
    }
    for ns in &selected {
        match provision(&ctx, &ces, ns, &es_name).await {
            Ok(()) => {
                provisioned.insert(ns.clone());
            }
            Err(reason) => failed.push((ns.clone(), reason)),
        }
    }
    failed.sort();
    let status = ClusterExternalSecretStatus {
        external_secret_name: Some(es_name),
        failed_namespaces: failed
            .into_iter()
            .map(|(namespace, reason)| NamespaceFailure {
                namespace,
                reason: Some(reason),
            })
            .collect(),
        provisioned_namespaces: provisioned.into_iter().collect(),
        conditions: vec![ClusterExternalSecretCondition {
            type_: CES_CONDITION_READY.to_owned(),
            status: "True".to_owned(),
            message: None,
        }],
    };
    let status = if status.failed_namespaces.is_empty() {
        status
    } else {
        ClusterExternalSecretStatus {
            conditions: vec![ClusterExternalSecretCondition {
                type_: CES_CONDITION_READY.to_owned(),
                status: "False".to_owned(),
                message: Some("one or more namespaces failed".to_owned()),
            }],
            ..status
        }
    };
    ctx.metrics
        .cluster_external_secret_ready(&name, status.failed_namespaces.is_empty());
    if ces.status.as_ref() != Some(&status) {
        let api: Api<ClusterExternalSecret> = Api::all(ctx.client.clone());
        // NB: empty lists are left out when serialized, and a merge patch
        // keeps what it leaves out: null removes a failure that cleared up
        // or the last provisioned namespace.
        let mut patch = serde_json::json!({ "status": status });
        for list in ["failedNamespaces", "provisionedNamespaces"] {
            if let Some(fields) = patch["status"].as_object_mut() {
                fields.entry(list).or_insert(serde_json::Value::Null);
            }
        }
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(|e| Error::Kube {
                action: format!("write status of ClusterExternalSecret {name}"),
                source: e,
            })?;
    }
    let every = ces
        .spec
        .refresh_time()
        .ok()
        .flatten()
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(3600));
    Ok(Action::requeue(every))
}

async fn selected_namespaces(
    ctx: &Context,
    ces: &ClusterExternalSecret,
) -> Result<BTreeSet<String>> {
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| Error::Kube {
            action: "list namespaces".to_owned(),
            source: e,
        })?;
    let selectors: Vec<_> = ces
        .spec
        .namespace_selector
        .iter()
        .chain(ces.spec.namespace_selectors.iter())
        .collect();
    Ok(list
        .items
        .iter()
        .filter(|ns| ns.metadata.deletion_timestamp.is_none())
        .filter(|ns| {
            let name = ns.name_any();
            let labels = ns.labels();
            ces.spec.namespaces.contains(&name)
                || selectors.iter().any(|s| selector::matches(s, labels))
        })
        .map(|ns| ns.name_any())
        .collect())
}

fn owned_by(es: &ExternalSecret, ces: &ClusterExternalSecret) -> bool {
    let uid = ces.meta().uid.as_deref();
    es.owner_references().iter().any(|o| {
        o.controller == Some(true)
            && o.kind == "ClusterExternalSecret"
            && Some(o.uid.as_str()) == uid
    })
}

async fn provision(
    ctx: &Context,
    ces: &ClusterExternalSecret,
    ns: &str,
    es_name: &str,
) -> Result<(), String> {
    let api: Api<ExternalSecret> = Api::namespaced(ctx.client.clone(), ns);
    match api.get_opt(es_name).await {
        Ok(Some(existing)) if !owned_by(&existing, ces) => {
            return Err("external secret already exists in namespace".to_owned());
        }
        Ok(_) => {}
        Err(e) => return Err(e.to_string()),
    }
    let owner = OwnerReference {
        api_version: "external-secrets.io/v1".to_owned(),
        kind: "ClusterExternalSecret".to_owned(),
        name: ces.name_any(),
        uid: ces.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let meta = &ces.spec.external_secret_metadata;
    // Matches ESO: the ClusterExternalSecret's force-sync annotation is
    // copied to every ExternalSecret, so one annotation refreshes them all
    // (server-side apply drops it again when it is removed).
    let mut annotations = meta.annotations.clone();
    if let Some(force) = ces.annotations().get(ANNOTATION_FORCE_SYNC) {
        annotations.insert(ANNOTATION_FORCE_SYNC.to_owned(), force.clone());
    } else {
        annotations.remove(ANNOTATION_FORCE_SYNC);
    }
    let desired = serde_json::json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {
            "name": es_name,
            "namespace": ns,
            "labels": meta.labels,
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "spec": ces.spec.external_secret_spec,
    });
    api.patch(
        es_name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(desired),
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

async fn delete_owned(
    ctx: &Context,
    ces: &ClusterExternalSecret,
    ns: &str,
    name: &str,
) -> Result<(), String> {
    let api: Api<ExternalSecret> = Api::namespaced(ctx.client.clone(), ns);
    match api.get_opt(name).await {
        Ok(Some(es)) if owned_by(&es, ces) => api
            .delete(name, &DeleteParams::default())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}
