//! age's post-quantum recipient type, `mlkem768x25519` (age v1.3, the C2SP
//! age specification, "The MLKEM768-X25519 (i.e. X-Wing) hybrid
//! post-quantum recipient type"; sops 3.12+ through filippo.io/age 1.3):
//! `age1pq1…` recipients, `AGE-SECRET-KEY-PQ-1…` identities, and the stanza
//! that carries a file key, plugged into the age crate's `Recipient` and
//! `Identity` traits so the rest of the envelope code is unchanged.
//!
//! The KEM is MLKEM768-X25519 of draft-ietf-hpke-pq (KEM id 0x647a): an
//! identity is a 32-byte seed; SHAKE256(seed) gives the 64-byte ML-KEM-768
//! seed (d || z) and then the X25519 scalar. The shared secret is
//! `SHA3-256(ss_mlkem || ss_x25519 || ct_x25519 || pk_x25519 || "\.//^\")`,
//! and the file key is sealed with HPKE base mode ([`crate::hpke`]). ML-KEM
//! encapsulation and decapsulation and X25519 run in aws-lc-rs; the
//! RustCrypto `ml-kem` crate only expands the seed (aws-lc-rs 1.19 has no
//! seed-form key import). Every secret lives in a zeroizing buffer.

use std::collections::HashSet;

use age_core::format::{FileKey, Stanza};
use age_core::secrecy::ExposeSecret;
use aws_lc_rs::agreement::{self, EphemeralPrivateKey, PrivateKey, UnparsedPublicKey, X25519};
use aws_lc_rs::kem::{Ciphertext, DecapsulationKey, EncapsulationKey, ML_KEM_768};
use aws_lc_rs::rand::SystemRandom;
use base64::Engine as _;
use ml_kem::{EncodedSizeUser as _, KemCore as _, MlKem768};
use sha3::digest::{Digest as _, ExtendableOutput as _, Update as _, XofReader as _};
use zeroize::Zeroizing;

use crate::bech32long;

/// The stanza tag.
pub(crate) const STANZA_TAG: &str = "mlkem768x25519";
/// The recipient's Bech32 HRP (`age1pq1…`).
pub(crate) const RECIPIENT_HRP: &str = "age1pq";
/// The identity's Bech32 HRP (`AGE-SECRET-KEY-PQ-1…`).
pub(crate) const IDENTITY_HRP: &str = "AGE-SECRET-KEY-PQ-";
/// HPKE `info`.
const INFO: &[u8] = b"age-encryption.org/mlkem768x25519";
/// MLKEM768-X25519's HPKE KEM identifier.
const KEM_ID: u16 = 0x647a;
/// X-Wing's domain-separation label, hashed last into the shared secret.
const XWING_LABEL: &[u8] = b"\\.//^\\";
const MLKEM_EK_LEN: usize = 1184;
const MLKEM_CT_LEN: usize = 1088;
const X25519_LEN: usize = 32;
/// A recipient: the ML-KEM-768 encapsulation key, then the X25519 point.
pub(crate) const PUBLIC_LEN: usize = MLKEM_EK_LEN + X25519_LEN;
/// The encapsulated key in the stanza's argument.
pub(crate) const ENC_LEN: usize = MLKEM_CT_LEN + X25519_LEN;
/// The stanza body: the 16-byte file key and the AEAD tag.
pub(crate) const BODY_LEN: usize = 16 + crate::hpke::TAG_LEN;

/// Why a recipient or identity string was refused (never with key bytes).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not valid Bech32: {0}")]
    Bech32(String),
    #[error("wrong prefix {found:?} (expected {expected:?})")]
    Prefix {
        found: String,
        expected: &'static str,
    },
    #[error("wrong key length {found} bytes (expected {expected})")]
    Length { found: usize, expected: usize },
    #[error("not a valid MLKEM768-X25519 public key")]
    InvalidPublicKey,
}

fn combine(ss_pq: &[u8], ss_t: &[u8], ct_t: &[u8], pk_t: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut h = sha3::Sha3_256::new();
    for part in [ss_pq, ss_t, ct_t, pk_t, XWING_LABEL] {
        sha3::digest::Update::update(&mut h, part);
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&h.finalize());
    out
}

/// An `age1pq1…` recipient.
pub struct Recipient {
    mlkem: EncapsulationKey,
    x25519: [u8; X25519_LEN],
}

impl Recipient {
    /// Parses an `age1pq1…` string.
    pub fn parse(s: &str) -> Result<Recipient, KeyError> {
        let (hrp, bytes) = bech32long::decode(s).map_err(KeyError::Bech32)?;
        if hrp != RECIPIENT_HRP {
            return Err(KeyError::Prefix {
                found: hrp,
                expected: RECIPIENT_HRP,
            });
        }
        Recipient::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8]) -> Result<Recipient, KeyError> {
        if bytes.len() != PUBLIC_LEN {
            return Err(KeyError::Length {
                found: bytes.len(),
                expected: PUBLIC_LEN,
            });
        }
        let mlkem = EncapsulationKey::new(&ML_KEM_768, &bytes[..MLKEM_EK_LEN])
            .map_err(|_| KeyError::InvalidPublicKey)?;
        let mut x25519 = [0u8; X25519_LEN];
        x25519.copy_from_slice(&bytes[MLKEM_EK_LEN..]);
        Ok(Recipient { mlkem, x25519 })
    }

    /// The `age1pq1…` encoding.
    pub fn to_bech32(&self) -> String {
        let mut bytes = Vec::with_capacity(PUBLIC_LEN);
        bytes.extend_from_slice(
            self.mlkem
                .key_bytes()
                .expect("an ML-KEM-768 encapsulation key serializes")
                .as_ref(),
        );
        bytes.extend_from_slice(&self.x25519);
        bech32long::encode(RECIPIENT_HRP, &bytes)
    }

    /// Encapsulates: the 1120-byte `enc` and the KEM shared secret.
    fn encapsulate(&self) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>), String> {
        let rng = SystemRandom::new();
        let eph = EphemeralPrivateKey::generate(&X25519, &rng)
            .map_err(|_| "X25519 key generation failed".to_string())?;
        let ct_t = eph
            .compute_public_key()
            .map_err(|_| "X25519 public key failed".to_string())?;
        let ss_t = agreement::agree_ephemeral(
            eph,
            UnparsedPublicKey::new(&X25519, &self.x25519),
            "the recipient's X25519 key is invalid".to_string(),
            |ss| Ok(Zeroizing::new(ss.to_vec())),
        )?;
        let (ct_pq, ss_pq) = self
            .mlkem
            .encapsulate()
            .map_err(|_| "ML-KEM-768 encapsulation failed".to_string())?;
        let ss = combine(ss_pq.as_ref(), &ss_t, ct_t.as_ref(), &self.x25519);
        let mut enc = Vec::with_capacity(ENC_LEN);
        enc.extend_from_slice(ct_pq.as_ref());
        enc.extend_from_slice(ct_t.as_ref());
        Ok((enc, ss))
    }
}

impl age::Recipient for Recipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        let (enc, ss) = self
            .encapsulate()
            .map_err(|e| age::EncryptError::Io(std::io::Error::other(e)))?;
        let body = crate::hpke::seal(KEM_ID, &ss[..], INFO, file_key.expose_secret());
        let stanza = Stanza {
            tag: STANZA_TAG.into(),
            args: vec![base64::engine::general_purpose::STANDARD_NO_PAD.encode(enc)],
            body,
        };
        // As age does: a post-quantum stanza must not sit beside classical
        // ones in the same age file (sops writes one age file per recipient).
        Ok((vec![stanza], HashSet::from(["postquantum".to_string()])))
    }
}

/// An `AGE-SECRET-KEY-PQ-1…` identity.
pub struct Identity {
    seed: Zeroizing<[u8; 32]>,
    mlkem: DecapsulationKey,
    x25519: PrivateKey,
    public: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("pq::Identity(..)")
    }
}

impl Identity {
    /// Parses an `AGE-SECRET-KEY-PQ-1…` string (errors never echo it).
    pub fn parse(s: &str) -> Result<Identity, KeyError> {
        let (hrp, bytes) = bech32long::decode(s).map_err(KeyError::Bech32)?;
        let bytes = Zeroizing::new(bytes);
        if !hrp.eq_ignore_ascii_case(IDENTITY_HRP) {
            return Err(KeyError::Prefix {
                found: hrp.to_ascii_uppercase(),
                expected: IDENTITY_HRP,
            });
        }
        let seed: [u8; 32] = bytes[..].try_into().map_err(|_| KeyError::Length {
            found: bytes.len(),
            expected: 32,
        })?;
        Ok(Identity::from_seed(Zeroizing::new(seed)))
    }

    /// A fresh random identity.
    pub fn generate() -> Identity {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(&mut seed[..]).expect("the OS random source works");
        Identity::from_seed(seed)
    }

    fn from_seed(seed: Zeroizing<[u8; 32]>) -> Identity {
        let mut xof = sha3::Shake256::default();
        xof.update(&seed[..]);
        let mut reader = xof.finalize_xof();
        let mut d = Zeroizing::new([0u8; 32]);
        let mut z = Zeroizing::new([0u8; 32]);
        let mut sk_t = Zeroizing::new([0u8; 32]);
        reader.read(&mut d[..]);
        reader.read(&mut z[..]);
        reader.read(&mut sk_t[..]);
        let (dk, ek) = MlKem768::generate_deterministic(&(*d).into(), &(*z).into());
        let dk_bytes = Zeroizing::new(dk.as_bytes().to_vec());
        let mlkem = DecapsulationKey::new(&ML_KEM_768, &dk_bytes)
            .expect("an expanded ML-KEM-768 key has the size aws-lc-rs expects");
        let x25519 = PrivateKey::from_private_key(&X25519, &sk_t[..])
            .expect("every 32-byte string is an X25519 scalar");
        let mut public = Zeroizing::new(ek.as_bytes().to_vec());
        public.extend_from_slice(
            x25519
                .compute_public_key()
                .expect("an X25519 public key computes")
                .as_ref(),
        );
        Identity {
            seed,
            mlkem,
            x25519,
            public,
        }
    }

    /// The matching recipient.
    pub fn to_public(&self) -> Recipient {
        Recipient::from_bytes(&self.public).expect("an identity's own public key is valid")
    }

    /// The `AGE-SECRET-KEY-PQ-1…` encoding (secret: handle with care).
    pub fn to_bech32(&self) -> Zeroizing<String> {
        Zeroizing::new(bech32long::encode(IDENTITY_HRP, &self.seed[..]).to_ascii_uppercase())
    }

    /// Decapsulates `enc`: the shared secret, or `None` if X25519 rejects
    /// the ephemeral point (ML-KEM rejects implicitly, so a stanza for
    /// another identity only shows when the AEAD tag fails).
    fn decapsulate(&self, enc: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
        let (ct_pq, ct_t) = enc.split_at(MLKEM_CT_LEN);
        let ss_pq = self.mlkem.decapsulate(Ciphertext::from(ct_pq)).ok()?;
        let ss_t = agreement::agree(
            &self.x25519,
            UnparsedPublicKey::new(&X25519, ct_t),
            (),
            |ss| Ok(Zeroizing::new(ss.to_vec())),
        )
        .ok()?;
        Some(combine(
            ss_pq.as_ref(),
            &ss_t,
            ct_t,
            &self.public[MLKEM_EK_LEN..],
        ))
    }
}

impl age::Identity for Identity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        // The spec: exactly one argument, the canonical base64 of a
        // 1120-byte value, and a 32-byte body checked before decrypting.
        let [arg] = &stanza.args[..] else {
            return Some(Err(age::DecryptError::InvalidHeader));
        };
        let enc = match base64::engine::general_purpose::STANDARD_NO_PAD.decode(arg) {
            Ok(enc) if enc.len() == ENC_LEN => enc,
            _ => return Some(Err(age::DecryptError::InvalidHeader)),
        };
        if stanza.body.len() != BODY_LEN {
            return Some(Err(age::DecryptError::InvalidHeader));
        }
        let ss = self.decapsulate(&enc)?;
        let plain = crate::hpke::open(KEM_ID, &ss[..], INFO, &stanza.body)?;
        Some(FileKey::try_init_with_mut(|k| {
            k.copy_from_slice(&plain[..]);
            Ok(())
        }))
    }
}

#[cfg(test)]
mod tests;
