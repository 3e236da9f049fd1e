//! One client per store, reused across reconciles.
//!
//! The controller asks for a store's client on every reconcile; [`Sessions`]
//! returns the cached one while the store's resolved configuration (its
//! fingerprint, which covers credentials) is unchanged, and builds a new one
//! only when it changed or the store was never seen. So a Vault login or an
//! AWS credential resolution happens once per store, not once per read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::{CallObserver, Client, Result, StoreConfig};

/// A digest of everything that determines a client (SHA-256 over the
/// configuration, credentials included; only the digest is kept).
pub type Fingerprint = [u8; 32];

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

/// The cache of store clients; see the module docs.
#[derive(Debug)]
pub struct Sessions {
    observer: Arc<dyn CallObserver>,
    clients: Mutex<HashMap<String, Entry>>,
    /// One gate per store: many reconciles of one new store log in once,
    /// while a store whose server hangs (a login waits up to its request
    /// timeout) holds up no other store.
    connecting: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Sessions {
    /// An empty cache whose clients report their calls to `observer`.
    pub fn new(observer: Arc<dyn CallObserver>) -> Self {
        Sessions {
            observer,
            clients: Mutex::new(HashMap::new()),
            connecting: Mutex::default(),
        }
    }

    /// The client for the store named `store` (e.g. `SecretStore ns/name`),
    /// built from `config` unless a client for the same fingerprint exists.
    pub async fn client(&self, store: &str, config: &StoreConfig) -> Result<Arc<Client>> {
        let fingerprint = config.fingerprint();
        if let Some(client) = self.cached(store, &fingerprint) {
            return Ok(client);
        }
        let gate = self
            .connecting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(store.to_owned())
            .or_default()
            .clone();
        let _connecting = gate.lock().await;
        if let Some(client) = self.cached(store, &fingerprint) {
            return Ok(client);
        }
        let client = Arc::new(Client::connect(store, config, self.observer.clone()).await?);
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                store.to_owned(),
                Entry {
                    fingerprint,
                    client: client.clone(),
                },
            );
        Ok(client)
    }

    /// Drops the client of a deleted store.
    pub fn forget(&self, store: &str) {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(store);
        self.connecting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(store);
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

    fn cached(&self, store: &str, fingerprint: &Fingerprint) -> Option<Arc<Client>> {
        let clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        clients
            .get(store)
            .filter(|e| &e.fingerprint == fingerprint)
            .map(|e| e.client.clone())
    }
}
