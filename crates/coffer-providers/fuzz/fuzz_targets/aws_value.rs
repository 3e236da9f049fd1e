//! Fuzzes how a Secrets Manager value and its tags become Secret values:
//! the first line is a `remoteRef.property`, the rest the secret's value.
//!
//! Nothing panics; `dataFrom.extract` splits exactly the values that are
//! JSON objects, each member as ESO gives it (strings unquoted, `null`
//! empty, anything else as written); a property naming a top-level key
//! whose only value is a string gives that string; tags come back as JSON
//! that reads as the same map.
#![no_main]

use std::collections::BTreeMap;

use coffer_providers::aws::fuzzing::{select, tags_json, top_level_map};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (property, payload) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let Ok(property) = std::str::from_utf8(property) else {
        return;
    };
    let selected = select(payload, property);

    let object = serde_json::from_slice::<Map<String, Value>>(payload).ok();
    let extracted = top_level_map(payload);
    assert_eq!(
        extracted.is_some(),
        object.is_some(),
        "extract accepts exactly JSON objects"
    );
    if let (Some(object), Some(extracted)) = (&object, &extracted) {
        assert_eq!(object.len(), extracted.len());
        for (key, value) in object {
            let got = &extracted[key];
            match value {
                Value::String(s) => assert_eq!(got, s.as_bytes()),
                Value::Null => assert!(got.is_empty()),
                other => assert_eq!(
                    &serde_json::from_slice::<Value>(got).expect("as written"),
                    other
                ),
            }
        }
        // A plain key written once in a value without escapes, holding a
        // string (so first-wins and last-wins agree).
        let quoted = format!("\"{property}\"");
        let once = payload
            .windows(quoted.len())
            .filter(|w| *w == quoted.as_bytes())
            .count()
            == 1;
        let plain = !property.is_empty() && !property.contains(['.', '\\', '"']);
        if plain
            && once
            && !payload.contains(&b'\\')
            && let Some(Value::String(s)) = object.get(property)
        {
            assert_eq!(
                selected.as_deref(),
                Some(s.as_bytes()),
                "property {property:?}"
            );
        }
    }

    // Tags: NUL-separated key/value pairs from the payload.
    if let Ok(text) = std::str::from_utf8(payload) {
        let parts: Vec<&str> = text.split('\0').collect();
        let tags: Vec<(&str, &str)> = parts
            .chunks(2)
            .filter_map(|c| Some((c[0], *c.get(1)?)))
            .collect();
        let json = tags_json(tags.iter().copied());
        let back: BTreeMap<String, String> = serde_json::from_slice(&json).expect("tags are JSON");
        let want: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(back, want);
    }
});
