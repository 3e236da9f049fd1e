//! Fuzzes the Go duration parser (`refreshInterval`, `refreshTime`,
//! `retryInterval` of a tenant's ExternalSecret): any text parses or fails
//! without a panic; what parses prints as Go prints it and parses back to
//! the same duration, within Go's range; an error repeats at most a short
//! prefix of the input (and of an unknown unit), whatever its length.
#![no_main]

use coffer_api::external::{format_go_duration, parse_go_duration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_go_duration(text) {
        Ok(d) => {
            assert!(
                d.as_nanos() <= i64::MAX as u128,
                "{text:?} is beyond Go's range"
            );
            let printed = format_go_duration(d);
            assert_eq!(
                parse_go_duration(&printed),
                Ok(d),
                "{text:?} printed as {printed:?}"
            );
        }
        // At most 64 bytes of the input and of the unit, each escaped as
        // Rust's `Debug` does (up to 6 characters a byte), plus the text.
        Err(e) => assert!(e.to_string().len() <= 1024, "{e}"),
    }
});
