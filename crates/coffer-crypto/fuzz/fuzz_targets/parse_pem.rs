//! Fuzzes reading keys and certificates: any PEM text or DER bytes give a
//! key, a certificate or an error, never a panic.

#![no_main]

use coffer_crypto::{Certificate, PrivateKey, PublicKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = PrivateKey::from_pem(text);
        let _ = PublicKey::from_pem(text);
        let _ = Certificate::parse_pem_chain(text);
    }
    let _ = PrivateKey::from_pkcs1_der(data);
    let _ = PrivateKey::from_pkcs8_der(data);
    let _ = PublicKey::from_spki_der(data);
    let _ = Certificate::from_der(data);
});
