//! SealedSecrets among the manifests, opened with the keyring through
//! `coffer_sealed::unseal`, the function the controller's reconcile calls,
//! so the Secret written here is the one the controller would write (minus
//! what only the controller can add: the owner reference to a SealedSecret
//! that is never applied, and its change-detection annotations). A
//! SealedSecret that no key of the keyring opens is left for the in-cluster
//! controller.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coffer_api::SealedSecret;
use coffer_manifest::{Format as StreamFormat, RawDocument, redact};
use coffer_sops::{Branch, Item, Value};
use k8s_openapi::api::core::v1::Secret;

use crate::object::ObjectRef;
use crate::process::Ctx;
use crate::{Error, Result};

/// Whether a document is a Bitnami SealedSecret.
pub(crate) fn is_sealed_secret(value: &serde_json::Value) -> bool {
    value.get("kind").and_then(serde_json::Value::as_str) == Some("SealedSecret")
        && value
            .get("apiVersion")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|v| v.starts_with("bitnami.com/"))
}

/// What came of a SealedSecret.
pub(crate) enum Unsealing {
    /// Its Secret, as a tree, and the fingerprints of the keys used.
    Opened {
        tree: Branch,
        fingerprints: Vec<String>,
    },
    /// No key of the keyring opens it.
    NoKey,
}

/// Opens the SealedSecret `raw` (whose JSON form is `value`).
pub(crate) fn unseal(
    ctx: &Ctx<'_>,
    raw: &RawDocument<'_>,
    value: &serde_json::Value,
    object: &ObjectRef,
) -> Result<Unsealing> {
    let keys = ctx.keyring.sealing_keys();
    if keys.is_empty() {
        return Ok(Unsealing::NoKey);
    }
    let invalid = |reason: String| Error::Invalid {
        object: Box::new(object.clone()),
        reason: format!("not a valid SealedSecret: {}", redact(&reason)),
    };
    // YAML is read straight into the type, so `on` stays a string where a
    // string is expected (as in `coffer seal`).
    let sealed: SealedSecret = match raw.format {
        StreamFormat::Yaml => raw
            .parse_yaml(&object.source, &ctx.options.limits)
            .map_err(|e| invalid(e.to_string()))?,
        StreamFormat::Json => {
            serde_json::from_value(value.clone()).map_err(|e| invalid(e.to_string()))?
        }
    };
    match coffer_sealed::unseal(&sealed, keys) {
        Ok(unsealed) => Ok(Unsealing::Opened {
            tree: secret_tree(&unsealed.secret)?,
            fingerprints: unsealed
                .key_fingerprints
                .iter()
                .map(ToString::to_string)
                .collect(),
        }),
        Err(
            coffer_sealed::Error::Unseal {
                source: coffer_crypto::Error::NoKeyOpened { .. },
                ..
            }
            | coffer_sealed::Error::UnsealWholeSecret {
                source: coffer_crypto::Error::NoKeyOpened { .. },
                ..
            },
        ) => Ok(Unsealing::NoKey),
        Err(source) => Err(Error::Unseal {
            object: Box::new(object.clone()),
            source: Box::new(source),
        }),
    }
}

/// The Secret as a document tree: `apiVersion`, `kind`, `metadata`,
/// `immutable`, `type`, then `data` (base64).
fn secret_tree(secret: &Secret) -> Result<Branch> {
    let metadata = serde_json::to_value(&secret.metadata).map_err(|e| Error::Invalid {
        object: Box::default(),
        reason: format!(
            "cannot write the Secret's metadata: {}",
            redact(&e.to_string())
        ),
    })?;
    let mut tree = vec![
        Item::new("apiVersion", Value::Str("v1".into())),
        Item::new("kind", Value::Str("Secret".into())),
        Item::new("metadata", crate::tree::from_json(&metadata)),
    ];
    if let Some(immutable) = secret.immutable {
        tree.push(Item::new("immutable", Value::Bool(immutable)));
    }
    if let Some(type_) = &secret.type_ {
        tree.push(Item::new("type", Value::Str(type_.clone())));
    }
    let data = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| Item::new(k.clone(), Value::Str(STANDARD.encode(&v.0))))
        .collect();
    tree.push(Item::new("data", Value::Map(data)));
    Ok(tree)
}
