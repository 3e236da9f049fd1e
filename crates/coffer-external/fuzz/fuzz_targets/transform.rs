//! Fuzzes what an ExternalSecret does to provider values and keys:
//! `decodingStrategy`, `conversionStrategy` and `rewrite.regexp` (the
//! pure functions of `coffer_external::transform`; a tenant writes the
//! regexp, the provider the keys and values).
//!
//! Nothing panics; base64 of any value decodes back to it under `Base64`
//! and `Auto`; `Auto` keeps what is not base64; errors never carry the
//! value; `Default` conversion leaves only key characters, one per input
//! character; what a rewrite keeps is a valid Secret key.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use coffer_external::fuzzing::{
    Conversion, Decoding, Rewrite, SecretData, convert_key, convert_keys, decode,
    is_valid_secret_key, rewrite_keys,
};
use coffer_providers::SecretValue;
use libfuzzer_sys::fuzz_target;

const CANARY: &[u8] = b"CANARY-s3cr3t-77aa";

fuzz_target!(|data: &[u8]| {
    // Sections separated by NUL: value, key, regexp source, regexp target.
    let mut sections = data.splitn(4, |&b| b == 0);
    let value = sections.next().unwrap_or_default();
    let key = String::from_utf8_lossy(sections.next().unwrap_or_default()).into_owned();
    let source = sections
        .next()
        .map(|s| String::from_utf8_lossy(s).into_owned());
    let target = String::from_utf8_lossy(sections.next().unwrap_or_default()).into_owned();

    // Decoding.
    let secret = SecretValue::new([CANARY, value].concat());
    for decoding in [
        Decoding::None,
        Decoding::Base64,
        Decoding::Base64Url,
        Decoding::Auto,
    ] {
        match decode(&key, secret.clone(), decoding) {
            Ok(out) => {
                if decoding == Decoding::None {
                    assert_eq!(out, secret);
                }
            }
            Err(e) => {
                let text = e.to_string();
                assert!(key.contains("CANARY") || !text.contains("CANARY"), "{text}");
            }
        }
    }
    let plain = SecretValue::new(value.to_vec());
    let encoded = SecretValue::new(STANDARD.encode(value).into_bytes());
    assert_eq!(
        decode(&key, encoded.clone(), Decoding::Base64).unwrap(),
        plain
    );
    assert_eq!(decode(&key, encoded, Decoding::Auto).unwrap(), plain);
    let url = SecretValue::new(URL_SAFE_NO_PAD.encode(value).into_bytes());
    assert_eq!(decode(&key, url, Decoding::Base64Url).unwrap(), plain);
    // The canary's `-` is not standard base64 and a mid-text `-` is not
    // URL-safe base64 either, so `Auto` keeps it as it is.
    let kept = SecretValue::new([b"=".as_slice(), CANARY].concat());
    assert_eq!(decode(&key, kept.clone(), Decoding::Auto).unwrap(), kept);

    // Key conversion.
    let converted = convert_key(&key, Conversion::Default);
    assert_eq!(converted.chars().count(), key.chars().count());
    assert!(
        converted
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_'))
    );
    let unicode = convert_key(&key, Conversion::Unicode);
    assert!(
        unicode
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_'))
    );
    let keys: SecretData = [
        (key.clone(), plain.clone()),
        (converted.clone(), plain.clone()),
    ]
    .into_iter()
    .collect();
    let _ = convert_keys(keys.clone(), Conversion::Default);

    // Rewrites.
    if let Some(source) = source
        && let Ok(rewrite) = Rewrite::regexp(&source, &target)
    {
        match rewrite_keys(keys, std::slice::from_ref(&rewrite)) {
            Ok(out) => {
                for (k, v) in &out {
                    assert!(is_valid_secret_key(k), "{k:?}");
                    assert_eq!(v, &plain);
                }
            }
            // Its errors name keys (which a rewrite may assemble into
            // anything), never values: nothing to check beyond no panic.
            Err(_) => {}
        }
    }
});
