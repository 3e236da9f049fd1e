//! [`VaultClient`]: one store's reads (`get`, `get_many`, `get_map`,
//! `find`, `validate`) on top of the transport, the session and the read
//! cache, and the task that keeps the session's token alive.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::auth::{self, Auth};
use super::kv::{self, Paths, SecretData};
use super::missing;
use super::transport::{Answer, CALL_LIST, CALL_READ, Call, Transport};
use super::{KvVersion, VaultConfig};
use crate::cache::ReadCache;
use crate::{
    CallObserver, Error, Fetched, Find, MetadataPolicy, ReadOptions, RemoteRef, Result, SecretValue,
};

/// How many reads of one `get_many` or `find` run at once.
const CONCURRENT_READS: usize = 16;
/// Cached reads older than this are forgotten.
const CACHE_RETAIN: Duration = Duration::from_secs(3600);

/// What one `ReadSecretData` call reads: properties of one secret share it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReadKey {
    path: String,
    version: Option<String>,
    metadata: bool,
}

pub(super) struct Inner {
    pub(super) paths: Paths,
    pub(super) transport: Transport,
    auth: Auth,
    cache: ReadCache<ReadKey, Arc<SecretData>>,
}

/// A Vault client for one store, holding a renewed token. `Debug` shows
/// the server and the auth method, never a token.
pub struct VaultClient {
    inner: Arc<Inner>,
    keep_alive: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultClient")
            .field("store", &self.inner.transport.store())
            .field("transport", &self.inner.transport)
            .field("paths", &self.inner.paths)
            .field("auth", &self.inner.auth)
            .finish()
    }
}

impl Drop for VaultClient {
    fn drop(&mut self) {
        self.keep_alive.abort();
    }
}

impl VaultClient {
    /// Builds the HTTP client and logs in; see [`crate::Client::connect`].
    pub async fn connect(
        store: &str,
        config: &VaultConfig,
        observer: Arc<dyn CallObserver>,
    ) -> Result<Self> {
        if matches!(config.auth, super::VaultAuth::Cert { .. })
            && config.client_certificate().is_none()
        {
            return Err(Error::Config {
                store: store.to_owned(),
                reason: "auth.cert needs a client certificate: clientCert and secretRef, or the store's tls".into(),
            });
        }
        let transport = Transport::new(store, config, observer)?;
        let auth = Auth::login(config.auth.clone(), &transport).await?;
        let mount = config
            .path
            .as_deref()
            .map(|p| p.trim_matches('/').to_owned())
            .filter(|p| !p.is_empty());
        let inner = Arc::new(Inner {
            paths: Paths {
                mount,
                version: config.version,
            },
            transport,
            auth,
            cache: ReadCache::new(CACHE_RETAIN),
        });
        let keep_alive = tokio::spawn(keep_alive(Arc::downgrade(&inner)));
        Ok(VaultClient { inner, keep_alive })
    }

    /// See [`crate::Client::get`].
    pub async fn get(&self, r: &RemoteRef, opts: ReadOptions) -> Result<Fetched<SecretValue>> {
        let data = self.inner.read(r, opts).await?;
        // An empty property is no property, as in ESO (`property == ""`).
        let property = r.property.as_deref().filter(|p| !p.is_empty());
        let mut value =
            kv::select(&data.value.0, property).ok_or_else(|| self.inner.property_not_found(r))?;
        Ok(Fetched {
            value: SecretValue::new(std::mem::take(&mut *value)),
            fetched_at: data.fetched_at,
        })
    }

    /// See [`crate::Client::get_many`]: each ref through the cache, up to
    /// 16 at once, results in order.
    pub async fn get_many(
        &self,
        refs: &[RemoteRef],
        opts: ReadOptions,
    ) -> Vec<Result<Fetched<SecretValue>>> {
        // NB: boxed futures, so callers can hold this future across a
        // Send bound (a plain `.map(|r| self.get(r, opts))` closure trips
        // the compiler's higher-ranked lifetime inference).
        let reads: Vec<futures::future::BoxFuture<'_, Result<Fetched<SecretValue>>>> = refs
            .iter()
            .map(|r| Box::pin(self.get(r, opts)) as _)
            .collect();
        futures::stream::iter(reads)
            .buffered(CONCURRENT_READS)
            .collect()
            .await
    }

    /// For [`crate::Client::get_map`]: matches ESO's `GetSecretMap`, which
    /// parses what `GetSecret` returns (the data, or the property's value)
    /// as a JSON object.
    pub fn object_map(
        &self,
        r: &RemoteRef,
        value: &SecretValue,
    ) -> Result<BTreeMap<String, SecretValue>> {
        object_map(self.inner.transport.store(), r, value)
    }

    /// See [`crate::Client::find`]: matches ESO's `GetAllSecrets`. Lists
    /// the store's secrets under `find.path` recursively (KV v2 metadata
    /// LIST), keeps those whose name (`path/name`, as listed) matches
    /// `name_regexp`, or else those whose custom metadata holds every tag,
    /// and reads each as its whole data in JSON. As in ESO, a name regexp
    /// takes precedence over tags, and a secret whose current version is
    /// deleted is skipped.
    pub async fn find(
        &self,
        find: &Find,
        opts: ReadOptions,
    ) -> Result<Fetched<BTreeMap<String, SecretValue>>> {
        let inner = &self.inner;
        if inner.paths.version == KvVersion::V1 && !find.tags.is_empty() {
            return Err(
                inner.config_error("find by tags needs KV version v2 (custom_metadata)".to_owned())
            );
        }
        let matcher = find
            .name_regexp
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|e| inner.config_error(format!("find.name.regexp is invalid: {e}")))?;
        let folder = match find.path.as_deref().map(|p| p.trim_matches('/')) {
            Some(p) if !p.is_empty() => format!("{p}/"),
            _ => String::new(),
        };
        let started = Instant::now();
        let names = inner.list_recursive(folder).await?;
        let candidates: Vec<String> = match &matcher {
            Some(re) => names.into_iter().filter(|n| re.is_match(n)).collect(),
            None if find.tags.is_empty() => names,
            None => {
                let tagged = futures::stream::iter(names)
                    .map(|name| async move {
                        let meta = RemoteRef {
                            metadata_policy: MetadataPolicy::Fetch,
                            ..RemoteRef::key(name.clone())
                        };
                        let data = inner.read(&meta, opts).await?;
                        let matches = find.tags.iter().all(|(k, v)| {
                            data.value.0.get(k).and_then(Value::as_str) == Some(v.as_str())
                        });
                        Ok::<_, Error>(matches.then_some(name))
                    })
                    .buffered(CONCURRENT_READS)
                    .try_collect::<Vec<_>>()
                    .await?;
                tagged.into_iter().flatten().collect()
            }
        };
        let read = futures::stream::iter(candidates)
            .map(|name| async move {
                match inner.read(&RemoteRef::key(name.clone()), opts).await {
                    Ok(data) => Ok(Some((name, data))),
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffered(CONCURRENT_READS)
            .try_collect::<Vec<_>>()
            .await?;
        let mut fetched_at = started;
        let mut found = BTreeMap::new();
        for (name, data) in read.into_iter().flatten() {
            fetched_at = fetched_at.min(data.fetched_at);
            let mut json = kv::go_json_map(&data.value.0);
            found.insert(name, SecretValue::new(std::mem::take(&mut *json)));
        }
        Ok(Fetched {
            value: found,
            fetched_at,
        })
    }

    /// See [`crate::Client::validate`]: matches ESO's `Validate`, a token
    /// `lookup-self`, then a check that the store's path is a KV mount of
    /// the configured version (skipped when Vault will not say).
    pub async fn validate(&self) -> Result<()> {
        let inner = &self.inner;
        let session = inner.auth.usable(&inner.transport).await?;
        match auth::lookup_self(&inner.transport, &session.token).await {
            Err(Error::AccessDenied { .. }) if inner.auth.can_login() => {
                let session = inner
                    .auth
                    .relogin(&inner.transport, session.generation)
                    .await?;
                auth::lookup_self(&inner.transport, &session.token).await?;
            }
            other => {
                other?;
            }
        }
        inner.validate_mount().await
    }
}

impl Inner {
    /// One secret's data or metadata, through the cache.
    async fn read(&self, r: &RemoteRef, opts: ReadOptions) -> Result<Fetched<Arc<SecretData>>> {
        let metadata = r.metadata_policy == MetadataPolicy::Fetch;
        let path = if metadata {
            self.paths.metadata_path(&r.key)
        } else {
            self.paths.data_path(&r.key)
        }
        .map_err(|reason| self.config_error(reason))?;
        let version = match (&r.version, metadata) {
            (Some(v), false) => {
                v.parse::<u64>().map_err(|_| {
                    self.config_error(format!(
                        "version {v:?} of secret {:?} is not a KV version number",
                        r.key
                    ))
                })?;
                Some(v.clone())
            }
            _ => None,
        };
        let key = ReadKey {
            path,
            version,
            metadata,
        };
        self.cache
            .get_or_fetch(&key, opts.max_age, || self.fetch(&r.key, &key))
            .await
    }

    async fn fetch(&self, key: &str, read: &ReadKey) -> Result<Arc<SecretData>> {
        let answer = self
            .authed(|| {
                let mut call = Call::new(CALL_READ, Method::GET, &read.path);
                call.key = Some(key);
                if let Some(v) = &read.version {
                    call.query.push(("version", v.clone()));
                }
                call
            })
            .await?;
        let body = match answer {
            Answer::Found(body) => body,
            Answer::Missing(body) => return Err(self.missing(key, &read.path, &body).await),
        };
        #[derive(Deserialize)]
        struct Reply {
            data: Option<Map<String, Value>>,
        }
        let reply: Reply = serde_json::from_slice(&body).map_err(|e| Error::Unavailable {
            store: self.transport.store().to_owned(),
            key: Some(key.to_owned()),
            reason: format!("reply to GET {} is not Vault's JSON: {e}", read.path),
        })?;
        // NB: a 200 without `data` is no KV read (a proxy, another engine):
        // taking it for an empty secret would empty the Secret.
        let mut outer = SecretData(reply.data.ok_or_else(|| Error::Unavailable {
            store: self.transport.store().to_owned(),
            key: Some(key.to_owned()),
            reason: format!("reply to GET {} holds no data", read.path),
        })?);
        if read.metadata {
            return Ok(Arc::new(SecretData(kv::metadata_map(&outer.0))));
        }
        if self.paths.version == KvVersion::V1 {
            return Ok(Arc::new(outer));
        }
        // KV v2 nests the data; a deleted or destroyed version has `null`
        // (older Vaults answered it with 200 rather than 404).
        if missing::version_gone(&outer.0) {
            return Err(self.not_found(key));
        }
        match outer.0.remove("data") {
            Some(Value::Object(data)) => Ok(Arc::new(SecretData(data))),
            _ => Err(self.config_error(format!(
                "{} holds no KV v2 data: is the mount KV version v1?",
                read.path
            ))),
        }
    }

    /// LISTs `folder` and its sub-folders; names are `folder` + the listed
    /// key, as ESO returns them.
    async fn list_recursive(&self, folder: String) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Reply {
            data: Keys,
        }
        #[derive(Deserialize)]
        struct Keys {
            #[serde(default)]
            keys: Vec<String>,
        }
        let mut names = Vec::new();
        let mut folders = vec![folder];
        while let Some(folder) = folders.pop() {
            let path = self
                .paths
                .list_path(&folder)
                .map_err(|reason| self.config_error(reason))?;
            let answer = self
                .authed(|| {
                    let mut call = Call::new(
                        CALL_LIST,
                        Method::from_bytes(b"LIST").unwrap_or(Method::GET),
                        &path,
                    );
                    call.key = Some(&folder);
                    call
                })
                .await?;
            let body = match answer {
                Answer::Found(body) => body,
                // Matches ESO: an empty or missing folder is "no secret"
                // (when Vault confirms it is a folder of a KV mount).
                Answer::Missing(body) => return Err(self.missing(&folder, &path, &body).await),
            };
            let reply: Reply = serde_json::from_slice(&body).map_err(|e| Error::Unavailable {
                store: self.transport.store().to_owned(),
                key: Some(folder.clone()),
                reason: format!("reply to LIST {path} is not Vault's JSON: {e}"),
            })?;
            for key in reply.data.keys {
                let full = format!("{folder}{key}");
                if full.ends_with('/') {
                    folders.push(full);
                } else {
                    names.push(full);
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Sends a call with the session's token; on a 403 from a token that
    /// is no longer valid (revoked, expired), logs in again once and
    /// retries. A 403 from a valid token (a policy denying the path) is
    /// returned as is, without a login.
    pub(super) async fn authed<'a>(&self, make: impl Fn() -> Call<'a>) -> Result<Answer> {
        let session = self.auth.usable(&self.transport).await?;
        match self.transport.send(make(), Some(&session.token)).await {
            Err(denied @ Error::AccessDenied { .. }) if self.auth.can_login() => {
                let current = self.auth.current();
                let session = if current.generation != session.generation {
                    current // someone logged in again meanwhile
                } else if self.auth.token_valid(&self.transport, &session).await? {
                    return Err(denied);
                } else {
                    self.auth
                        .relogin(&self.transport, session.generation)
                        .await?
                };
                self.transport.send(make(), Some(&session.token)).await
            }
            other => other,
        }
    }

    pub(super) fn not_found(&self, key: &str) -> Error {
        Error::NotFound {
            store: self.transport.store().to_owned(),
            key: key.to_owned(),
        }
    }

    fn property_not_found(&self, r: &RemoteRef) -> Error {
        Error::PropertyNotFound {
            store: self.transport.store().to_owned(),
            key: r.key.clone(),
            property: r.property.clone().unwrap_or_default(),
        }
    }

    pub(super) fn config_error(&self, reason: String) -> Error {
        Error::Config {
            store: self.transport.store().to_owned(),
            reason,
        }
    }
}

/// Renews (or replaces) the client's token before it expires, for as long
/// as the client exists. Holds the client weakly, so dropping the client
/// ends the task (its `Drop` also aborts it).
async fn keep_alive(client: Weak<Inner>) {
    let mut failures: u32 = 0;
    loop {
        let wait = {
            let Some(inner) = client.upgrade() else {
                return;
            };
            let Some(due) = inner.auth.refresh_in() else {
                return;
            };
            if failures == 0 {
                due
            } else {
                // Renewal or login failed: retry in 5, 10, 20, 40 s.
                Duration::from_secs(5u64 << (failures.min(4) - 1))
            }
        };
        tokio::time::sleep(wait).await;
        let Some(inner) = client.upgrade() else {
            return;
        };
        match inner.auth.refresh(&inner.transport).await {
            Ok(()) => failures = 0,
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(store = inner.transport.store(), error = %e, "vault: cannot renew the token");
                if !inner.auth.can_login() && inner.auth.current().expired() {
                    return;
                }
            }
        }
    }
}

/// The top-level keys of `value`, a JSON object, as secret values
/// (nested values as JSON, as ESO's `GetSecretMap`).
fn object_map(
    store: &str,
    r: &RemoteRef,
    value: &SecretValue,
) -> Result<BTreeMap<String, SecretValue>> {
    let object: Map<String, Value> =
        serde_json::from_slice(value.expose()).map_err(|_| Error::Config {
            store: store.to_owned(),
            reason: match &r.property {
                Some(p) => format!(
                    "property {p:?} of secret {:?} is not a JSON object, so it cannot be extracted",
                    r.key
                ),
                None => format!("secret {:?} is not a JSON object", r.key),
            },
        })?;
    let object = SecretData(object);
    let map = object
        .0
        .iter()
        .map(|(k, v)| {
            let mut bytes = kv::map_value(v);
            (k.clone(), SecretValue::new(std::mem::take(&mut *bytes)))
        })
        .collect();
    Ok(map)
}
