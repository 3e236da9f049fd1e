//! How ESO reads inside an AWS secret's value: `remoteRef.property` is a
//! gjson path (`a.b.0`, `\.` for a literal dot), `dataFrom.extract` splits a
//! JSON object into its top-level keys, and `metadataPolicy: Fetch` sees the
//! secret's tags as a JSON object.
//!
//! We navigate the value with borrowed [`RawValue`]s, so JSON objects and
//! arrays come back exactly as written in the secret (gjson returns the raw
//! text too) and no copy of the value is made besides the one returned.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The value at `property` in `payload`, rendered as gjson's
/// `Result.String()` renders it (strings unquoted, integers as written,
/// other numbers in shortest decimal form, `null` as empty, objects and
/// arrays as written); `None` if there is no such value.
///
/// Matches ESO: a property containing dots is first tried as a single key
/// (ESO escapes every dot and asks gjson), then as a path.
pub(crate) fn select(payload: &[u8], property: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(payload).ok()?;
    let root: &RawValue = serde_json::from_str(text).ok()?;
    if property.contains('.') {
        let escaped = property.replace('.', "\\.");
        if let Some(found) = lookup(root, &parse_path(&escaped)) {
            return Some(render(found));
        }
    }
    lookup(root, &parse_path(property)).map(render)
}

/// Splits a gjson path at unescaped dots; `\` makes the next character
/// literal.
fn parse_path(path: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            '.' => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}

fn lookup<'a>(mut value: &'a RawValue, path: &[String]) -> Option<&'a RawValue> {
    for part in path {
        value = match value.get().trim_start().as_bytes().first()? {
            b'{' => {
                let FirstKeyWins(mut object) = serde_json::from_str(value.get()).ok()?;
                object.remove(part.as_str())?
            }
            // gjson indexes arrays with plain decimal numbers only.
            b'[' if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) => {
                let items: Vec<&RawValue> = serde_json::from_str(value.get()).ok()?;
                *items.get(part.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(value)
}

fn render(value: &RawValue) -> Vec<u8> {
    let text = value.get().trim();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text)
            .map(String::into_bytes)
            .unwrap_or_default(),
        Some(b'n') => Vec::new(),
        Some(b'{' | b'[' | b't' | b'f') => text.as_bytes().to_vec(),
        _ => render_number(text).into_bytes(),
    }
}

/// gjson keeps an integer's text and reformats any other number as Go's
/// `strconv.FormatFloat(n, 'f', -1, 64)`, which Rust's `Display` for `f64`
/// matches (shortest round-trip digits, never an exponent).
fn render_number(text: &str) -> String {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.to_owned();
    }
    text.parse::<f64>()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// A JSON object's members; the first of duplicate keys wins, as in gjson.
struct FirstKeyWins<'a>(HashMap<String, &'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstKeyWins<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = FirstKeyWins<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = HashMap::new();
                while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                    members.entry(key).or_insert(value);
                }
                Ok(FirstKeyWins(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// A JSON object's top-level keys, for `dataFrom.extract`: string values
/// unquoted, `null` as empty, anything else as written. `None` if the
/// payload is not a JSON object.
///
/// Matches ESO's `GetSecretMap` (Go's `json.Unmarshal` into
/// `map[string]json.RawMessage`, then each value as a string if it is one):
/// the last of duplicate keys wins and numbers keep their text.
pub(crate) fn top_level_map(payload: &[u8]) -> Option<BTreeMap<String, Vec<u8>>> {
    let text = std::str::from_utf8(payload).ok()?;
    let object: BTreeMap<String, &RawValue> = serde_json::from_str(text).ok()?;
    Some(
        object
            .into_iter()
            .map(|(key, value)| {
                let text = value.get();
                let bytes = match text.as_bytes().first() {
                    Some(b'"') => serde_json::from_str::<String>(text)
                        .map(String::into_bytes)
                        .unwrap_or_default(),
                    Some(b'n') => Vec::new(),
                    _ => text.as_bytes().to_vec(),
                };
                (key, bytes)
            })
            .collect(),
    )
}

/// A secret's tags as the JSON object ESO builds for `metadataPolicy:
/// Fetch`: Go's `json.Marshal` of a `map[string]string`, so keys are sorted,
/// the last of duplicate keys wins, and `<`, `>`, `&`, U+2028 and U+2029 are
/// escaped as Go escapes them.
pub(crate) fn tags_json<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let map: BTreeMap<&str, &str> = tags.into_iter().collect();
    let json = serde_json::to_string(&map).unwrap_or_else(|_| "{}".to_owned());
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            // These characters only occur inside JSON strings, where an
            // escape means the same character.
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(json: &str, property: &str) -> Option<String> {
        select(json.as_bytes(), property).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn a_top_level_string_property_is_returned_unquoted() {
        assert_eq!(get(r#"{"user":"admin"}"#, "user").as_deref(), Some("admin"));
        assert_eq!(get(r#"{"s":"a\"b\u00e9"}"#, "s").as_deref(), Some("a\"bé"));
    }

    #[test]
    fn dotted_paths_reach_nested_objects_and_array_items() {
        let json = r#"{"db":{"hosts":[{"name":"a"},{"name":"b"}],"port":5432}}"#;
        assert_eq!(get(json, "db.port").as_deref(), Some("5432"));
        assert_eq!(get(json, "db.hosts.1.name").as_deref(), Some("b"));
        assert_eq!(get(json, "db.hosts.2.name"), None);
        assert_eq!(get(json, "db.hosts.x"), None);
    }

    #[test]
    fn objects_and_arrays_are_returned_as_written() {
        let json = r#"{"a": {"x" : 1,  "y":[1, 2]}}"#;
        assert_eq!(get(json, "a").as_deref(), Some(r#"{"x" : 1,  "y":[1, 2]}"#));
        assert_eq!(get(json, "a.y").as_deref(), Some("[1, 2]"));
    }

    #[test]
    fn scalars_render_as_gjson_strings() {
        let json = r#"{"i":-12,"f":1.50,"e":1e3,"t":true,"n":null}"#;
        assert_eq!(get(json, "i").as_deref(), Some("-12"));
        assert_eq!(get(json, "f").as_deref(), Some("1.5"));
        assert_eq!(get(json, "e").as_deref(), Some("1000"));
        assert_eq!(get(json, "t").as_deref(), Some("true"));
        assert_eq!(get(json, "n").as_deref(), Some(""));
    }

    #[test]
    fn a_key_containing_dots_is_found_escaped_or_whole() {
        let json = r#"{"tls.crt":"CERT","a":{"b.c":"X"}}"#;
        assert_eq!(get(json, r"tls\.crt").as_deref(), Some("CERT"));
        // ESO tries the whole property as one key before the path.
        assert_eq!(get(json, "tls.crt").as_deref(), Some("CERT"));
        assert_eq!(get(json, r"a.b\.c").as_deref(), Some("X"));
    }

    #[test]
    fn a_whole_key_with_dots_wins_over_the_path() {
        let json = r#"{"a.b":"literal","a":{"b":"nested"}}"#;
        assert_eq!(get(json, "a.b").as_deref(), Some("literal"));
    }

    #[test]
    fn missing_properties_and_non_json_payloads_give_none() {
        assert_eq!(get(r#"{"a":1}"#, "b"), None);
        assert_eq!(get(r#"{"a":1}"#, "a.b"), None);
        assert_eq!(get("plain text", "a"), None);
        assert_eq!(select(&[0xff, 0xfe], "a"), None);
    }

    #[test]
    fn the_first_of_duplicate_keys_wins_as_in_gjson() {
        assert_eq!(get(r#"{"k":"1","k":"2"}"#, "k").as_deref(), Some("1"));
    }

    #[test]
    fn extract_splits_top_level_keys_keeping_non_strings_as_written() {
        let map = top_level_map(br#"{"u":"me","n":1.50,"o":{"a":[1]},"z":null}"#).unwrap();
        let text = |k: &str| String::from_utf8(map[k].clone()).unwrap();
        assert_eq!(text("u"), "me");
        assert_eq!(text("n"), "1.50");
        assert_eq!(text("o"), r#"{"a":[1]}"#);
        assert_eq!(text("z"), "");
        assert!(top_level_map(b"[1,2]").is_none());
        assert!(top_level_map(b"not json").is_none());
    }

    #[test]
    fn tags_become_a_sorted_object_with_go_html_escaping() {
        let json = tags_json([("team", "a&b"), ("env", "<prod>")]);
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"env":"\u003cprod\u003e","team":"a\u0026b"}"#
        );
        assert_eq!(tags_json([]), b"{}");
    }
}
