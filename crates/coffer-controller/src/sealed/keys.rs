//! The key registry: every sealing key the controller holds, loaded from and
//! stored as Bitnami-format key Secrets so a cluster moving from Bitnami
//! sealed-secrets keeps its keys (and could move back).
//!
//! A key Secret lives in the controller's namespace, is labelled
//! `sealedsecrets.bitnami.com/sealed-secrets-key: active`, has type
//! `kubernetes.io/tls`, a PKCS#1 `tls.key` and the self-signed `tls.crt`.
//! Keys are ordered newest first by their certificate's NotBefore (or by
//! the Secret's creation time, see [`KeyOrder`]): unseal tries them in that
//! order and the newest seals. Key Secrets added later
//! (by hand, by a backup restore, by renewal) are picked up through a watch.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::{digest, hmac};
use coffer_crypto::{Certificate, KeyOptions, KeyPair, KeySize, PrivateKey};
use coffer_sealed::key_secret;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::sealed::key_settings::{KeyOrder, KeySettings};
use crate::sealed::secret::Plain;

/// One sealing key and where it came from.
pub struct LoadedKey {
    /// Name of its Secret.
    pub name: String,
    /// Creation time of its Secret.
    pub created: Timestamp,
    /// Its certificate's NotBefore.
    pub not_before: Timestamp,
    /// The private key and certificate.
    pub pair: KeyPair,
    /// HMAC key derived from the private key, for the digest of Secrets
    /// written by the controller (see `sealed::secret`).
    digest_key: hmac::Key,
}

impl LoadedKey {
    fn new(name: String, created: Timestamp, pair: KeyPair) -> Result<LoadedKey> {
        let der = pair
            .private_key()
            .to_pkcs1_der()
            .map_err(|e| Error::BadKeySecret {
                namespace: String::new(),
                name: name.clone(),
                reason: e.to_string(),
            })?;
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"coffer secret digest v1\0");
        ctx.update(&der);
        let derived = ctx.finish();
        let not_before =
            Timestamp::try_from(pair.certificate().not_before()).unwrap_or(Timestamp::UNIX_EPOCH);
        Ok(LoadedKey {
            name,
            created,
            not_before,
            pair,
            digest_key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        })
    }

    /// The HMAC key for Secret digests.
    pub(crate) fn digest_key(&self) -> &hmac::Key {
        &self.digest_key
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        self.pair.certificate()
    }

    /// The time that orders this key under `order`.
    pub fn order_time(&self, order: KeyOrder) -> Timestamp {
        match order {
            KeyOrder::CertNotBefore => self.not_before,
            KeyOrder::SecretCreationTimestamp => self.created,
        }
    }
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey")
            .field("name", &self.name)
            .field("created", &self.created)
            .field("not_before", &self.not_before)
            .field("fingerprint", &self.pair.fingerprint())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Snapshot {
    /// Newest first.
    keys: Vec<Arc<LoadedKey>>,
    /// The same keys' private halves, newest first, ready for unseal.
    private: Arc<Vec<PrivateKey>>,
}

/// Every key the controller holds. Shared as `Arc<KeyRegistry>`.
pub struct KeyRegistry {
    namespace: String,
    settings: KeySettings,
    snapshot: RwLock<Snapshot>,
    changed: watch::Sender<u64>,
}

impl std::fmt::Debug for KeyRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRegistry")
            .field("namespace", &self.namespace)
            .field("keys", &self.keys())
            .finish()
    }
}

impl KeyRegistry {
    /// [`KeyRegistry::load_with`] Bitnami's default settings and `prefix`.
    pub async fn load(
        client: kube::Client,
        namespace: &str,
        prefix: &str,
    ) -> Result<Arc<KeyRegistry>> {
        Self::load_with(client, namespace, KeySettings::with_prefix(prefix)).await
    }

    /// A registry with no keys that loads none (the SealedSecret
    /// controller is off).
    pub fn empty(namespace: &str, settings: KeySettings) -> Arc<KeyRegistry> {
        Arc::new(KeyRegistry {
            namespace: namespace.to_owned(),
            settings,
            snapshot: RwLock::new(Snapshot::default()),
            changed: watch::channel(0).0,
        })
    }

    /// Loads every active key Secret in `namespace`. Creates none: the
    /// leader does that ([`KeyRegistry::ensure_key`]), and a follower picks
    /// the new key up through [`KeyRegistry::watch`].
    pub async fn load_with(
        client: kube::Client,
        namespace: &str,
        settings: KeySettings,
    ) -> Result<Arc<KeyRegistry>> {
        let registry = Self::empty(namespace, settings);
        let api: Api<Secret> = Api::namespaced(client, namespace);
        let list = api
            .list(&ListParams::default().labels(&key_secret::selector()))
            .await
            .map_err(Error::kube(format!("list key Secrets in {namespace}")))?;
        for secret in &list.items {
            if let Err(e) = registry.insert(secret) {
                tracing::warn!(error = %e, "skipping unusable key Secret");
            }
        }
        Ok(registry)
    }

    /// Creates a key (a Secret named `<prefix>-<5 random characters>`,
    /// through `generateName` as Bitnami does) when there is none, or when
    /// the newest was created before `cutoff`. Matches Bitnami's
    /// `--key-cutoff-time`, which is checked once at start: here, once each
    /// time this replica becomes the leader.
    pub async fn ensure_key(
        &self,
        client: kube::Client,
        key_size: KeySize,
        cutoff: Option<Timestamp>,
    ) -> Result<()> {
        // NB: re-list first: a key the previous leader created moments ago
        // may not have reached this replica's watch yet.
        let api: Api<Secret> = Api::namespaced(client, &self.namespace);
        let list = api
            .list(&ListParams::default().labels(&key_secret::selector()))
            .await
            .map_err(Error::kube(format!(
                "list key Secrets in {}",
                self.namespace
            )))?;
        for secret in &list.items {
            if let Err(e) = self.insert(secret) {
                tracing::warn!(error = %e, "skipping unusable key Secret");
            }
        }
        let stale = match (self.newest(), cutoff) {
            (Err(_), _) => true,
            (Ok(newest), Some(cutoff)) => newest.order_time(self.settings.order) < cutoff,
            (Ok(_), None) => false,
        };
        if stale {
            self.create_key(&api, key_size).await?;
        }
        Ok(())
    }

    /// Generates a key and stores it as a new Bitnami-format key Secret,
    /// then registers it.
    pub async fn create_key(&self, api: &Api<Secret>, key_size: KeySize) -> Result<Arc<LoadedKey>> {
        let options = KeyOptions {
            size: key_size,
            common_name: self.settings.common_name.clone(),
            validity: self.settings.validity,
        };
        // Key generation is CPU-bound (about a second for 4096 bits).
        let pair = tokio::task::spawn_blocking(move || KeyPair::generate(&options))
            .await
            .map_err(|_| Error::KeyGeneration(coffer_crypto::Error::KeyGeneration))?
            .map_err(Error::KeyGeneration)?;
        let metadata = ObjectMeta {
            generate_name: Some(format!("{}-", self.settings.prefix)),
            namespace: Some(self.namespace.clone()),
            annotations: (!self.settings.annotations.is_empty())
                .then(|| self.settings.annotations.clone()),
            labels: (!self.settings.labels.is_empty()).then(|| self.settings.labels.clone()),
            ..ObjectMeta::default()
        };
        let secret = key_secret::build(&pair, metadata).map_err(Error::KeyGeneration)?;
        // NB: the answer holds the private key too: wiped when dropped.
        let created = Plain(api.create(&PostParams::default(), &*secret).await.map_err(
            Error::kube(format!("create key Secret in {}", self.namespace)),
        )?);
        let name = created.metadata.name.clone().unwrap_or_default();
        tracing::info!(key = %name, fingerprint = %pair.fingerprint(), "created new sealing key");
        let time = created
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or_else(Timestamp::now, |t| t.0);
        let mut key = LoadedKey::new(name, time, pair)?;
        // NB: as Bitnami's registerNewKey(..., time.Now()): a key made now
        // is the newest even within the second of the previous one (the
        // certificate and the Secret only hold whole seconds).
        let now = Timestamp::now();
        key.not_before = key.not_before.max(now);
        key.created = key.created.max(now);
        let key = Arc::new(key);
        self.add(key.clone());
        Ok(key)
    }

    /// Registers the key in `secret` if it is a new one. Returns whether it
    /// was new.
    pub fn insert(&self, secret: &Secret) -> Result<bool> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let pair = key_secret::read_pair(secret).map_err(|e| Error::BadKeySecret {
            namespace: self.namespace.clone(),
            name: name.clone(),
            reason: e.to_string(),
        })?;
        if self
            .keys()
            .iter()
            .any(|k| k.pair.fingerprint() == pair.fingerprint())
        {
            return Ok(false);
        }
        let created = secret
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |t| t.0);
        tracing::info!(key = %name, fingerprint = %pair.fingerprint(), "loaded sealing key");
        self.add(Arc::new(LoadedKey::new(name.clone(), created, pair)?));
        Ok(true)
    }

    fn add(&self, key: Arc<LoadedKey>) {
        let mut snapshot = self.snapshot.write().unwrap_or_else(|e| e.into_inner());
        let mut keys = snapshot.keys.clone();
        keys.push(key);
        // Newest first; the name breaks ties so the order is stable.
        let order = self.settings.order;
        keys.sort_by(|a, b| {
            b.order_time(order)
                .cmp(&a.order_time(order))
                .then_with(|| b.name.cmp(&a.name))
        });
        let private = keys.iter().map(|k| k.pair.private_key().clone()).collect();
        *snapshot = Snapshot {
            keys,
            private: Arc::new(private),
        };
        drop(snapshot);
        self.changed.send_modify(|v| *v += 1);
    }

    /// The namespace of the key Secrets.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Every key, newest first.
    pub fn keys(&self) -> Vec<Arc<LoadedKey>> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys
            .clone()
    }

    /// The private keys, newest first, for unseal.
    pub fn private_keys(&self) -> Arc<Vec<PrivateKey>> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .private
            .clone()
    }

    /// The newest key: the one that seals.
    pub fn newest(&self) -> Result<Arc<LoadedKey>> {
        self.keys().into_iter().next().ok_or(Error::NoKeys)
    }

    /// A number that increases whenever a key is added.
    pub fn version(&self) -> u64 {
        *self.changed.borrow()
    }

    /// Notified (the value increases) whenever a key is added.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Watches the controller's namespace for key Secrets added or changed
    /// after start, and registers them. Runs until the task is aborted.
    pub async fn watch(self: Arc<Self>, client: kube::Client) {
        let api: Api<Secret> = Api::namespaced(client, &self.namespace);
        let config = watcher::Config::default().labels(&key_secret::selector());
        let mut stream = watcher(api, config)
            .default_backoff()
            .applied_objects()
            .boxed();
        while let Some(event) = stream.next().await {
            match event {
                Ok(secret) => {
                    if let Err(e) = self.insert(&secret) {
                        tracing::warn!(error = %e, "skipping unusable key Secret");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "key Secret watch failed; retrying"),
            }
        }
    }
}

impl KeyRegistry {
    /// Generates a new sealing key whenever the newest one is older than
    /// `period` (Bitnami's `--key-renew-period`), so new SealedSecrets are
    /// sealed to a fresh key while old keys keep opening old ones. A key
    /// added by hand counts as a renewal. Runs until the task is aborted;
    /// callers do not start it for a zero period.
    pub async fn renew(self: Arc<Self>, client: kube::Client, period: Duration, key_size: KeySize) {
        // Re-check at least hourly, so a key added meanwhile postpones renewal.
        const MAX_SLEEP: Duration = Duration::from_secs(3600);
        let api: Api<Secret> = Api::namespaced(client, &self.namespace);
        loop {
            let age = self.newest().map_or(Duration::MAX, |k| {
                let secs =
                    Timestamp::now().as_second() - k.order_time(self.settings.order).as_second();
                Duration::from_secs(u64::try_from(secs).unwrap_or(0))
            });
            if age >= period {
                if let Err(e) = self.create_key(&api, key_size).await {
                    tracing::warn!(error = %e, "key renewal failed; retrying in a minute");
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                continue;
            }
            tokio::time::sleep((period - age).min(MAX_SLEEP)).await;
        }
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
