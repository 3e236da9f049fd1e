//! The keys sprig's certificate functions sign with (`certs`): read from
//! PEM as sprig's `parsePrivateKeyPEM` reads them, generated as sprig
//! generates them (RSA 2048), written back as sprig's `pemBlockForKey`
//! writes them, and lent to rcgen as its `SigningKey`, all in aws-lc-rs
//! (never the `rsa` crate: RUSTSEC-2023-0071). aws-lc-rs frees each key
//! zeroized; the DER copies we make are `Zeroizing`.

use std::collections::BTreeMap;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P521_SHA512_ASN1_SIGNING,
    EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use zeroize::Zeroizing;

use super::keygen::{P256, P384, P521, ec_sec1, ed25519_pkcs8, generate_rsa, rsa_pkcs1};
use super::{Budget, FuncError, pem};
use crate::buf::{Buf, Full};

/// A private key a certificate function signs with or certifies.
pub(super) enum Key {
    Rsa(RsaKeyPair),
    /// The key and its curve's object identifier.
    Ec(EcdsaKeyPair, &'static [u64]),
    Ed(Ed25519KeyPair),
}

const UNPARSABLE: FuncError = FuncError::Other("error parsing private key");

/// The curves aws-lc-rs signs on, with the algorithm Go's `x509` picks for
/// each (P-224, which Go also reads, aws-lc-rs does not).
const CURVES: [(&[u64], &EcdsaSigningAlgorithm, &rcgen::SignatureAlgorithm); 3] = [
    (
        P256,
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &rcgen::PKCS_ECDSA_P256_SHA256,
    ),
    (
        P384,
        &ECDSA_P384_SHA384_ASN1_SIGNING,
        &rcgen::PKCS_ECDSA_P384_SHA384,
    ),
    (
        P521,
        &ECDSA_P521_SHA512_ASN1_SIGNING,
        &rcgen::PKCS_ECDSA_P521_SHA512,
    ),
];

/// What one RSA 2048 key generation is charged, in bytes of the render's
/// budget (a quarter of `genPrivateKey`'s 4096-bit key).
const RSA_2048_COST: usize = 4 << 20;

impl Key {
    /// sprig's `rsa.GenerateKey(rand.Reader, 2048)`.
    pub(super) fn generate(ctx: &Budget) -> Result<Key, FuncError> {
        generate_rsa(ctx, KeySize::Rsa2048, RSA_2048_COST).map(Key::Rsa)
    }

    /// sprig's `parsePrivateKeyPEM`: the first PEM block, `PRIVATE KEY` as
    /// PKCS#8 (RSA, EC, Ed25519), `RSA PRIVATE KEY` as PKCS#1, `EC PRIVATE
    /// KEY` as SEC 1. A DSA key, which sprig reads but Go's `x509` cannot
    /// sign with or certify, is refused here.
    pub(super) fn from_pem(text: &[u8]) -> Result<Key, FuncError> {
        let (block, _) = pem::decode(text).ok_or(FuncError::Other(
            "error parsing private key: no PEM data in input",
        ))?;
        let der = &block.bytes[..];
        match &block.kind[..] {
            b"PRIVATE KEY" => RsaKeyPair::from_pkcs8(der)
                .map(Key::Rsa)
                .or_else(|_| ec(der))
                .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map(Key::Ed))
                .map_err(|_| UNPARSABLE),
            b"RSA PRIVATE KEY" => RsaKeyPair::from_der(der)
                .map(Key::Rsa)
                .map_err(|_| UNPARSABLE),
            b"EC PRIVATE KEY" => ec(der).map_err(|_| UNPARSABLE),
            b"DSA PRIVATE KEY" => Err(FuncError::Other(
                "DSA keys are not supported (Go's x509 cannot sign with them)",
            )),
            _ => Err(FuncError::Other(
                "error parsing private key: not a private key PEM block",
            )),
        }
    }

    /// sprig's `pemBlockForKey`: RSA as PKCS#1 `RSA PRIVATE KEY`, EC as
    /// SEC 1 `EC PRIVATE KEY`, Ed25519 as PKCS#8 `PRIVATE KEY`.
    pub(super) fn write_pem(&self, out: &mut Buf) -> Result<Result<(), Full>, FuncError> {
        let (label, der): (&[u8], Zeroizing<Vec<u8>>) = match self {
            Key::Rsa(k) => (b"RSA PRIVATE KEY", rsa_pkcs1(k)?),
            Key::Ec(k, curve) => (b"EC PRIVATE KEY", ec_sec1(k, curve)?),
            Key::Ed(k) => (b"PRIVATE KEY", ed25519_pkcs8(k)?),
        };
        Ok(pem::encode_parts(out, label, &BTreeMap::new(), &der))
    }
}

/// An EC key (SEC 1 or PKCS#8) on whichever curve it names.
fn ec(der: &[u8]) -> Result<Key, ()> {
    CURVES
        .iter()
        .find_map(|(curve, alg, _)| {
            EcdsaKeyPair::from_private_key_der(alg, der)
                .ok()
                .map(|k| Key::Ec(k, curve))
        })
        .ok_or(())
}

impl rcgen::PublicKeyData for Key {
    /// The subjectPublicKey bits: PKCS#1 `RSAPublicKey`, the EC point, the
    /// Ed25519 key.
    fn der_bytes(&self) -> &[u8] {
        match self {
            Key::Rsa(k) => k.public_key().as_ref(),
            Key::Ec(k, _) => k.public_key().as_ref(),
            Key::Ed(k) => k.public_key().as_ref(),
        }
    }

    /// What Go's `x509` signs with for this key: SHA-256 with RSA
    /// (PKCS #1 v1.5), ECDSA with the curve's hash, Ed25519.
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            Key::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
            Key::Ec(_, curve) => CURVES
                .iter()
                .find(|(c, _, _)| c == curve)
                .map_or(&rcgen::PKCS_ECDSA_P256_SHA256, |(_, _, alg)| *alg),
            Key::Ed(_) => &rcgen::PKCS_ED25519,
        }
    }
}

impl rcgen::SigningKey for Key {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let rng = SystemRandom::new();
        match self {
            Key::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .map_err(|_| rcgen::Error::RingUnspecified)?;
                Ok(sig)
            }
            Key::Ec(k, _) => k
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| rcgen::Error::RingUnspecified),
            Key::Ed(k) => Ok(k.sign(msg).as_ref().to_vec()),
        }
    }
}
