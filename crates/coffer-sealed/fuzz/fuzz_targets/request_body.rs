//! Fuzzes the body of `/v1/verify` and `/v1/rotate`: bytes from anyone who
//! can reach the controller's Service. Every body is either refused with a
//! message, or parsed with at most the allowed number of values, which then
//! neither verify nor re-encrypt, and none of it panics.
#![no_main]

use std::sync::OnceLock;

use coffer_crypto::{KeySize, PrivateKey};
use coffer_sealed::request::{RequestError, parse_request};
use libfuzzer_sys::fuzz_target;

const MAX_VALUES: usize = 8;

fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(KeySize::Rsa2048).expect("generate key"))
}

fuzz_target!(|body: &[u8]| {
    match parse_request(body, MAX_VALUES) {
        Ok(request) => {
            assert!(request.values <= MAX_VALUES);
            let keys = std::slice::from_ref(key());
            // Nothing here was sealed to this key.
            if request.values > 0 {
                assert!(coffer_sealed::verify(&request.sealed, keys).is_err());
                assert!(
                    coffer_sealed::reencrypt(&request.sealed, keys, key().public_key()).is_err()
                );
            }
        }
        Err(RequestError::TooManyValues { count, max }) => {
            assert!(count > max && max == MAX_VALUES);
        }
        Err(e @ RequestError::NotSealedSecret(_)) => {
            assert!(!e.to_string().is_empty());
        }
    }
});
