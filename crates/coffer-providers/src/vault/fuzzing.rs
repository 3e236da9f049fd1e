//! Entry points for the fuzz targets (feature `fuzzing`, hidden, not an
//! API): the pure functions that turn a Vault KV reply's JSON into Secret
//! values, and the one that turns an error reply into a message.

use serde_json::{Map, Value};

/// The value ESO's `GetSecret` gives for `property` (`None`: the whole
/// data as Go's JSON); `None` when there is no such property.
pub fn select(data: &Map<String, Value>, property: Option<&str>) -> Option<Vec<u8>> {
    super::kv::select(data, property).map(|v| v.to_vec())
}

/// One value as a Secret holds it (`GetByteValue`).
pub fn byte_value(value: &Value) -> Vec<u8> {
    super::kv::byte_value(value).to_vec()
}

/// One value of a `dataFrom.extract` map (`GetSecretMap`).
pub fn map_value(value: &Value) -> Vec<u8> {
    super::kv::map_value(value).to_vec()
}

/// The metadata map of a KV v2 metadata reply's `data`.
pub fn metadata_map(data: &Map<String, Value>) -> Map<String, Value> {
    super::kv::metadata_map(data)
}

/// An error reply's `{"errors": [...]}` as one bounded line with every
/// string of `redact` cut out.
pub fn error_message(body: &[u8], redact: &[&str]) -> String {
    super::transport::vault_message(body, redact)
}
