//! Secret `data` values that are base64 SOPS documents (what a kustomize
//! `secretGenerator` makes of an encrypted file), decrypted in place as
//! kustomize-controller does: the input format recognised by structure
//! (`sniff`), the output format following the data key's name. A value
//! that is not base64 is left for the API server to refuse, as Flux does.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coffer_sops::{Branch, MacCheck, Value};
use zeroize::{Zeroize, Zeroizing};

use crate::object::ObjectRef;
use crate::process::Ctx;
use crate::report::{DataKeyReport, Warning};
use crate::sops_resource::{mac_warning, sops_error};
use crate::{Result, sniff};

/// Whether a document (JSON form) is a Secret with a `data` value that
/// holds a SOPS document.
pub(crate) fn has_sops_data(value: &serde_json::Value) -> bool {
    value.get("kind").and_then(serde_json::Value::as_str) == Some("Secret")
        && value
            .get("data")
            .and_then(serde_json::Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(_, v)| v.as_str())
            .any(|text| decode(text).is_some_and(|b| sniff::sops_format(&b).is_some()))
}

/// A `data` value's bytes, decoded as the API server does: Go's
/// `encoding/base64` skips `\r` and `\n` anywhere, and kustomize writes a
/// long generated value as a literal block wrapped every 70 characters.
pub(crate) fn decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    if text.contains(['\r', '\n']) {
        let joined: Zeroizing<String> =
            Zeroizing::new(text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect());
        return STANDARD.decode(joined.as_str()).ok().map(Zeroizing::new);
    }
    STANDARD.decode(text).ok().map(Zeroizing::new)
}

/// Decrypts in place every `data` value of a Secret tree that holds a
/// SOPS document; returns one report per value decrypted.
pub(crate) fn decrypt_data(
    ctx: &Ctx<'_>,
    tree: &mut Branch,
    object: &ObjectRef,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<DataKeyReport>> {
    let mut reports = Vec::new();
    let Some(entries) = crate::tree::get_map_mut(tree, "data") else {
        return Ok(reports);
    };
    for item in entries.iter_mut() {
        let (Some(key), Value::Str(text)) = (item.name().map(str::to_owned), &mut item.value)
        else {
            continue;
        };
        let Some(bytes) = decode(text) else { continue };
        let Some(input) = sniff::sops_format(&bytes) else {
            continue;
        };
        let mut opened = coffer_sops::open_to_read(&bytes, input, ctx.keys, ctx.options.mac)
            .map_err(|e| sops_error(e, object, Some(&key)))?;
        let output = sniff::output_format(input, &opened.docs, &key);
        let plaintext = opened.emit(output);
        coffer_sops::zeroize_tree(&mut opened.docs);
        let plaintext = plaintext.map_err(|e| sops_error(e, object, Some(&key)))?;
        let mut encoded = STANDARD.encode(&plaintext[..]);
        std::mem::swap(text, &mut encoded);
        encoded.zeroize();
        if opened.mac == MacCheck::Mismatch {
            warnings.push(mac_warning(object, Some(&key)));
        }
        let input = if output == coffer_sops::Format::Binary {
            coffer_sops::Format::Binary
        } else {
            input
        };
        reports.push(DataKeyReport {
            key,
            input,
            output,
            recipients: std::mem::take(&mut opened.recipients),
            mac: opened.mac,
        });
    }
    Ok(reports)
}
