//! Fuzzes the `ENC[...]` value parser and the tree path parser.
#![no_main]

use coffer_sops::{Cipher, DataKey, parse_tree_path};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let key = DataKey::from_slice(&[1u8; 32]).unwrap();
        let _ = Cipher::new(&key).decrypt(s, "a:b:");
        let _ = parse_tree_path(s);
    }
});
