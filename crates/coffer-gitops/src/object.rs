//! Naming a document in reports, warnings and errors: where it came from
//! (input and 1-based document index) and, when known, its kind, namespace
//! and name. Fields still encrypted (`ENC[...]`) are left out.

use std::fmt;

use coffer_sops::is_encrypted_value;
use serde_json::Value;

/// A document of the input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectRef {
    /// The input's name (a file name, "standard input", ...).
    pub source: String,
    /// 1-based position among the input's non-empty documents.
    pub index: usize,
    /// `apiVersion`, when readable.
    pub api_version: Option<String>,
    /// `kind`, when readable.
    pub kind: Option<String>,
    /// `metadata.namespace`, when set and readable.
    pub namespace: Option<String>,
    /// `metadata.name`, when readable.
    pub name: Option<String>,
}

fn clear(text: Option<&str>) -> Option<String> {
    text.filter(|t| !is_encrypted_value(t)).map(str::to_owned)
}

impl ObjectRef {
    /// The document `index` of `source`, named from its JSON form.
    pub(crate) fn from_json(value: &Value, source: &str, index: usize) -> ObjectRef {
        let text = |v: Option<&Value>| clear(v.and_then(Value::as_str));
        let metadata = value.get("metadata");
        ObjectRef {
            source: source.to_owned(),
            index,
            api_version: text(value.get("apiVersion")),
            kind: text(value.get("kind")),
            namespace: text(metadata.and_then(|m| m.get("namespace"))),
            name: text(metadata.and_then(|m| m.get("name"))),
        }
    }

    /// The same document, named from its decrypted tree (where kind and
    /// name may have been encrypted).
    pub(crate) fn refresh(&mut self, tree: &coffer_sops::Branch) {
        let text = |path: &[&str]| clear(crate::tree::get_str(tree, path));
        self.api_version = text(&["apiVersion"]);
        self.kind = text(&["kind"]);
        self.namespace = text(&["metadata", "namespace"]);
        self.name = text(&["metadata", "name"]);
    }

    /// `Kind namespace/name` as far as known.
    fn object(&self) -> Option<String> {
        let name = match (&self.namespace, &self.name) {
            (Some(ns), Some(n)) => Some(format!("{ns}/{n}")),
            (None, Some(n)) => Some(n.clone()),
            _ => None,
        };
        match (&self.kind, name) {
            (Some(k), Some(n)) => Some(format!("{k} {n}")),
            (Some(k), None) => Some(k.clone()),
            (None, Some(n)) => Some(n),
            (None, None) => None,
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.object() {
            Some(object) => write!(f, "{object} (document {} of {})", self.index, self.source),
            None => write!(f, "document {} of {}", self.index, self.source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_kind_namespace_name_and_place() {
        let v = serde_json::json!({"kind": "Secret", "metadata": {"name": "a", "namespace": "n"}});
        assert_eq!(
            ObjectRef::from_json(&v, "build.yaml", 3).to_string(),
            "Secret n/a (document 3 of build.yaml)"
        );
        let encrypted = serde_json::json!({"kind": "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]"});
        assert_eq!(
            ObjectRef::from_json(&encrypted, "in", 1).to_string(),
            "document 1 of in"
        );
    }
}
