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
mod kv;
mod transport;

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

pub use client::VaultClient;

use crate::TokenSource;
use crate::session::Fingerprint;

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
    /// `namespace` (Vault Enterprise / OpenBao namespaces).
    pub namespace: Option<String>,
    /// `caBundle` or the resolved `caProvider`: PEM certificates to trust.
    pub ca_bundle: Option<Vec<u8>>,
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
            .field(
                "ca_bundle",
                &self
                    .ca_bundle
                    .as_ref()
                    .map(|b| format!("{} bytes", b.len())),
            )
            .field("auth", &self.auth)
            .finish()
    }
}

impl VaultConfig {
    /// See [`crate::StoreConfig::fingerprint`]: SHA-256 over every field,
    /// credentials included; a token source counts by its `identity` (its
    /// tokens rotate, the account does not).
    pub fn fingerprint(&self) -> Fingerprint {
        let mut h = Fingerprinter(Sha256::new());
        h.str("vault");
        h.str(&self.server);
        h.opt(self.path.as_deref());
        h.str(match self.version {
            KvVersion::V1 => "v1",
            KvVersion::V2 => "v2",
        });
        h.opt(self.namespace.as_deref());
        h.opt_bytes(self.ca_bundle.as_deref());
        match &self.auth {
            VaultAuth::Token(token) => {
                h.str("token");
                h.str(token.expose_secret());
            }
            VaultAuth::AppRole {
                path,
                role_id,
                secret_id,
            } => {
                h.str("appRole");
                h.str(path);
                h.str(role_id);
                h.str(secret_id.expose_secret());
            }
            VaultAuth::Kubernetes {
                mount_path,
                role,
                identity,
                ..
            } => {
                h.str("kubernetes");
                h.str(mount_path);
                h.str(role);
                h.str(identity);
            }
            VaultAuth::Jwt {
                path,
                role,
                identity,
                ..
            } => {
                h.str("jwt");
                h.str(path);
                h.str(role);
                h.str(identity);
            }
        }
        h.0.finalize().into()
    }
}

/// Length-prefixed fields, so that `("ab", "c")` and `("a", "bc")` differ.
struct Fingerprinter(Sha256);

impl Fingerprinter {
    fn bytes(&mut self, b: &[u8]) {
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    fn opt(&mut self, s: Option<&str>) {
        self.opt_bytes(s.map(str::as_bytes));
    }

    fn opt_bytes(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => {
                self.0.update([1]);
                self.bytes(b);
            }
            None => self.0.update([0]),
        }
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
            ca_bundle: None,
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
        for v in &variants {
            assert_ne!(v.fingerprint(), base.fingerprint(), "{v:?}");
        }
    }

    #[test]
    fn fingerprint_of_a_token_source_is_its_identity_not_its_token() {
        let jwt = |token: &str, identity: &str| {
            config(VaultAuth::Jwt {
                path: "jwt".into(),
                role: "r".into(),
                token: Arc::new(StaticToken(SecretString::from(token))),
                identity: identity.into(),
            })
        };
        assert_eq!(
            jwt("a", "ns/sa").fingerprint(),
            jwt("b", "ns/sa").fingerprint()
        );
        assert_ne!(
            jwt("a", "ns/sa").fingerprint(),
            jwt("a", "ns/other").fingerprint()
        );
    }

    #[test]
    fn debug_of_a_config_shows_no_credential() {
        let shown = format!(
            "{:?} {:?}",
            config(approle("the-secret-id")),
            config(VaultAuth::Token(SecretString::from("hvs.the-token")))
        );
        assert!(!shown.contains("the-secret-id"), "{shown}");
        assert!(!shown.contains("hvs.the-token"), "{shown}");
        assert!(shown.contains("role-id"), "{shown}");
    }
}
