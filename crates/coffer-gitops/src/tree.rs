//! Small helpers over coffer-sops document trees (the form decrypted
//! documents are read into and written from): looking values up by path and
//! building trees from JSON.

use coffer_sops::{Branch, Item, Value};

/// The value at `key` of a mapping.
pub(crate) fn get<'a>(branch: &'a Branch, key: &str) -> Option<&'a Value> {
    branch
        .iter()
        .find(|i| i.name() == Some(key))
        .map(|i| &i.value)
}

/// The mapping at `key` of a mapping, to change it.
pub(crate) fn get_map_mut<'a>(branch: &'a mut Branch, key: &str) -> Option<&'a mut Branch> {
    branch
        .iter_mut()
        .find(|i| i.name() == Some(key))
        .and_then(|i| match &mut i.value {
            Value::Map(b) => Some(b),
            _ => None,
        })
}

/// The string at `path` (mapping keys), if there is one.
pub(crate) fn get_str<'a>(branch: &'a Branch, path: &[&str]) -> Option<&'a str> {
    let (last, parents) = path.split_last()?;
    let mut current = branch;
    for key in parents {
        match get(current, key)? {
            Value::Map(b) => current = b,
            _ => return None,
        }
    }
    match get(current, last)? {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

/// A tree value from JSON (object keys in the map's order).
pub(crate) fn from_json(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => Value::Seq(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| Item::new(k.clone(), from_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_nested_strings_only() {
        let tree = match from_json(&serde_json::json!({"metadata": {"name": "a", "n": 1}})) {
            Value::Map(b) => b,
            _ => unreachable!(),
        };
        assert_eq!(get_str(&tree, &["metadata", "name"]), Some("a"));
        assert_eq!(get_str(&tree, &["metadata", "n"]), None);
        assert_eq!(get_str(&tree, &["kind"]), None);
    }
}
