//! SealedSecret → Secret: the conversion the controller's reconcile and the
//! CLI's offline unseal share. Matches Bitnami's `SealedSecret.Unseal`.
//!
//! Plaintext is held in zeroizing buffers until it goes into the Secret
//! being built (whose values [`Unsealed`] zeroizes on drop), and the Secret
//! data under construction is zeroized if a later value or template fails:
//! one copy per value for the Secret, one for the template engine when
//! there are templates, nothing left behind in freed memory.

use std::collections::BTreeMap;
use std::fmt;

use coffer_api::SealedSecret;
use coffer_crypto::{Fingerprint, PrivateKey};
use coffer_template::{Data, Limits, Options, Template};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use zeroize::Zeroize;

use crate::error::{Error, Result, json_error};
use crate::meta::{data_keys, object_ref, sealed_label, strip_server_fields};

/// A Secret made from a SealedSecret, and the keys that opened it.
///
/// `Debug` shows the Secret's name, type and keys, never its values.
pub struct Unsealed {
    /// The Secret: metadata from `spec.template.metadata` (name and namespace
    /// always those of the SealedSecret), type, immutable and data. It has no
    /// owner reference; the controller adds one.
    pub secret: Secret,
    /// Fingerprints of the private keys that opened its values, each once,
    /// in the order first used.
    pub key_fingerprints: Vec<Fingerprint>,
}

impl Unsealed {
    /// Takes the Secret out (to create or apply it). The values are then the
    /// caller's to protect; `Unsealed` zeroizes only what it still holds.
    pub fn into_secret(mut self) -> Secret {
        std::mem::take(&mut self.secret)
    }
}

impl fmt::Debug for Unsealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unsealed")
            .field("secret", &object_ref(&self.secret.metadata))
            .field("type", &self.secret.type_)
            .field("keys", &data_keys(&self.secret))
            .field("key_fingerprints", &self.key_fingerprints)
            .finish_non_exhaustive()
    }
}

impl Drop for Unsealed {
    fn drop(&mut self) {
        // Best effort: k8s-openapi's ByteString is a plain Vec<u8>.
        for value in self.secret.data.iter_mut().flat_map(|d| d.values_mut()) {
            value.0.zeroize();
        }
    }
}

/// Opens `sealed` with `keys` (newest first) and builds its Secret.
///
/// The scope label comes from the SealedSecret's own namespace, name and
/// scope annotations, so a value sealed for another object does not open.
/// Each `spec.encryptedData` value is unsealed, then each
/// `spec.template.data` entry rendered with coffer-template
/// ([`Options::bitnami`]), as Bitnami v0.40 does: templates see the
/// decrypted values and, for keys not sealed, the other entries' raw text;
/// a rendered entry is stored under its key unless that key is sealed (the
/// sealed value wins, so a plaintext entry can never shadow a secret); a
/// `null` entry removes its key from the Secret. The deprecated whole-Secret form (`spec.data`) is opened when
/// `encryptedData` is empty. Errors name the SealedSecret and the key that
/// failed (the first in key order).
pub fn unseal(sealed: &SealedSecret, keys: &[PrivateKey]) -> Result<Unsealed> {
    unseal_with(sealed, keys, &Limits::default())
}

/// [`unseal`], rendering `spec.template.data` within `limits` (the
/// controller's configured limits; [`unseal`] uses the defaults). The
/// caller should run this where a slow render cannot block other work:
/// RSA decryption and rendering are CPU-bound, and a template that runs to
/// its limits takes up to `limits.max_duration`.
pub fn unseal_with(
    sealed: &SealedSecret,
    keys: &[PrivateKey],
    limits: &Limits,
) -> Result<Unsealed> {
    let object = object_ref(&sealed.metadata);
    let name = sealed
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or(Error::SealedSecretWithoutName)?;
    let label = sealed_label(sealed);
    let mut fingerprints = Vec::new();

    let mut secret = match sealed.spec.data.as_deref().filter(|d| !d.is_empty()) {
        Some(_) if !sealed.spec.encrypted_data.is_empty() => {
            return Err(Error::BothDataForms { object });
        }
        Some(blob) => unseal_whole_secret(&object, blob, keys, &label, &mut fingerprints)?,
        None => unseal_per_key(sealed, &object, keys, &label, limits, &mut fingerprints)?,
    };

    // Matches Bitnami: the Secret is always named after its SealedSecret.
    strip_server_fields(&mut secret.metadata);
    secret.metadata.name = Some(name);
    secret.metadata.namespace = sealed.metadata.namespace.clone();
    Ok(Unsealed {
        secret,
        key_fingerprints: fingerprints,
    })
}

/// Checks that `keys` (newest first) open every value of `sealed`, as
/// [`unseal`] would, without building the Secret: `spec.template.data` is
/// never rendered. Returns the fingerprints of the keys used.
///
/// This is the answer for callers who may not see the values (the
/// controller's `/v1/verify`). `spec.template` is not covered by the scope
/// label, so rendering it for such a caller would let them pair someone
/// else's `encryptedData` with a template that fails only when a value
/// matches a guess, and read the guess's verdict from the answer: a
/// decryption oracle, one bit per request (Bitnami closed the same hole in
/// its verify and rotate endpoints). Decrypted bytes are zeroized at once.
pub fn verify(sealed: &SealedSecret, keys: &[PrivateKey]) -> Result<Vec<Fingerprint>> {
    let object = object_ref(&sealed.metadata);
    sealed
        .metadata
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or(Error::SealedSecretWithoutName)?;
    let label = sealed_label(sealed);
    let mut fingerprints = Vec::new();
    match sealed.spec.data.as_deref().filter(|d| !d.is_empty()) {
        Some(_) if !sealed.spec.encrypted_data.is_empty() => {
            return Err(Error::BothDataForms { object });
        }
        Some(blob) => {
            let opened = open_whole(&object, blob, keys, &label)?;
            note_key(&mut fingerprints, opened.key_fingerprint());
        }
        None => {
            for (key, value) in &sealed.spec.encrypted_data {
                let opened = open_value(&object, key, value, keys, &label)?;
                note_key(&mut fingerprints, opened.key_fingerprint());
            }
        }
    }
    Ok(fingerprints)
}

/// Opens one `encryptedData` value; the error names the object and key.
pub(crate) fn open_value(
    object: &str,
    key: &str,
    value: &str,
    keys: &[PrivateKey],
    label: &str,
) -> Result<coffer_crypto::Unsealed> {
    coffer_crypto::unseal_base64(keys, label.as_bytes(), value).map_err(|source| Error::Unseal {
        object: object.to_owned(),
        key: key.to_owned(),
        source,
    })
}

/// Opens the deprecated whole-Secret blob (`spec.data`, base64).
pub(crate) fn open_whole(
    object: &str,
    blob: &str,
    keys: &[PrivateKey],
    label: &str,
) -> Result<coffer_crypto::Unsealed> {
    let whole_error = |source| Error::UnsealWholeSecret {
        object: object.to_owned(),
        source,
    };
    let bytes = coffer_crypto::decode_base64(blob).map_err(whole_error)?;
    coffer_crypto::unseal_whole_secret(keys, label.as_bytes(), &bytes).map_err(whole_error)
}

fn note_key(fingerprints: &mut Vec<Fingerprint>, fingerprint: Fingerprint) {
    if !fingerprints.contains(&fingerprint) {
        fingerprints.push(fingerprint);
    }
}

/// Secret data being built: zeroized on drop unless taken out.
#[derive(Default)]
struct PlainData(BTreeMap<String, ByteString>);

impl PlainData {
    fn take(mut self) -> BTreeMap<String, ByteString> {
        std::mem::take(&mut self.0)
    }
}

impl Drop for PlainData {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            value.0.zeroize();
        }
    }
}

fn unseal_per_key(
    sealed: &SealedSecret,
    object: &str,
    keys: &[PrivateKey],
    label: &str,
    limits: &Limits,
    fingerprints: &mut Vec<Fingerprint>,
) -> Result<Secret> {
    let template = sealed.spec.template.clone().unwrap_or_default();
    let templated = template.data.as_ref().is_some_and(|d| !d.is_empty());
    let mut data = PlainData::default();
    let mut template_data = Data::new();
    for (key, value) in &sealed.spec.encrypted_data {
        let opened = open_value(object, key, value, keys, label)?;
        note_key(fingerprints, opened.key_fingerprint());
        if templated {
            // NB: Data keeps its own (zeroizing) copy.
            template_data.insert(key.clone(), opened.plaintext());
        }
        let mut plaintext = opened.into_plaintext();
        data.0
            .insert(key.clone(), ByteString(std::mem::take(&mut *plaintext)));
    }
    let options = Options {
        limits: *limits,
        ..Options::bitnami()
    };
    let entries = template.data.iter().flatten();
    for (key, text) in entries.clone() {
        if let Some(text) = text
            && !sealed.spec.encrypted_data.contains_key(key)
        {
            template_data.insert(key.clone(), text.as_bytes().to_vec());
        }
    }
    for (key, text) in entries {
        let Some(text) = text else {
            if let Some(mut removed) = data.0.remove(key) {
                removed.0.zeroize();
            }
            continue;
        };
        let template_error = |source| Error::Template {
            object: object.to_owned(),
            key: key.clone(),
            source: Box::new(source),
        };
        // NB: rendered (and its errors reported) even when the sealed value
        // wins, as Bitnami does.
        let mut rendered = Template::parse(key, text)
            .and_then(|t| t.render(&template_data, &options))
            .map_err(template_error)?;
        if !sealed.spec.encrypted_data.contains_key(key) {
            // NB: moved, not copied: the emptied buffer is zeroized on drop.
            data.0
                .insert(key.clone(), ByteString(std::mem::take(&mut *rendered)));
        }
    }
    Ok(Secret {
        metadata: template.metadata.unwrap_or_default(),
        type_: template.type_,
        immutable: template.immutable,
        data: Some(data.take()),
        ..Secret::default()
    })
}

fn unseal_whole_secret(
    object: &str,
    blob: &str,
    keys: &[PrivateKey],
    label: &str,
    fingerprints: &mut Vec<Fingerprint>,
) -> Result<Secret> {
    let opened = open_whole(object, blob, keys, label)?;
    note_key(fingerprints, opened.key_fingerprint());
    let mut secret: Secret =
        serde_json::from_slice(opened.plaintext()).map_err(|e| json_error(object, &e))?;
    // The API server would fold stringData into data; do it here so the
    // Secret we return holds everything under `data`.
    if let Some(string_data) = secret.string_data.take() {
        let data = secret.data.get_or_insert_default();
        for (k, v) in string_data {
            data.insert(k, ByteString(v.into_bytes()));
        }
    }
    Ok(secret)
}
