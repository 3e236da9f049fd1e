//! The Secret a SealedSecret owns: owner reference, the Bitnami rules for
//! taking over or patching an existing Secret, and the annotations that let
//! a later reconcile see that nothing changed without decrypting.
//!
//! The "unchanged" check has two parts, both recorded on the Secret when it
//! is written: the SealedSecret's `inputs_hash` (everything the Secret is
//! made from) and an HMAC of the Secret as written (type, labels,
//! annotations, owner references and the sealed keys' values), keyed by a
//! key derived from one of the controller's private keys. A plain hash of
//! the values would let anyone who can read annotations test guesses; the
//! HMAC needs a private key. Any edit to the Secret, or to the SealedSecret,
//! makes one of them differ, and the next reconcile decrypts and rewrites.
//!
//! Every Secret written also carries the label [`OWNED_LABEL`], so the
//! controller watches (and holds) only its own Secrets' data. Secrets
//! written before the label existed, by an older coffer or by Bitnami's
//! controller, are read with a GET and labelled by their first reconcile.
//! Copies of Secrets holding plaintext are [`Plain`], wiped when dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Deref, DerefMut};

use aws_lc_rs::hmac;
use coffer_api::SealedSecret;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;
use serde::Serialize;
use zeroize::Zeroize;

use crate::sealed::keys::KeyRegistry;

/// Annotation on a Secret holding the `inputs_hash` of the SealedSecret it
/// was made from.
pub const INPUTS_HASH_ANNOTATION: &str = "coffer.dev/sealed-inputs-hash";
/// Annotation on a Secret holding `<key id>:<hmac>` of the Secret as written.
pub const DIGEST_ANNOTATION: &str = "coffer.dev/sealed-digest";
/// On an existing Secret: the controller may take it over (matches Bitnami).
pub const MANAGED_ANNOTATION: &str = "sealedsecrets.bitnami.com/managed";
/// On an existing Secret: the controller only patches the sealed keys into
/// it (matches Bitnami).
pub const PATCH_ANNOTATION: &str = "sealedsecrets.bitnami.com/patch";

/// Label on every Secret this controller writes: its Secret watch selects
/// on it. (ESO marks its Secrets the same way, with
/// `reconcile.external-secrets.io/managed=true`.)
pub const OWNED_LABEL: &str = "coffer.dev/sealed-secret";
/// The label selector of the controller's Secret watch.
pub const OWNED_SELECTOR: &str = "coffer.dev/sealed-secret=true";

/// Length of the key id (a fingerprint prefix) in the digest annotation.
const KEY_ID_LEN: usize = 16;

fn annotation<'a>(secret: &'a Secret, key: &str) -> Option<&'a str> {
    secret
        .metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// The inputs hash the Secret was written for, if this controller wrote it.
pub fn inputs_hash_of(secret: &Secret) -> Option<&str> {
    annotation(secret, INPUTS_HASH_ANNOTATION)
}

/// The Secret carries [`OWNED_LABEL`].
pub fn is_labelled(labels: Option<&BTreeMap<String, String>>) -> bool {
    labels
        .and_then(|l| l.get(OWNED_LABEL))
        .is_some_and(|v| v == "true")
}

/// Overwrites every value of `secret` with zeros (its keys stay).
pub fn wipe(secret: &mut Secret) {
    for value in secret.data.iter_mut().flat_map(|d| d.values_mut()) {
        value.0.zeroize();
    }
    for value in secret.string_data.iter_mut().flat_map(|d| d.values_mut()) {
        value.zeroize();
    }
}

/// A Secret holding plaintext values, wiped when dropped.
#[derive(Default)]
pub struct Plain(pub Secret);

impl Plain {
    /// Takes the Secret out (to hand it to something that consumes it);
    /// what is left to wipe is empty.
    pub fn take(&mut self) -> Secret {
        std::mem::take(&mut self.0)
    }
}

impl Deref for Plain {
    type Target = Secret;
    fn deref(&self) -> &Secret {
        &self.0
    }
}

impl DerefMut for Plain {
    fn deref_mut(&mut self) -> &mut Secret {
        &mut self.0
    }
}

impl Drop for Plain {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl std::fmt::Debug for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plain")
            .field("secret", &coffer_sealed::object_ref(&self.0.metadata))
            .finish_non_exhaustive()
    }
}

/// The Secret carries `sealedsecrets.bitnami.com/managed: "true"`.
pub fn is_managed(secret: &Secret) -> bool {
    annotation(secret, MANAGED_ANNOTATION) == Some("true")
}

/// The Secret carries `sealedsecrets.bitnami.com/patch: "true"`.
pub fn is_patched(secret: &Secret) -> bool {
    annotation(secret, PATCH_ANNOTATION) == Some("true")
}

/// The template asks for no owner reference
/// (`sealedsecrets.bitnami.com/skip-set-owner-references: "true"`).
pub fn skips_owner_reference(sealed: &SealedSecret) -> bool {
    sealed
        .spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(coffer_sealed::SKIP_SET_OWNER_REFERENCES_ANNOTATION))
        .is_some_and(|v| v == "true")
}

/// The controller owner reference to `sealed`.
pub fn owner_reference(sealed: &SealedSecret) -> Option<OwnerReference> {
    sealed.controller_owner_ref(&())
}

/// Whether `existing` was unsealed from this very generation of `sealed` by
/// the controller that ran before us (Bitnami's, in a migration), by that
/// controller's own record: the Secret is controlled by the SealedSecret,
/// holds the `expected` keys and carries none of our marks (label, inputs
/// hash, digest), and the SealedSecret's status says its current generation
/// was unsealed (`observedGeneration` equal to `generation`, `Synced`
/// True). Taking such a Secret over needs no decryption and no write; the
/// next change to the SealedSecret unseals it and stamps it as ours.
///
/// Without our digest, an edit made to such a Secret by hand is not
/// repaired until then; Bitnami's controller does not repair one either.
/// A Secret that has any of our marks is judged by its digest only.
pub fn is_unsealed_by_predecessor(
    existing: &Secret,
    sealed: &SealedSecret,
    expected: &BTreeSet<String>,
) -> bool {
    let unmarked = !is_labelled(existing.metadata.labels.as_ref())
        && annotation(existing, INPUTS_HASH_ANNOTATION).is_none()
        && annotation(existing, DIGEST_ANNOTATION).is_none();
    let Some(status) = &sealed.status else {
        return false;
    };
    let current = sealed.metadata.generation.is_some()
        && status.observed_generation == sealed.metadata.generation;
    let synced = status
        .conditions
        .iter()
        .any(|c| c.type_ == crate::sealed::plan::CONDITION_SYNCED && c.status == "True");
    unmarked
        && current
        && synced
        && holds_keys(existing, expected)
        && existing
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|r| {
                r.controller == Some(true) && Some(r.uid.as_str()) == sealed.metadata.uid.as_deref()
            })
}

/// The Secret keys a SealedSecret produces, known without decrypting, or
/// `None` for the deprecated whole-Secret form (whose keys are sealed).
pub fn expected_keys(sealed: &SealedSecret) -> Option<BTreeSet<String>> {
    if sealed.spec.data.as_deref().is_some_and(|d| !d.is_empty()) {
        return None;
    }
    let mut keys: BTreeSet<String> = sealed.spec.encrypted_data.keys().cloned().collect();
    for (key, text) in sealed
        .spec
        .template
        .iter()
        .flat_map(|t| t.data.iter().flatten())
    {
        match text {
            Some(_) => keys.insert(key.clone()),
            // A `null` entry removes the key (see coffer_sealed::unseal).
            None => keys.remove(key),
        };
    }
    Some(keys)
}

/// Builds the Secret to write from the unsealed one and the existing Secret,
/// with Bitnami's rules: a patched Secret gets the sealed keys, labels and
/// annotations merged in (and the owner reference only if also managed);
/// otherwise data, labels, annotations and owner references are replaced.
pub fn merge(existing: &Secret, desired: Secret) -> Secret {
    let mut out = existing.clone();
    if is_patched(existing) {
        let managed = is_managed(existing);
        out.data
            .get_or_insert_default()
            .extend(desired.data.into_iter().flatten());
        out.metadata
            .labels
            .get_or_insert_default()
            .extend(desired.metadata.labels.into_iter().flatten());
        out.metadata
            .annotations
            .get_or_insert_default()
            .extend(desired.metadata.annotations.into_iter().flatten());
        if managed {
            out.metadata.owner_references = desired.metadata.owner_references;
        }
    } else {
        wipe(&mut out);
        out.data = desired.data;
        out.metadata.labels = desired.metadata.labels;
        out.metadata.annotations = desired.metadata.annotations;
        out.metadata.owner_references = desired.metadata.owner_references;
    }
    // NB: a Secret's type cannot change; an unset template type keeps the
    // existing one rather than asking the API server to clear it.
    if desired.type_.is_some() {
        out.type_ = desired.type_;
    }
    if desired.immutable.is_some() {
        out.immutable = desired.immutable;
    }
    out
}

/// Whether writing `target` over `existing` would change anything.
pub fn differs(existing: &Secret, target: &Secret) -> bool {
    existing.data != target.data
        || existing.type_ != target.type_
        || existing.immutable != target.immutable
        || existing.metadata.labels != target.metadata.labels
        || existing.metadata.annotations != target.metadata.annotations
        || existing.metadata.owner_references != target.metadata.owner_references
}

#[derive(Serialize)]
struct Digested<'a> {
    type_: Option<&'a str>,
    immutable: Option<bool>,
    labels: Option<&'a BTreeMap<String, String>>,
    annotations: BTreeMap<&'a str, &'a str>,
    owners: Vec<&'a str>,
    data: BTreeMap<&'a str, &'a [u8]>,
}

/// The bytes the digest covers: what the controller decided about the
/// Secret, in a canonical JSON form.
fn digest_input(secret: &Secret, keys: &BTreeSet<String>) -> Vec<u8> {
    let digested = Digested {
        type_: secret.type_.as_deref(),
        immutable: secret.immutable,
        labels: secret.metadata.labels.as_ref(),
        annotations: secret
            .metadata
            .annotations
            .iter()
            .flatten()
            .filter(|(k, _)| k.as_str() != DIGEST_ANNOTATION)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        owners: secret
            .metadata
            .owner_references
            .iter()
            .flatten()
            .map(|r| r.uid.as_str())
            .collect(),
        data: secret
            .data
            .iter()
            .flatten()
            .filter(|(k, _)| keys.contains(k.as_str()))
            .map(|(k, v)| (k.as_str(), v.0.as_slice()))
            .collect(),
    };
    // NB: serializing these plain maps cannot fail.
    serde_json::to_vec(&digested).unwrap_or_default()
}

/// Sets [`OWNED_LABEL`], the inputs-hash and the digest annotations on
/// `secret`, the Secret about to be written, keyed with the newest key.
pub fn stamp(secret: &mut Secret, inputs_hash: &str, registry: &KeyRegistry) {
    secret
        .metadata
        .labels
        .get_or_insert_default()
        .insert(OWNED_LABEL.to_owned(), "true".to_owned());
    stamp_digest(secret, inputs_hash, registry);
}

/// The annotations of [`stamp`] without the label: what coffer wrote
/// before the label existed (tests make such Secrets with it).
pub fn stamp_digest(secret: &mut Secret, inputs_hash: &str, registry: &KeyRegistry) {
    secret
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(INPUTS_HASH_ANNOTATION.to_owned(), inputs_hash.to_owned());
    let Ok(key) = registry.newest() else { return };
    let keys: BTreeSet<String> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect();
    let id = key_id(&key.pair.fingerprint().to_string());
    let mac = hex(hmac::sign(key.digest_key(), &digest_input(secret, &keys)).as_ref());
    secret
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(DIGEST_ANNOTATION.to_owned(), format!("{id}:{mac}"));
}

/// Whether `existing` has a data entry for every key in `expected`.
fn holds_keys(existing: &Secret, expected: &BTreeSet<String>) -> bool {
    let data = existing.data.as_ref();
    expected
        .iter()
        .all(|k| data.is_some_and(|d| d.contains_key(k)))
}

/// Whether `existing` holds the `expected` keys and its digest proves them
/// (and its type, labels, annotations and owners) exactly what this
/// controller wrote: then there is nothing to decrypt. Whether it was
/// written for the current inputs is [`crate::sealed::plan::classify`]'s
/// question.
pub fn is_intact(existing: &Secret, expected: &BTreeSet<String>, registry: &KeyRegistry) -> bool {
    if !holds_keys(existing, expected) {
        return false;
    }
    let Some((id, mac)) = annotation(existing, DIGEST_ANNOTATION).and_then(|d| d.split_once(':'))
    else {
        return false;
    };
    let Some(key) = registry
        .keys()
        .into_iter()
        .find(|k| key_id(&k.pair.fingerprint().to_string()) == id)
    else {
        return false;
    };
    let Some(expected_mac) = unhex(mac) else {
        return false;
    };
    // hmac::verify compares in constant time.
    hmac::verify(
        key.digest_key(),
        &digest_input(existing, expected),
        &expected_mac,
    )
    .is_ok()
}

fn key_id(fingerprint: &str) -> String {
    fingerprint.chars().take(KEY_ID_LEN).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;
    use kube::api::ObjectMeta;

    use super::*;

    fn secret(annotations: &[(&str, &str)], data: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("db".into()),
                labels: Some([("theirs".to_owned(), "1".to_owned())].into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            type_: Some("Opaque".into()),
            ..Secret::default()
        }
    }

    #[test]
    fn patch_merges_sealed_keys_and_keeps_the_rest() {
        let existing = secret(
            &[(PATCH_ANNOTATION, "true")],
            &[("a", "old"), ("b", "keep")],
        );
        let mut desired = secret(&[], &[("a", "new")]);
        desired.metadata.labels = Some([("ours".to_owned(), "2".to_owned())].into());
        let merged = merge(&existing, desired);
        let data = merged.data.unwrap();
        assert_eq!(data["a"].0, b"new");
        assert_eq!(data["b"].0, b"keep");
        let labels = merged.metadata.labels.unwrap();
        assert!(labels.contains_key("theirs") && labels.contains_key("ours"));
        assert!(is_patched(&Secret {
            metadata: ObjectMeta {
                annotations: merged.metadata.annotations,
                ..ObjectMeta::default()
            },
            ..Secret::default()
        }));
    }

    #[test]
    fn managed_without_patch_replaces_data_labels_and_annotations() {
        let existing = secret(
            &[(MANAGED_ANNOTATION, "true")],
            &[("a", "old"), ("b", "drop")],
        );
        let desired = secret(&[("x", "y")], &[("a", "new")]);
        let merged = merge(&existing, desired);
        assert_eq!(merged.data.unwrap().len(), 1);
        assert!(
            !merged
                .metadata
                .annotations
                .unwrap()
                .contains_key(MANAGED_ANNOTATION)
        );
    }

    fn unsealed_by_bitnami(generation: i64, observed: i64, synced: &str) -> (Secret, SealedSecret) {
        let mut sealed: SealedSecret = serde_json::from_value(serde_json::json!({
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
            "metadata": {"name": "db", "namespace": "team", "uid": "uid-1", "generation": generation},
            "spec": {"encryptedData": {"a": "AgB="}},
            "status": {
                "observedGeneration": observed,
                "conditions": [{"type": "Synced", "status": synced}]
            }
        }))
        .unwrap();
        sealed.metadata.generation = Some(generation);
        let mut existing = secret(&[], &[("a", "value")]);
        existing.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "bitnami.com/v1alpha1".into(),
            kind: "SealedSecret".into(),
            name: "db".into(),
            uid: "uid-1".into(),
            controller: Some(true),
            ..OwnerReference::default()
        }]);
        (existing, sealed)
    }

    #[test]
    fn a_secret_bitnami_unsealed_from_the_current_generation_is_taken_over_as_is() {
        let expected: BTreeSet<String> = ["a".to_owned()].into();
        let (existing, sealed) = unsealed_by_bitnami(3, 3, "True");
        assert!(is_unsealed_by_predecessor(&existing, &sealed, &expected));

        // Each of these needs an unseal instead.
        let (existing, sealed) = unsealed_by_bitnami(4, 3, "True");
        assert!(
            !is_unsealed_by_predecessor(&existing, &sealed, &expected),
            "newer generation"
        );
        let (existing, sealed) = unsealed_by_bitnami(3, 3, "False");
        assert!(
            !is_unsealed_by_predecessor(&existing, &sealed, &expected),
            "failed unseal"
        );
        let (existing, mut sealed) = unsealed_by_bitnami(3, 3, "True");
        sealed.status = None;
        assert!(
            !is_unsealed_by_predecessor(&existing, &sealed, &expected),
            "no status"
        );
        let (existing, mut sealed) = unsealed_by_bitnami(3, 3, "True");
        sealed.metadata.uid = Some("uid-2".into());
        assert!(
            !is_unsealed_by_predecessor(&existing, &sealed, &expected),
            "another owner"
        );
        let (existing, sealed) = unsealed_by_bitnami(3, 3, "True");
        let more: BTreeSet<String> = ["a".to_owned(), "b".to_owned()].into();
        assert!(
            !is_unsealed_by_predecessor(&existing, &sealed, &more),
            "a key missing"
        );
        for mark in [INPUTS_HASH_ANNOTATION, DIGEST_ANNOTATION] {
            let (mut existing, sealed) = unsealed_by_bitnami(3, 3, "True");
            existing
                .metadata
                .annotations
                .get_or_insert_default()
                .insert(mark.to_owned(), "x".to_owned());
            assert!(
                !is_unsealed_by_predecessor(&existing, &sealed, &expected),
                "{mark}"
            );
        }
        let (mut existing, sealed) = unsealed_by_bitnami(3, 3, "True");
        existing
            .metadata
            .labels
            .get_or_insert_default()
            .insert(OWNED_LABEL.to_owned(), "true".to_owned());
        assert!(
            !is_unsealed_by_predecessor(&existing, &sealed, &expected),
            "our label"
        );
    }
}
