//! Secret providers for ExternalSecrets: AWS Secrets Manager and Vault
//! (tested on OpenBao), with no Kubernetes in sight.
//!
//! The controller resolves a SecretStore into a [`StoreConfig`] (credentials
//! read from Kubernetes Secrets, service-account tokens behind a
//! [`TokenSource`]) and asks [`Sessions`] for the store's [`Client`]. The
//! client is built once per store and reused across reconciles: Vault tokens
//! are renewed rather than a login per read, AWS credentials are cached until
//! they expire. Reads go through a per-client [`cache::ReadCache`], so that
//! identical reads from many ExternalSecrets within one refresh window reach
//! the provider once, and AWS reads of current values are batched with
//! `BatchGetSecretValue`, across ExternalSecrets.
//!
//! Values are secrets: they live in [`SecretValue`] (zeroized on drop,
//! redacted in `Debug`), and errors name stores, keys and properties, never
//! values.

#![forbid(unsafe_code)]

pub mod aws;
pub mod cache;
mod error;
mod gates;
mod session;
pub mod vault;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use secrecy::SecretString;
use zeroize::Zeroizing;

pub use error::{Error, Result};
pub use gates::Gates;
pub use session::Sessions;

/// A secret value as read from a provider. Zeroized on drop; `Debug` shows
/// nothing of it, not even its length.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl SecretValue {
    /// Wraps bytes read from a provider.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretValue(Zeroizing::new(bytes))
    }

    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for SecretValue {
    fn from(bytes: Vec<u8>) -> Self {
        SecretValue::new(bytes)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// A value together with the time the provider was asked for it; the
/// controller schedules the next refresh from the oldest `fetched_at` it
/// used, so coalescing never makes a Secret staler than its refresh
/// interval.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    /// What was read.
    pub value: T,
    /// When the provider call that produced it started.
    pub fetched_at: Instant,
}

impl<T> Fetched<T> {
    /// The same read with its value converted; the read's time is kept.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Fetched<U>, E> {
        Ok(Fetched {
            value: f(self.value)?,
            fetched_at: self.fetched_at,
        })
    }
}

/// ESO's `remoteRef.metadataPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetadataPolicy {
    /// Read the secret's value.
    #[default]
    None,
    /// Read the secret's metadata (AWS tags, Vault custom metadata) instead.
    Fetch,
}

/// One remote read: ESO's `remoteRef` minus the strategies the controller
/// applies itself (conversion and decoding).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteRef {
    /// The secret's name or path in the provider (before the store's prefix
    /// is applied).
    pub key: String,
    /// A property inside the secret: a JSON path (`a.b`) for AWS, a field of
    /// the KV data for Vault. `None` returns the whole secret.
    pub property: Option<String>,
    /// AWS: a version stage (`AWSCURRENT`) or `uuid/<version id>`; Vault KV
    /// v2: the version number.
    pub version: Option<String>,
    /// Value or metadata.
    pub metadata_policy: MetadataPolicy,
}

impl RemoteRef {
    /// A read of the whole current value of `key`.
    pub fn key(key: impl Into<String>) -> Self {
        RemoteRef {
            key: key.into(),
            property: None,
            version: None,
            metadata_policy: MetadataPolicy::None,
        }
    }
}

/// ESO's `dataFrom[].find`: which secrets to read, all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Find {
    /// `name.regexp`: secret names (RE2 syntax) to match.
    pub name_regexp: Option<String>,
    /// Tags (AWS) or custom metadata (Vault) that must all match.
    pub tags: BTreeMap<String, String>,
    /// Only secrets under this path (AWS: name prefix; Vault: sub-path).
    pub path: Option<String>,
}

/// How fresh a read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// A cached result fetched at most this long ago is good enough. Zero
    /// always asks the provider (concurrent identical reads still share one
    /// call).
    pub max_age: Duration,
}

/// Gives a short-lived token on demand: a Kubernetes service-account token
/// from the TokenRequest API (Vault Kubernetes and JWT auth, AWS web
/// identity). The controller implements it; tests use a fixed token.
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A token valid for at least a few minutes.
    fn token(&self) -> BoxFuture<'_, Result<SecretString>>;

    /// The token, for a source whose token never changes (a JWT read from
    /// a Secret): a store's fingerprint then covers it, so that a rotated
    /// JWT makes a new client and a new login. `None` (the default) for a
    /// source that issues fresh tokens for one identity.
    fn fixed(&self) -> Option<&SecretString> {
        None
    }
}

/// A fixed token (tests, or a JWT given directly in a Secret). `Debug`
/// shows no token.
#[derive(Debug)]
pub struct StaticToken(pub SecretString);

impl TokenSource for StaticToken {
    fn token(&self) -> BoxFuture<'_, Result<SecretString>> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }

    fn fixed(&self) -> Option<&SecretString> {
        Some(&self.0)
    }
}

/// Receives one observation per provider API call, for the
/// `externalsecret_provider_api_calls_count{provider,call,status}` metric.
pub trait CallObserver: Send + Sync + fmt::Debug {
    /// `provider` and `call` use ESO's label values (`AWS/SecretsManager`,
    /// `GetSecretValue`; `HashiCorp/Vault`, `ReadSecretData`).
    fn provider_call(&self, provider: &'static str, call: &'static str, status: CallStatus);
}

/// Outcome of one provider API call, as ESO labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// The call succeeded.
    Success,
    /// The call failed.
    Error,
}

impl CallStatus {
    /// ESO's label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Success => "success",
            CallStatus::Error => "error",
        }
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct NoObserver;

impl CallObserver for NoObserver {
    fn provider_call(&self, _: &'static str, _: &'static str, _: CallStatus) {}
}

/// A store's provider configuration, with every credential resolved.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// AWS Secrets Manager.
    Aws(aws::AwsConfig),
    /// HashiCorp Vault or OpenBao, KV engine.
    Vault(vault::VaultConfig),
}

/// A store's client, cached by [`Sessions`] and shared by every
/// ExternalSecret that uses the store.
#[derive(Debug)]
pub enum Client {
    /// AWS Secrets Manager.
    Aws(aws::AwsClient),
    /// Vault or OpenBao.
    Vault(vault::VaultClient),
}

impl Client {
    /// Builds a client for `config` (logs in to Vault, sets up AWS
    /// credentials). `store` names the store in errors and logs.
    pub async fn connect(
        store: &str,
        config: &StoreConfig,
        observer: Arc<dyn CallObserver>,
    ) -> Result<Client> {
        Ok(match config {
            StoreConfig::Aws(c) => Client::Aws(aws::AwsClient::connect(store, c, observer).await?),
            StoreConfig::Vault(c) => {
                Client::Vault(vault::VaultClient::connect(store, c, observer).await?)
            }
        })
    }

    /// Reads one value (ESO `data[].remoteRef`).
    pub async fn get(&self, r: &RemoteRef, opts: ReadOptions) -> Result<Fetched<SecretValue>> {
        match self {
            Client::Aws(c) => c.get(r, opts).await,
            Client::Vault(c) => c.get(r, opts).await,
        }
    }

    /// Reads several values at once, one result per ref in order; AWS
    /// batches these with `BatchGetSecretValue` where it can.
    pub async fn get_many(
        &self,
        refs: &[RemoteRef],
        opts: ReadOptions,
    ) -> Vec<Result<Fetched<SecretValue>>> {
        match self {
            Client::Aws(c) => c.get_many(refs, opts).await,
            Client::Vault(c) => c.get_many(refs, opts).await,
        }
    }

    /// Reads a secret as a map of its top-level keys (ESO
    /// `dataFrom[].extract`).
    pub async fn get_map(
        &self,
        r: &RemoteRef,
        opts: ReadOptions,
    ) -> Result<Fetched<BTreeMap<String, SecretValue>>> {
        self.get(r, opts).await?.try_map(|v| match self {
            Client::Aws(c) => c.object_map(r, &v),
            Client::Vault(c) => c.object_map(r, &v),
        })
    }

    /// Reads every secret that `find` matches, by name (ESO
    /// `dataFrom[].find`).
    pub async fn find(
        &self,
        find: &Find,
        opts: ReadOptions,
    ) -> Result<Fetched<BTreeMap<String, SecretValue>>> {
        match self {
            Client::Aws(c) => c.find(find, opts).await,
            Client::Vault(c) => c.find(find, opts).await,
        }
    }

    /// Checks that the store is usable (credentials accepted, endpoint
    /// reachable): what a SecretStore's `Ready` condition reports.
    pub async fn validate(&self) -> Result<()> {
        match self {
            Client::Aws(c) => c.validate().await,
            Client::Vault(c) => c.validate().await,
        }
    }
}
