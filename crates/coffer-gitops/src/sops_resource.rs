//! Whole SOPS documents among the manifests: any resource whose `sops.mac`
//! is non-empty, whatever its kind (kustomize-controller's
//! `isSOPSEncryptedResource`), decrypted in its own format (YAML or JSON)
//! with its `sops` block removed.

use coffer_manifest::RawDocument;
use coffer_sops::{Branch, MacCheck};

use crate::object::ObjectRef;
use crate::output::file_format;
use crate::process::Ctx;
use crate::report::Warning;
use crate::{Error, Result};

/// Whether a document is a SOPS document: a `sops` mapping with a
/// non-empty `mac`.
pub(crate) fn has_mac(value: &serde_json::Value) -> bool {
    value
        .get("sops")
        .and_then(|s| s.get("mac"))
        .and_then(serde_json::Value::as_str)
        .is_some_and(|mac| !mac.is_empty())
}

/// Maps a coffer-sops error to ours: a MAC mismatch gets the kustomize
/// explanation, everything else names the document (and data key).
pub(crate) fn sops_error(e: coffer_sops::Error, object: &ObjectRef, key: Option<&str>) -> Error {
    match (e, key) {
        (coffer_sops::Error::MacMismatch, key) => Error::MacMismatch {
            object: Box::new(object.clone()),
            key: key.map(str::to_owned),
        },
        (source, Some(key)) => Error::SopsData {
            object: Box::new(object.clone()),
            key: key.to_owned(),
            source,
        },
        (source, None) => Error::Sops {
            object: Box::new(object.clone()),
            source,
        },
    }
}

/// The warning for a MAC mismatch let through by the warn policy.
pub(crate) fn mac_warning(object: &ObjectRef, key: Option<&str>) -> Warning {
    let at = key.map(|k| format!("data key {k:?}: ")).unwrap_or_default();
    Warning {
        object: Some(object.clone()),
        message: format!(
            "{at}the SOPS MAC does not match the values (the document was changed after it was \
             encrypted, e.g. by a kustomize patch or transformer); decrypted anyway, as the MAC \
             policy is warn"
        ),
    }
}

/// A decrypted SOPS resource.
pub(crate) struct Opened {
    pub(crate) tree: Branch,
    pub(crate) recipients: Vec<String>,
    pub(crate) mac: MacCheck,
}

/// Decrypts the SOPS resource `raw`; `object` is renamed from the
/// decrypted tree (its kind or name may have been encrypted).
pub(crate) fn decrypt(
    ctx: &Ctx<'_>,
    raw: &RawDocument<'_>,
    object: &mut ObjectRef,
    warnings: &mut Vec<Warning>,
) -> Result<Opened> {
    let mut opened = coffer_sops::open_to_read(
        raw.text.as_bytes(),
        file_format(raw.format),
        ctx.keys,
        ctx.options.mac,
    )
    .map_err(|e| sops_error(e, object, None))?;
    let mut docs = std::mem::take(&mut opened.docs);
    if docs.len() != 1 {
        coffer_sops::zeroize_tree(&mut docs);
        return Err(Error::Invalid {
            object: Box::new(object.clone()),
            reason: format!("holds {} documents where one was expected", docs.len()),
        });
    }
    let tree = docs.remove(0);
    object.refresh(&tree);
    if opened.mac == MacCheck::Mismatch {
        warnings.push(mac_warning(object, None));
    }
    Ok(Opened {
        tree,
        recipients: std::mem::take(&mut opened.recipients),
        mac: opened.mac,
    })
}
