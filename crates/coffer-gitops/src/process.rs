//! One document's way through a run, the data flow of apply-time
//! decryption: opted out? → SOPS document? (decrypt; a Secret's data too) →
//! Secret with SOPS data? → SealedSecret with a known key? → else pass
//! through; then the guards. Runs on worker threads, one document at a
//! time; the decision for a document depends on that document only.

use coffer_manifest::RawDocument;
use coffer_sops::Branch;
use zeroize::Zeroizing;

use crate::cache::KeyCache;
use crate::keyring::Keyring;
use crate::object::ObjectRef;
use crate::options::{Options, opted_out};
use crate::output::file_format;
use crate::report::{DocumentReport, Outcome, Warning};
use crate::sealed::Unsealing;
use crate::{Error, Result, guard, sealed, secret_data, sops_resource};

/// What every document of a run shares.
pub(crate) struct Ctx<'a> {
    pub(crate) keys: &'a KeyCache<'a>,
    pub(crate) keyring: &'a Keyring,
    pub(crate) options: &'a Options,
}

/// A document done: its new text (`None`: unchanged), what was done, and
/// the warnings about it.
pub(crate) struct Processed {
    pub(crate) text: Option<Zeroizing<String>>,
    pub(crate) report: DocumentReport,
    pub(crate) warnings: Vec<Warning>,
}

fn is_empty(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Processes document `raw` of input `source`; `None` for an empty one.
pub(crate) fn process(
    ctx: &Ctx<'_>,
    source: &str,
    raw: &RawDocument<'_>,
) -> Result<Option<Processed>> {
    let value = raw.parse(source, &ctx.options.limits)?;
    if is_empty(&value) {
        return Ok(None);
    }
    let mut object = ObjectRef::from_json(&value, source, raw.index);
    let mut warnings = Vec::new();
    let done = |object: ObjectRef, text, outcome, warnings| {
        Ok(Some(Processed {
            text,
            report: DocumentReport { object, outcome },
            warnings,
        }))
    };

    if let Some(annotation) = opted_out(&value) {
        if guard::check_json(&value).is_some() || sealed::is_sealed_secret(&value) {
            warnings.push(Warning {
                object: Some(object.clone()),
                message: format!(
                    "opted out by {annotation}: passed through still encrypted or sealed"
                ),
            });
        }
        return done(object, None, Outcome::OptedOut { annotation }, warnings);
    }

    if sops_resource::has_mac(&value) {
        let opened = sops_resource::decrypt(ctx, raw, &mut object, &mut warnings)?;
        let mut tree = opened.tree;
        let data = if crate::tree::get_str(&tree, &["kind"]) == Some("Secret") {
            secret_data::decrypt_data(ctx, &mut tree, &object, &mut warnings)
        } else {
            Ok(Vec::new())
        };
        let data = match data {
            Ok(data) => data,
            Err(e) => {
                coffer_sops::zeroize_tree(std::slice::from_mut(&mut tree));
                return Err(e);
            }
        };
        let text = finish(tree, raw, &object)?;
        let outcome = Outcome::Decrypted {
            recipients: opened.recipients,
            mac: opened.mac,
            data,
        };
        return done(object, Some(text), outcome, warnings);
    }

    if secret_data::has_sops_data(&value) {
        let mut docs = coffer_sops::load_plain(raw.text.as_bytes(), file_format(raw.format))
            .map_err(|source| Error::Sops {
                object: Box::new(object.clone()),
                source,
            })?;
        let mut tree = docs.pop().unwrap_or_default();
        let data = match secret_data::decrypt_data(ctx, &mut tree, &object, &mut warnings) {
            Ok(data) => data,
            Err(e) => {
                coffer_sops::zeroize_tree(std::slice::from_mut(&mut tree));
                return Err(e);
            }
        };
        let text = finish(tree, raw, &object)?;
        return done(object, Some(text), Outcome::SecretData { data }, warnings);
    }

    if sealed::is_sealed_secret(&value) {
        match sealed::unseal(ctx, raw, &value, &object)? {
            Unsealing::Opened { tree, fingerprints } => {
                let text = finish(tree, raw, &object)?;
                return done(
                    object,
                    Some(text),
                    Outcome::Unsealed { fingerprints },
                    warnings,
                );
            }
            Unsealing::NoKey if ctx.options.require_unsealed => {
                return Err(Error::Guard {
                    object: Box::new(object),
                    violation: crate::Violation::Sealed,
                });
            }
            Unsealing::NoKey => {
                let why = if ctx.keyring.sealing_keys().is_empty() {
                    "the keyring holds no sealing key"
                } else {
                    "no key of the keyring opens it"
                };
                warnings.push(Warning {
                    object: Some(object.clone()),
                    message: format!(
                        "SealedSecret passed through sealed ({why}); the in-cluster controller \
                         unseals it"
                    ),
                });
                return done(object, None, Outcome::SealedPassedThrough, warnings);
            }
        }
    }

    if let Some(violation) = guard::check_json(&value) {
        return Err(Error::Guard {
            object: Box::new(object),
            violation,
        });
    }
    done(object, None, Outcome::PassedThrough, warnings)
}

/// Checks a changed document with the guards and writes it in the
/// document's own format; the tree is cleared whatever happens.
fn finish(
    mut tree: Branch,
    raw: &RawDocument<'_>,
    object: &ObjectRef,
) -> Result<Zeroizing<String>> {
    let result = match guard::check_tree(&tree) {
        Some(violation) => Err(Error::Guard {
            object: Box::new(object.clone()),
            violation,
        }),
        None => coffer_sops::emit_plain(std::slice::from_ref(&tree), file_format(raw.format))
            .map(Zeroizing::new)
            .map_err(|source| Error::Sops {
                object: Box::new(object.clone()),
                source,
            }),
    };
    coffer_sops::zeroize_tree(std::slice::from_mut(&mut tree));
    let mut bytes = result?;
    String::from_utf8(std::mem::take(&mut *bytes))
        .map(Zeroizing::new)
        .map_err(|e| {
            let mut bytes = e.into_bytes();
            zeroize::Zeroize::zeroize(&mut bytes);
            Error::Invalid {
                object: Box::new(object.clone()),
                reason: "the decrypted document is not UTF-8 text".to_owned(),
            }
        })
}
