//! Sealing certificates: reading them and refusing expired ones.
//!
//! The certificate is how a public sealing key travels (`kubeseal --cert`,
//! the controller's `/v1/cert.pem`, `tls.crt` in a key Secret). Reading
//! matches Bitnami: a PEM text may hold several certificates, blocks of other
//! types are skipped (`certUtil.ParseCertsPEM`), and kubeseal seals to the
//! first certificate and refuses it when it has expired.

use std::fmt;
use std::time::SystemTime;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};
use crate::keys::{Fingerprint, PublicKey};
use crate::pem;

/// PEM label of an X.509 certificate.
pub const CERTIFICATE_LABEL: &str = "CERTIFICATE";

/// An X.509 certificate holding an RSA sealing key.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    public_key: PublicKey,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    serial: Vec<u8>,
    common_name: Option<String>,
}

impl Certificate {
    /// Reads one DER certificate (no expiry check).
    pub fn from_der(der: &[u8]) -> Result<Certificate> {
        Self::from_der_at(der, 0)
    }

    fn from_der_at(der: &[u8], index: usize) -> Result<Certificate> {
        let malformed = |reason: String| Error::MalformedCertificate { index, reason };
        let (_, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|e| malformed(e.to_string()))?;
        let public_key = PublicKey::from_spki_der(cert.public_key().raw)?;
        let validity = cert.validity();
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        Ok(Certificate {
            der: der.to_vec(),
            public_key,
            not_before: validity.not_before.to_datetime(),
            not_after: validity.not_after.to_datetime(),
            serial: cert.raw_serial().to_vec(),
            common_name,
        })
    }

    /// Reads every certificate in PEM text, in order (no expiry check).
    /// Blocks of other types are skipped; no certificate at all is an error.
    pub fn parse_pem_chain(text: &str) -> Result<Vec<Certificate>> {
        const WHAT: &str = "certificate";
        let blocks = pem::parse_blocks(text, WHAT)?;
        let certs = blocks
            .iter()
            .filter(|block| block.label == CERTIFICATE_LABEL)
            .enumerate()
            .map(|(index, block)| Self::from_der_at(&block.der, index))
            .collect::<Result<Vec<_>>>()?;
        if certs.is_empty() {
            return Err(match blocks.first() {
                None => Error::NoPemBlock { what: WHAT },
                Some(block) => Error::UnexpectedPemLabel {
                    what: WHAT,
                    found: block.label.chars().take(64).collect(),
                    expected: "CERTIFICATE",
                },
            });
        }
        Ok(certs)
    }

    /// Reads the sealing certificate from PEM text: the first certificate,
    /// refused if it has expired. Matches kubeseal, which seals to the first
    /// certificate and rejects an expired one.
    pub fn from_pem(text: &str) -> Result<Certificate> {
        let first = Self::parse_pem_chain(text)?.swap_remove(0);
        first.ensure_not_expired_at(SystemTime::now())?;
        Ok(first)
    }

    /// Fails with [`Error::CertificateExpired`] if the certificate has
    /// expired at `now`.
    pub fn ensure_not_expired_at(&self, now: SystemTime) -> Result<()> {
        if now > SystemTime::from(self.not_after) {
            return Err(Error::CertificateExpired {
                not_after: format_time(self.not_after),
                fingerprint: self.fingerprint(),
            });
        }
        Ok(())
    }

    /// The certificate's public key, which values are sealed to.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The fingerprint of its public key (the same as its private key's).
    pub fn fingerprint(&self) -> Fingerprint {
        self.public_key.fingerprint()
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> SystemTime {
        self.not_before.into()
    }

    /// End of the validity period.
    pub fn not_after(&self) -> SystemTime {
        self.not_after.into()
    }

    /// The serial number, big-endian, as encoded.
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// The subject's common name, if any (Bitnami's default is none).
    pub fn common_name(&self) -> Option<&str> {
        self.common_name.as_deref()
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as a `CERTIFICATE` PEM block.
    pub fn to_pem(&self) -> String {
        pem::encode(CERTIFICATE_LABEL, &self.der).to_string()
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("fingerprint", &self.fingerprint())
            .field("common_name", &self.common_name)
            .field("not_before", &format_time(self.not_before))
            .field("not_after", &format_time(self.not_after))
            .finish_non_exhaustive()
    }
}

pub(crate) fn format_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_pem_chain_rejects_text_without_certificates() {
        let err = Certificate::parse_pem_chain("nothing here").unwrap_err();
        assert_eq!(err.to_string(), "no pem block found in the certificate");
        let text = pem::encode("PUBLIC KEY", b"x");
        let err = Certificate::parse_pem_chain(&text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unexpected pem block \"PUBLIC KEY\" in the certificate; expected CERTIFICATE"
        );
    }

    #[test]
    fn parse_pem_chain_names_the_bad_certificate() {
        let text = pem::encode(CERTIFICATE_LABEL, b"\x30\x03\x02\x01\x00");
        let err = Certificate::parse_pem_chain(&text).unwrap_err();
        assert!(
            matches!(err, Error::MalformedCertificate { index: 0, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("certificate 0 in the pem is not valid x.509")
        );
    }
}
