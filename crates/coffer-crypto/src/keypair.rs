//! Sealing key pairs: a private key with the self-signed certificate that
//! publishes its public half, generated as the Bitnami controller makes them.
//!
//! Matches `GeneratePrivateKeyAndCert`/`SignKey` in Bitnami's
//! `pkg/crypto/keys.go`: an RSA key (4096 bits by default), and a self-signed
//! X.509 v3 certificate with a random serial below 2^128, the subject holding
//! only the (by default empty) common name, validity from now for the key's
//! lifetime (10 years by default), key usage `encipherOnly` and basic
//! constraints `CA:TRUE`, signed with SHA-256 with RSA. Like Go's
//! `x509.CreateCertificate` for a CA, the subject key identifier is the SHA-1
//! of the public key and there is no authority key identifier.

use std::fmt;
use std::time::Duration;

use aws_lc_rs::rsa::KeyPair as LcSigningKey;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyIdMethod,
    KeyUsagePurpose, PublicKeyData, SerialNumber, SignatureAlgorithm, SigningKey,
};
use time::OffsetDateTime;

use crate::cert::Certificate;
use crate::error::{Error, Result};
use crate::keys::{Fingerprint, KeySize, PrivateKey};

/// How long a generated certificate is valid by default: ten years of 365
/// days, the Bitnami controller's default `--key-ttl` for its certificate.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// Options for generating a sealing key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOptions {
    /// RSA key size (default 4096 bits).
    pub size: KeySize,
    /// Subject common name of the certificate (default empty, as Bitnami's
    /// `--key-cn`).
    pub common_name: String,
    /// Certificate validity from now (default [`DEFAULT_VALIDITY`]).
    pub validity: Duration,
}

impl Default for KeyOptions {
    fn default() -> Self {
        KeyOptions {
            size: KeySize::default(),
            common_name: String::new(),
            validity: DEFAULT_VALIDITY,
        }
    }
}

/// A private sealing key and its certificate.
#[derive(Clone)]
pub struct KeyPair {
    private_key: PrivateKey,
    certificate: Certificate,
}

impl KeyPair {
    /// Generates a new key and its self-signed certificate.
    pub fn generate(options: &KeyOptions) -> Result<KeyPair> {
        let private_key = PrivateKey::generate(options.size)?;
        let certificate = self_signed_certificate(&private_key, options)?;
        Ok(KeyPair {
            private_key,
            certificate,
        })
    }

    /// Pairs a key with a certificate, checking that they belong together.
    pub fn new(private_key: PrivateKey, certificate: Certificate) -> Result<KeyPair> {
        if certificate.fingerprint() != private_key.fingerprint() {
            return Err(Error::KeyCertificateMismatch {
                certificate: certificate.fingerprint(),
                private_key: private_key.fingerprint(),
            });
        }
        Ok(KeyPair {
            private_key,
            certificate,
        })
    }

    /// Reads a key Secret's `tls.key` and `tls.crt` (the first certificate
    /// is the one that must match; expiry is not checked, since an expired
    /// key must still open what was sealed to it).
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> Result<KeyPair> {
        let private_key = PrivateKey::from_pem(key_pem)?;
        let certificate = Certificate::parse_pem_chain(cert_pem)?.swap_remove(0);
        Self::new(private_key, certificate)
    }

    /// The private key.
    pub fn private_key(&self) -> &PrivateKey {
        &self.private_key
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The fingerprint shared by the key and the certificate.
    pub fn fingerprint(&self) -> Fingerprint {
        self.private_key.fingerprint()
    }

    /// Splits into the private key and the certificate.
    pub fn into_parts(self) -> (PrivateKey, Certificate) {
        (self.private_key, self.certificate)
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("private_key", &self.private_key)
            .field("certificate", &self.certificate)
            .finish()
    }
}

/// Creates the self-signed certificate for `key` as Bitnami's `SignKey` does.
pub fn self_signed_certificate(key: &PrivateKey, options: &KeyOptions) -> Result<Certificate> {
    let creation = |reason: String| Error::CertificateCreation { reason };
    let signer = {
        let pkcs8 = key.to_pkcs8_der()?;
        LcSigningKey::from_pkcs8(&pkcs8)
            .map_err(|e| creation(format!("signing key rejected: {}", e.description_())))?
    };
    let signer = RsaSigner(signer);

    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).map_err(|_| Error::Random)?;
    let not_before = OffsetDateTime::now_utc();
    let validity = time::Duration::try_from(options.validity)
        .map_err(|_| creation("validity is too long".to_owned()))?;
    let not_after = not_before
        .checked_add(validity)
        .ok_or_else(|| creation("validity is too long".to_owned()))?;

    let mut params = CertificateParams::default();
    params.not_before = not_before;
    params.not_after = not_after;
    // rcgen encodes the serial as a positive integer, so this is a random
    // number below 2^128 like Go's `rand.Int(r, 2^128)`.
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.distinguished_name = DistinguishedName::new();
    if !options.common_name.is_empty() {
        params
            .distinguished_name
            .push(DnType::CommonName, options.common_name.as_str());
    }
    params.key_usages = vec![KeyUsagePurpose::EncipherOnly];
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Go sets the subject key identifier of a CA to the SHA-1 of the public
    // key bits, and omits the authority key identifier when self-signed.
    let ski = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        signer.der_bytes(),
    );
    params.key_identifier_method = KeyIdMethod::PreSpecified(ski.as_ref().to_vec());
    params.use_authority_key_identifier_extension = false;

    let cert = params
        .self_signed(&signer)
        .map_err(|e| creation(e.to_string()))?;
    Certificate::from_der(cert.der())
}

/// Lets rcgen sign with an aws-lc-rs RSA key, so the private key never
/// passes through rcgen's own (non-zeroizing) key storage.
struct RsaSigner(LcSigningKey);

impl PublicKeyData for RsaSigner {
    fn der_bytes(&self) -> &[u8] {
        // The DER RSAPublicKey, as rcgen expects for RSA.
        aws_lc_rs::signature::KeyPair::public_key(&self.0).as_ref()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

impl SigningKey for RsaSigner {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        let mut signature = vec![0u8; self.0.public_modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                msg,
                &mut signature,
            )
            .map_err(|_| rcgen::Error::RingUnspecified)?;
        Ok(signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keys::key_2048;

    #[test]
    fn certificate_matches_key_and_options() {
        let key = key_2048();
        let options = KeyOptions {
            size: KeySize::Rsa2048,
            common_name: "sealed-secret".to_owned(),
            validity: Duration::from_secs(3600),
        };
        let cert = self_signed_certificate(key, &options).unwrap();
        assert_eq!(cert.fingerprint(), key.fingerprint());
        assert_eq!(cert.common_name(), Some("sealed-secret"));
        let lifetime = cert.not_after().duration_since(cert.not_before()).unwrap();
        assert_eq!(lifetime, Duration::from_secs(3600));
        assert!(cert.serial().len() <= 17, "serial {:?}", cert.serial());
    }

    #[test]
    fn default_certificate_has_no_common_name_and_ten_years() {
        let key = key_2048();
        let cert = self_signed_certificate(key, &KeyOptions::default()).unwrap();
        assert_eq!(cert.common_name(), None);
        let lifetime = cert.not_after().duration_since(cert.not_before()).unwrap();
        assert_eq!(lifetime, DEFAULT_VALIDITY);
    }

    #[test]
    fn key_pair_rejects_a_certificate_of_another_key() {
        let key = key_2048();
        let other = PrivateKey::generate(KeySize::Rsa2048).unwrap();
        let cert = self_signed_certificate(&other, &KeyOptions::default()).unwrap();
        let err = KeyPair::new(key.clone(), cert).unwrap_err();
        assert!(matches!(err, Error::KeyCertificateMismatch { .. }), "{err}");
    }
}
