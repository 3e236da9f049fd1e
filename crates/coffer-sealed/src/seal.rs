//! Secret → SealedSecret (as kubeseal writes it) and re-encryption of a
//! SealedSecret to a new certificate.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coffer_api::{SealedSecret, SealedSecretSpec, SecretTemplateSpec};
use coffer_crypto::{PrivateKey, PublicKey, Scope};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::error::{Error, Result};
use crate::meta::{object_ref, sealed_label, set_scope_annotations, strip_server_fields};
use crate::placement::{apply_requested_scope, sealing_scope};
use crate::unseal::{open_value, open_whole};

/// Seals `secret` to `cert`, producing the SealedSecret kubeseal would write.
///
/// - Name and namespace come from the Secret; a name is required, and a
///   namespace unless the scope is cluster-wide.
/// - The scope follows [`sealing_scope`](crate::sealing_scope): `scope` when
///   namespace- or cluster-wide (its annotation then replaces any on the
///   Secret), else the one the Secret's own annotations declare.
///   [`place`](crate::place) applies kubeseal's other rules (name,
///   namespace) beforehand.
/// - Non-strict scopes are declared by their annotation on the SealedSecret
///   (and, as with kubeseal, on `template.metadata`).
/// - Every `data` and `stringData` key is sealed; `stringData` wins on a
///   shared key, as the API server would merge them.
/// - `template.metadata` is the Secret's metadata minus server-managed
///   fields, owner references and last-applied annotations;
///   `template.type` and `template.immutable` are copied.
pub fn seal_secret(
    secret: &Secret,
    cert: &PublicKey,
    scope: Option<Scope>,
) -> Result<SealedSecret> {
    let mut meta = secret.metadata.clone();
    let name = meta
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or(Error::SecretWithoutName)?;
    apply_requested_scope(&mut meta.annotations, scope);
    strip_server_fields(&mut meta);
    let scope = sealing_scope(None, meta.annotations.as_ref());
    let namespace = meta.namespace.clone().filter(|n| !n.is_empty());
    if namespace.is_none() && scope != Scope::ClusterWide {
        return Err(Error::SecretWithoutNamespace { name, scope });
    }
    let label = scope.label(namespace.as_deref().unwrap_or_default(), &name);
    let object = object_ref(&meta);

    let seal_one = |key: &str, value: &[u8]| {
        coffer_crypto::seal_base64(cert, label.as_bytes(), value).map_err(|source| Error::Seal {
            object: object.clone(),
            key: key.to_owned(),
            source,
        })
    };
    let mut encrypted_data = BTreeMap::new();
    for (key, value) in secret.data.iter().flatten() {
        encrypted_data.insert(key.clone(), seal_one(key, &value.0)?);
    }
    for (key, value) in secret.string_data.iter().flatten() {
        encrypted_data.insert(key.clone(), seal_one(key, value.as_bytes())?);
    }

    let mut annotations = BTreeMap::new();
    set_scope_annotations(&mut annotations, scope);
    Ok(SealedSecret {
        metadata: ObjectMeta {
            name: Some(name),
            namespace,
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        },
        spec: SealedSecretSpec {
            encrypted_data,
            template: Some(SecretTemplateSpec {
                metadata: Some(meta),
                type_: secret.type_.clone(),
                immutable: secret.immutable,
                data: None,
            }),
            data: None,
        },
        status: None,
    })
}

/// Re-seals every value of `sealed` (each `encryptedData` entry, and the
/// deprecated `spec.data` blob if present) to `cert`, under the same scope,
/// namespace and name. Everything else (metadata, template, status) is kept
/// as it was. `keys` (newest first) must open every value.
pub fn reencrypt(
    sealed: &SealedSecret,
    keys: &[PrivateKey],
    cert: &PublicKey,
) -> Result<SealedSecret> {
    let object = object_ref(&sealed.metadata);
    let label = sealed_label(sealed);
    let mut out = sealed.clone();
    for (key, value) in out.spec.encrypted_data.iter_mut() {
        let opened = open_value(&object, key, value, keys, &label)?;
        *value = coffer_crypto::seal_base64(cert, label.as_bytes(), opened.plaintext()).map_err(
            |source| Error::Seal {
                object: object.clone(),
                key: key.clone(),
                source,
            },
        )?;
    }
    if let Some(data) = out.spec.data.as_mut().filter(|d| !d.is_empty()) {
        let opened = open_whole(&object, data, keys, &label)?;
        let resealed =
            coffer_crypto::seal(cert, label.as_bytes(), opened.plaintext()).map_err(|source| {
                Error::Seal {
                    object: object.clone(),
                    key: "spec.data".to_owned(),
                    source,
                }
            })?;
        // Go serializes the []byte field as standard padded base64.
        *data = STANDARD.encode(&resealed);
    }
    Ok(out)
}
