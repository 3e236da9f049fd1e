//! A client certificate for mutual TLS with Vault (`tls.certSecretRef` and
//! `tls.keySecretRef`, or `auth.cert`'s `clientCert` and `secretRef`).
//!
//! The key lives in a zeroizing buffer until the HTTP client is built (the
//! TLS stack then keeps its own copy for the client's lifetime); `Debug`
//! and errors name the store fields, never the key.

use std::fmt;

use zeroize::Zeroizing;

use crate::session::Fingerprinter;
use crate::{Error, Result};

/// A PEM certificate chain and its PEM private key.
#[derive(Clone)]
pub struct ClientCertificate {
    /// The store field the certificate comes from, for errors.
    pub cert_field: &'static str,
    /// The store field the key comes from, for errors.
    pub key_field: &'static str,
    /// The certificate (chain), PEM.
    pub cert_pem: Vec<u8>,
    /// The private key (PKCS#8, PKCS#1 or SEC 1), PEM.
    pub key_pem: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("cert_field", &self.cert_field)
            .field("key_field", &self.key_field)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// The identity the HTTP client presents, or a configuration error
    /// naming the field that does not hold what it should.
    pub(super) fn identity(&self, store: &str) -> Result<reqwest::Identity> {
        let invalid = |reason: String| Error::Config {
            store: store.to_owned(),
            reason,
        };
        let certs = reqwest::Certificate::from_pem_bundle(&self.cert_pem).unwrap_or_default();
        if certs.is_empty() {
            return Err(invalid(format!(
                "{}: holds no PEM certificate",
                self.cert_field
            )));
        }
        if !contains(&self.key_pem, b"PRIVATE KEY-----") {
            return Err(invalid(format!(
                "{}: holds no PEM private key",
                self.key_field
            )));
        }
        let mut pem = Zeroizing::new(Vec::with_capacity(
            self.cert_pem.len() + self.key_pem.len() + 1,
        ));
        pem.extend_from_slice(&self.cert_pem);
        pem.push(b'\n');
        pem.extend_from_slice(&self.key_pem);
        // NB: reqwest's error says what kind of PEM section it could not
        // use, never its content.
        reqwest::Identity::from_pem(&pem).map_err(|_| {
            invalid(format!(
                "{} and {}: not a PEM certificate and a PEM private key",
                self.cert_field, self.key_field
            ))
        })
    }

    pub(super) fn fingerprint(&self, h: &mut Fingerprinter) {
        h.str(self.cert_field);
        h.bytes(&self.cert_pem);
        h.bytes(&self.key_pem);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";

    fn certificate(cert: &str, key: &str) -> ClientCertificate {
        ClientCertificate {
            cert_field: "tls.certSecretRef",
            key_field: "tls.keySecretRef",
            cert_pem: cert.as_bytes().to_vec(),
            key_pem: Zeroizing::new(key.as_bytes().to_vec()),
        }
    }

    #[test]
    fn a_missing_certificate_or_key_is_refused_naming_the_field() {
        let err = certificate("not pem", KEY).identity("s").unwrap_err();
        assert!(
            err.to_string()
                .contains("tls.certSecretRef: holds no PEM certificate"),
            "{err}"
        );
        let cert = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        let err = certificate(cert, "c2VjcmV0").identity("s").unwrap_err();
        assert!(
            err.to_string()
                .contains("tls.keySecretRef: holds no PEM private key"),
            "{err}"
        );
    }

    #[test]
    fn debug_shows_the_fields_not_the_key() {
        let shown = format!("{:?}", certificate("cert", KEY));
        assert!(shown.contains("tls.keySecretRef"), "{shown}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
    }
}
