//! The hashes ESO stamps on what it manages, computed the same way so that
//! a cluster moving from ESO keeps its Secrets as they are (no rewrite of
//! every Secret on the first reconcile) and its ExternalSecrets are not all
//! re-synced at once.
//!
//! ESO's `ObjectHash` is the lowercase hex SHA3-224 of Go's `%+v`
//! rendering of a value. Go prints a `map[string][]byte` with its keys
//! sorted and each byte slice as a list of decimal numbers:
//! `map[a:[118 97 108] b:[]]`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha3::{Digest, Sha3_224};
use zeroize::Zeroizing;

/// Annotation holding [`data_hash`] on every Secret the controller writes.
pub const DATA_HASH_ANNOTATION: &str = "reconcile.external-secrets.io/data-hash";
/// Label marking Secrets the controller manages (value `"true"`).
pub const MANAGED_LABEL: &str = "reconcile.external-secrets.io/managed";
/// Label naming (by [`created_by`]) the ExternalSecret that created a
/// Secret under `creationPolicy: Owner`.
pub const CREATED_BY_LABEL: &str = "reconcile.external-secrets.io/created-by";

/// ESO's data hash of a Secret's `data`.
pub fn data_hash<'a>(data: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    // Sorted like Go's fmt; the rendering holds the secret bytes (as
    // numbers), so it lives in a zeroizing buffer.
    let sorted: BTreeMap<&str, &[u8]> = data.into_iter().collect();
    let mut text = Zeroizing::new(String::from("map["));
    for (n, (key, value)) in sorted.iter().enumerate() {
        if n > 0 {
            text.push(' ');
        }
        text.push_str(key);
        text.push_str(":[");
        for (i, b) in value.iter().enumerate() {
            if i > 0 {
                text.push(' ');
            }
            let _ = write!(text, "{b}");
        }
        text.push(']');
    }
    text.push(']');
    sha3_224_hex(text.as_bytes())
}

/// ESO's `created-by` label value for the ExternalSecret `namespace/name`.
pub fn created_by(namespace: &str, name: &str) -> String {
    sha3_224_hex(format!("{namespace}/{name}").as_bytes())
}

/// ESO's `status.syncedResourceVersion`: the generation and a hash of the
/// object's labels and annotations, so that any metadata change (such as
/// the `force-sync` annotation idiom) triggers a refresh.
pub fn synced_resource_version(
    generation: i64,
    annotations: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> String {
    let text = format!(
        "{{annotations:{} labels:{}}}",
        go_string_map(annotations),
        go_string_map(labels)
    );
    format!("{generation}-{}", sha3_224_hex(text.as_bytes()))
}

fn go_string_map(map: &BTreeMap<String, String>) -> String {
    let entries: Vec<String> = map.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", entries.join(" "))
}

pub(crate) fn sha3_224_hex(bytes: &[u8]) -> String {
    let digest = Sha3_224::digest(bytes);
    let mut hex = String::with_capacity(56);
    for b in digest.iter() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_hash_hashes_gos_rendering_of_the_map() {
        // Go: fmt.Sprintf("%+v", map[string][]byte{"b": {}, "a": []byte("val")})
        // is "map[a:[118 97 108] b:[]]".
        let expected = sha3_224_hex(b"map[a:[118 97 108] b:[]]");
        let data = [("b", &b""[..]), ("a", &b"val"[..])];
        assert_eq!(data_hash(data), expected);
        assert_eq!(data_hash([]), sha3_224_hex(b"map[]"));
    }

    #[test]
    fn sha3_224_matches_the_standard_test_vector() {
        // FIPS 202 example: SHA3-224("abc").
        assert_eq!(
            sha3_224_hex(b"abc"),
            "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf"
        );
    }

    #[test]
    fn changing_any_annotation_changes_the_synced_version() {
        let labels = BTreeMap::new();
        let mut annotations = BTreeMap::new();
        let before = synced_resource_version(3, &annotations, &labels);
        annotations.insert("force-sync".to_owned(), "1700000000".to_owned());
        let after = synced_resource_version(3, &annotations, &labels);
        assert_ne!(before, after);
        assert!(before.starts_with("3-"));
        assert_eq!(before.len(), 2 + 56);
    }

    #[test]
    fn created_by_is_stable_and_per_object() {
        assert_eq!(created_by("ns", "a"), sha3_224_hex(b"ns/a"));
        assert_ne!(created_by("ns", "a"), created_by("ns", "b"));
    }
}
