//! Fuzzes reading a `templateAs: KeysAndValues` template's output (a YAML
//! map of strings written by a tenant's template): any text gives a map or
//! an error, never a panic; a map holds no more than the byte budget; an
//! error never quotes the text (every `@` of the input stands for a
//! secret canary).
#![no_main]

use coffer_external::fuzzing::keys_and_values::{MIN_BYTES, parse};
use libfuzzer_sys::fuzz_target;

const CANARY: &str = "CANARY-s3cr3t-31bf";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let text = text.replace('@', CANARY);
    match parse(&text) {
        Ok(map) => {
            let bytes: usize = map.iter().map(|(k, v)| k.len() + v.len()).sum();
            assert!(bytes <= MIN_BYTES.max(2 * text.len()), "{bytes} bytes");
        }
        Err(reason) => assert!(!reason.contains(CANARY), "{reason}"),
    }
});
