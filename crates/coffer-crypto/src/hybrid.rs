//! Sealing and unsealing one value: Bitnami's hybrid RSA-OAEP + AES-GCM format.
//!
//! Matches `HybridEncrypt`/`HybridDecrypt` in Bitnami's `pkg/crypto/crypto.go`,
//! bit for bit:
//!
//! ```text
//! sealed = u16_be(len(rsa)) ‖ rsa ‖ aes_gcm(session_key, nonce = 12 zero bytes, plaintext) ‖ tag
//! rsa    = RSA-OAEP(SHA-256, MGF1-SHA-256, label = scope label)(session_key)
//! ```
//!
//! The session key is 32 fresh random bytes per value, used once, which is
//! why the all-zero nonce is safe. There is no additional data. Manifests
//! carry the bytes as standard padded base64.

use std::fmt;

use aws_lc_rs::aead::{AES_128_GCM, AES_192_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256;
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::{Fingerprint, PrivateKey, PublicKey};
use crate::scope::Scope;

/// Bytes in a session key (AES-256).
pub const SESSION_KEY_LEN: usize = 32;
/// Bytes in the AES-GCM tag appended to the ciphertext.
pub const TAG_LEN: usize = 16;
/// The largest plaintext we seal or unseal: 1 MiB, the size limit of a
/// Kubernetes Secret (so no single value can be larger).
pub const MAX_PLAINTEXT_LEN: usize = 1 << 20;
/// The largest RSA block (an 8192-bit key, the largest aws-lc-rs reads).
const MAX_RSA_BLOCK_LEN: usize = 1024;
/// The largest sealed value (decoded) that unseal accepts.
pub const MAX_SEALED_LEN: usize = 2 + MAX_RSA_BLOCK_LEN + MAX_PLAINTEXT_LEN + TAG_LEN;

/// The GCM nonce: all zeros, as Bitnami's ("SessionKey is only used once, so
/// zero nonce is ok").
const ZERO_NONCE: [u8; 12] = [0; 12];

/// Base64 as Go's `base64.StdEncoding` decodes it: padding required, but
/// non-zero trailing bits tolerated (Go is not in strict mode).
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// A sealed value split into its two parts (nothing decrypted yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedParts<'a> {
    /// The RSA-OAEP ciphertext of the session key.
    pub rsa_block: &'a [u8],
    /// The AES-GCM ciphertext with its 16-byte tag at the end.
    pub aes_block: &'a [u8],
}

/// Splits a sealed value at its length prefix, checking every length.
pub fn split_sealed(sealed: &[u8]) -> Result<SealedParts<'_>> {
    if sealed.len() > MAX_SEALED_LEN {
        return Err(Error::TooLarge {
            len: sealed.len(),
            max: MAX_SEALED_LEN,
        });
    }
    let [hi, lo, rest @ ..] = sealed else {
        return Err(Error::TooShort {
            len: sealed.len(),
            min: 2 + TAG_LEN,
        });
    };
    let declared = usize::from(u16::from_be_bytes([*hi, *lo]));
    if declared > rest.len() {
        return Err(Error::LengthPrefixPastEnd {
            declared,
            available: rest.len(),
        });
    }
    let (rsa_block, aes_block) = rest.split_at(declared);
    if aes_block.len() < TAG_LEN {
        return Err(Error::TooShort {
            len: sealed.len(),
            min: 2 + declared + TAG_LEN,
        });
    }
    Ok(SealedParts {
        rsa_block,
        aes_block,
    })
}

/// Seals `plaintext` to `key` under the scope `label` (see
/// [`Scope::label`](crate::Scope::label)). Every call uses a fresh session key,
/// so sealing the same value twice gives different bytes.
pub fn seal(key: &PublicKey, label: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(Error::PlaintextTooLarge {
            len: plaintext.len(),
            max: MAX_PLAINTEXT_LEN,
        });
    }
    let mut session_key = Zeroizing::new([0u8; SESSION_KEY_LEN]);
    aws_lc_rs::rand::fill(session_key.as_mut()).map_err(|_| Error::Random)?;

    let oaep = key.oaep()?;
    let rsa_len = oaep.ciphertext_size();
    let mut out = Vec::with_capacity(2 + rsa_len + plaintext.len() + TAG_LEN);
    let prefix = u16::try_from(rsa_len).map_err(|_| Error::RsaEncrypt { bits: key.bits() })?;
    out.extend_from_slice(&prefix.to_be_bytes());
    out.resize(2 + rsa_len, 0);
    let written = oaep
        .encrypt(
            &OAEP_SHA256_MGF1SHA256,
            session_key.as_ref(),
            &mut out[2..],
            Some(label),
        )
        .map_err(|_| Error::RsaEncrypt { bits: key.bits() })?
        .len();
    if written != rsa_len {
        return Err(Error::RsaEncrypt { bits: key.bits() });
    }

    let aes = aes_key(session_key.as_ref())?;
    let mut body = out.split_off(2 + rsa_len);
    body.extend_from_slice(plaintext);
    aes.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(ZERO_NONCE),
        Aad::empty(),
        &mut body,
    )
    .map_err(|_| Error::AesEncrypt)?;
    out.append(&mut body);
    Ok(out)
}

/// [`seal`], then standard padded base64 as written in manifests.
pub fn seal_base64(key: &PublicKey, label: &[u8], plaintext: &[u8]) -> Result<String> {
    Ok(STANDARD.encode(seal(key, label, plaintext)?))
}

/// A value opened by [`unseal`]: the plaintext and which key opened it.
/// `Debug` shows the length of the plaintext, never its bytes.
pub struct Unsealed {
    plaintext: Zeroizing<Vec<u8>>,
    key_index: usize,
    key_fingerprint: Fingerprint,
}

impl Unsealed {
    /// The plaintext.
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }

    /// The plaintext, still zeroizing.
    pub fn into_plaintext(self) -> Zeroizing<Vec<u8>> {
        self.plaintext
    }

    /// Position in the key list (newest first) of the key that opened it.
    pub fn key_index(&self) -> usize {
        self.key_index
    }

    /// Fingerprint of the key that opened it.
    pub fn key_fingerprint(&self) -> Fingerprint {
        self.key_fingerprint
    }
}

impl fmt::Debug for Unsealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unsealed")
            .field(
                "plaintext",
                &format_args!("<{} bytes redacted>", self.plaintext.len()),
            )
            .field("key_index", &self.key_index)
            .field("key_fingerprint", &self.key_fingerprint)
            .finish()
    }
}

/// Opens a sealed value with the first of `keys` (newest first) whose RSA
/// block opens under `label`.
///
/// A wrong key and a wrong label look the same to RSA-OAEP, so both give
/// [`Error::NoKeyOpened`], which names the scope that the label denotes.
/// A value whose session key opens but whose AES-GCM tag does not match gives
/// [`Error::Tampered`].
pub fn unseal(keys: &[PrivateKey], label: &[u8], sealed: &[u8]) -> Result<Unsealed> {
    let parts = split_sealed(sealed)?;
    if keys.is_empty() {
        return Err(Error::NoKeys);
    }
    for (key_index, key) in keys.iter().enumerate() {
        let Some(session_key) = key.decrypt_oaep(label, parts.rsa_block) else {
            continue;
        };
        // A session key from another key or label is all but impossible with
        // OAEP, so once one opens, a failure after this point is tampering.
        let aes = aes_key(&session_key)?;
        let mut plaintext = Zeroizing::new(Vec::with_capacity(parts.aes_block.len()));
        plaintext.extend_from_slice(parts.aes_block);
        let len = aes
            .open_in_place(
                Nonce::assume_unique_for_key(ZERO_NONCE),
                Aad::empty(),
                &mut plaintext,
            )
            .map_err(|_| Error::Tampered {
                key_index,
                fingerprint: key.fingerprint(),
            })?
            .len();
        plaintext.truncate(len);
        return Ok(Unsealed {
            plaintext,
            key_index,
            key_fingerprint: key.fingerprint(),
        });
    }
    Err(Error::NoKeyOpened {
        scope: Scope::of_label(label),
        label: String::from_utf8_lossy(label).into_owned(),
        keys_tried: keys.len(),
    })
}

/// Decodes a sealed value from a manifest (standard padded base64). Line
/// breaks are ignored, as Go's decoder ignores them.
pub fn decode_base64(text: &str) -> Result<Vec<u8>> {
    // Refuse before allocating: 4 base64 characters carry 3 bytes.
    let estimate = text.len() / 4 * 3;
    if estimate > MAX_SEALED_LEN + 3 {
        return Err(Error::TooLarge {
            len: estimate,
            max: MAX_SEALED_LEN,
        });
    }
    let cleaned: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    GO_STD_BASE64
        .decode(cleaned.as_bytes())
        .map_err(|e| Error::NotBase64 {
            reason: describe_base64_error(&e),
        })
}

/// Describes a base64 error by position only (never the offending byte).
fn describe_base64_error(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(offset, _) => {
            format!("invalid character at offset {offset}")
        }
        base64::DecodeError::InvalidLength(len) => {
            format!("length {len} is not a whole number of base64 groups")
        }
        base64::DecodeError::InvalidLastSymbol(offset, _) => {
            format!("invalid last character at offset {offset}")
        }
        base64::DecodeError::InvalidPadding => "invalid padding".to_owned(),
    }
}

/// [`decode_base64`], then [`unseal`].
pub fn unseal_base64(keys: &[PrivateKey], label: &[u8], text: &str) -> Result<Unsealed> {
    unseal(keys, label, &decode_base64(text)?)
}

/// Opens the deprecated whole-Secret form (`spec.data`): one hybrid blob
/// holding the Secret as JSON, under the same scope label. Returns the JSON
/// bytes; the caller parses the Secret (and should then set its name and
/// namespace from the SealedSecret, as Bitnami does).
pub fn unseal_whole_secret(keys: &[PrivateKey], label: &[u8], data: &[u8]) -> Result<Unsealed> {
    unseal(keys, label, data)
}

/// An AES-GCM key for a session key. Go's `aes.NewCipher` takes 16, 24 or
/// 32 bytes, so a value sealed by another Bitnami-compatible tool with a
/// shorter session key still opens; we always seal with 32.
fn aes_key(session_key: &[u8]) -> Result<LessSafeKey> {
    let algorithm = match session_key.len() {
        16 => &AES_128_GCM,
        24 => &AES_192_GCM,
        32 => &AES_256_GCM,
        len => return Err(Error::BadSessionKey { len }),
    };
    let key = UnboundKey::new(algorithm, session_key).map_err(|_| Error::BadSessionKey {
        len: session_key.len(),
    })?;
    Ok(LessSafeKey::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keys::key_2048;

    #[test]
    fn sealed_value_has_bitnami_layout() {
        let key = key_2048();
        let sealed = seal(key.public_key(), b"ns/name", b"hello").unwrap();
        assert_eq!(&sealed[..2], &256u16.to_be_bytes());
        assert_eq!(sealed.len(), 2 + 256 + 5 + TAG_LEN);
    }

    #[test]
    fn sealing_twice_gives_different_bytes_that_both_open() {
        let key = key_2048();
        let a = seal(key.public_key(), b"", b"same").unwrap();
        let b = seal(key.public_key(), b"", b"same").unwrap();
        assert_ne!(a, b);
        for sealed in [a, b] {
            let keys = std::slice::from_ref(key);
            assert_eq!(unseal(keys, b"", &sealed).unwrap().plaintext(), b"same");
        }
    }

    #[test]
    fn each_key_tried_counts_one_private_key_operation() {
        use crate::keys::{KeySize, private_key_operations};
        let newer = PrivateKey::generate(KeySize::Rsa2048).unwrap();
        let keys = [newer, key_2048().clone()];
        let sealed = seal(keys[1].public_key(), b"ns/a", b"v").unwrap();
        let before = private_key_operations();
        unseal(&keys, b"ns/a", &sealed).unwrap();
        assert_eq!(private_key_operations() - before, 2, "newer key first");
        let before = private_key_operations();
        unseal(&keys, b"ns/other", &sealed).unwrap_err();
        assert_eq!(private_key_operations() - before, 2, "every key tried");
        let before = private_key_operations();
        unseal(&keys, b"ns/a", &sealed[..40]).unwrap_err();
        assert_eq!(private_key_operations() - before, 0, "no RSA work");
    }

    #[test]
    fn split_rejects_each_framing_error() {
        assert!(matches!(
            split_sealed(&[]),
            Err(Error::TooShort { len: 0, .. })
        ));
        assert!(matches!(
            split_sealed(&[0]),
            Err(Error::TooShort { len: 1, .. })
        ));
        assert!(matches!(
            split_sealed(&[0x01, 0x00, 1, 2, 3]),
            Err(Error::LengthPrefixPastEnd {
                declared: 256,
                available: 3
            })
        ));
        assert!(matches!(
            split_sealed(&[0, 1, 9, 1, 2, 3]),
            Err(Error::TooShort { len: 6, min: 19 })
        ));
        let ok = [0, 1, 9]
            .iter()
            .chain([0u8; 16].iter())
            .copied()
            .collect::<Vec<_>>();
        let parts = split_sealed(&ok).unwrap();
        assert_eq!(parts.rsa_block, &[9]);
        assert_eq!(parts.aes_block.len(), 16);
    }

    #[test]
    fn decode_base64_ignores_line_breaks_like_go() {
        assert_eq!(decode_base64("aGVs\nbG8=\r\n").unwrap(), b"hello");
    }

    #[test]
    fn decode_base64_reports_position_not_content() {
        let err = decode_base64("aGVs!G8=").unwrap_err();
        assert_eq!(
            err.to_string(),
            "sealed value is not valid base64: invalid character at offset 4"
        );
    }

    #[test]
    fn aes_key_accepts_go_session_key_lengths_only() {
        for len in [16, 24, 32] {
            assert!(aes_key(&vec![7; len]).is_ok(), "len {len}");
        }
        assert!(matches!(
            aes_key(&[7; 31]),
            Err(Error::BadSessionKey { len: 31 })
        ));
    }
}
