//! Parsed documents and typed reading: checking a document's `kind`,
//! converting it to a Kubernetes type, unpacking `v1.List`s, and redacting
//! parser messages.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::split::{Format, split};
use crate::{Error, Limits, Result};

/// One parsed, non-empty document and where it came from.
#[derive(Clone, Debug)]
pub struct Document<'a> {
    /// 1-based position among the stream's non-empty documents.
    pub index: usize,
    /// The stream's format.
    pub format: Format,
    /// The document's original text (for a `List` item: the List's).
    pub text: &'a str,
    /// The document as JSON.
    pub value: Value,
}

pub(crate) fn is_empty(value: &Value) -> bool {
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
fn check_kind(doc: &Document<'_>, kind: &str, input: &str) -> Result<()> {
    if let Some(found) = kind_of(&doc.value).filter(|k| *k != kind) {
        return Err(Error::WrongKind {
            input: input.to_owned(),
            index: doc.index,
            found: found.to_owned(),
            expected: kind.to_owned(),
        });
    }
    if !doc.value.is_object() {
        return Err(Error::NotObject {
            input: input.to_owned(),
            index: doc.index,
            expected: kind.to_owned(),
        });
    }
    Ok(())
}

/// Converts one document to `T`, refusing a document of another `kind`.
pub fn typed<T: DeserializeOwned>(doc: Document<'_>, kind: &str, input: &str) -> Result<T> {
    check_kind(&doc, kind, input)?;
    let index = doc.index;
    serde_json::from_value(doc.value).map_err(|e| Error::Invalid {
        input: input.to_owned(),
        index,
        kind: kind.to_owned(),
        reason: redact(&e.to_string()),
    })
}

/// Reads every `kind` object in `bytes`. YAML documents are deserialized
/// straight into `T`, so a scalar such as `n` or `on` stays a string where
/// the field is a string (as kubectl's YAML reading does), rather than
/// going through an untyped YAML 1.1 boolean.
pub fn parse_typed<T: DeserializeOwned>(bytes: &[u8], input: &str, kind: &str) -> Result<Vec<T>> {
    let limits = Limits::default();
    let mut out = Vec::new();
    for raw in split(bytes, input, &limits)? {
        let value = raw.parse(input, &limits)?;
        if is_empty(&value) {
            continue;
        }
        let doc = Document {
            index: raw.index,
            format: raw.format,
            text: raw.text,
            value,
        };
        if raw.format == Format::Json {
            out.push(typed(doc, kind, input)?);
            continue;
        }
        check_kind(&doc, kind, input)?;
        out.push(raw.parse_yaml::<T>(input, &limits).map_err(|e| match e {
            Error::Yaml { reason, .. } => Error::Invalid {
                input: input.to_owned(),
                index: raw.index,
                kind: kind.to_owned(),
                reason,
            },
            other => other,
        })?);
    }
    Ok(out)
}

/// The documents a document stands for: the items of a `v1.List` (as
/// `kubectl get -o yaml` prints several objects), each numbered like the
/// List, or the document itself.
pub fn expand_list<'a>(doc: Document<'a>, input: &str) -> Result<Vec<Document<'a>>> {
    if kind_of(&doc.value) != Some("List") {
        return Ok(vec![doc]);
    }
    let Document {
        index,
        format,
        text,
        mut value,
    } = doc;
    match value.get_mut("items").map(Value::take) {
        Some(Value::Array(items)) => Ok(items
            .into_iter()
            .map(|value| Document {
                index,
                format,
                text,
                value,
            })
            .collect()),
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(_) => Err(Error::ListItems {
            input: input.to_owned(),
            index,
        }),
    }
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
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::parse_documents;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Secret {
        metadata: Option<BTreeMap<String, String>>,
        string_data: Option<BTreeMap<String, String>>,
    }

    #[test]
    fn yaml_documents_are_split_and_empty_ones_skipped() {
        let docs = parse_documents(b"---\na: 1\n---\n---\nb: 2\n", "in").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].index, 2);
        assert_eq!(docs[1].value["b"], 2);
        assert_eq!(docs[1].text, "b: 2\n");
    }

    #[test]
    fn concatenated_json_objects_are_documents() {
        let docs = parse_documents(b"{\"a\":1}\n{\"b\":2} {}", "in").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].text, "{\"b\":2}");
    }

    #[test]
    fn a_document_of_another_kind_is_named_in_the_error() {
        let err = parse_typed::<Secret>(
            b"kind: Secret\nmetadata: {name: a}\n---\nkind: ConfigMap\n",
            "x.yaml",
            "Secret",
        )
        .err()
        .unwrap();
        assert_eq!(
            err.to_string(),
            "document 2 of x.yaml is a ConfigMap, not a Secret"
        );
    }

    #[test]
    fn type_errors_do_not_quote_the_value() {
        let err = parse_typed::<Secret>(
            b"kind: Secret\nstringData: hunter2-topsecret\n",
            "s.yaml",
            "Secret",
        )
        .err()
        .unwrap();
        let text = err.to_string();
        assert!(
            text.contains("document 1 of s.yaml is not a valid Secret"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn yaml_syntax_errors_do_not_show_the_input() {
        let err = parse_documents(
            b"kind: Secret\nstringData:\n  a: \"hunter2-topsecret\n  b: [",
            "s.yaml",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("s.yaml is not valid YAML"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn yaml_one_one_booleans_stay_strings_where_strings_are_expected() {
        let secrets = parse_typed::<Secret>(
            b"kind: Secret\nmetadata: {name: y, namespace: n}\nstringData: {a: on}\n",
            "s",
            "Secret",
        )
        .unwrap();
        assert_eq!(secrets[0].metadata.as_ref().unwrap()["namespace"], "n");
        assert_eq!(secrets[0].string_data.as_ref().unwrap()["a"], "on");
    }

    #[test]
    fn lists_expand_into_their_items() {
        let mut docs = parse_documents(
            b"apiVersion: v1\nkind: List\nitems:\n- {kind: Secret}\n- {kind: Secret}\n",
            "l",
        )
        .unwrap();
        let items = expand_list(docs.remove(0), "l").unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].index, 1);
        let bad = parse_documents(b"kind: List\nitems: 3\n", "l").unwrap();
        assert_eq!(
            expand_list(bad[0].clone(), "l").unwrap_err().to_string(),
            "document 1 of l: the List's items are not an array"
        );
    }

    #[test]
    fn deep_yaml_is_refused_by_the_budget() {
        let deep = "a:\n".to_string()
            + &(1..200)
                .map(|i| format!("{}a:\n", "  ".repeat(i)))
                .collect::<String>()
            + &"  ".repeat(200)
            + "b: 1\n";
        let err = parse_documents(deep.as_bytes(), "deep").unwrap_err();
        assert!(matches!(err, Error::Yaml { .. }), "{err}");
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
