//! Which Secrets hold a Vault store's client certificate and key (`tls`),
//! decided from the store's spec alone; [`super::credentials`] reads them.
//! Errors are the reasons given in the store's `Ready` condition.

use coffer_api::external::{SecretKeySelector, VaultCertAuth, VaultProvider};

/// The keys ESO reads when a selector names none (`corev1.TLSCertKey`,
/// `corev1.TLSPrivateKeyKey`).
pub(super) const TLS_CERT_KEY: &str = "tls.crt";
pub(super) const TLS_KEY_KEY: &str = "tls.key";

/// Where a certificate and its key are read from.
#[derive(Debug, PartialEq)]
pub(super) struct CertificateRefs<'a> {
    pub cert_field: &'static str,
    pub cert: &'a SecretKeySelector,
    pub key_field: &'static str,
    pub key: &'a SecretKeySelector,
}

/// `tls`: both references, or neither. ESO ignores a lone one; Coffer
/// refuses it, since the store would then run without the certificate its
/// author asked for.
pub(super) fn client_tls(vault: &VaultProvider) -> Result<Option<CertificateRefs<'_>>, String> {
    let Some(tls) = &vault.client_tls else {
        return Ok(None);
    };
    pair(
        ("tls.certSecretRef", tls.cert_secret_ref.as_ref()),
        ("tls.keySecretRef", tls.key_secret_ref.as_ref()),
    )
}

/// `auth.cert`'s own certificate: `clientCert` and `secretRef`, or
/// neither (then the store's `tls` certificate logs in).
pub(super) fn cert_auth(cert: &VaultCertAuth) -> Result<Option<CertificateRefs<'_>>, String> {
    pair(
        ("auth.cert.clientCert", cert.client_cert.as_ref()),
        ("auth.cert.secretRef", cert.secret_ref.as_ref()),
    )
}

fn pair<'a>(
    (cert_field, cert): (&'static str, Option<&'a SecretKeySelector>),
    (key_field, key): (&'static str, Option<&'a SecretKeySelector>),
) -> Result<Option<CertificateRefs<'a>>, String> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(CertificateRefs {
            cert_field,
            cert,
            key_field,
            key,
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(format!("{cert_field} is set without {key_field}")),
        (None, Some(_)) => Err(format!("{key_field} is set without {cert_field}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(tls: serde_json::Value) -> VaultProvider {
        serde_json::from_value(serde_json::json!({"server": "https://vault:8200", "tls": tls}))
            .unwrap()
    }

    #[test]
    fn client_tls_needs_both_references_or_none() {
        let both = vault(serde_json::json!({
            "certSecretRef": {"name": "c"}, "keySecretRef": {"name": "k"}
        }));
        let refs = client_tls(&both).unwrap().unwrap();
        assert_eq!((refs.cert.name(), refs.key.name()), ("c", "k"), "{refs:?}");
        assert_eq!(client_tls(&vault(serde_json::json!({}))), Ok(None));
        let mut none = both.clone();
        none.client_tls = None;
        assert_eq!(client_tls(&none), Ok(None));
        let cert_only = vault(serde_json::json!({"certSecretRef": {"name": "c"}}));
        assert_eq!(
            client_tls(&cert_only),
            Err("tls.certSecretRef is set without tls.keySecretRef".to_owned())
        );
        let key_only = vault(serde_json::json!({"keySecretRef": {"name": "k"}}));
        assert_eq!(
            client_tls(&key_only),
            Err("tls.keySecretRef is set without tls.certSecretRef".to_owned())
        );
    }
}
