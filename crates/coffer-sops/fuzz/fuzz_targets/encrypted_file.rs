//! Fuzzes reading encrypted files: metadata extraction and the MAC/value
//! walk with a fixed key must fail cleanly on any input, never panic.
#![no_main]

use coffer_sops::{DataKey, Format, Session};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for fmt in [Format::Yaml, Format::Json, Format::Dotenv, Format::Ini] {
        if let Ok((mut docs, meta)) = coffer_sops::load_encrypted(data, fmt) {
            let _ = meta.to_branch();
            let key = DataKey::from_slice(&[7u8; 32]).unwrap();
            let _ = Session::new(key).decrypt(&mut docs, &meta, false);
        }
    }
});
