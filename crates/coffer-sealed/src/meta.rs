//! Object metadata helpers shared by sealing and unsealing: how a
//! SealedSecret names itself in messages, which scope it declares, and which
//! metadata fields belong to the API server rather than to the manifest.

use std::collections::BTreeMap;

use coffer_api::SealedSecret;
use coffer_crypto::Scope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Annotation on `spec.template.metadata` that stops the controller from
/// setting an owner reference on the Secret (matches Bitnami's
/// `SealedSecretSkipSetOwnerReferencesAnnotation`).
pub const SKIP_SET_OWNER_REFERENCES_ANNOTATION: &str =
    "sealedsecrets.bitnami.com/skip-set-owner-references";

/// Annotations that tools write holding a full copy of the applied object;
/// sealing must drop them or they would carry the Secret in clear. Matches
/// Bitnami's `StripLastAppliedAnnotations`.
const LAST_APPLIED_ANNOTATIONS: [&str; 2] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
];

/// `namespace/name` of an object for messages (`name` alone without a
/// namespace, `<unnamed>` without a name).
pub fn object_ref(meta: &ObjectMeta) -> String {
    let name = meta.name.as_deref().unwrap_or("<unnamed>");
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_owned(),
    }
}

/// The keys of a Secret's `data`, for `Debug` output that must show which
/// keys an object holds but never their values.
pub(crate) fn data_keys(secret: &k8s_openapi::api::core::v1::Secret) -> Vec<&str> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect()
}

/// The scope a SealedSecret declares through its own annotations. Matches
/// Bitnami's unseal, which labels with the SealedSecret's metadata (not the
/// template's).
pub fn sealed_scope(sealed: &SealedSecret) -> Scope {
    sealed
        .metadata
        .annotations
        .as_ref()
        .map_or(Scope::Strict, Scope::from_annotations)
}

/// The RSA-OAEP label for a SealedSecret's values: its scope, namespace and
/// name (empty strings when unset, as Bitnami's `labelFor` reads them).
pub(crate) fn sealed_label(sealed: &SealedSecret) -> String {
    sealed_scope(sealed).label(
        sealed.metadata.namespace.as_deref().unwrap_or_default(),
        sealed.metadata.name.as_deref().unwrap_or_default(),
    )
}

/// Sets the scope annotations in `annotations` to declare `scope`: both are
/// removed, then the one for `scope` (if any) set to `"true"`. Matches
/// Bitnami's `UpdateScopeAnnotations`.
pub(crate) fn set_scope_annotations(annotations: &mut BTreeMap<String, String>, scope: Scope) {
    for s in Scope::ALL {
        if let Some(a) = s.annotation() {
            annotations.remove(a);
        }
    }
    if let Some(a) = scope.annotation() {
        annotations.insert(a.to_owned(), "true".to_owned());
    }
}

/// Clears what the API server owns (uid, resourceVersion, timestamps,
/// generation, managed fields, owner references) and the last-applied
/// annotations, so `meta` can go into a manifest or a create request.
///
/// Matches kubeseal, which strips the same read-only fields before sealing
/// and the last-applied annotations and owner references in
/// `NewSealedSecret`; coffer also drops `managedFields` (server bookkeeping
/// that no create request may carry).
pub fn strip_server_fields(meta: &mut ObjectMeta) {
    meta.uid = None;
    meta.resource_version = None;
    meta.self_link = None;
    meta.generation = None;
    meta.creation_timestamp = None;
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.managed_fields = None;
    meta.owner_references = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        for a in LAST_APPLIED_ANNOTATIONS {
            annotations.remove(a);
        }
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
    if meta.labels.as_ref().is_some_and(BTreeMap::is_empty) {
        meta.labels = None;
    }
}
