//! Fuzzes decoding and opening sealed values: raw bytes and base64 text must
//! give an error, never a panic; a sealed value with any byte changed must
//! not open; an untouched one must open to its plaintext.

#![no_main]

use std::sync::OnceLock;

use coffer_crypto::{KeySize, PrivateKey, seal, split_sealed, unseal, unseal_base64};
use libfuzzer_sys::fuzz_target;

fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(KeySize::Rsa2048).expect("generate key"))
}

fuzz_target!(|data: &[u8]| {
    let keys = std::slice::from_ref(key());
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        // Arbitrary bytes as a decoded value.
        0 => {
            let _ = split_sealed(rest);
            assert!(unseal(keys, b"ns/name", rest).is_err());
        }
        // Arbitrary text as a manifest value.
        1 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                assert!(unseal_base64(keys, b"", text).is_err());
            }
        }
        // A real sealed value, opened as is and after changing one byte.
        _ => {
            let [at_hi, at_lo, xor, plaintext @ ..] = rest else {
                return;
            };
            let sealed = seal(key().public_key(), b"ns", plaintext).expect("seal");
            let opened = unseal(keys, b"ns", &sealed).expect("unseal untouched value");
            assert_eq!(opened.plaintext(), plaintext);
            if *xor != 0 {
                let mut tampered = sealed;
                let at = usize::from(u16::from_be_bytes([*at_hi, *at_lo])) % tampered.len();
                tampered[at] ^= xor;
                assert!(unseal(keys, b"ns", &tampered).is_err());
            }
        }
    }
});
