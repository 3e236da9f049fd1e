//! Fuzzes what reads a sops data key before decryption: the armored age
//! file (`-----BEGIN AGE ENCRYPTED FILE-----`, its header stanzas and
//! payload) and the Shamir parts that several key groups combine.
//!
//! Any text unwraps or fails without a panic; a key wrapped for our
//! recipient unwraps to itself, and with one byte changed it fails or still
//! gives the same key (never another one), with no byte of it in the error.
#![no_main]

use coffer_sops::fuzzing::{shamir, stanza_types};
use coffer_sops::{Identities, wrap_to_recipient};
use libfuzzer_sys::fuzz_target;

const KEY: &str = "AGE-SECRET-KEY-1RH87A5Z54ZGUR9S0AS3R6WHFSEFNPLYMAKF5Z2CEU7R06VRJ0A3Q7242AM";
const RECIPIENT: &str = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";

fn identities() -> Identities {
    let mut ids = Identities::empty();
    ids.add_age_keys(KEY, "fuzz", false)
        .expect("the test key parses");
    ids
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        // Arbitrary text as the `enc` field of an age key entry.
        0 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = stanza_types(text);
                let _ = identities().unwrap(text);
            }
        }
        // A data key wrapped for us, as is and with one byte changed.
        1 => {
            let [at_hi, at_lo, xor, key @ ..] = rest else {
                return;
            };
            let enc = wrap_to_recipient(key, RECIPIENT).expect("wrap");
            // age adds a random "grease" stanza to some files.
            assert!(stanza_types(&enc).iter().any(|t| t == "X25519"));
            let ids = identities();
            assert_eq!(&ids.unwrap(&enc).expect("unwrap our own")[..], key);
            let mut tampered = enc.into_bytes();
            let at = usize::from(u16::from_be_bytes([*at_hi, *at_lo])) % tampered.len();
            tampered[at] ^= xor;
            if let Ok(text) = String::from_utf8(tampered) {
                match ids.unwrap(&text) {
                    Ok(opened) => {
                        assert_eq!(&opened[..], key, "a changed file opened to another key")
                    }
                    Err(e) => {
                        if key.len() >= 8 {
                            assert!(!e.contains(&String::from_utf8_lossy(key).into_owned()));
                        }
                    }
                }
            }
        }
        // Shamir: arbitrary parts combine or fail; split parts combine back.
        _ => {
            let [n, k, body @ ..] = rest else {
                return;
            };
            let width = usize::from(*n % 8) + 1;
            let parts: Vec<&[u8]> = body.chunks(width).take(16).collect();
            let _ = shamir::combine(&parts);
            let total = usize::from(*n % 5) + 2;
            let threshold = usize::from(*k) % (total - 1) + 2;
            if !body.is_empty()
                && let Ok(split) = shamir::split(body, total, threshold)
            {
                let some: Vec<&[u8]> = split.iter().rev().take(threshold).map(|p| &p[..]).collect();
                assert_eq!(&shamir::combine(&some).expect("combine")[..], body);
            }
        }
    }
});
