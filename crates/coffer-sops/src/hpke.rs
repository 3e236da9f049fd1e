//! The slice of HPKE (RFC 9180) that age's `mlkem768x25519` stanza uses:
//! base mode, HKDF-SHA256, ChaCha20-Poly1305, one message, empty AAD, on
//! a KEM shared secret computed by the caller ([`crate::pq`]). Built on
//! aws-lc-rs (HMAC and the AEAD), whose operations are constant time; every
//! intermediate secret lives in a zeroizing buffer.

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use zeroize::Zeroizing;

/// The AEAD key length (ChaCha20-Poly1305).
const KEY_LEN: usize = 32;
/// The AEAD nonce length.
const NONCE_LEN: usize = 12;
/// The AEAD tag length.
pub(crate) const TAG_LEN: usize = 16;

/// `suite_id = "HPKE" || kem_id || kdf_id (HKDF-SHA256 = 1) || aead_id
/// (ChaCha20Poly1305 = 3)`, RFC 9180 §5.1.
fn suite_id(kem_id: u16) -> [u8; 10] {
    let k = kem_id.to_be_bytes();
    [b'H', b'P', b'K', b'E', k[0], k[1], 0, 1, 0, 3]
}

/// HKDF-Extract with SHA-256: `HMAC(salt, ikm)` (an empty salt is the same
/// HMAC key as HashLen zero bytes).
fn extract(salt: &[u8], ikm: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, salt);
    let mut ctx = hmac::Context::with_key(&key);
    for part in ikm {
        ctx.update(part);
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// HKDF-Expand with SHA-256 for outputs of at most one block (32 bytes),
/// which is all the key schedule asks for here.
fn expand_block(prk: &[u8; 32], info: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, prk);
    let mut ctx = hmac::Context::with_key(&key);
    for part in info {
        ctx.update(part);
    }
    ctx.update(&[1]);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// `LabeledExtract(salt, label, ikm)`, RFC 9180 §4.
fn labeled_extract(sid: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
    extract(salt, &[b"HPKE-v1", sid, label, ikm])
}

/// `LabeledExpand(prk, label, info, len)` for `len <= 32`, RFC 9180 §4.
fn labeled_expand(
    sid: &[u8],
    prk: &[u8; 32],
    label: &[u8],
    info: &[u8],
    len: u16,
) -> Zeroizing<[u8; 32]> {
    expand_block(prk, &[&len.to_be_bytes(), b"HPKE-v1", sid, label, info])
}

/// The base-mode key schedule (RFC 9180 §5.1, empty PSK): the AEAD key
/// for the first (and only) message and its nonce (`base_nonce`, as the
/// sequence number is zero).
fn key_schedule(kem_id: u16, shared_secret: &[u8], info: &[u8]) -> (LessSafeKey, Nonce) {
    let sid = suite_id(kem_id);
    let psk_id_hash = labeled_extract(&sid, b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(&sid, b"", b"info_hash", info);
    let mut context = [0u8; 65]; // mode_base (0) || psk_id_hash || info_hash
    context[1..33].copy_from_slice(&psk_id_hash[..]);
    context[33..].copy_from_slice(&info_hash[..]);
    let secret = labeled_extract(&sid, shared_secret, b"secret", b"");
    let key = labeled_expand(&sid, &secret, b"key", &context, KEY_LEN as u16);
    let nonce = labeled_expand(&sid, &secret, b"base_nonce", &context, NONCE_LEN as u16);
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, &key[..KEY_LEN])
        .expect("ChaCha20-Poly1305 takes a 32-byte key");
    let mut n = [0u8; NONCE_LEN];
    n.copy_from_slice(&nonce[..NONCE_LEN]);
    (LessSafeKey::new(unbound), Nonce::assume_unique_for_key(n))
}

/// `SealBase`'s AEAD step: encrypts `plaintext` (with an empty AAD) under
/// the context derived from `shared_secret` and `info`.
pub(crate) fn seal(kem_id: u16, shared_secret: &[u8], info: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let (key, nonce) = key_schedule(kem_id, shared_secret, info);
    // Room for the tag up front: the buffer is encrypted in place and never
    // reallocated, so no freed copy of the plaintext is left behind.
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    key.seal_in_place_append_tag(nonce, Aad::empty(), &mut out)
        .expect("a one-block message cannot overflow ChaCha20");
    out
}

/// `OpenBase`'s AEAD step: the plaintext, or `None` when the tag does not
/// verify (wrong identity or tampered ciphertext; the two are not told apart).
pub(crate) fn open(
    kem_id: u16,
    shared_secret: &[u8],
    info: &[u8],
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let (key, nonce) = key_schedule(kem_id, shared_secret, info);
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let len = key
        .open_in_place(nonce, Aad::empty(), &mut buf[..])
        .ok()?
        .len();
    buf.truncate(len);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_reverses_seal_and_rejects_another_secret() {
        let ct = seal(0x647a, &[7; 32], b"info", &[1; 16]);
        assert_eq!(ct.len(), 16 + TAG_LEN);
        assert_eq!(&open(0x647a, &[7; 32], b"info", &ct).unwrap()[..], &[1; 16]);
        assert!(open(0x647a, &[8; 32], b"info", &ct).is_none());
        assert!(open(0x647a, &[7; 32], b"other", &ct).is_none());
    }
}
