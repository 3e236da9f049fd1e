//! Entry points for the fuzz targets (feature `fuzzing`, hidden, not an
//! API): how a Secrets Manager value and its tags become Secret values.

/// `remoteRef.property` read from a secret's value (gjson path).
pub fn select(payload: &[u8], property: &str) -> Option<Vec<u8>> {
    super::json_path::select(payload, property)
}

/// `dataFrom.extract`: the value's top-level keys.
pub fn top_level_map(payload: &[u8]) -> Option<std::collections::BTreeMap<String, Vec<u8>>> {
    super::json_path::top_level_map(payload)
}

/// `metadataPolicy: Fetch`: the tags as Go's JSON.
pub fn tags_json<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    super::json_path::tags_json(tags)
}
