//! ssh-rsa identities for decryption, on aws-lc-rs RSA-OAEP rather than
//! the age crate's path (which runs through the `rsa` crate, RUSTSEC-2023-0071).
//!
//! age's `ssh-rsa` stanza (filippo.io/age/agessh, also what sops writes):
//! `-> ssh-rsa <tag>` where the tag is the first four bytes of SHA-256 of
//! the SSH wire-format public key, and the body is the file key under
//! RSA-OAEP with SHA-256 (and MGF1-SHA-256) and the label
//! `age-encryption.org/v1/ssh-rsa`.
//!
//! The private key comes from an unencrypted OpenSSH key file
//! (`openssh-key-v1`, what `ssh-keygen` writes); passphrase-protected keys
//! are refused with a clear error. OpenSSH keeps n, e, d, iqmp, p and q but
//! not d mod (p-1) and d mod (q-1), which PKCS#1 needs: [`crate::ct_bignum`]
//! computes them without branching on secret bits. The key is handed to
//! aws-lc-rs as PKCS#8, and every buffer holding secret material zeroizes.

use age_core::format::{FileKey, Stanza};
use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey};
use base64::Engine as _;
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::ct_bignum;

/// The stanza tag.
pub(crate) const STANZA_TAG: &str = "ssh-rsa";
/// The OAEP label age uses.
const OAEP_LABEL: &[u8] = b"age-encryption.org/v1/ssh-rsa";
/// Largest modulus accepted (bits): bounds the cost of a decryption.
pub(crate) const MAX_MODULUS_BITS: usize = 8192;

/// Why an ssh-rsa key file was refused (never with key bytes).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not an OpenSSH private key (expected -----BEGIN OPENSSH PRIVATE KEY-----)")]
    NotOpenSsh,
    #[error("malformed OpenSSH private key: {0}")]
    Malformed(&'static str),
    #[error(
        "passphrase-protected ssh keys are not supported (sops would ask for the passphrase); remove it with `ssh-keygen -p` on a copy"
    )]
    Encrypted,
    #[error("the key file holds {0} keys; exactly one is supported")]
    KeyCount(u32),
    #[error("not an ssh-rsa key")]
    NotRsa,
    #[error("RSA modulus larger than {MAX_MODULUS_BITS} bits")]
    TooLarge,
    #[error("the RSA key is inconsistent or unsupported by aws-lc-rs")]
    Rejected,
}

/// Reads SSH wire-format fields.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Result<u32, KeyError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<4>()
            .ok_or(KeyError::Malformed("truncated"))?;
        self.0 = rest;
        Ok(u32::from_be_bytes(*head))
    }

    fn string(&mut self) -> Result<&'a [u8], KeyError> {
        let len = self.u32()? as usize;
        if len > self.0.len() {
            return Err(KeyError::Malformed("truncated"));
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(s)
    }

    /// An mpint as unsigned big-endian bytes without leading zeros.
    fn mpint(&mut self) -> Result<&'a [u8], KeyError> {
        let s = self.string()?;
        if s.first().is_some_and(|b| b & 0x80 != 0) {
            return Err(KeyError::Malformed("negative integer"));
        }
        let start = s.iter().position(|&b| b != 0).unwrap_or(s.len());
        Ok(&s[start..])
    }
}

/// SSH wire encoding of an unsigned big-endian integer (no leading zeros).
fn put_mpint(out: &mut Vec<u8>, v: &[u8]) {
    let pad = v.first().is_some_and(|b| b & 0x80 != 0);
    out.extend_from_slice(&((v.len() + usize::from(pad)) as u32).to_be_bytes());
    if pad {
        out.push(0);
    }
    out.extend_from_slice(v);
}

/// An ssh-rsa identity.
pub struct Identity {
    key: OaepPrivateDecryptingKey,
    tag: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ssh_rsa::Identity({})", self.tag)
    }
}

/// The base64 body of a PEM block with the given label.
fn pem_body(text: &str, label: &str) -> Option<Zeroizing<Vec<u8>>> {
    let begin = format!("-----BEGIN {label}-----");
    let body: Zeroizing<String> = Zeroizing::new(
        text.lines()
            .skip_while(|l| l.trim() != begin)
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .map(str::trim)
            .collect(),
    );
    base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .ok()
        .map(Zeroizing::new)
}

impl Identity {
    /// Parses an unencrypted OpenSSH ssh-rsa private key file.
    pub fn from_openssh(pem: &[u8]) -> Result<Identity, KeyError> {
        let text = std::str::from_utf8(pem).map_err(|_| KeyError::NotOpenSsh)?;
        let bytes = pem_body(text, "OPENSSH PRIVATE KEY").ok_or(KeyError::NotOpenSsh)?;
        let body = bytes
            .strip_prefix(b"openssh-key-v1\0")
            .ok_or(KeyError::NotOpenSsh)?;
        let mut r = Reader(body);
        let cipher = r.string()?;
        let _kdf = r.string()?;
        let _kdf_options = r.string()?;
        if cipher != b"none" {
            return Err(KeyError::Encrypted);
        }
        let count = r.u32()?;
        if count != 1 {
            return Err(KeyError::KeyCount(count));
        }
        let _public = r.string()?;
        let mut p = Reader(r.string()?);
        if p.u32()? != p.u32()? {
            return Err(KeyError::Malformed("check integers differ"));
        }
        if p.string()? != b"ssh-rsa" {
            return Err(KeyError::NotRsa);
        }
        let (n, e, d, iqmp) = (p.mpint()?, p.mpint()?, p.mpint()?, p.mpint()?);
        let (prime_p, prime_q) = (p.mpint()?, p.mpint()?);
        if n.len() * 8 > MAX_MODULUS_BITS {
            return Err(KeyError::TooLarge);
        }
        let odd = |v: &[u8]| v.last().is_some_and(|b| b & 1 == 1);
        if !odd(prime_p) || !odd(prime_q) {
            return Err(KeyError::Malformed("RSA primes must be odd"));
        }
        let dp = ct_bignum::rem_by_even_predecessor(d, prime_p);
        let dq = ct_bignum::rem_by_even_predecessor(d, prime_q);
        let pkcs8 = ct_bignum::rsa_pkcs8(&[n, e, d, prime_p, prime_q, &dp, &dq, iqmp]);
        let key = PrivateDecryptingKey::from_pkcs8(&pkcs8).map_err(|_| KeyError::Rejected)?;
        let key = OaepPrivateDecryptingKey::new(key).map_err(|_| KeyError::Rejected)?;
        let mut blob = Vec::new();
        blob.extend_from_slice(&7u32.to_be_bytes());
        blob.extend_from_slice(b"ssh-rsa");
        put_mpint(&mut blob, e);
        put_mpint(&mut blob, n);
        let digest = sha2::Sha256::digest(&blob);
        let tag = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&digest[..4]);
        Ok(Identity { key, tag })
    }
}

impl age::Identity for Identity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        let [tag] = &stanza.args[..] else {
            return Some(Err(age::DecryptError::InvalidHeader));
        };
        if *tag != self.tag {
            return None; // a stanza for another ssh-rsa key
        }
        if stanza.body.len() != self.key.key_size_bytes() {
            return Some(Err(age::DecryptError::InvalidHeader));
        }
        let mut out = Zeroizing::new(vec![0u8; self.key.min_output_size()]);
        let Ok(plain) = self.key.decrypt(
            &OAEP_SHA256_MGF1SHA256,
            &stanza.body,
            &mut out[..],
            Some(OAEP_LABEL),
        ) else {
            return Some(Err(age::DecryptError::DecryptionFailed));
        };
        if plain.len() != 16 {
            return Some(Err(age::DecryptError::DecryptionFailed));
        }
        Some(FileKey::try_init_with_mut(|k| {
            k.copy_from_slice(plain);
            Ok(())
        }))
    }
}

#[cfg(test)]
mod tests;
