//! Reverse known-answer check: seals the plaintexts of the committed vectors
//! with this crate, to the vectors' certificate, and prints JSON in the
//! vectors' shape so that Python's `cryptography` can open them:
//!
//! ```text
//! cargo run -q -p coffer-crypto --example seal_for_known_answer \
//!     crates/coffer-crypto/tests/data/sealed_vectors.json > /tmp/coffer-sealed.json
//! python3 tests/known-answer/make_sealed_vectors.py verify /tmp/coffer-sealed.json
//! ```

#![allow(clippy::print_stdout)]

use coffer_crypto::{Certificate, Scope, seal_base64};
use serde_json::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: seal_for_known_answer VECTORS.json")?;
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let cert_pem = doc["certificate_pem"]
        .as_str()
        .ok_or("certificate_pem missing")?;
    let cert = Certificate::from_pem(cert_pem)?;
    let cases = doc["cases"].as_array_mut().ok_or("cases missing")?;
    for case in cases {
        let field = |name: &str| case[name].as_str().unwrap_or_default().to_owned();
        let scope: Scope = field("scope").parse()?;
        let label = scope.label(&field("namespace"), &field("name"));
        let sealed = seal_base64(
            cert.public_key(),
            label.as_bytes(),
            field("plaintext").as_bytes(),
        )?;
        case["sealed"] = Value::String(sealed);
    }
    doc["generator"] = Value::String("coffer-crypto examples/seal_for_known_answer.rs".into());
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
