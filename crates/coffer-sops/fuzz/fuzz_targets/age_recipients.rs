//! Fuzzes the recipient types coffer implements beside the age crate:
//! post-quantum `mlkem768x25519` and ssh-rsa identities. Arbitrary strings
//! as `age1pq1…` recipients and `AGE-SECRET-KEY-PQ-1…` identities,
//! arbitrary bytes as an OpenSSH key file, and arbitrary stanzas (type,
//! arguments, body) inside a well-formed armored age file, unwrapped with
//! a post-quantum and an ssh-rsa identity: everything fails cleanly or
//! opens, never panics, and no error repeats the identity strings.
#![no_main]

use base64::Engine as _;
use coffer_sops::Identities;
use coffer_sops::fuzzing::{pq, ssh_rsa};
use libfuzzer_sys::fuzz_target;

/// The shared vectors' post-quantum test identity (not a secret).
const PQ_KEY: &str =
    "AGE-SECRET-KEY-PQ-1Z8QMHKS77CVF95LF38SMLT0MEFR00HVMW58DJGD5USLGCVXTJCSQNRKCNK";
/// A throwaway ssh-rsa key made for this target (not a secret).
const RSA_KEY: &str = include_str!("../../tests/data/ssh-rsa-key");

fn identities() -> &'static Identities {
    static IDS: std::sync::OnceLock<Identities> = std::sync::OnceLock::new();
    IDS.get_or_init(|| {
        let mut ids = Identities::empty();
        ids.add_age_keys(PQ_KEY, "fuzz", false)
            .expect("the PQ test key parses");
        ids.add_ssh_key(RSA_KEY.as_bytes(), "fuzz")
            .expect("the RSA test key parses");
        ids
    })
}

/// An armored age file with one stanza and a dummy MAC and payload.
fn armored(tag: &str, args: &[&str], body: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut header = format!("age-encryption.org/v1\n-> {tag}");
    for a in args {
        header.push(' ');
        header.push_str(a);
    }
    header.push('\n');
    let body = b64.encode(body);
    for line in body.as_bytes().chunks(64) {
        header.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        header.push('\n');
    }
    // The last body line is shorter than 64 columns, so possibly empty.
    if body.len() % 64 == 0 {
        header.push('\n');
    }
    header.push_str("--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
    let mut file = header.into_bytes();
    file.extend_from_slice(&[0u8; 32]);
    let armor = base64::engine::general_purpose::STANDARD.encode(file);
    let mut out = String::from("-----BEGIN AGE ENCRYPTED FILE-----\n");
    for line in armor.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str("-----END AGE ENCRYPTED FILE-----\n");
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            if let Ok(s) = std::str::from_utf8(rest) {
                let _ = pq::Recipient::parse(s);
                if let Err(e) = pq::Identity::parse(s) {
                    // An identity-shaped string's key part (Bech32 data
                    // characters) never shows in the error.
                    let msg = e.to_string();
                    if let Some(tail) = s.strip_prefix("AGE-SECRET-KEY-PQ-1")
                        && tail.len() >= 8
                        && tail
                            .bytes()
                            .all(|b| b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".contains(&b))
                    {
                        assert!(!msg.contains(tail), "identity echoed: {msg}");
                    }
                }
            }
        }
        1 => {
            // Arbitrary key bytes, raw and inside OpenSSH armor.
            let _ = ssh_rsa::Identity::from_openssh(rest);
            let mut pem = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
            let mut blob = b"openssh-key-v1\0".to_vec();
            blob.extend_from_slice(rest);
            pem.push_str(&base64::engine::general_purpose::STANDARD.encode(blob));
            pem.push_str("\n-----END OPENSSH PRIVATE KEY-----\n");
            let _ = ssh_rsa::Identity::from_openssh(pem.as_bytes());
        }
        m => {
            // A stanza of the type under test with fuzzed arguments and body.
            let tag = if m == 2 { "mlkem768x25519" } else { "ssh-rsa" };
            let [nargs, split, body @ ..] = rest else {
                return;
            };
            let cut = usize::from(*split).min(body.len());
            let (arg_bytes, body) = body.split_at(cut);
            let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(arg_bytes);
            let args: Vec<&str> = match nargs % 3 {
                0 => vec![],
                1 => vec![b64.as_str()],
                _ => vec![b64.as_str(), "x"],
            };
            if let Err(e) = identities().unwrap(&armored(tag, &args, body)) {
                assert!(!e.contains("AGE-SECRET-KEY"), "{e}");
            }
        }
    }
});
