//! Writing the target Secret under ESO's `creationPolicy`, and deleting it
//! under `deletionPolicy: Delete`.
//!
//! Writes are plain creates and updates with ESO's field manager
//! (`externalsecrets.external-secrets.io/<name>`), so the `managedFields`
//! bookkeeping is the same as ESO's: keys, labels and annotations this
//! ExternalSecret set before and no longer sets are removed, and a cluster
//! moving from ESO keeps working on the same Secrets.
//!
//! A Secret is written only when its content would change: for `Owner` and
//! `Orphan` the decision is made from the watch's summary (no API call at
//! all in the steady state); `Merge` reads the Secret first since its final
//! data depends on keys others own.
//!
//! An existing Secret is written or deleted only under the rules of
//! [`ownership`](crate::ownership): never one another tenant made. The
//! Secrets read and written here hold values, so their data is wiped when
//! they are dropped ([`Wiped`]).

mod plan;

use std::ops::{Deref, DerefMut};

use coffer_api::ExternalSecret;
use coffer_api::external::CreationPolicy;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, ListParams, PostParams, Preconditions};
use kube::{Api, ResourceExt};
use zeroize::Zeroize;

use crate::build::Desired;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::hash::CREATED_BY_LABEL;
use crate::ownership;
use plan::{Plan, Target};

/// A Secret whose values are wiped when it is dropped.
#[derive(Clone, PartialEq)]
struct Wiped(Secret);

impl Deref for Wiped {
    type Target = Secret;

    fn deref(&self) -> &Secret {
        &self.0
    }
}

impl DerefMut for Wiped {
    fn deref_mut(&mut self) -> &mut Secret {
        &mut self.0
    }
}

impl Drop for Wiped {
    fn drop(&mut self) {
        for value in self.0.data.iter_mut().flat_map(|d| d.values_mut()) {
            value.0.zeroize();
        }
        for value in self.0.string_data.iter_mut().flat_map(|d| d.values_mut()) {
            value.zeroize();
        }
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The Secret was created.
    Created,
    /// The Secret was updated.
    Updated,
    /// The Secret already held exactly this.
    Unchanged,
    /// `creationPolicy: Merge` and the Secret does not exist.
    MergeTargetMissing,
    /// `creationPolicy: None`: nothing is written.
    Skipped,
}

/// ESO's field manager for an ExternalSecret: its name, or a SHA3-224 of it
/// when the name would make the manager longer than 128 characters.
pub fn field_manager(es_name: &str) -> String {
    if es_name.len() > 63 {
        format!(
            "externalsecrets.external-secrets.io/sha3/{}",
            crate::hash::sha3_224_hex(es_name.as_bytes())
        )
    } else {
        format!("externalsecrets.external-secrets.io/{es_name}")
    }
}

/// Writes `desired` to the ExternalSecret's target Secret.
pub async fn write(ctx: &Context, es: &ExternalSecret, desired: Desired) -> Result<Written> {
    let Some(target) = Target::of(es, &desired)? else {
        return Ok(Written::Skipped);
    };
    let summary = ctx.secrets.get(&target.namespace, &target.name);
    if target.settled(es, &desired, summary.as_ref()) {
        return Ok(Written::Unchanged);
    }
    let (namespace, name) = (&target.namespace, &target.name);
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let kube_err = |action: &str| {
        let action = format!("{action} secret {namespace}/{name}");
        move |e| Error::Kube { action, source: e }
    };
    let params = PostParams {
        field_manager: Some(target.manager.clone()),
        ..Default::default()
    };
    // The index (a watch on managed Secrets) knows of no such Secret: plan
    // a create without reading it. The create is atomic; if a Secret of
    // that name exists after all (unmanaged, or not yet seen), it answers
    // 409 and the write is planned again from the Secret as read. Merge
    // needs the read: its plan differs for a missing Secret.
    let assume_missing =
        summary.is_none() && ctx.secrets.is_listed() && target.policy != CreationPolicy::Merge;
    let existing = if assume_missing {
        None
    } else {
        api.get_opt(name).await.map_err(kube_err("read"))?
    };
    match write_planned(ctx, &api, es, &desired, &target, &params, existing).await {
        Err(Error::Kube {
            source: kube::Error::Api(e),
            ..
        }) if assume_missing && e.code == 409 => {
            let existing = api.get_opt(name).await.map_err(kube_err("read"))?;
            write_planned(ctx, &api, es, &desired, &target, &params, existing).await
        }
        other => other,
    }
}

/// Plans the write against `existing` (as read) and performs it.
async fn write_planned(
    ctx: &Context,
    api: &Api<Secret>,
    es: &ExternalSecret,
    desired: &Desired,
    target: &Target,
    params: &PostParams,
    existing: Option<Secret>,
) -> Result<Written> {
    let (namespace, name) = (&target.namespace, &target.name);
    let kube_err = |action: &str| {
        let action = format!("{action} secret {namespace}/{name}");
        move |e| Error::Kube { action, source: e }
    };
    match plan::plan(target, es, desired, existing.map(Wiped))? {
        Plan::MergeTargetMissing => Ok(Written::MergeTargetMissing),
        Plan::Unchanged(secret) => {
            ctx.secrets.record(&secret);
            Ok(Written::Unchanged)
        }
        Plan::Create {
            secret,
            delete_orphans,
        } => {
            if delete_orphans {
                delete_orphaned(ctx, api, es, target).await?;
            }
            let created = api
                .create(params, &*secret)
                .await
                .map(Wiped)
                .map_err(kube_err("create"))?;
            ctx.secrets.record(&created);
            Ok(Written::Created)
        }
        Plan::Update(secret) => {
            let updated = api
                .replace(name, params, &*secret)
                .await
                .map(Wiped)
                .map_err(kube_err("update"))?;
            ctx.secrets.record(&updated);
            Ok(Written::Updated)
        }
    }
}

/// Deletes Secrets this ExternalSecret created under another name (its
/// target was renamed), as ESO does before creating the new one.
async fn delete_orphaned(
    ctx: &Context,
    api: &Api<Secret>,
    es: &ExternalSecret,
    target: &Target,
) -> Result<()> {
    let namespace = target.namespace.as_str();
    let list = api
        .list_metadata(
            &ListParams::default().labels(&format!("{CREATED_BY_LABEL}={}", target.owner_hash)),
        )
        .await
        .map_err(|e| Error::Kube {
            action: format!("list orphaned secrets in {namespace}"),
            source: e,
        })?;
    let labelled: Vec<ObjectMeta> = list.items.into_iter().map(|s| s.metadata).collect();
    for old in plan::orphans(&labelled, es, &target.name) {
        let old_name = old.name.clone().unwrap_or_default();
        match api.delete(&old_name, &uid_precondition(old)).await {
            Ok(_) => ctx.secrets.remove(namespace, &old_name),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => {
                return Err(Error::Kube {
                    action: format!("delete orphaned secret {namespace}/{old_name}"),
                    source: e,
                });
            }
        }
    }
    Ok(())
}

/// NB: the uid precondition keeps a Secret recreated meanwhile (by someone
/// else) from being deleted in its place.
fn uid_precondition(meta: &ObjectMeta) -> DeleteParams {
    DeleteParams {
        preconditions: Some(Preconditions {
            uid: meta.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    }
}

/// `deletionPolicy: Delete` found no data: deletes the Secret (only under
/// `creationPolicy: Owner`, and only one this ExternalSecret may own; see
/// [`ownership`](crate::ownership)). True when a Secret was deleted.
pub async fn delete_target(ctx: &Context, es: &ExternalSecret) -> Result<bool> {
    let es_name = es.name_any();
    let namespace = es.namespace().unwrap_or_default();
    let name = es.spec.target.secret_name(&es_name).to_owned();
    let policy = es.spec.target.creation_policy();
    if policy != CreationPolicy::Owner {
        return Err(Error::DeleteNotOwner {
            secret: name,
            policy: format!("{policy:?}"),
        });
    }
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let kube_err = |action: &str| {
        let action = format!("{action} secret {namespace}/{name}");
        move |e| Error::Kube { action, source: e }
    };
    let Some(existing) = api
        .get_metadata_opt(&name)
        .await
        .map_err(kube_err("read"))?
    else {
        ctx.secrets.remove(&namespace, &name);
        return Ok(false);
    };
    ownership::check_delete(&existing.metadata, es)?;
    match api
        .delete(&name, &uid_precondition(&existing.metadata))
        .await
    {
        Ok(_) => {
            ctx.secrets.remove(&namespace, &name);
            Ok(true)
        }
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
        Err(e) => Err(kube_err("delete")(e)),
    }
}
