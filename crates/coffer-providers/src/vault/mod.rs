//! Vault and OpenBao, KV secrets engine v1 and v2, with ESO's semantics.
//!
//! A [`VaultClient`] talks to Vault's HTTP API (`transport`), logs in once
//! and keeps its token alive (`auth`, plus a keep-alive task per client),
//! and reads KV secrets through the store's [`ReadCache`], so that every
//! property of one secret and every ExternalSecret reading it within a
//! refresh window share one `ReadSecretData` call. Paths and value
//! encoding follow ESO's Vault provider (`kv`).

mod auth;
mod client;
mod consistency;
mod headers;
mod identity;
mod kv;
mod missing;
mod transport;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use secrecy::SecretString;

pub use client::VaultClient;
pub use identity::ClientCertificate;

use crate::TokenSource;
use crate::session::{Fingerprint, Fingerprinter};

/// ESO's `provider.vault`, credentials resolved. `Debug` shows no
/// credential (tokens and secret ids are [`SecretString`]s).
#[derive(Clone)]
pub struct VaultConfig {
    /// `server`: the Vault address.
    pub server: String,
    /// `path`: the KV mount (`secret`); `None` means keys carry the mount.
    pub path: Option<String>,
    /// `version`: the KV engine version.
    pub version: KvVersion,
    /// `namespace` (Vault Enterprise / OpenBao namespaces): where secrets
    /// are read.
    pub namespace: Option<String>,
    /// `auth.namespace`: where the login (and the token's own calls) go;
    /// `None` uses `namespace`.
    pub auth_namespace: Option<String>,
    /// `caBundle` or the resolved `caProvider`: PEM certificates to trust.
    pub ca_bundle: Option<Vec<u8>>,
    /// `headers`: sent with every request, logins included. Names the
    /// client sets itself are refused when the client is built.
    pub headers: BTreeMap<String, String>,
    /// `tls`: the client certificate presented to the server (mutual TLS).
    pub client_tls: Option<ClientCertificate>,
    /// `readYourWrites`: send back the last `X-Vault-Index` seen.
    pub read_your_writes: bool,
    /// `forwardInconsistent`: ask standbys to forward (implies
    /// `read_your_writes`).
    pub forward_inconsistent: bool,
    /// How to log in.
    pub auth: VaultAuth,
}

/// KV engine version (`v2` is ESO's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KvVersion {
    /// KV v1.
    V1,
    /// KV v2.
    #[default]
    V2,
}

/// How to obtain a Vault token.
#[derive(Debug, Clone)]
pub enum VaultAuth {
    /// `auth.tokenSecretRef`.
    Token(SecretString),
    /// `auth.appRole`.
    AppRole {
        /// Mount path (`approle`).
        path: String,
        /// The role id.
        role_id: String,
        /// The secret id.
        secret_id: SecretString,
    },
    /// `auth.kubernetes`: a service-account token exchanged for a Vault token.
    Kubernetes {
        /// Mount path (`kubernetes`).
        mount_path: String,
        /// The Vault role.
        role: String,
        /// Gives the service-account token.
        token: Arc<dyn TokenSource>,
        /// Names the service account (fingerprint).
        identity: String,
    },
    /// `auth.jwt`: a JWT (from a Secret, or a service-account token).
    Jwt {
        /// Mount path (`jwt`).
        path: String,
        /// The Vault role (may be empty for the mount's default role).
        role: String,
        /// Gives the JWT.
        token: Arc<dyn TokenSource>,
        /// Names where the JWT comes from (fingerprint).
        identity: String,
    },
    /// `auth.userPass`.
    UserPass {
        /// Mount path (`userpass`).
        path: String,
        /// The username (a single path segment).
        username: String,
        /// The password.
        password: SecretString,
    },
    /// `auth.cert`: the client certificate presented in the TLS handshake.
    Cert {
        /// Mount path (`cert`).
        path: String,
        /// The certificate role (`vaultRole`); `None`: any matching role.
        role: Option<String>,
        /// `clientCert` and `secretRef`; `None`: the store's `tls`.
        certificate: Option<ClientCertificate>,
    },
}

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

impl fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultConfig")
            .field("server", &self.server)
            .field("path", &self.path)
            .field("version", &self.version)
            .field("namespace", &self.namespace)
            .field("auth_namespace", &self.auth_namespace)
            .field(
                "ca_bundle",
                &self
                    .ca_bundle
                    .as_ref()
                    .map(|b| format!("{} bytes", b.len())),
            )
            // NB: header values may be a proxy's credentials.
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("client_tls", &self.client_tls)
            .field("read_your_writes", &self.read_your_writes)
            .field("forward_inconsistent", &self.forward_inconsistent)
            .field("auth", &self.auth)
            .finish()
    }
}

impl VaultConfig {
    /// The certificate the HTTP client presents: `auth.cert`'s own when
    /// it has one (as ESO, whose cert login replaces the transport's
    /// certificate), else `tls`'s.
    pub(crate) fn client_certificate(&self) -> Option<&ClientCertificate> {
        match &self.auth {
            VaultAuth::Cert {
                certificate: Some(certificate),
                ..
            } => Some(certificate),
            _ => self.client_tls.as_ref(),
        }
    }

    /// See [`crate::StoreConfig::fingerprint`]: a keyed digest of every
    /// field, credentials included; a token source counts by its
    /// `identity` (its tokens rotate, the account does not) and, when its
    /// token is fixed (a JWT from a Secret), by that token too.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut h = Fingerprinter::new("vault");
        h.str(&self.server);
        h.opt(self.path.as_deref());
        h.str(match self.version {
            KvVersion::V1 => "v1",
            KvVersion::V2 => "v2",
        });
        h.opt(self.namespace.as_deref());
        h.opt(self.auth_namespace.as_deref());
        h.opt_bytes(self.ca_bundle.as_deref());
        h.count(self.headers.len());
        for (name, value) in &self.headers {
            h.str(name);
            h.str(value);
        }
        match &self.client_tls {
            Some(certificate) => {
                h.str("tls");
                certificate.fingerprint(&mut h);
            }
            None => h.str("no tls"),
        }
        h.bytes(&[
            u8::from(self.read_your_writes),
            u8::from(self.forward_inconsistent),
        ]);
        match &self.auth {
            VaultAuth::Token(token) => {
                h.str("token");
                h.secret(token);
            }
            VaultAuth::AppRole {
                path,
                role_id,
                secret_id,
            } => {
                h.str("appRole");
                h.str(path);
                h.str(role_id);
                h.secret(secret_id);
            }
            VaultAuth::Kubernetes {
                mount_path,
                role,
                token,
                identity,
            } => {
                h.str("kubernetes");
                h.str(mount_path);
                h.str(role);
                h.token_source(identity, token.as_ref());
            }
            VaultAuth::Jwt {
                path,
                role,
                token,
                identity,
            } => {
                h.str("jwt");
                h.str(path);
                h.str(role);
                h.token_source(identity, token.as_ref());
            }
            VaultAuth::UserPass {
                path,
                username,
                password,
            } => {
                h.str("userPass");
                h.str(path);
                h.str(username);
                h.secret(password);
            }
            VaultAuth::Cert {
                path,
                role,
                certificate,
            } => {
                h.str("cert");
                h.str(path);
                h.opt(role.as_deref());
                match certificate {
                    Some(certificate) => certificate.fingerprint(&mut h),
                    None => h.str("the store's tls"),
                }
            }
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StaticToken;

    fn config(auth: VaultAuth) -> VaultConfig {
        VaultConfig {
            server: "http://vault:8200".into(),
            path: Some("secret".into()),
            version: KvVersion::V2,
            namespace: None,
            auth_namespace: None,
            ca_bundle: None,
            headers: BTreeMap::new(),
            client_tls: None,
            read_your_writes: false,
            forward_inconsistent: false,
            auth,
        }
    }

    fn approle(secret_id: &str) -> VaultAuth {
        VaultAuth::AppRole {
            path: "approle".into(),
            role_id: "role-id".into(),
            secret_id: SecretString::from(secret_id),
        }
    }

    #[test]
    fn fingerprint_changes_with_credentials_and_every_field() {
        let base = config(approle("secret-one"));
        let same = config(approle("secret-one"));
        assert_eq!(base.fingerprint(), same.fingerprint());
        let mut variants = vec![config(approle("secret-two"))];
        let mut c = base.clone();
        c.path = None;
        variants.push(c);
        let mut c = base.clone();
        c.version = KvVersion::V1;
        variants.push(c);
        let mut c = base.clone();
        c.namespace = Some("team".into());
        variants.push(c);
        let mut c = base.clone();
        c.ca_bundle = Some(b"pem".to_vec());
        variants.push(c);
        let mut c = base.clone();
        c.server = "https://vault:8200".into();
        variants.push(c);
        let mut c = base.clone();
        c.headers.insert("X-Team".into(), "a".into());
        variants.push(c);
        let mut c = base.clone();
        c.read_your_writes = true;
        variants.push(c);
        let mut c = base.clone();
        c.forward_inconsistent = true;
        variants.push(c);
        let mut c = base.clone();
        c.client_tls = Some(ClientCertificate {
            cert_field: "tls.certSecretRef",
            key_field: "tls.keySecretRef",
            cert_pem: b"cert".to_vec(),
            key_pem: b"key".to_vec().into(),
        });
        variants.push(c.clone());
        if let Some(tls) = c.client_tls.as_mut() {
            tls.key_pem = b"rotated key".to_vec().into();
        }
        variants.push(c);
        for v in &variants {
            assert_ne!(v.fingerprint(), base.fingerprint(), "{v:?}");
        }
    }

    /// Issues a new token on every call, like a service account's
    /// TokenRequest source.
    #[derive(Debug)]
    struct Rotating;

    impl TokenSource for Rotating {
        fn token(&self) -> futures::future::BoxFuture<'_, crate::Result<SecretString>> {
            Box::pin(async {
                Ok(SecretString::from(format!(
                    "{:?}",
                    std::time::Instant::now()
                )))
            })
        }
    }

    #[test]
    fn fingerprint_of_an_issuing_token_source_is_its_identity() {
        let jwt = |identity: &str| {
            config(VaultAuth::Jwt {
                path: "jwt".into(),
                role: "r".into(),
                token: Arc::new(Rotating),
                identity: identity.into(),
            })
        };
        assert_eq!(jwt("ns/sa").fingerprint(), jwt("ns/sa").fingerprint());
        assert_ne!(jwt("ns/sa").fingerprint(), jwt("ns/other").fingerprint());
    }

    #[test]
    fn fingerprint_of_a_jwt_from_a_secret_covers_where_it_is_read_and_its_content() {
        let fixed = |kubernetes: bool, token: &str, identity: &str| {
            let token: Arc<dyn TokenSource> = Arc::new(StaticToken(SecretString::from(token)));
            config(if kubernetes {
                VaultAuth::Kubernetes {
                    mount_path: "kubernetes".into(),
                    role: "r".into(),
                    token,
                    identity: identity.into(),
                }
            } else {
                VaultAuth::Jwt {
                    path: "jwt".into(),
                    role: "r".into(),
                    token,
                    identity: identity.into(),
                }
            })
        };
        for kubernetes in [true, false] {
            let base = fixed(kubernetes, "jwt-a", "secret team-a/vault-jwt key token");
            assert_eq!(
                base.fingerprint(),
                fixed(kubernetes, "jwt-a", "secret team-a/vault-jwt key token").fingerprint()
            );
            // Rotated in place: a new login.
            assert_ne!(
                base.fingerprint(),
                fixed(kubernetes, "jwt-b", "secret team-a/vault-jwt key token").fingerprint()
            );
            // The same bytes read from another namespace's Secret.
            assert_ne!(
                base.fingerprint(),
                fixed(kubernetes, "jwt-a", "secret team-b/vault-jwt key token").fingerprint()
            );
        }
    }

    #[test]
    fn fingerprint_covers_userpass_and_cert_credentials() {
        let userpass = |password: &str| {
            config(VaultAuth::UserPass {
                path: "userpass".into(),
                username: "app".into(),
                password: SecretString::from(password),
            })
            .fingerprint()
        };
        assert_eq!(userpass("pw-1"), userpass("pw-1"));
        assert_ne!(userpass("pw-1"), userpass("pw-2"));
        let cert = |role: Option<&str>, key: &[u8]| {
            config(VaultAuth::Cert {
                path: "cert".into(),
                role: role.map(str::to_owned),
                certificate: Some(ClientCertificate {
                    cert_field: "auth.cert.clientCert",
                    key_field: "auth.cert.secretRef",
                    cert_pem: b"cert".to_vec(),
                    key_pem: key.to_vec().into(),
                }),
            })
            .fingerprint()
        };
        assert_eq!(cert(None, b"k1"), cert(None, b"k1"));
        assert_ne!(cert(None, b"k1"), cert(None, b"k2"));
        assert_ne!(cert(None, b"k1"), cert(Some("r"), b"k1"));
    }

    #[test]
    fn debug_of_a_config_shows_no_credential() {
        let shown = format!(
            "{:?} {:?}",
            config(approle("the-secret-id")),
            config(VaultAuth::Token(SecretString::from("hvs.the-token")))
        );
        let mut with_header = config(approle("x"));
        with_header
            .headers
            .insert("X-Proxy-Key".into(), "the-proxy-key".into());
        let userpass = config(VaultAuth::UserPass {
            path: "userpass".into(),
            username: "app".into(),
            password: SecretString::from("the-password"),
        });
        let shown = format!("{shown} {with_header:?} {userpass:?}");
        assert!(!shown.contains("the-password"), "{shown}");
        assert!(shown.contains("X-Proxy-Key"), "{shown}");
        assert!(!shown.contains("the-proxy-key"), "{shown}");
        assert!(!shown.contains("the-secret-id"), "{shown}");
        assert!(!shown.contains("hvs.the-token"), "{shown}");
        assert!(shown.contains("role-id"), "{shown}");
    }
}
