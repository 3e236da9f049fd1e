//! The last check before a document may be output: nothing encrypted or
//! sealed may reach `kubectl apply` by mistake. A document is refused when
//! it still carries a top-level `sops` block, any value in sops's
//! `ENC[AES256_GCM,...]` format, or (a Secret) a `data` or `stringData`
//! value that is a whole SOPS document. Documents opted out by annotation
//! are not checked: they were asked to pass as they are.
//!
//! Two walkers, one per form a document is held in: JSON for documents
//! passed through, the coffer-sops tree for documents decrypted here (so
//! plaintext is never copied into a non-zeroizing form to be checked).

use coffer_sops::{Branch, Value, is_encrypted_value};

use crate::error::Violation;
use crate::sniff;

/// Whether a Secret value is a SOPS document (base64 for `data`).
fn holds_sops(field: &'static str, text: &str) -> bool {
    if field == "data" {
        crate::secret_data::decode(text).is_some_and(|bytes| sniff::sops_format(&bytes).is_some())
    } else {
        sniff::sops_format(text.as_bytes()).is_some()
    }
}

/// Checks a document in its JSON form.
pub(crate) fn check_json(value: &serde_json::Value) -> Option<Violation> {
    if value.get("sops").is_some_and(serde_json::Value::is_object) {
        return Some(Violation::SopsBlock);
    }
    if value.get("kind").and_then(serde_json::Value::as_str) == Some("Secret") {
        for field in ["data", "stringData"] {
            let entries = value.get(field).and_then(serde_json::Value::as_object);
            for (key, v) in entries.into_iter().flatten() {
                if v.as_str().is_some_and(|t| holds_sops(field, t)) {
                    return Some(Violation::EncryptedData {
                        field,
                        key: key.clone(),
                    });
                }
            }
        }
    }
    let mut path = Vec::new();
    json_enc(value, &mut path).then(|| Violation::EncryptedValue {
        path: path.join("."),
    })
}

fn json_enc(value: &serde_json::Value, path: &mut Vec<String>) -> bool {
    match value {
        serde_json::Value::String(s) => is_encrypted_value(s),
        serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, v)| {
            path.push(i.to_string());
            let found = json_enc(v, path);
            if !found {
                path.pop();
            }
            found
        }),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
            path.push(k.clone());
            let found = json_enc(v, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    }
}

/// Checks a decrypted document in its tree form.
pub(crate) fn check_tree(tree: &Branch) -> Option<Violation> {
    if matches!(crate::tree::get(tree, "sops"), Some(Value::Map(_))) {
        return Some(Violation::SopsBlock);
    }
    if crate::tree::get_str(tree, &["kind"]) == Some("Secret") {
        for field in ["data", "stringData"] {
            let Some(Value::Map(entries)) = crate::tree::get(tree, field) else {
                continue;
            };
            for item in entries {
                if let (Some(key), Value::Str(text)) = (item.name(), &item.value)
                    && holds_sops(field, text)
                {
                    return Some(Violation::EncryptedData {
                        field,
                        key: key.to_owned(),
                    });
                }
            }
        }
    }
    let mut path = Vec::new();
    branch_enc(tree, &mut path).then(|| Violation::EncryptedValue {
        path: path.join("."),
    })
}

fn branch_enc(branch: &Branch, path: &mut Vec<String>) -> bool {
    branch.iter().any(|item| {
        let Some(name) = item.name() else {
            return false;
        };
        path.push(name.to_owned());
        let found = value_enc(&item.value, path);
        if !found {
            path.pop();
        }
        found
    })
}

fn value_enc(value: &Value, path: &mut Vec<String>) -> bool {
    match value {
        Value::Str(s) => is_encrypted_value(s),
        Value::Map(b) => branch_enc(b, path),
        Value::Seq(items) => items.iter().enumerate().any(|(i, v)| {
            path.push(i.to_string());
            let found = value_enc(v, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    const ENC: &str = "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]";

    #[test]
    fn encrypted_leftovers_are_found_and_located() {
        let v = serde_json::json!({"kind": "ConfigMap", "data": {"a": "x", "b": [1, ENC]}});
        assert_eq!(
            check_json(&v),
            Some(Violation::EncryptedValue {
                path: "data.b.1".into()
            })
        );
        let v = serde_json::json!({"kind": "X", "sops": {"mac": ENC}});
        assert_eq!(check_json(&v), Some(Violation::SopsBlock));
        let doc = format!("a: {ENC}\nsops:\n    mac: {ENC}\n");
        let v = serde_json::json!({"kind": "Secret", "data": {"f.yaml": STANDARD.encode(&doc)}});
        assert_eq!(
            check_json(&v),
            Some(Violation::EncryptedData {
                field: "data",
                key: "f.yaml".into()
            })
        );
        // Wrapped as kustomize writes long generated values.
        let encoded = STANDARD.encode(&doc);
        let wrapped: Vec<String> = encoded
            .as_bytes()
            .chunks(70)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        let v =
            serde_json::json!({"kind": "Secret", "data": {"f.yaml": wrapped.join("\n") + "\n"}});
        assert!(
            check_json(&v).is_some(),
            "a line-wrapped value is decoded as Go does"
        );
        let clean = serde_json::json!({"kind": "Secret", "data": {"a": STANDARD.encode("x")}});
        assert_eq!(check_json(&clean), None);
        let tree = match crate::tree::from_json(&v) {
            Value::Map(b) => b,
            _ => unreachable!(),
        };
        assert!(check_tree(&tree).is_some());
    }
}
