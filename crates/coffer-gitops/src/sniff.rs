//! Recognising a SOPS document inside a Secret value or a file, and which
//! format it is in, by its structure rather than by markers shared between
//! formats: Flux looks for marker bytes, and sops's binary envelope and a
//! JSON file share theirs (`"mac": "ENC[`), so which format Flux picked
//! depended on map iteration order (fluxcd/kustomize-controller#421).
//!
//! Every SOPS document carries its MAC as an `ENC[AES256_GCM,...]` value,
//! so bytes without one are not a SOPS document. Otherwise: text starting
//! with `{` is JSON (sops's binary envelope is JSON too, told apart after
//! decryption by its shape: a lone `data` string); a line starting with
//! `sops_mac=` is dotenv; a `[sops]` section is INI; anything else is YAML.
//! The format is then confirmed by reading the document in it.

use coffer_sops::{Branch, Format, Value};

/// The marker every encrypted SOPS value, the MAC included, starts with.
pub(crate) const ENC_MARKER: &[u8] = b"ENC[AES256_GCM,";

/// The format of the SOPS document in `bytes`, or `None` when `bytes`
/// cannot be one (no encrypted value, or not UTF-8).
pub(crate) fn sops_format(bytes: &[u8]) -> Option<Format> {
    if !contains(bytes, ENC_MARKER) {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    if text.trim_start().starts_with('{') {
        return Some(Format::Json);
    }
    if text.lines().any(|l| l.starts_with("sops_mac=")) {
        return Some(Format::Dotenv);
    }
    if text.lines().any(|l| l.trim() == "[sops]") {
        return Some(Format::Ini);
    }
    Some(Format::Yaml)
}

/// Whether `haystack` contains `needle`.
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether decrypted documents are sops's binary envelope: one document
/// whose only entry is a `data` string (what `sops -e` makes of a file of
/// unknown type). Such a document's plaintext is the bytes of `data`.
pub(crate) fn is_binary_envelope(input: Format, docs: &[Branch]) -> bool {
    let [doc] = docs else { return false };
    let mut named = doc.iter().filter(|i| i.name().is_some());
    input == Format::Json
        && matches!(
            (named.next(), named.next()),
            (Some(item), None)
                if item.name() == Some("data")
                    && matches!(item.value, Value::Str(_) | Value::Bytes(_))
        )
}

/// The plaintext format a Secret data key or a generated file's name asks
/// for: `.yaml`/`.yml`, `.json`, `.env`, `.ini`, a name ending in
/// `.dockerconfigjson` as JSON (Flux's `formatForPath`), anything else
/// binary.
pub(crate) fn format_for_name(name: &str) -> Format {
    if name.ends_with(".dockerconfigjson") {
        return Format::Json;
    }
    Format::from_path(std::path::Path::new(name))
}

/// The input format a report names: `Binary` for a file written out as its
/// bytes (a binary envelope is a structured document only on the wire).
pub(crate) fn reported_input(input: Format, output: Format) -> Format {
    if output == Format::Binary {
        Format::Binary
    } else {
        input
    }
}

/// The format to write a decrypted document in: its bytes for a binary
/// envelope; otherwise what the name asks for, except that a structured
/// document under a name asking for binary keeps its own format (sops
/// cannot write a structured document as binary).
pub(crate) fn output_format(input: Format, docs: &[Branch], name: &str) -> Format {
    if is_binary_envelope(input, docs) {
        return Format::Binary;
    }
    match format_for_name(name) {
        Format::Binary => input,
        wanted => wanted,
    }
}

#[cfg(test)]
mod tests {
    use coffer_sops::Item;

    use super::*;

    #[test]
    fn formats_are_recognised_by_structure() {
        let enc = "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]";
        assert_eq!(sops_format(b"plain: text"), None);
        assert_eq!(
            sops_format(format!("{{\n\t\"data\": \"{enc}\"\n}}").as_bytes()),
            Some(Format::Json)
        );
        assert_eq!(
            sops_format(format!("A={enc}\nsops_mac={enc}\n").as_bytes()),
            Some(Format::Dotenv)
        );
        assert_eq!(
            sops_format(format!("[s]\na = {enc}\n[sops]\nmac = {enc}\n").as_bytes()),
            Some(Format::Ini)
        );
        assert_eq!(
            sops_format(format!("a: {enc}\nsops:\n    mac: {enc}\n").as_bytes()),
            Some(Format::Yaml)
        );
    }

    #[test]
    fn binary_envelope_and_json_file_are_told_apart_by_shape() {
        let envelope = vec![vec![Item::new("data", Value::Str("raw".into()))]];
        let json = vec![vec![
            Item::new("data", Value::Str("x".into())),
            Item::new("other", Value::Int(1)),
        ]];
        assert_eq!(
            output_format(Format::Json, &envelope, "creds.json"),
            Format::Binary
        );
        assert_eq!(
            output_format(Format::Json, &json, "creds.json"),
            Format::Json
        );
        assert_eq!(output_format(Format::Json, &json, "creds"), Format::Json);
        assert_eq!(
            output_format(Format::Yaml, &json, "app.env"),
            Format::Dotenv
        );
        assert_eq!(
            output_format(Format::Yaml, &json, ".dockerconfigjson"),
            Format::Json
        );
        assert_eq!(output_format(Format::Yaml, &json, "a.YML"), Format::Yaml);
    }
}
