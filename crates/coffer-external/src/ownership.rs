//! Whose Secret is it: the one rule by which an ExternalSecret may write
//! to, take over or delete a Secret that already exists.
//!
//! Anyone who may create an ExternalSecret in a namespace can name any
//! Secret of that namespace as its target. ESO (v0.16 and later) then takes
//! over whatever it finds under `creationPolicy: Owner` (replacing its data
//! and adding an owner reference, so the Secret is deleted with the
//! ExternalSecret) and deletes it under `deletionPolicy: Delete`; a tenant
//! who may not write Secrets could so clobber a TLS or registry Secret.
//! Coffer writes an existing Secret under `Owner` or `Orphan`, and deletes
//! one, only when it is already this ExternalSecret's:
//! - its controller is an ExternalSecret of this name (whatever its uid,
//!   as controller-runtime's `SetControllerReference`, which ESO uses: a
//!   Secret ESO made for this ExternalSecret is adopted as it is);
//! - or it carries ESO's `reconcile.external-secrets.io/created-by` label
//!   for this ExternalSecret (made under `Owner`, then orphaned, e.g. by
//!   `kubectl delete --cascade=orphan`);
//! - or, for `Orphan` only, this ExternalSecret's field manager owns data
//!   keys in it (ESO and Coffer write under the manager
//!   `externalsecrets.external-secrets.io/<name>`): the Secret an `Orphan`
//!   ExternalSecret created earlier;
//! - or its owner opted in with the annotation
//!   `externalsecrets.coffer.dev/adopt: <ExternalSecret name>`.
//!
//! Each mark can only be put on a Secret by someone who may write Secrets
//! (or by the controller, for the ExternalSecret it names): the controller
//! refuses a template or ExternalSecret metadata that would write the
//! `created-by` label or the adopt annotation itself, so no ExternalSecret
//! can forge them. A Secret controlled by anything other than this
//! ExternalSecret is never taken over, even when annotated.
//!
//! `Merge` writes into an existing Secret by design (ESO semantics): it
//! needs no mark, but it never adds an owner reference or a mark, so it
//! cannot lead to ownership.

use coffer_api::ExternalSecret;
use coffer_api::external::CreationPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

use crate::build::Desired;
use crate::error::{Error, Result};
use crate::hash::{CREATED_BY_LABEL, created_by};
use crate::write::field_manager;

/// Annotation by which a Secret's owner hands it over to the
/// ExternalSecret it names (in the Secret's namespace).
pub const ADOPT_ANNOTATION: &str = "externalsecrets.coffer.dev/adopt";

/// ESO's API group.
const GROUP: &str = "external-secrets.io";

/// Whether `r` points at an ExternalSecret (any version of ESO's group).
fn is_external_secret(r: &OwnerReference) -> bool {
    r.kind == "ExternalSecret"
        && r.api_version
            .split_once('/')
            .is_some_and(|(group, _)| group == GROUP)
}

fn controller(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// Checks that `es` may write the existing Secret described by `meta`
/// under `policy`; see the module docs.
pub fn check_write(meta: &ObjectMeta, es: &ExternalSecret, policy: CreationPolicy) -> Result<()> {
    let secret = meta.name.clone().unwrap_or_default();
    let es_name = es.name_any();
    if let Some(owner) = controller(meta) {
        if is_external_secret(owner) {
            if owner.name == es_name {
                return Ok(());
            }
            return Err(Error::OwnedByOther {
                secret,
                owner: owner.name.clone(),
            });
        }
        if !policy.merges() {
            return Err(Error::ForeignOwner {
                secret,
                owner: format!("{}/{}", owner.kind, owner.name),
            });
        }
    }
    let marked = match policy {
        CreationPolicy::Merge | CreationPolicy::CreateOrMerge | CreationPolicy::None => true,
        CreationPolicy::Owner => created_here(meta, es) || adopted(meta, &es_name),
        CreationPolicy::Orphan => {
            created_here(meta, es) || adopted(meta, &es_name) || written_here(meta, &es_name)
        }
    };
    if marked {
        Ok(())
    } else {
        Err(Error::NotOurs {
            secret,
            policy: format!("{policy:?}"),
            es: es_name,
        })
    }
}

/// Checks that `es` (`deletionPolicy: Delete`) may delete the Secret
/// described by `meta`: only one it may own.
pub fn check_delete(meta: &ObjectMeta, es: &ExternalSecret) -> Result<()> {
    check_write(meta, es, CreationPolicy::Owner)
}

/// Whether the Secret is controlled by `es` itself (by uid).
#[cfg(test)]
pub(crate) fn controlled_by(meta: &ObjectMeta, es: &ExternalSecret) -> bool {
    let uid = es.meta().uid.as_deref().unwrap_or_default();
    controller(meta).is_some_and(|r| !uid.is_empty() && r.uid == uid)
}

/// ESO's `created-by` label names this ExternalSecret.
fn created_here(meta: &ObjectMeta, es: &ExternalSecret) -> bool {
    let want = created_by(&es.namespace().unwrap_or_default(), &es.name_any());
    meta.labels
        .as_ref()
        .and_then(|l| l.get(CREATED_BY_LABEL))
        .is_some_and(|v| *v == want)
}

/// The Secret's owner handed it to this ExternalSecret.
fn adopted(meta: &ObjectMeta, es_name: &str) -> bool {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(ADOPT_ANNOTATION))
        .is_some_and(|v| v.trim() == es_name)
}

/// This ExternalSecret's field manager owns data keys in the Secret.
fn written_here(meta: &ObjectMeta, es_name: &str) -> bool {
    let manager = field_manager(es_name);
    meta.managed_fields.iter().flatten().any(|entry| {
        entry.manager.as_deref() == Some(manager.as_str())
            && entry
                .fields_v1
                .as_ref()
                .and_then(|f| f.0.get("f:data"))
                .and_then(|d| d.as_object())
                .is_some_and(|d| !d.is_empty())
    })
}

/// Refuses metadata that would write one of the marks above: an
/// ExternalSecret may not claim other Secrets for itself or for another
/// ExternalSecret (through its template, or its own metadata, which ESO
/// copies to the Secret when there is no template).
pub fn check_desired(desired: &Desired) -> Result<()> {
    if desired.labels.contains_key(CREATED_BY_LABEL) {
        return Err(Error::InvalidSpec(format!(
            "the Secret's labels may not set {CREATED_BY_LABEL} (the controller sets it under creationPolicy Owner)"
        )));
    }
    if desired.annotations.contains_key(ADOPT_ANNOTATION) {
        return Err(Error::InvalidSpec(format!(
            "the Secret's annotations may not set {ADOPT_ANNOTATION}: only the Secret's owner sets it, on the Secret"
        )));
    }
    Ok(())
}

/// A controller owner reference to the ExternalSecret.
pub fn owner_ref(es: &ExternalSecret) -> OwnerReference {
    OwnerReference {
        api_version: "external-secrets.io/v1".to_owned(),
        kind: "ExternalSecret".to_owned(),
        name: es.name_any(),
        uid: es.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Sets the owner references for `policy`: `Owner` makes `es` the
/// controller (replacing a reference to an earlier ExternalSecret of the
/// same name, as `SetControllerReference` does); `Orphan` removes any
/// reference to it; `Merge` leaves them alone.
pub fn set_owner(refs: &mut Vec<OwnerReference>, es: &ExternalSecret, policy: CreationPolicy) {
    let es_name = es.name_any();
    let uid = es.meta().uid.clone().unwrap_or_default();
    let ours = |r: &OwnerReference| is_external_secret(r) && r.name == es_name;
    match policy {
        CreationPolicy::Owner => {
            if !refs.iter().any(|r| ours(r) && r.uid == uid) {
                refs.retain(|r| !ours(r));
                refs.push(owner_ref(es));
            }
        }
        CreationPolicy::Orphan => refs.retain(|r| !ours(r) && r.uid != uid),
        CreationPolicy::Merge | CreationPolicy::CreateOrMerge | CreationPolicy::None => {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};

    use super::*;

    fn es(name: &str, uid: &str) -> ExternalSecret {
        let mut es: ExternalSecret = serde_json::from_value(serde_json::json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": "team", "uid": uid},
            "spec": {}
        }))
        .unwrap();
        es.metadata.uid = Some(uid.to_owned());
        es
    }

    fn meta() -> ObjectMeta {
        ObjectMeta {
            name: Some("tls".into()),
            namespace: Some("team".into()),
            ..ObjectMeta::default()
        }
    }

    fn controlled_by_ref(kind: &str, api_version: &str, name: &str, uid: &str) -> ObjectMeta {
        ObjectMeta {
            owner_references: Some(vec![OwnerReference {
                api_version: api_version.into(),
                kind: kind.into(),
                name: name.into(),
                uid: uid.into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..meta()
        }
    }

    const ALL: [CreationPolicy; 3] = [
        CreationPolicy::Owner,
        CreationPolicy::Orphan,
        CreationPolicy::Merge,
    ];

    #[test]
    fn a_secret_nobody_handed_over_is_written_only_by_merge() {
        let es = es("app", "u1");
        for policy in [CreationPolicy::Owner, CreationPolicy::Orphan] {
            let err = check_write(&meta(), &es, policy).unwrap_err();
            assert!(matches!(err, Error::NotOurs { .. }), "{policy:?}: {err}");
        }
        check_write(&meta(), &es, CreationPolicy::Merge).unwrap();
        assert!(check_delete(&meta(), &es).is_err());
    }

    #[test]
    fn eso_marks_and_the_adopt_annotation_make_a_secret_ours() {
        let app = es("app", "u1");
        // Made by ESO for an ExternalSecret of this name (another uid).
        let eso = controlled_by_ref("ExternalSecret", "external-secrets.io/v1beta1", "app", "u0");
        let mut labelled = meta();
        labelled.labels = Some(BTreeMap::from([(
            CREATED_BY_LABEL.to_owned(),
            created_by("team", "app"),
        )]));
        let mut annotated = meta();
        annotated.annotations = Some(BTreeMap::from([(
            ADOPT_ANNOTATION.to_owned(),
            "app".to_owned(),
        )]));
        for m in [&eso, &labelled, &annotated] {
            for policy in ALL {
                check_write(m, &app, policy).unwrap();
            }
            check_delete(m, &app).unwrap();
        }
        // The same marks for another ExternalSecret do not count.
        let other = es("other", "u2");
        for m in [&labelled, &annotated] {
            assert!(check_write(m, &other, CreationPolicy::Owner).is_err());
        }
        assert!(matches!(
            check_write(&eso, &other, CreationPolicy::Merge),
            Err(Error::OwnedByOther { .. })
        ));
    }

    #[test]
    fn a_secret_controlled_by_something_else_is_never_taken_over() {
        let es = es("app", "u1");
        let mut foreign = controlled_by_ref("SealedSecret", "bitnami.com/v1alpha1", "tls", "s1");
        foreign.annotations = Some(BTreeMap::from([(
            ADOPT_ANNOTATION.to_owned(),
            "app".to_owned(),
        )]));
        for policy in [CreationPolicy::Owner, CreationPolicy::Orphan] {
            assert!(matches!(
                check_write(&foreign, &es, policy),
                Err(Error::ForeignOwner { .. })
            ));
        }
        assert!(check_delete(&foreign, &es).is_err());
        // A look-alike kind from another group is not an ExternalSecret.
        let lookalike = controlled_by_ref("ExternalSecret", "evil.example/v1", "app", "u1");
        assert!(check_write(&lookalike, &es, CreationPolicy::Owner).is_err());
    }

    #[test]
    fn an_orphan_secret_is_recognised_by_its_field_manager_owning_data() {
        let es = es("app", "u1");
        let entry = |manager: &str, fields: serde_json::Value| ManagedFieldsEntry {
            manager: Some(manager.into()),
            fields_v1: Some(FieldsV1(fields)),
            ..ManagedFieldsEntry::default()
        };
        let mut written = meta();
        written.managed_fields = Some(vec![entry(
            &field_manager("app"),
            serde_json::json!({"f:data": {"f:value": {}}}),
        )]);
        check_write(&written, &es, CreationPolicy::Orphan).unwrap();
        // ...which does not let Owner take it.
        assert!(check_write(&written, &es, CreationPolicy::Owner).is_err());
        // ESO's label patch on a foreign Secret owns no data.
        let mut labelled_only = meta();
        labelled_only.managed_fields = Some(vec![entry(
            &field_manager("app"),
            serde_json::json!({"f:metadata": {"f:labels": {"f:reconcile.external-secrets.io/managed": {}}}}),
        )]);
        assert!(check_write(&labelled_only, &es, CreationPolicy::Orphan).is_err());
    }

    #[test]
    fn owner_replaces_a_stale_reference_and_orphan_removes_it() {
        let es = es("app", "u1");
        let mut refs = controlled_by_ref("ExternalSecret", "external-secrets.io/v1", "app", "u0")
            .owner_references
            .unwrap();
        set_owner(&mut refs, &es, CreationPolicy::Owner);
        assert_eq!(refs.len(), 1, "one controller: {refs:?}");
        assert_eq!(refs[0].uid, "u1");
        set_owner(&mut refs, &es, CreationPolicy::Owner);
        assert_eq!(refs.len(), 1);
        set_owner(&mut refs, &es, CreationPolicy::Orphan);
        assert!(refs.is_empty());
    }

    #[test]
    fn desired_metadata_may_not_forge_a_mark() {
        let mut desired = Desired::default();
        check_desired(&desired).unwrap();
        desired
            .labels
            .insert(CREATED_BY_LABEL.to_owned(), created_by("team", "victim"));
        assert!(check_desired(&desired).is_err());
        let mut desired = Desired::default();
        desired
            .annotations
            .insert(ADOPT_ANNOTATION.to_owned(), "victim".to_owned());
        assert!(check_desired(&desired).is_err());
    }
}
