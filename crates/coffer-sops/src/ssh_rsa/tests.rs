//! Unit tests of ssh-rsa decryption on aws-lc-rs: stanzas the age crate
//! writes for an ssh-rsa recipient unwrap with our identity, and bad keys
//! and stanzas give clear errors.

use std::str::FromStr as _;

use age::{Identity as _, Recipient as _};
use age_core::format::{FileKey, Stanza};
use age_core::secrecy::ExposeSecret;

use super::*;

/// A throwaway 2048-bit key made with ssh-keygen for tests (not a secret).
const KEY: &str = include_str!("../../tests/data/ssh-rsa-key");
const PUBLIC: &str = include_str!("../../tests/data/ssh-rsa-key.pub");
/// The same key protected with the passphrase "test passphrase".
const KEY_WITH_PASSPHRASE: &str = include_str!("../../tests/data/ssh-rsa-key-passphrase");

fn stanza() -> Stanza {
    let recipient = age::ssh::Recipient::from_str(PUBLIC.trim()).unwrap();
    let (mut stanzas, _) = recipient
        .wrap_file_key(&FileKey::new(Box::new([5u8; 16])))
        .unwrap();
    stanzas.pop().unwrap()
}

#[test]
fn stanzas_age_writes_for_the_public_key_unwrap() {
    let id = Identity::from_openssh(KEY.as_bytes()).unwrap();
    let s = stanza();
    assert_eq!(s.tag, "ssh-rsa");
    assert_eq!(s.args, std::slice::from_ref(&id.tag));
    let key = id.unwrap_stanza(&s).unwrap().unwrap();
    assert_eq!(key.expose_secret(), &[5u8; 16]);
}

#[test]
fn stanzas_for_another_key_are_skipped_and_bad_ones_rejected() {
    let id = Identity::from_openssh(KEY.as_bytes()).unwrap();
    let good = stanza();
    let other = Stanza {
        tag: good.tag.clone(),
        args: vec!["AAAAAA".into()],
        body: good.body.clone(),
    };
    assert!(id.unwrap_stanza(&other).is_none());
    let no_args = Stanza {
        tag: good.tag.clone(),
        args: vec![],
        body: good.body.clone(),
    };
    assert!(matches!(
        id.unwrap_stanza(&no_args),
        Some(Err(age::DecryptError::InvalidHeader))
    ));
    let short = Stanza {
        tag: good.tag.clone(),
        args: good.args.clone(),
        body: good.body[1..].to_vec(),
    };
    assert!(matches!(
        id.unwrap_stanza(&short),
        Some(Err(age::DecryptError::InvalidHeader))
    ));
    let mut tampered = Stanza {
        tag: good.tag.clone(),
        args: good.args.clone(),
        body: good.body.clone(),
    };
    tampered.body[10] ^= 1;
    assert!(matches!(
        id.unwrap_stanza(&tampered),
        Some(Err(age::DecryptError::DecryptionFailed))
    ));
}

#[test]
fn key_files_that_cannot_be_used_say_why_without_key_bytes() {
    let err = Identity::from_openssh(KEY_WITH_PASSPHRASE.as_bytes()).unwrap_err();
    assert!(matches!(err, KeyError::Encrypted), "{err}");
    assert!(err.to_string().contains("passphrase"), "{err}");
    let err = Identity::from_openssh(b"not a key").unwrap_err();
    assert!(matches!(err, KeyError::NotOpenSsh), "{err}");
    // Cut the key body short: malformed, and the message has no key text.
    let lines: Vec<&str> = KEY.lines().collect();
    let cut = format!(
        "{}\n{}\n{}\n",
        lines[0],
        lines[1..lines.len() / 2].join("\n"),
        lines[lines.len() - 1]
    );
    let err = Identity::from_openssh(cut.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("malformed") || err.contains("not an OpenSSH"),
        "{err}"
    );
    assert!(!err.contains(lines[2]), "{err}");
    // An inconsistent key (a flipped bit in the private part) is refused by
    // aws-lc-rs's key check, not used.
    let mut raw = pem_body(KEY, "OPENSSH PRIVATE KEY").unwrap();
    let at = raw.len() - 200;
    raw[at] ^= 0x10;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&raw[..]);
    let bad =
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{b64}\n-----END OPENSSH PRIVATE KEY-----\n");
    assert!(Identity::from_openssh(bad.as_bytes()).is_err());
}

#[test]
fn debug_shows_only_the_public_tag() {
    let id = Identity::from_openssh(KEY.as_bytes()).unwrap();
    assert_eq!(format!("{id:?}"), format!("ssh_rsa::Identity({})", id.tag));
}
