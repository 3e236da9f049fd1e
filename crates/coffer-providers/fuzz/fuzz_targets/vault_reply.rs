//! Fuzzes how a Vault KV reply becomes Secret values, and how an error
//! reply becomes a message. The input is a reply body; its JSON object is
//! the secret's data.
//!
//! Nothing panics; the whole secret (no property) is Go-style JSON that
//! reads back as the same data; a property naming a key gives that key's
//! value (a string as is); metadata values are all strings; an error
//! message is one bounded line with the token cut out.
#![no_main]

use coffer_providers::vault::fuzzing::{
    byte_value, error_message, map_value, metadata_map, select,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const TOKEN: &str = "hvs.FUZZ-token-6c1d";

fuzz_target!(|data: &[u8]| {
    let message = error_message(data, &[TOKEN]);
    assert!(!message.contains(TOKEN), "{message}");
    assert!(!message.contains('\n'));
    assert!(
        message.len() <= 400 + '…'.len_utf8(),
        "{} bytes",
        message.len()
    );

    let Ok(object) = serde_json::from_slice::<Map<String, Value>>(data) else {
        return;
    };
    let whole = select(&object, None).expect("the whole secret");
    let back: Map<String, Value> = serde_json::from_slice(&whole).expect("whole secret is JSON");
    assert_eq!(back, object, "the whole secret reads back");
    for (key, value) in &object {
        let got = select(&object, Some(key)).expect("an existing key");
        assert_eq!(got, byte_value(value), "property {key:?}");
        if let Value::String(s) = value {
            assert_eq!(got, s.as_bytes());
        }
        let _ = map_value(value);
    }
    // Paths into nested data: every dotted path of the first key's value.
    if let Some((key, Value::Object(inner))) = object.iter().next() {
        for (sub, value) in inner {
            if !key.contains(['.', '\\'])
                && !sub.contains(['.', '\\'])
                && !object.contains_key(&format!("{key}.{sub}"))
            {
                let got = select(&object, Some(&format!("{key}.{sub}")));
                assert!(got.is_some(), "{key}.{sub}");
                if let Value::String(s) = value {
                    assert_eq!(got.as_deref(), Some(s.as_bytes()));
                }
            }
        }
    }
    for value in metadata_map(&object).values() {
        assert!(value.is_string());
    }
});
