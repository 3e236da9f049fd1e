//! One client per store and credential scope, reused across reconciles.
//!
//! The controller asks for a store's client on every reconcile; [`Sessions`]
//! returns the cached one while the store's resolved configuration (its
//! fingerprint, which covers credentials) is unchanged, and builds a new one
//! only when it changed or the store was never seen. So a Vault login or an
//! AWS credential resolution happens once per store, not once per read.
//!
//! A store whose credentials come from the namespace of the ExternalSecret
//! using it (a ClusterSecretStore reference without a namespace) has one
//! client per such namespace (its *scope*): the clients, their logins and
//! their read caches are never shared between namespaces, since each may
//! hold a different identity with different rights.
//!
//! Fingerprints are HMAC-SHA256 under a key drawn once per process, so the
//! digest of a low-entropy credential cannot be tested against guesses
//! even by someone who reads the process's memory or a core dump.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use aws_lc_rs::hmac;
use secrecy::{ExposeSecret, SecretString};

use crate::{CallObserver, Client, Gates, Result, StoreConfig, TokenSource};

/// A keyed digest of everything that determines a client (the
/// configuration, credentials included; only the digest is kept).
pub type Fingerprint = [u8; 32];

/// The process's fingerprint key.
fn fingerprint_key() -> &'static hmac::Key {
    static KEY: OnceLock<hmac::Key> = OnceLock::new();
    KEY.get_or_init(|| {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        // NB: generating 32 random bytes from the OS fails only on a broken
        // system; a fixed key then still gives correct (unkeyed) digests.
        hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .unwrap_or_else(|_| hmac::Key::new(hmac::HMAC_SHA256, b"coffer-fingerprint"))
    })
}

/// Builds a [`Fingerprint`] from length-prefixed fields, so that no two
/// configurations digest alike by moving bytes between fields.
pub(crate) struct Fingerprinter(hmac::Context);

impl Fingerprinter {
    /// A fingerprint of a configuration of kind `domain`.
    pub(crate) fn new(domain: &str) -> Self {
        let mut f = Fingerprinter(hmac::Context::with_key(fingerprint_key()));
        f.str(domain);
        f
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.0.update(&(b.len() as u64).to_le_bytes());
        self.0.update(b);
    }

    /// A count, so that list boundaries are part of the digest.
    pub(crate) fn count(&mut self, n: usize) {
        self.0.update(&(n as u64).to_le_bytes());
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    pub(crate) fn opt(&mut self, s: Option<&str>) {
        self.opt_bytes(s.map(str::as_bytes));
    }

    pub(crate) fn opt_bytes(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => {
                self.0.update(&[1]);
                self.bytes(b);
            }
            None => self.0.update(&[0]),
        }
    }

    pub(crate) fn secret(&mut self, s: &SecretString) {
        self.str(s.expose_secret());
    }

    /// A token source: its identity, and its token when the token never
    /// changes (a JWT read from a Secret), so that a rotated token makes a
    /// new client (and a new login).
    pub(crate) fn token_source(&mut self, identity: &str, source: &dyn TokenSource) {
        self.str(identity);
        match source.fixed() {
            Some(token) => {
                self.0.update(&[1]);
                self.secret(token);
            }
            None => self.0.update(&[0]),
        }
    }

    pub(crate) fn finish(self) -> Fingerprint {
        let tag = self.0.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

impl StoreConfig {
    /// The configuration's fingerprint: equal fingerprints mean a client
    /// built for one can serve the other.
    pub fn fingerprint(&self) -> Fingerprint {
        match self {
            StoreConfig::Aws(c) => c.fingerprint(),
            StoreConfig::Vault(c) => c.fingerprint(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    fingerprint: Fingerprint,
    client: Arc<Client>,
}

/// A store and, for a store whose credentials depend on the namespace
/// using it, that namespace.
type Key = (String, Option<String>);

/// The cache of store clients; see the module docs.
#[derive(Debug)]
pub struct Sessions {
    observer: Arc<dyn CallObserver>,
    clients: Mutex<HashMap<Key, Entry>>,
    /// One gate per store and scope: many reconciles of one new store log
    /// in once, while a store whose server hangs (a login waits up to its
    /// request timeout) holds up no other store.
    connecting: Gates<Key>,
}

impl Sessions {
    /// An empty cache whose clients report their calls to `observer`.
    pub fn new(observer: Arc<dyn CallObserver>) -> Self {
        Sessions {
            observer,
            clients: Mutex::new(HashMap::new()),
            connecting: Gates::default(),
        }
    }

    /// The client for the store named `store` (e.g. `SecretStore ns/name`)
    /// in `scope` (the namespace its credentials were read for, when they
    /// depend on it; see the module docs), built from `config` unless a
    /// client for the same store, scope and fingerprint exists.
    pub async fn client(
        &self,
        store: &str,
        scope: Option<&str>,
        config: &StoreConfig,
    ) -> Result<Arc<Client>> {
        let key: Key = (store.to_owned(), scope.map(str::to_owned));
        let fingerprint = config.fingerprint();
        if let Some(client) = self.cached(&key, &fingerprint) {
            return Ok(client);
        }
        let _connecting = self.connecting.enter(&key).await;
        if let Some(client) = self.cached(&key, &fingerprint) {
            return Ok(client);
        }
        let client = Arc::new(Client::connect(store, config, self.observer.clone()).await?);
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                key,
                Entry {
                    fingerprint,
                    client: client.clone(),
                },
            );
        Ok(client)
    }

    /// Drops the clients of a deleted store, in every scope.
    pub fn forget(&self, store: &str) {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(s, _), _| s != store);
        self.connecting.retain(|(s, _)| s != store);
    }

    /// Number of cached clients.
    pub fn len(&self) -> usize {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no client is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn cached(&self, key: &Key, fingerprint: &Fingerprint) -> Option<Arc<Client>> {
        let clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        clients
            .get(key)
            .filter(|e| &e.fingerprint == fingerprint)
            .map(|e| e.client.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoObserver;
    use crate::aws::{AwsAuth, AwsConfig};

    /// An AWS configuration: its client makes no call until used.
    fn config(secret: &str) -> StoreConfig {
        StoreConfig::Aws(AwsConfig {
            region: "eu-west-1".into(),
            auth: AwsAuth::Static {
                access_key_id: SecretString::from("AKID"),
                secret_access_key: SecretString::from(secret),
                session_token: None,
            },
            role: None,
            additional_roles: Vec::new(),
            external_id: None,
            service: crate::aws::AwsService::SecretsManager,
            ssm_endpoint: None,
            session_tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            prefix: None,
            endpoint: Some("http://127.0.0.1:9".into()),
            sts_endpoint: Some("http://127.0.0.1:9".into()),
        })
    }

    #[tokio::test]
    async fn scopes_of_one_store_never_share_a_client_even_with_equal_credentials() {
        let sessions = Sessions::new(Arc::new(NoObserver));
        let a = sessions.client("s", Some("a"), &config("k")).await.unwrap();
        let a_again = sessions.client("s", Some("a"), &config("k")).await.unwrap();
        let b = sessions.client("s", Some("b"), &config("k")).await.unwrap();
        let unscoped = sessions.client("s", None, &config("k")).await.unwrap();
        assert!(Arc::ptr_eq(&a, &a_again), "one client per scope");
        assert!(!Arc::ptr_eq(&a, &b), "namespace b got namespace a's client");
        assert!(!Arc::ptr_eq(&a, &unscoped));
        // Namespace b's credential rotates: b gets a new client, a keeps
        // its own.
        let b_rotated = sessions
            .client("s", Some("b"), &config("k2"))
            .await
            .unwrap();
        assert!(!Arc::ptr_eq(&b, &b_rotated));
        let a_still = sessions.client("s", Some("a"), &config("k")).await.unwrap();
        assert!(Arc::ptr_eq(&a, &a_still));
        assert_eq!(sessions.len(), 3);
        sessions.forget("s");
        assert!(sessions.is_empty(), "forget drops every scope");
    }

    #[test]
    fn fingerprints_are_keyed_and_length_prefixed() {
        let digest = |parts: &[&str]| {
            let mut f = Fingerprinter::new("test");
            for p in parts {
                f.str(p);
            }
            f.finish()
        };
        assert_eq!(digest(&["ab", "c"]), digest(&["ab", "c"]));
        assert_ne!(digest(&["ab", "c"]), digest(&["a", "bc"]));
        // Not the plain SHA-256 of the fields: the key is the process's.
        let mut plain = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for p in ["test", "ab", "c"] {
            plain.update(&(p.len() as u64).to_le_bytes());
            plain.update(p.as_bytes());
        }
        assert_ne!(plain.finish().as_ref(), digest(&["ab", "c"]).as_slice());
    }
}
