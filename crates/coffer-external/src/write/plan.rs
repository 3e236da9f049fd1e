//! What a write does, decided from the ExternalSecret, the content built
//! for it and the target Secret as observed (first the watch's summary,
//! then the Secret as read). No API call is made here: [`super::write`]
//! performs the plan.

use std::collections::{BTreeMap, BTreeSet};

use coffer_api::ExternalSecret;
use coffer_api::external::CreationPolicy;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};
use kube::ResourceExt;
use zeroize::Zeroize;

use super::{Wiped, field_manager};
use crate::build::Desired;
use crate::error::{Error, Result};
use crate::hash::{CREATED_BY_LABEL, DATA_HASH_ANNOTATION, MANAGED_LABEL, created_by, data_hash};
use crate::ownership;
use crate::secrets::SecretSummary;

/// The target Secret of an ExternalSecret that writes one, and what the
/// controller adds to every write. (No `Debug`: labels may be rendered
/// from Secret data.)
pub(super) struct Target {
    pub(super) policy: CreationPolicy,
    pub(super) namespace: String,
    pub(super) name: String,
    /// ESO's `created-by` value for the ExternalSecret.
    pub(super) owner_hash: String,
    /// The field manager writes are made under.
    pub(super) manager: String,
    immutable: bool,
    /// The desired labels and the controller's marks.
    labels: BTreeMap<String, String>,
}

impl Target {
    /// The target of `es`; `None` under `creationPolicy: None`, which
    /// writes nothing. Refuses `desired` metadata that forges a mark.
    pub(super) fn of(es: &ExternalSecret, desired: &Desired) -> Result<Option<Target>> {
        let policy = es.spec.target.creation_policy();
        if policy == CreationPolicy::None {
            return Ok(None);
        }
        ownership::check_desired(desired)?;
        let es_name = es.name_any();
        let namespace = es.namespace().unwrap_or_default();
        let owner_hash = created_by(&namespace, &es_name);
        let mut labels = desired.labels.clone();
        labels.insert(MANAGED_LABEL.to_owned(), "true".to_owned());
        if policy == CreationPolicy::Owner {
            labels.insert(CREATED_BY_LABEL.to_owned(), owner_hash.clone());
        }
        Ok(Some(Target {
            policy,
            name: es.spec.target.secret_name(&es_name).to_owned(),
            namespace,
            owner_hash,
            manager: field_manager(&es_name),
            immutable: es.spec.target.immutable.unwrap_or(false),
            labels,
        }))
    }

    /// The steady state: the watch's summary shows that the Secret already
    /// holds what would be written, so no API call is needed. Never for
    /// `Merge` or `CreateOrMerge`, whose result depends on keys others own.
    pub(super) fn settled(
        &self,
        es: &ExternalSecret,
        desired: &Desired,
        summary: Option<&SecretSummary>,
    ) -> bool {
        let Some(summary) = summary else {
            return false;
        };
        let ours = |(k, n): &(String, String)| k == "ExternalSecret" && *n == es.name_any();
        let owned_right = match self.policy {
            CreationPolicy::Merge | CreationPolicy::CreateOrMerge => return false,
            CreationPolicy::Owner => summary.controller.as_ref().is_some_and(ours),
            _ => summary.controller.as_ref().is_none_or(|c| !ours(c)),
        };
        summary.data_hash == hash_of(desired)
            && summary.intact()
            && owned_right
            && subset(&self.labels, &summary.labels)
            && subset(&desired.annotations, &summary.annotations)
            && desired
                .type_
                .as_ref()
                .is_none_or(|t| summary.type_.as_ref() == Some(t))
            && (!self.immutable || summary.immutable)
    }
}

/// What to do once the Secret has been read. (No `Debug`: it holds
/// values.)
pub(super) enum Plan {
    /// `creationPolicy: Merge` and there is no Secret to merge into.
    MergeTargetMissing,
    /// The Secret already holds this (it is recorded, not written).
    Unchanged(Wiped),
    /// Create this Secret; under `Owner`, when the target was renamed
    /// since the last sync, first delete the Secrets this ExternalSecret
    /// created under an earlier target name.
    Create { secret: Wiped, delete_orphans: bool },
    /// Replace the Secret with this.
    Update(Wiped),
}

/// Decides the write of `desired` given the Secret as read (`None`: it
/// does not exist).
pub(super) fn plan(
    target: &Target,
    es: &ExternalSecret,
    desired: &Desired,
    existing: Option<Wiped>,
) -> Result<Plan> {
    match existing {
        None if target.policy == CreationPolicy::Merge => Ok(Plan::MergeTargetMissing),
        None => Ok(Plan::Create {
            secret: new_secret(target, es, desired),
            delete_orphans: target.policy == CreationPolicy::Owner && renamed(es, &target.name),
        }),
        Some(secret) => {
            ownership::check_write(&secret.metadata, es, target.policy)?;
            let updated = updated_secret(target, es, desired, secret.clone())?;
            Ok(if updated == secret {
                Plan::Unchanged(updated)
            } else {
                Plan::Update(updated)
            })
        }
    }
}

/// Whether the last sync wrote another target (`status.binding`): only
/// then can there be Secrets under an earlier name to delete, so a first
/// sync, or a Secret deleted by hand, costs no LIST (ESO lists on every
/// create: 1,000 new ExternalSecrets cost 1,000 LISTs).
fn renamed(es: &ExternalSecret, target: &str) -> bool {
    es.status
        .as_ref()
        .and_then(|s| s.binding.as_ref())
        .is_some_and(|b| b.name != target)
}

/// Of the Secrets labelled as created by this ExternalSecret, those to
/// delete before creating `keep`: its earlier targets. NB: only Secrets
/// it may still own; a `created-by` label alone is no licence to delete a
/// Secret another controller now owns.
pub(super) fn orphans<'a>(
    labelled: &'a [ObjectMeta],
    es: &ExternalSecret,
    keep: &str,
) -> Vec<&'a ObjectMeta> {
    labelled
        .iter()
        .filter(|m| m.name.as_deref() != Some(keep) && ownership::check_delete(m, es).is_ok())
        .collect()
}

fn new_secret(target: &Target, es: &ExternalSecret, desired: &Desired) -> Wiped {
    let mut annotations = desired.annotations.clone();
    annotations.insert(DATA_HASH_ANNOTATION.to_owned(), hash_of(desired));
    Wiped(Secret {
        metadata: ObjectMeta {
            name: Some(target.name.clone()),
            namespace: Some(target.namespace.clone()),
            labels: Some(target.labels.clone()),
            annotations: Some(annotations),
            finalizers: (!desired.finalizers.is_empty()).then(|| desired.finalizers.clone()),
            owner_references: (target.policy == CreationPolicy::Owner)
                .then(|| vec![ownership::owner_ref(es)]),
            ..Default::default()
        },
        type_: Some(desired.type_.clone().unwrap_or_else(|| "Opaque".to_owned())),
        immutable: target.immutable.then_some(true),
        data: Some(to_data(desired)),
        ..Default::default()
    })
}

/// The existing Secret with `desired` written into it: `Owner` and
/// `Orphan` hold exactly our data; `Merge` and `CreateOrMerge` keep the keys others own.
/// Keys, labels and annotations our field manager set before and no longer
/// sets are removed.
fn updated_secret(
    target: &Target,
    es: &ExternalSecret,
    desired: &Desired,
    mut secret: Wiped,
) -> Result<Wiped> {
    let owned = owned_fields(
        secret
            .metadata
            .managed_fields
            .as_deref()
            .unwrap_or_default(),
        &target.manager,
    );
    let merge = target.policy.merges();
    // Values dropped or replaced here are wiped.
    let before = secret.data.clone();
    let mut data = secret.data.take().unwrap_or_default();
    let keep = |k: &str| merge && !owned.data.contains(k);
    for (k, v) in data.iter_mut() {
        if !keep(k) {
            v.0.zeroize();
        }
    }
    data.retain(|k, _| keep(k));
    for (k, v) in to_data(desired) {
        if let Some(mut old) = data.insert(k, v) {
            old.0.zeroize();
        }
    }
    let final_hash = data_hash(data.iter().map(|(k, v)| (k.as_str(), v.0.as_slice())));
    let type_changes = desired
        .type_
        .as_ref()
        .is_some_and(|t| secret.type_.as_ref() != Some(t));
    let data_changes = before.as_ref() != Some(&data);
    wipe(before);
    if secret.immutable == Some(true) && (data_changes || type_changes) {
        return Err(Error::Immutable {
            secret: target.name.clone(),
        });
    }
    secret.data = Some(data);
    if let Some(t) = &desired.type_ {
        secret.type_ = Some(t.clone());
    }
    if target.immutable {
        secret.immutable = Some(true);
    }
    let meta = &mut secret.metadata;
    let l = meta.labels.get_or_insert_with(BTreeMap::new);
    l.retain(|k, _| !owned.labels.contains(k));
    if target.policy != CreationPolicy::Owner {
        l.remove(CREATED_BY_LABEL);
    }
    l.extend(target.labels.clone());
    let a = meta.annotations.get_or_insert_with(BTreeMap::new);
    a.retain(|k, _| !owned.annotations.contains(k));
    a.extend(desired.annotations.clone());
    a.insert(DATA_HASH_ANNOTATION.to_owned(), final_hash);
    for f in &desired.finalizers {
        let fs = meta.finalizers.get_or_insert_with(Vec::new);
        if !fs.contains(f) {
            fs.push(f.clone());
        }
    }
    let refs = meta.owner_references.get_or_insert_with(Vec::new);
    ownership::set_owner(refs, es, target.policy);
    Ok(secret)
}

fn wipe(data: Option<BTreeMap<String, ByteString>>) {
    for mut value in data.into_iter().flat_map(BTreeMap::into_values) {
        value.0.zeroize();
    }
}

fn subset(want: &BTreeMap<String, String>, have: &BTreeMap<String, String>) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

fn hash_of(desired: &Desired) -> String {
    data_hash(desired.data.iter().map(|(k, v)| (k.as_str(), v.expose())))
}

fn to_data(desired: &Desired) -> BTreeMap<String, ByteString> {
    desired
        .data
        .iter()
        .map(|(k, v)| (k.clone(), ByteString(v.expose().to_vec())))
        .collect()
}

/// Keys a field manager owns, from `managedFields`.
#[derive(Debug, Default)]
struct Owned {
    data: BTreeSet<String>,
    labels: BTreeSet<String>,
    annotations: BTreeSet<String>,
}

fn owned_fields(entries: &[ManagedFieldsEntry], manager: &str) -> Owned {
    let mut owned = Owned::default();
    for entry in entries
        .iter()
        .filter(|e| e.manager.as_deref() == Some(manager))
    {
        let Some(fields) = entry.fields_v1.as_ref().map(|f| &f.0) else {
            continue;
        };
        let keys = |v: Option<&serde_json::Value>| -> Vec<String> {
            v.and_then(|v| v.as_object())
                .map(|o| {
                    o.keys()
                        .filter_map(|k| k.strip_prefix("f:"))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        owned.data.extend(keys(fields.get("f:data")));
        let meta = fields.get("f:metadata");
        owned
            .labels
            .extend(keys(meta.and_then(|m| m.get("f:labels"))));
        owned
            .annotations
            .extend(keys(meta.and_then(|m| m.get("f:annotations"))));
    }
    owned
}

#[cfg(test)]
mod tests;
