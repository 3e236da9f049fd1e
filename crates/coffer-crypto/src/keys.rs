//! RSA public and private keys, their PEM forms and their fingerprints.
//!
//! Private keys read and write PKCS#1 (`RSA PRIVATE KEY`, the `tls.key` of
//! Bitnami's key Secrets) and PKCS#8 (`PRIVATE KEY`). All RSA work is done by
//! aws-lc-rs, whose OAEP decryption is constant-time. A private key's `Debug`
//! shows only its fingerprint and size; serialized forms come back in
//! `Zeroizing` buffers.

use std::cell::Cell;
use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize as LcKeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use zeroize::Zeroizing;

use crate::der;
use crate::error::{Error, Result};
pub use crate::fingerprint::Fingerprint;
use crate::pem;

/// PEM label of a PKCS#1 RSA private key.
pub const PKCS1_PRIVATE_KEY_LABEL: &str = "RSA PRIVATE KEY";
/// PEM label of a PKCS#8 private key.
pub const PKCS8_PRIVATE_KEY_LABEL: &str = "PRIVATE KEY";
/// PEM label of an X.509 SubjectPublicKeyInfo.
pub const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";

/// The RSA key sizes this crate generates. (Keys of other sizes that
/// aws-lc-rs accepts, 2048 to 8192 bits, can still be read.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeySize {
    /// 2048 bits.
    Rsa2048,
    /// 3072 bits.
    Rsa3072,
    /// 4096 bits, the default (matches the Bitnami controller's `--key-size`).
    #[default]
    Rsa4096,
}

impl KeySize {
    /// The size in bits.
    pub fn bits(self) -> usize {
        match self {
            KeySize::Rsa2048 => 2048,
            KeySize::Rsa3072 => 3072,
            KeySize::Rsa4096 => 4096,
        }
    }

    /// The size for `bits`, if it is one we generate.
    pub fn from_bits(bits: usize) -> Result<KeySize> {
        match bits {
            2048 => Ok(KeySize::Rsa2048),
            3072 => Ok(KeySize::Rsa3072),
            4096 => Ok(KeySize::Rsa4096),
            _ => Err(Error::UnsupportedKeySize { bits }),
        }
    }

    fn to_lc(self) -> LcKeySize {
        match self {
            KeySize::Rsa2048 => LcKeySize::Rsa2048,
            KeySize::Rsa3072 => LcKeySize::Rsa3072,
            KeySize::Rsa4096 => LcKeySize::Rsa4096,
        }
    }
}

/// An RSA public key that values are sealed to.
#[derive(Clone)]
pub struct PublicKey {
    key: PublicEncryptingKey,
    spki: Vec<u8>,
    fingerprint: Fingerprint,
}

impl PublicKey {
    /// Reads a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(spki: &[u8]) -> Result<PublicKey> {
        let key = PublicEncryptingKey::from_der(spki).map_err(|e| Error::MalformedPublicKey {
            reason: e.description_(),
        })?;
        Self::from_lc(key)
    }

    /// Reads a `PUBLIC KEY` PEM block.
    pub fn from_pem(text: &str) -> Result<PublicKey> {
        const WHAT: &str = "public key";
        let blocks = pem::parse_blocks(text, WHAT)?;
        let block = blocks.first().ok_or(Error::NoPemBlock { what: WHAT })?;
        if block.label != PUBLIC_KEY_LABEL {
            return Err(Error::UnexpectedPemLabel {
                what: WHAT,
                found: block.label.clone(),
                expected: "PUBLIC KEY",
            });
        }
        Self::from_spki_der(&block.der)
    }

    fn from_lc(key: PublicEncryptingKey) -> Result<PublicKey> {
        let spki = key
            .as_der()
            .map_err(|_| Error::MalformedPublicKey {
                reason: "cannot be encoded as der",
            })?
            .as_ref()
            .to_vec();
        let fingerprint = Fingerprint::of_spki_der(&spki);
        Ok(PublicKey {
            key,
            spki,
            fingerprint,
        })
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The key as a `PUBLIC KEY` PEM block.
    pub fn to_pem(&self) -> String {
        pem::encode(PUBLIC_KEY_LABEL, &self.spki).to_string()
    }

    /// The key's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.key_size_bits()
    }

    pub(crate) fn oaep(&self) -> Result<OaepPublicEncryptingKey> {
        OaepPublicEncryptingKey::new(self.key.clone())
            .map_err(|_| Error::RsaEncrypt { bits: self.bits() })
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki == other.spki
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("bits", &self.bits())
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

/// An RSA private key that opens sealed values. Its `Debug` shows only the
/// fingerprint and size; aws-lc frees (and clears) the key material on drop.
#[derive(Clone)]
pub struct PrivateKey {
    key: PrivateDecryptingKey,
    public: PublicKey,
}

impl PrivateKey {
    /// Generates a new key pair. A 4096-bit key takes about a second.
    pub fn generate(size: KeySize) -> Result<PrivateKey> {
        let key = PrivateDecryptingKey::generate(size.to_lc()).map_err(|_| Error::KeyGeneration)?;
        Self::from_lc(key)
    }

    /// Reads a PKCS#8 `PrivateKeyInfo` (DER).
    pub fn from_pkcs8_der(pkcs8: &[u8]) -> Result<PrivateKey> {
        let key =
            PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|e| Error::MalformedPrivateKey {
                format: "pkcs#8",
                reason: e.description_(),
            })?;
        Self::from_lc(key)
    }

    /// Reads a PKCS#1 `RSAPrivateKey` (DER).
    pub fn from_pkcs1_der(pkcs1: &[u8]) -> Result<PrivateKey> {
        let pkcs8 = der::pkcs1_to_pkcs8(pkcs1);
        let key =
            PrivateDecryptingKey::from_pkcs8(&pkcs8).map_err(|e| Error::MalformedPrivateKey {
                format: "pkcs#1",
                reason: e.description_(),
            })?;
        Self::from_lc(key)
    }

    /// Reads the first private key in PEM text: `RSA PRIVATE KEY` (PKCS#1)
    /// or `PRIVATE KEY` (PKCS#8). Other blocks, such as a certificate in the
    /// same file, are skipped, as Bitnami's `keyutil.ParsePrivateKeyPEM` does.
    pub fn from_pem(text: &str) -> Result<PrivateKey> {
        const WHAT: &str = "private key";
        let blocks = pem::parse_blocks(text, WHAT)?;
        for block in &blocks {
            if block.encrypted || block.label == "ENCRYPTED PRIVATE KEY" {
                return Err(Error::EncryptedPrivateKey);
            }
            match block.label.as_str() {
                PKCS1_PRIVATE_KEY_LABEL => return Self::from_pkcs1_der(&block.der),
                PKCS8_PRIVATE_KEY_LABEL => return Self::from_pkcs8_der(&block.der),
                _ => {}
            }
        }
        match blocks.first() {
            None => Err(Error::NoPemBlock { what: WHAT }),
            Some(block) => Err(Error::UnexpectedPemLabel {
                what: WHAT,
                found: block.label.chars().take(64).collect(),
                expected: "RSA PRIVATE KEY or PRIVATE KEY",
            }),
        }
    }

    fn from_lc(key: PrivateDecryptingKey) -> Result<PrivateKey> {
        let public = PublicKey::from_lc(key.public_key())?;
        Ok(PrivateKey { key, public })
    }

    /// The key as PKCS#8 DER.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let der = self.key.as_der().map_err(|_| Error::MalformedPrivateKey {
            format: "pkcs#8",
            reason: "cannot be encoded as der",
        })?;
        Ok(Zeroizing::new(der.as_ref().to_vec()))
    }

    /// The key as PKCS#1 DER.
    pub fn to_pkcs1_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let pkcs8 = self.to_pkcs8_der()?;
        let pkcs1 = der::pkcs8_to_pkcs1(&pkcs8).map_err(|reason| Error::MalformedPrivateKey {
            format: "pkcs#8",
            reason,
        })?;
        Ok(Zeroizing::new(pkcs1.to_vec()))
    }

    /// The key as an `RSA PRIVATE KEY` PEM block, as Bitnami writes `tls.key`.
    pub fn to_pkcs1_pem(&self) -> Result<Zeroizing<String>> {
        Ok(pem::encode(PKCS1_PRIVATE_KEY_LABEL, &self.to_pkcs1_der()?))
    }

    /// The key as a `PRIVATE KEY` (PKCS#8) PEM block.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        Ok(pem::encode(PKCS8_PRIVATE_KEY_LABEL, &self.to_pkcs8_der()?))
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The fingerprint of the public half.
    pub fn fingerprint(&self) -> Fingerprint {
        self.public.fingerprint
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.key_size_bits()
    }

    /// Opens an RSA-OAEP (SHA-256, MGF1-SHA-256) block with `label`; `None`
    /// when this key or label does not fit. Constant-time in aws-lc.
    pub(crate) fn decrypt_oaep(&self, label: &[u8], block: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if block.len() != self.key.key_size_bytes() {
            return None;
        }
        PRIVATE_KEY_OPERATIONS.with(|n| n.set(n.get().wrapping_add(1)));
        let oaep = OaepPrivateDecryptingKey::new(self.key.clone()).ok()?;
        let mut out = Zeroizing::new(vec![0u8; oaep.min_output_size()]);
        let len = oaep
            .decrypt(&OAEP_SHA256_MGF1SHA256, block, &mut out, Some(label))
            .ok()?
            .len();
        out.truncate(len);
        Some(out)
    }
}

thread_local! {
    static PRIVATE_KEY_OPERATIONS: Cell<u64> = const { Cell::new(0) };
}

/// How many RSA private-key operations (one per key tried on a sealed value)
/// this thread has performed so far. The difference between two readings
/// around a piece of work on one thread is what that work cost; the
/// controller charges its `/v1/verify` and `/v1/rotate` callers by it,
/// since a value sealed to an old key costs one operation per newer key
/// tried first. Wraps around (never in practice).
pub fn private_key_operations() -> u64 {
    PRIVATE_KEY_OPERATIONS.with(Cell::get)
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("bits", &self.bits())
            .field("fingerprint", &self.public.fingerprint)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keys::key_2048;

    #[test]
    fn pkcs1_and_pkcs8_pem_round_trip_to_the_same_key() {
        let key = key_2048();
        let pkcs1 = key.to_pkcs1_pem().unwrap();
        let pkcs8 = key.to_pkcs8_pem().unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert_eq!(
            PrivateKey::from_pem(&pkcs1).unwrap().fingerprint(),
            key.fingerprint()
        );
        assert_eq!(
            PrivateKey::from_pem(&pkcs8).unwrap().fingerprint(),
            key.fingerprint()
        );
    }

    #[test]
    fn public_key_pem_round_trips_with_same_fingerprint() {
        let public = key_2048().public_key().clone();
        let read = PublicKey::from_pem(&public.to_pem()).unwrap();
        assert_eq!(read, public);
        assert_eq!(read.fingerprint(), public.fingerprint());
        assert_eq!(read.bits(), 2048);
    }

    #[test]
    fn fingerprint_is_sha256_of_spki_in_lowercase_hex() {
        let public = key_2048().public_key().clone();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, public.to_spki_der());
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(public.fingerprint().to_string(), hex);
        assert_eq!(hex.len(), 64);
    }

    #[test]
    fn from_pem_skips_other_blocks_before_the_key() {
        let key = key_2048();
        let text = format!(
            "{}{}",
            key.public_key().to_pem(),
            key.to_pkcs1_pem().unwrap().as_str()
        );
        assert_eq!(
            PrivateKey::from_pem(&text).unwrap().fingerprint(),
            key.fingerprint()
        );
    }

    #[test]
    fn from_pem_rejects_text_without_a_private_key() {
        let err = PrivateKey::from_pem("hello").unwrap_err();
        assert_eq!(err.to_string(), "no pem block found in the private key");
        let err = PrivateKey::from_pem(&key_2048().public_key().to_pem()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unexpected pem block \"PUBLIC KEY\" in the private key; expected RSA PRIVATE KEY or \
             PRIVATE KEY"
        );
    }

    #[test]
    fn from_pem_rejects_encrypted_keys_with_advice() {
        let text =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = PrivateKey::from_pem(text).unwrap_err();
        assert!(matches!(err, Error::EncryptedPrivateKey), "{err}");
        assert!(err.to_string().contains("openssl rsa"), "{err}");
    }

    #[test]
    fn from_pem_rejects_a_pkcs1_body_that_is_not_a_key() {
        let text = pem::encode(PKCS1_PRIVATE_KEY_LABEL, b"\x30\x03\x02\x01\x00");
        let err = PrivateKey::from_pem(&text).unwrap_err();
        assert!(
            matches!(
                err,
                Error::MalformedPrivateKey {
                    format: "pkcs#1",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn key_size_from_bits_accepts_only_generated_sizes() {
        for size in [KeySize::Rsa2048, KeySize::Rsa3072, KeySize::Rsa4096] {
            assert_eq!(KeySize::from_bits(size.bits()).unwrap(), size);
        }
        let err = KeySize::from_bits(1024).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported rsa key size: 1024 bits (supported: 2048, 3072, 4096)"
        );
        assert_eq!(KeySize::default(), KeySize::Rsa4096);
    }
}
