//! The KV engine as ESO sees it: how a `remoteRef.key` becomes an API path,
//! how a read's JSON becomes the bytes of a Secret value, and how a
//! `property` selects inside it. Pure functions, no I/O.
//!
//! Values follow ESO's Go encoding: the whole secret and nested objects are
//! `json.Marshal`led (keys sorted, `<`, `>` and `&` escaped as `\u003c`...),
//! strings are returned raw, numbers as written.

use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

use super::KvVersion;

/// A secret's data (or metadata) as read; its strings are wiped on drop.
#[derive(Default)]
pub(super) struct SecretData(pub Map<String, Value>);

impl std::fmt::Debug for SecretData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretData({} keys)", self.0.len())
    }
}

impl Drop for SecretData {
    fn drop(&mut self) {
        fn wipe(value: &mut Value) {
            match value {
                Value::String(s) => s.zeroize(),
                Value::Array(items) => items.iter_mut().for_each(wipe),
                Value::Object(map) => map.values_mut().for_each(wipe),
                _ => {}
            }
        }
        self.0.values_mut().for_each(wipe);
    }
}

/// Where a store's keys live.
#[derive(Debug, Clone)]
pub(super) struct Paths {
    /// The store's `path` (KV mount), slashes trimmed.
    pub mount: Option<String>,
    /// KV version.
    pub version: KvVersion,
}

impl Paths {
    /// The read path of `key`; matches ESO's `buildPath`: with a mount, a
    /// key that already starts with it (and `data/` on v2) is not prefixed
    /// twice; without one, the key's first segment is the mount and v2
    /// inserts `data` after it unless the key already holds `/data/`.
    pub fn data_path(&self, key: &str) -> Result<String, String> {
        check_key(key)?;
        match (&self.mount, self.version) {
            (Some(mount), KvVersion::V2) => Ok(format!("{mount}/data/{}", self.relative(key))),
            (Some(mount), KvVersion::V1) => Ok(format!("{mount}/{}", self.relative(key))),
            (None, KvVersion::V1) => Ok(key.to_owned()),
            (None, KvVersion::V2) if key.contains("/data/") => Ok(key.to_owned()),
            (None, KvVersion::V2) => {
                let (mount, rest) = split_mount(key)?;
                Ok(format!("{mount}/data/{rest}"))
            }
        }
    }

    /// The KV v2 metadata path of `key` (custom metadata, LIST). Matches
    /// ESO's `buildMetadataPath`, except that without a store path ESO
    /// insists on a key holding `data`; we insert `metadata` after the
    /// mount segment as [`Paths::data_path`] inserts `data`.
    pub fn metadata_path(&self, key: &str) -> Result<String, String> {
        match (&self.mount, self.version) {
            (_, KvVersion::V1) => {
                Err("metadata (custom_metadata, tags) needs KV version v2".to_owned())
            }
            (Some(mount), KvVersion::V2) => Ok(format!("{mount}/metadata/{}", self.relative(key))),
            (None, KvVersion::V2) if key.contains("/data/") => {
                Ok(key.replacen("/data/", "/metadata/", 1))
            }
            (None, KvVersion::V2) => {
                let (mount, rest) = split_mount(key)?;
                Ok(format!("{mount}/metadata/{rest}"))
            }
        }
    }

    /// The LIST path of a folder (`""` or ending in `/`): the metadata
    /// path on v2, the plain path on v1.
    pub fn list_path(&self, folder: &str) -> Result<String, String> {
        match (&self.mount, self.version) {
            (_, KvVersion::V2) => self.metadata_path(folder),
            (Some(mount), KvVersion::V1) => Ok(format!("{mount}/{}", self.relative(folder))),
            (None, KvVersion::V1) if folder.contains('/') => Ok(folder.to_owned()),
            (None, KvVersion::V1) => Err(
                "find needs a path starting with the KV mount, as the store has no path".to_owned(),
            ),
        }
    }

    /// `key` without a leading `<mount>/` (and `data/` on v2): ESO accepts
    /// keys written either way.
    fn relative<'k>(&self, key: &'k str) -> &'k str {
        let Some(mount) = &self.mount else {
            return key;
        };
        let Some(rest) = key
            .strip_prefix(mount.as_str())
            .and_then(|r| r.strip_prefix('/'))
        else {
            return key;
        };
        match self.version {
            KvVersion::V2 => rest.strip_prefix("data/").unwrap_or(rest),
            KvVersion::V1 => rest,
        }
    }
}

fn check_key(key: &str) -> Result<(), String> {
    if key.trim_matches('/').is_empty() {
        return Err("the remote key is empty".to_owned());
    }
    Ok(())
}

fn split_mount(key: &str) -> Result<(&str, &str), String> {
    match key.split_once('/') {
        Some((mount, rest)) if !mount.is_empty() => Ok((mount, rest)),
        _ => Err(format!(
            "key {key:?} must start with the KV mount (e.g. \"secret/{key}\"), as the store has no path"
        )),
    }
}

/// The value ESO's `GetSecret` returns for `property`: the whole data as
/// JSON when `None`; a top-level key when one is named exactly so (ESO
/// gives exact keys precedence); else a gjson-style path (`a.b`, `list.0`,
/// `a\.b` for a dot inside a key, `list.#` for a length). `None` when the
/// property does not exist.
pub(super) fn select(
    data: &Map<String, Value>,
    property: Option<&str>,
) -> Option<Zeroizing<Vec<u8>>> {
    let Some(property) = property else {
        return Some(go_json_map(data));
    };
    if let Some(value) = data.get(property) {
        return Some(byte_value(value));
    }
    let parts = path_parts(property);
    let last = parts.len() - 1;
    let mut node: Option<&Value> = None;
    for (i, part) in parts.iter().enumerate() {
        let next = match node {
            None => data.get(part),
            Some(Value::Object(map)) => map.get(part),
            Some(Value::Array(items)) if part == "#" && i == last => {
                return Some(Zeroizing::new(items.len().to_string().into_bytes()));
            }
            Some(Value::Array(items)) => part.parse::<usize>().ok().and_then(|n| items.get(n)),
            Some(_) => None,
        };
        node = Some(next?);
    }
    node.map(gjson_string)
}

/// Splits a gjson path on unescaped dots; `\x` is a literal `x`.
fn path_parts(path: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    part.push(n);
                }
            }
            '.' => parts.push(std::mem::take(&mut part)),
            c => part.push(c),
        }
    }
    parts.push(part);
    parts
}

/// ESO's `GetByteValue`: strings raw, objects and arrays as JSON, numbers
/// as written, booleans as `true`/`false`, null as empty.
pub(super) fn byte_value(value: &Value) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(match value {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Number(n) => n.to_string().into_bytes(),
        Value::Bool(b) => b.to_string().into_bytes(),
        Value::Null => Vec::new(),
        Value::Array(_) | Value::Object(_) => return go_json(value),
    })
}

/// gjson's `Result.String()`: like [`byte_value`], but a non-integer
/// number is formatted as a float (`1.50` → `1.5`).
fn gjson_string(value: &Value) -> Zeroizing<Vec<u8>> {
    match value {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => {
            Zeroizing::new(go_float(n.as_f64().unwrap_or_default()).into_bytes())
        }
        other => byte_value(other),
    }
}

/// ESO's `GetSecretMap` value encoding: the map came from `json.Unmarshal`
/// into `any`, so numbers are float64 printed with `FormatFloat('f', -1)`.
pub(super) fn map_value(value: &Value) -> Zeroizing<Vec<u8>> {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => byte_value(value),
        Value::Number(n) => Zeroizing::new(go_float(n.as_f64().unwrap_or_default()).into_bytes()),
        other => byte_value(other),
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`; Rust's `Display` for f64 is
/// the same shortest round-trip digits without an exponent.
fn go_float(f: f64) -> String {
    format!("{f}")
}

/// Go's `json.Marshal` of a map: compact, keys sorted (serde_json's map is
/// ordered), HTML characters and U+2028/U+2029 escaped.
pub(super) fn go_json_map(map: &Map<String, Value>) -> Zeroizing<Vec<u8>> {
    let plain = Zeroizing::new(serde_json::to_vec(map).unwrap_or_default());
    html_escape(&plain)
}

fn go_json(value: &Value) -> Zeroizing<Vec<u8>> {
    let plain = Zeroizing::new(serde_json::to_vec(value).unwrap_or_default());
    html_escape(&plain)
}

fn html_escape(json: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(json.len()));
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            0xE2 if json.get(i + 1) == Some(&0x80)
                && matches!(json.get(i + 2), Some(0xA8 | 0xA9)) =>
            {
                out.extend_from_slice(if json[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// ESO's metadata map: the system keys ESO copies (`created_time`,
/// `current_version`, `delete_version_after`) and `custom_metadata`, all as
/// strings (Go's `%v`).
pub(super) fn metadata_map(data: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for key in ["created_time", "current_version", "delete_version_after"] {
        match data.get(key) {
            Some(Value::Null) | None => {}
            Some(v) => {
                out.insert(key.to_owned(), Value::String(go_sprint(v)));
            }
        }
    }
    if let Some(Value::Object(custom)) = data.get("custom_metadata") {
        for (k, v) in custom {
            out.insert(k.clone(), Value::String(go_sprint(v)));
        }
    }
    out
}

fn go_sprint(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(mount: Option<&str>, version: KvVersion) -> Paths {
        Paths {
            mount: mount.map(str::to_owned),
            version,
        }
    }

    #[test]
    fn data_paths_match_eso_build_path() {
        use KvVersion::{V1, V2};
        let cases = [
            (Some("secret/path"), V2, "foo", "secret/path/data/foo"),
            (Some("secret/path"), V1, "foo", "secret/path/foo"),
            (
                Some("secret/path"),
                V2,
                "secret/path/foo",
                "secret/path/data/foo",
            ),
            (
                Some("secret/path"),
                V2,
                "secret/path/data/foo",
                "secret/path/data/foo",
            ),
            (
                Some("secret/path"),
                V1,
                "secret/path/foo",
                "secret/path/foo",
            ),
            (None, V2, "secret/path/foo", "secret/data/path/foo"),
            (None, V2, "secret/path/data/foo", "secret/path/data/foo"),
            (None, V1, "secret/path/foo", "secret/path/foo"),
        ];
        for (mount, version, key, want) in cases {
            assert_eq!(paths(mount, version).data_path(key).unwrap(), want, "{key}");
        }
    }

    #[test]
    fn metadata_and_list_paths_mirror_data_paths() {
        let v2 = paths(Some("secret"), KvVersion::V2);
        assert_eq!(
            v2.metadata_path("secret/data/a").unwrap(),
            "secret/metadata/a"
        );
        assert_eq!(v2.list_path("").unwrap(), "secret/metadata/");
        assert_eq!(v2.list_path("team/").unwrap(), "secret/metadata/team/");
        let bare = paths(None, KvVersion::V2);
        assert_eq!(bare.metadata_path("kv/a/b").unwrap(), "kv/metadata/a/b");
        assert_eq!(
            bare.metadata_path("kv/x/data/b").unwrap(),
            "kv/x/metadata/b"
        );
        assert!(
            paths(Some("kv1"), KvVersion::V1)
                .metadata_path("a")
                .is_err()
        );
        assert_eq!(
            paths(Some("kv1"), KvVersion::V1).list_path("d/").unwrap(),
            "kv1/d/"
        );
    }

    #[test]
    fn keys_without_a_mount_or_empty_are_rejected_with_a_reason() {
        let err = paths(None, KvVersion::V2).data_path("app").unwrap_err();
        assert!(err.contains("must start with the KV mount"), "{err}");
        assert!(paths(Some("secret"), KvVersion::V2).data_path("").is_err());
    }

    #[test]
    fn properties_select_like_eso() {
        let data = json!({
            "user": "admin",
            "port": 5432,
            "ratio": 1.50,
            "on": true,
            "none": null,
            "db": {"host": "h<1>", "tags": ["a", "b"]},
            "a.b": "dotted key",
        });
        let data = data.as_object().unwrap();
        let get = |p: &str| select(data, Some(p)).map(|v| String::from_utf8(v.to_vec()).unwrap());
        assert_eq!(get("user").as_deref(), Some("admin"));
        assert_eq!(get("port").as_deref(), Some("5432"));
        assert_eq!(get("ratio").as_deref(), Some("1.5"));
        assert_eq!(get("on").as_deref(), Some("true"));
        assert_eq!(get("none").as_deref(), Some(""));
        assert_eq!(
            get("db").as_deref(),
            Some(r#"{"host":"h\u003c1\u003e","tags":["a","b"]}"#)
        );
        assert_eq!(get("db.host").as_deref(), Some("h<1>"));
        assert_eq!(get("db.tags.1").as_deref(), Some("b"));
        assert_eq!(get("db.tags.#").as_deref(), Some("2"));
        assert_eq!(get("a.b").as_deref(), Some("dotted key"));
        assert_eq!(get("db.missing"), None);
        assert_eq!(get("user.x"), None);
        assert_eq!(get("db.tags.9"), None);
    }

    #[test]
    fn whole_secret_is_sorted_compact_go_json() {
        let data = json!({"b": "x&y", "a": 1, "c": "\u{2028}"});
        let bytes = select(data.as_object().unwrap(), None).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"a":1,"b":"x\u0026y","c":"\u2028"}"#
        );
    }

    #[test]
    fn metadata_map_keeps_system_keys_and_custom_metadata_as_strings() {
        let meta = json!({
            "created_time": "2024-01-01T00:00:00Z",
            "current_version": 3,
            "delete_version_after": "0s",
            "max_versions": 0,
            "custom_metadata": {"team": "a", "n": 2},
        });
        let map = metadata_map(meta.as_object().unwrap());
        assert_eq!(map["current_version"], "3");
        assert_eq!(map["team"], "a");
        assert_eq!(map["n"], "2");
        assert!(!map.contains_key("max_versions"));
    }
}
