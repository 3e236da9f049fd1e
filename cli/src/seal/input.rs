//! Parsing the manifests `coffer seal` reads: a stream of JSON objects or a
//! multi-document YAML file (matches kubeseal's `YAMLOrJSONDecoder`), into
//! typed Secrets and SealedSecrets.
//!
//! Errors name the source and the document (1-based), and never quote the
//! input: serde's messages can contain the offending value ("invalid type:
//! string \"hunter2\""), so quoted text is replaced before it is shown.

use anyhow::{Result, anyhow, bail};
use coffer_api::SealedSecret;
use k8s_openapi::api::core::v1::Secret;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One parsed document and where it came from.
pub struct Document {
    /// 1-based position among the non-empty documents of the source.
    pub index: usize,
    /// The document as JSON.
    pub value: Value,
}

fn utf8<'a>(bytes: &'a [u8], source: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "{source} is not UTF-8 (invalid byte at offset {}); Secrets must be JSON or YAML",
            e.valid_up_to()
        )
    })
}

fn is_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    // No source snippets in errors: they would print the input's lines.
    options.with_snippet = false;
    options
}

/// The YAML documents of `text` as `T`, one result per non-null document.
fn yaml_stream<T: DeserializeOwned>(text: &str) -> Vec<Result<T, serde_saphyr::Error>> {
    let mut reader = text.as_bytes();
    serde_saphyr::read_with_options::<_, T>(&mut reader, yaml_options()).collect()
}

/// Splits `bytes` (JSON objects one after another, or YAML documents) into
/// documents, skipping empty ones as kubeseal does.
pub fn parse_documents(bytes: &[u8], source: &str) -> Result<Vec<Document>> {
    let text = utf8(bytes, source)?;
    let values: Vec<Value> = if is_json(text) {
        serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow!("{source} is not valid JSON: {}", redact(&e.to_string())))?
    } else {
        yaml_stream::<Value>(text)
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.map_err(|e| {
                    anyhow!(
                        "{source} is not valid YAML (document {}): {}",
                        i + 1,
                        redact(&e.to_string())
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(i, value)| Document {
            index: i + 1,
            value,
        })
        .filter(|d| !is_empty(&d.value))
        .collect())
}

/// Reads every `kind` object in `bytes`. YAML documents are deserialized
/// straight into `T`, so a scalar such as `n` or `on` stays a string where
/// the field is a string (as kubectl's YAML reading does), rather than
/// going through an untyped YAML 1.1 boolean.
pub fn parse_typed<T: DeserializeOwned>(bytes: &[u8], source: &str, kind: &str) -> Result<Vec<T>> {
    let documents = parse_documents(bytes, source)?;
    let text = utf8(bytes, source)?;
    if is_json(text) {
        return documents
            .into_iter()
            .map(|doc| typed::<T>(doc, kind, source))
            .collect();
    }
    let mut typed_docs = yaml_stream::<T>(text);
    let mut out = Vec::with_capacity(documents.len());
    for doc in documents {
        check_kind(&doc, kind, source)?;
        let slot = typed_docs
            .get_mut(doc.index - 1)
            .ok_or_else(|| anyhow!("document {} of {source} could not be read", doc.index))?;
        let parsed = std::mem::replace(slot, Err(serde::de::Error::custom("taken")));
        out.push(parsed.map_err(|e| {
            anyhow!(
                "document {} of {source} is not a valid {kind}: {}",
                doc.index,
                redact(&e.to_string())
            )
        })?);
    }
    Ok(out)
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// The `kind` of a document, if it names one.
pub fn kind_of(value: &Value) -> Option<&str> {
    value.get("kind").and_then(Value::as_str)
}

/// Refuses a document of another `kind`, or one that is not an object.
fn check_kind(doc: &Document, kind: &str, source: &str) -> Result<()> {
    let index = doc.index;
    match kind_of(&doc.value) {
        Some(k) if k != kind => {
            bail!("document {index} of {source} is a {k}, not a {kind}")
        }
        _ => {}
    }
    if !doc.value.is_object() {
        bail!("document {index} of {source} is not an object, so not a {kind}");
    }
    Ok(())
}

/// Converts one document to `T`, refusing a document of another `kind`.
pub fn typed<T: DeserializeOwned>(doc: Document, kind: &str, source: &str) -> Result<T> {
    check_kind(&doc, kind, source)?;
    let index = doc.index;
    serde_json::from_value(doc.value).map_err(|e| {
        anyhow!(
            "document {index} of {source} is not a valid {kind}: {}",
            redact(&e.to_string())
        )
    })
}

/// Reads every Secret in `bytes`.
pub fn parse_secrets(bytes: &[u8], source: &str) -> Result<Vec<Secret>> {
    parse_typed(bytes, source, "Secret")
}

/// Reads every SealedSecret in `bytes`.
pub fn parse_sealed_secrets(bytes: &[u8], source: &str) -> Result<Vec<SealedSecret>> {
    let sealed: Vec<SealedSecret> = parse_typed(bytes, source, "SealedSecret")?;
    if sealed.is_empty() {
        bail!("no SealedSecret found in {source}");
    }
    Ok(sealed)
}

/// Reads exactly one SealedSecret from `bytes`.
pub fn parse_one_sealed_secret(bytes: &[u8], source: &str) -> Result<SealedSecret> {
    let mut all = parse_sealed_secrets(bytes, source)?;
    if all.len() > 1 {
        bail!(
            "{source} holds {} documents; expected one SealedSecret",
            all.len()
        );
    }
    Ok(all.remove(0))
}

/// Replaces the contents of every double-quoted span in a parser message
/// with `…`, so a message can be shown without the value it complains
/// about. Unterminated quotes hide the rest of the message.
pub fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if inside {
                out.push('…');
            }
            inside = !inside;
            out.push(c);
        } else if !inside {
            out.push(c);
        }
    }
    if inside {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_documents_are_split_and_empty_ones_skipped() {
        let docs = parse_documents(b"---\na: 1\n---\n---\nb: 2\n", "in").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].index, 2);
        assert_eq!(docs[1].value["b"], 2);
    }

    #[test]
    fn concatenated_json_objects_are_documents() {
        let docs = parse_documents(b"{\"a\":1}\n{\"b\":2} {}", "in").unwrap();
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn a_document_of_another_kind_is_named_in_the_error() {
        let err = parse_secrets(
            b"kind: Secret\nmetadata: {name: a}\n---\nkind: ConfigMap\n",
            "x.yaml",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "document 2 of x.yaml is a ConfigMap, not a Secret"
        );
    }

    #[test]
    fn type_errors_do_not_quote_the_value() {
        let err =
            parse_secrets(b"kind: Secret\nstringData: hunter2-topsecret\n", "s.yaml").unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("document 1 of s.yaml is not a valid Secret"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn yaml_syntax_errors_do_not_show_the_input() {
        let err = parse_secrets(
            b"kind: Secret\nstringData:\n  a: \"hunter2-topsecret\n  b: [",
            "s.yaml",
        )
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("s.yaml is not valid YAML"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn yaml_one_one_booleans_stay_strings_where_strings_are_expected() {
        let secrets = parse_secrets(
            b"kind: Secret\nmetadata: {name: y, namespace: n}\nstringData: {a: on}\n",
            "s",
        )
        .unwrap();
        assert_eq!(secrets[0].metadata.namespace.as_deref(), Some("n"));
        assert_eq!(secrets[0].string_data.as_ref().unwrap()["a"], "on");
    }

    #[test]
    fn redaction_keeps_the_structure_of_the_message() {
        assert_eq!(
            redact("invalid type: string \"abc\", expected a map"),
            "invalid type: string \"…\", expected a map"
        );
        assert_eq!(redact("open \"abc"), "open \"…");
    }
}
