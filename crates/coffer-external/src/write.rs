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

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Deref, DerefMut};

use coffer_api::ExternalSecret;
use coffer_api::external::CreationPolicy;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};
use kube::api::{DeleteParams, ListParams, PostParams, Preconditions};
use kube::{Api, ResourceExt};
use zeroize::Zeroize;

use crate::build::Desired;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::hash::{CREATED_BY_LABEL, DATA_HASH_ANNOTATION, MANAGED_LABEL, created_by, data_hash};
use crate::ownership;
use crate::secrets::SecretSummary;

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
    NotWritten,
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
    let policy = es.spec.target.creation_policy();
    if policy == CreationPolicy::None {
        return Ok(Written::NotWritten);
    }
    ownership::check_desired(&desired)?;
    let es_name = es.name_any();
    let namespace = es.namespace().unwrap_or_default();
    let name = es.spec.target.secret_name(&es_name).to_owned();
    let immutable = es.spec.target.immutable.unwrap_or(false);

    let mut labels = desired.labels.clone();
    labels.insert(MANAGED_LABEL.to_owned(), "true".to_owned());
    let owner_hash = created_by(&namespace, &es_name);
    if policy == CreationPolicy::Owner {
        labels.insert(CREATED_BY_LABEL.to_owned(), owner_hash.clone());
    }

    // The steady state: the watch says the Secret already holds this.
    if policy != CreationPolicy::Merge
        && let Some(summary) = ctx.secrets.get(&namespace, &name)
        && unchanged(&summary, es, &desired, &labels, immutable)
    {
        return Ok(Written::Unchanged);
    }

    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let kube_err = |action: &str| {
        let action = format!("{action} secret {namespace}/{name}");
        move |e| Error::Kube { action, source: e }
    };
    let manager = field_manager(&es_name);
    let params = PostParams {
        field_manager: Some(manager.clone()),
        ..Default::default()
    };
    let existing = api
        .get_opt(&name)
        .await
        .map_err(kube_err("read"))?
        .map(Wiped);

    let Some(mut secret) = existing else {
        if policy == CreationPolicy::Merge {
            return Ok(Written::MergeTargetMissing);
        }
        if policy == CreationPolicy::Owner {
            delete_orphans(ctx, &api, es, &name, &owner_hash).await?;
        }
        let mut annotations = desired.annotations.clone();
        annotations.insert(DATA_HASH_ANNOTATION.to_owned(), hash_of(&desired));
        let secret = Wiped(Secret {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                labels: Some(labels),
                annotations: Some(annotations),
                finalizers: (!desired.finalizers.is_empty()).then(|| desired.finalizers.clone()),
                owner_references: (policy == CreationPolicy::Owner)
                    .then(|| vec![ownership::owner_ref(es)]),
                ..Default::default()
            },
            type_: Some(desired.type_.clone().unwrap_or_else(|| "Opaque".to_owned())),
            immutable: immutable.then_some(true),
            data: Some(to_data(&desired)),
            ..Default::default()
        });
        let created = Wiped(
            api.create(&params, &*secret)
                .await
                .map_err(kube_err("create"))?,
        );
        ctx.secrets.record(&created);
        return Ok(Written::Created);
    };

    ownership::check_write(&secret.metadata, es, policy)?;
    let owned = owned_fields(
        secret
            .metadata
            .managed_fields
            .as_deref()
            .unwrap_or_default(),
        &manager,
    );
    let before = secret.clone();

    // Data: Owner/Orphan hold exactly ours; Merge keeps keys others own.
    // Values dropped or replaced here are wiped.
    let mut data = secret.data.take().unwrap_or_default();
    let keep = |k: &str| policy == CreationPolicy::Merge && !owned.data.contains(k);
    for (k, v) in data.iter_mut() {
        if !keep(k) {
            v.0.zeroize();
        }
    }
    data.retain(|k, _| keep(k));
    for (k, v) in to_data(&desired) {
        if let Some(mut old) = data.insert(k, v) {
            old.0.zeroize();
        }
    }
    let final_hash = data_hash(data.iter().map(|(k, v)| (k.as_str(), v.0.as_slice())));
    let type_changes = desired
        .type_
        .as_ref()
        .is_some_and(|t| secret.type_.as_ref() != Some(t));
    let data_changes = before.data.as_ref() != Some(&data);
    if secret.immutable == Some(true) && (data_changes || type_changes) {
        return Err(Error::Immutable { secret: name });
    }
    secret.data = Some(data);
    if let Some(t) = &desired.type_ {
        secret.type_ = Some(t.clone());
    }
    if immutable {
        secret.immutable = Some(true);
    }
    let meta = &mut secret.metadata;
    let l = meta.labels.get_or_insert_with(BTreeMap::new);
    l.retain(|k, _| !owned.labels.contains(k));
    if policy != CreationPolicy::Owner {
        l.remove(CREATED_BY_LABEL);
    }
    l.extend(labels);
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
    ownership::set_owner(refs, es, policy);
    if secret == before {
        ctx.secrets.record(&secret);
        return Ok(Written::Unchanged);
    }
    let updated = Wiped(
        api.replace(&name, &params, &*secret)
            .await
            .map_err(kube_err("update"))?,
    );
    ctx.secrets.record(&updated);
    Ok(Written::Updated)
}

/// Whether the Secret summarized already holds what would be written.
fn unchanged(
    summary: &SecretSummary,
    es: &ExternalSecret,
    desired: &Desired,
    labels: &BTreeMap<String, String>,
    immutable: bool,
) -> bool {
    let hash = hash_of(desired);
    let owned_right = match es.spec.target.creation_policy() {
        CreationPolicy::Owner => summary
            .controller
            .as_ref()
            .is_some_and(|(k, n)| k == "ExternalSecret" && *n == es.name_any()),
        _ => summary
            .controller
            .as_ref()
            .is_none_or(|(k, n)| !(k == "ExternalSecret" && *n == es.name_any())),
    };
    summary.data_hash == hash
        && summary.intact()
        && owned_right
        && subset(labels, &summary.labels)
        && subset(&desired.annotations, &summary.annotations)
        && desired
            .type_
            .as_ref()
            .is_none_or(|t| summary.type_.as_ref() == Some(t))
        && (!immutable || summary.immutable)
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

/// Deletes Secrets this ExternalSecret created under another name (its
/// target was renamed), as ESO does before creating the new one.
async fn delete_orphans(
    ctx: &Context,
    api: &Api<Secret>,
    es: &ExternalSecret,
    keep: &str,
    owner_hash: &str,
) -> Result<()> {
    let namespace = es.namespace().unwrap_or_default();
    let namespace = namespace.as_str();
    let list = api
        .list_metadata(&ListParams::default().labels(&format!("{CREATED_BY_LABEL}={owner_hash}")))
        .await
        .map_err(|e| Error::Kube {
            action: format!("list orphaned secrets in {namespace}"),
            source: e,
        })?;
    // NB: only Secrets controlled by this ExternalSecret (or none): a
    // created-by label alone is no licence to delete a Secret another
    // controller now owns.
    for old in list
        .items
        .iter()
        .filter(|s| s.name_any() != keep && ownership::check_delete(&s.metadata, es).is_ok())
    {
        let old_name = old.name_any();
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: old.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&old_name, &params).await {
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
    // NB: the uid precondition keeps a Secret recreated meanwhile (by
    // someone else) from being deleted in its place.
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: existing.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => {
            ctx.secrets.remove(&namespace, &name);
            Ok(true)
        }
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
        Err(e) => Err(kube_err("delete")(e)),
    }
}
