//! AWS Secrets Manager, read the way External Secrets Operator's
//! `provider.aws` (`service: SecretsManager`) reads it.
//!
//! One [`AwsClient`] serves one store: it resolves credentials once (cached
//! until they expire, see `auth`), reads through the store's
//! [`ReadCache`] keyed by (secret, version, metadata policy) so that every
//! property of a secret costs one call, batches reads of current values
//! with `BatchGetSecretValue` (20 ids a call, gathered across
//! ExternalSecrets, see `batch`), and stops calling for a while when the
//! service throttles (see `backoff`).

mod auth;
mod backoff;
mod batch;
mod errors;
mod find;
mod json_path;
mod parameter_store;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::config::Region;
use aws_sdk_secretsmanager::primitives::Blob;
use secrecy::{ExposeSecret, SecretString};

use self::backoff::Backoff;
use self::errors::{Failure, classify};
use crate::cache::ReadCache;
use crate::session::{Fingerprint, Fingerprinter};
use crate::{
    CallObserver, CallStatus, Error, Fetched, Find, MetadataPolicy, ReadOptions, RemoteRef, Result,
    SecretValue, TokenSource,
};

/// ESO's provider label for the API-call metric.
const PROVIDER: &str = "AWS/SecretsManager";
/// ESO's default `remoteRef.version`.
const CURRENT: &str = "AWSCURRENT";
/// How long cached reads are kept once the cache is large.
const CACHE_RETAIN: Duration = Duration::from_secs(3600);

/// The AWS service a store reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AwsService {
    /// Secrets Manager.
    #[default]
    SecretsManager,
    /// Systems Manager Parameter Store.
    ParameterStore,
}

/// ESO's `provider.aws`, credentials resolved.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    /// `service`.
    pub service: AwsService,
    /// `region`; empty uses the SDK's region chain (`AWS_REGION`, profile).
    pub region: String,
    /// How to get credentials.
    pub auth: AwsAuth,
    /// `role`: a role ARN to assume with the credentials above, after
    /// `additional_roles` (as ESO does).
    pub role: Option<String>,
    /// `additionalRoles`: roles assumed in order before `role` (role
    /// chaining).
    pub additional_roles: Vec<String>,
    /// `externalID` for assuming `role`.
    pub external_id: Option<String>,
    /// STS session tags for assuming `role` (`sessionTags`, or the ones
    /// `sessionTagsPolicy` makes), key and value, in order.
    pub session_tags: Vec<(String, String)>,
    /// `transitiveTagKeys`: session tags passed on to roles chained after
    /// `role` (sent only with tags, as ESO does).
    pub transitive_tag_keys: Vec<String>,
    /// `prefix`: prepended to every key.
    pub prefix: Option<String>,
    /// Endpoint override; `None` uses the SDK's resolution, which honours
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
    pub endpoint: Option<String>,
    /// STS endpoint override (role chains, web identity, `validate`);
    /// `None` uses the SDK's resolution, which honours `AWS_ENDPOINT_URL_STS`.
    pub sts_endpoint: Option<String>,
    /// SSM endpoint override (Parameter Store); `None` uses the SDK's
    /// resolution, which honours `AWS_ENDPOINT_URL_SSM`.
    pub ssm_endpoint: Option<String>,
}

/// Where AWS credentials come from.
#[derive(Debug, Clone)]
pub enum AwsAuth {
    /// The SDK's default chain (environment, profile, IRSA, IMDS).
    DefaultChain,
    /// `auth.secretRef`: keys read from a Kubernetes Secret.
    Static {
        /// Access key id.
        access_key_id: SecretString,
        /// Secret access key.
        secret_access_key: SecretString,
        /// Session token, for temporary credentials.
        session_token: Option<SecretString>,
    },
    /// `auth.jwt.serviceAccountRef`: AssumeRoleWithWebIdentity with a
    /// service-account token.
    WebIdentity {
        /// Gives the service-account token.
        token: Arc<dyn TokenSource>,
        /// Names the service account (for the fingerprint: tokens change,
        /// the account does not).
        identity: String,
        /// The role to assume with the token (ESO: the service account's
        /// `eks.amazonaws.com/role-arn` annotation); [`AwsConfig::role`] is
        /// then assumed with the result. `None` uses [`AwsConfig::role`]
        /// for the token instead (and does not assume it twice).
        role: Option<String>,
    },
}

impl AwsConfig {
    /// See [`crate::StoreConfig::fingerprint`].
    pub fn fingerprint(&self) -> Fingerprint {
        let mut h = Fingerprinter::new("aws-secrets-manager/1");
        h.str(match self.service {
            AwsService::SecretsManager => "secrets-manager",
            AwsService::ParameterStore => "parameter-store",
        });
        h.str(&self.region);
        match &self.auth {
            AwsAuth::DefaultChain => h.str("default-chain"),
            AwsAuth::Static {
                access_key_id,
                secret_access_key,
                session_token,
            } => {
                h.str("static");
                h.secret(access_key_id);
                h.secret(secret_access_key);
                h.opt(session_token.as_ref().map(|t| t.expose_secret()));
            }
            AwsAuth::WebIdentity {
                identity,
                role,
                token,
            } => {
                h.str("web-identity");
                h.token_source(identity, token.as_ref());
                h.opt(role.as_deref());
            }
        }
        h.opt(self.role.as_deref());
        h.bytes(&(self.additional_roles.len() as u64).to_le_bytes());
        for role in &self.additional_roles {
            h.str(role);
        }
        h.opt(self.external_id.as_deref());
        h.bytes(&(self.session_tags.len() as u64).to_le_bytes());
        for (key, value) in &self.session_tags {
            h.str(key);
            h.str(value);
        }
        h.bytes(&(self.transitive_tag_keys.len() as u64).to_le_bytes());
        for key in &self.transitive_tag_keys {
            h.str(key);
        }
        h.opt(self.prefix.as_deref());
        h.opt(self.endpoint.as_deref());
        h.opt(self.sts_endpoint.as_deref());
        h.opt(self.ssm_endpoint.as_deref());
        h.finish()
    }
}

/// What one provider read asks for: secret id (prefix applied), version
/// (stage or `uuid/<id>`), value or tags. Properties are not part of it, so
/// that all properties of a secret share one call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReadKey {
    id: String,
    version: String,
    metadata: MetadataPolicy,
}

impl ReadKey {
    /// Whether `BatchGetSecretValue` can read it (current values only).
    fn batchable(&self) -> bool {
        self.version == CURRENT && self.metadata == MetadataPolicy::None
    }
}

/// A Secrets Manager (or Parameter Store) client for one store.
pub struct AwsClient {
    store: String,
    region: String,
    prefix: String,
    service: AwsService,
    sm: aws_sdk_secretsmanager::Client,
    /// Parameter Store stores only.
    ssm: Option<aws_sdk_ssm::Client>,
    /// For `validate`, with the same credentials chain.
    sts: aws_sdk_sts::Client,
    observer: Arc<dyn CallObserver>,
    // NB: boxed to keep `crate::Client`'s variants of similar size.
    reads: Box<ReadCache<ReadKey, SecretValue>>,
    /// Secret names matched by `find`s.
    listings: Box<ReadCache<Find, Arc<Vec<String>>>>,
    /// Parameters (names and values) matched by `find`s.
    found: Box<ReadCache<Find, Arc<BTreeMap<String, SecretValue>>>>,
    backoff: Box<Backoff>,
    /// Set once `BatchGetSecretValue` was denied or unsupported: reads go
    /// one by one from then on.
    batch_disabled: AtomicBool,
    /// The batch that reads missing the cache join (see `batch`).
    gather: batch::Gather,
}

impl fmt::Debug for AwsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsClient")
            .field("store", &self.store)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field(
                "batch_disabled",
                &self.batch_disabled.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl AwsClient {
    /// Builds the client; see [`crate::Client::connect`]. Makes no call:
    /// credentials are resolved on first use and then cached.
    pub async fn connect(
        store: &str,
        config: &AwsConfig,
        observer: Arc<dyn CallObserver>,
    ) -> Result<Self> {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(15))
            .operation_timeout(Duration::from_secs(45))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
        if !config.region.is_empty() {
            loader = loader.region(Region::new(config.region.clone()));
        }
        if !matches!(config.auth, AwsAuth::DefaultChain) {
            // The chain is built in `auth`; the SDK's default one is not used.
            loader = loader.no_credentials();
        }
        let sdk = loader.load().await;
        let Some(region) = sdk.region().map(|r| r.to_string()) else {
            return Err(Error::Config {
                store: store.to_owned(),
                reason: "no AWS region: set the store's region".into(),
            });
        };
        let credentials = auth::chain(store, config, &sdk)?;
        let mut sm = aws_sdk_secretsmanager::config::Builder::from(&sdk);
        sm.set_credentials_provider(Some(credentials.clone()));
        if let Some(endpoint) = &config.endpoint {
            sm.set_endpoint_url(Some(endpoint.clone()));
        }
        let ssm = (config.service == AwsService::ParameterStore).then(|| {
            let mut ssm = aws_sdk_ssm::config::Builder::from(&sdk);
            ssm.set_credentials_provider(Some(credentials.clone()));
            if let Some(endpoint) = &config.ssm_endpoint {
                ssm.set_endpoint_url(Some(endpoint.clone()));
            }
            aws_sdk_ssm::Client::from_conf(ssm.build())
        });
        Ok(AwsClient {
            store: store.to_owned(),
            region,
            prefix: config.prefix.clone().unwrap_or_default(),
            service: config.service,
            sm: aws_sdk_secretsmanager::Client::from_conf(sm.build()),
            ssm,
            sts: auth::sts_client(&sdk, config, Some(credentials)),
            observer,
            reads: Box::new(ReadCache::new(CACHE_RETAIN)),
            listings: Box::new(ReadCache::new(CACHE_RETAIN)),
            found: Box::new(ReadCache::new(CACHE_RETAIN)),
            backoff: Box::default(),
            // Parameters are read one by one (BatchGetSecretValue is
            // Secrets Manager's).
            batch_disabled: AtomicBool::new(config.service == AwsService::ParameterStore),
            gather: batch::Gather::default(),
        })
    }

    /// See [`crate::Client::get`].
    pub async fn get(&self, r: &RemoteRef, opts: ReadOptions) -> Result<Fetched<SecretValue>> {
        let key = self.read_key(r);
        let raw = self.read(&key, &r.key, opts.max_age).await?;
        self.select(r, raw)
    }

    /// See [`crate::Client::get_many`]: cache hits first, then the current
    /// values that miss in gathered `BatchGetSecretValue` calls (see
    /// `batch`), the rest one by one.
    pub async fn get_many(
        &self,
        refs: &[RemoteRef],
        opts: ReadOptions,
    ) -> Vec<Result<Fetched<SecretValue>>> {
        let reads: Vec<(ReadKey, String)> = refs
            .iter()
            .map(|r| (self.read_key(r), r.key.clone()))
            .collect();
        let raw = self.read_many(&reads, opts.max_age).await;
        refs.iter()
            .zip(&reads)
            .map(|(r, (key, _))| match raw.get(key) {
                Some(result) => result.clone().and_then(|value| self.select(r, value)),
                // read_many answers every key it is given.
                None => Err(self.error(Failure::Unavailable("no result".into()), Some(&r.key))),
            })
            .collect()
    }

    /// For [`crate::Client::get_map`]: the secret (or the property) must be
    /// a JSON object, whose top-level keys become the map's.
    pub fn object_map(
        &self,
        r: &RemoteRef,
        value: &SecretValue,
    ) -> Result<BTreeMap<String, SecretValue>> {
        object_map(&self.store, r, value)
    }

    /// See [`crate::Client::validate`]: STS `GetCallerIdentity` with the
    /// store's credentials, which proves the whole role chain works and
    /// needs no IAM permission.
    pub async fn validate(&self) -> Result<()> {
        self.sts
            .get_caller_identity()
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.error(classify(&e), None))
    }

    fn read_key(&self, r: &RemoteRef) -> ReadKey {
        // A parameter without a version is its latest; a secret's is the
        // AWSCURRENT stage.
        let default_version = match self.service {
            AwsService::SecretsManager => CURRENT,
            AwsService::ParameterStore => "",
        };
        ReadKey {
            id: format!("{}{}", self.prefix, r.key),
            version: r
                .version
                .clone()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default_version.to_owned()),
            metadata: r.metadata_policy,
        }
    }

    /// Applies `r.property` to a raw read.
    fn select(&self, r: &RemoteRef, raw: Fetched<SecretValue>) -> Result<Fetched<SecretValue>> {
        let Some(property) = r.property.as_deref().filter(|p| !p.is_empty()) else {
            return Ok(raw);
        };
        match json_path::select(raw.value.expose(), property) {
            Some(value) => Ok(Fetched {
                value: SecretValue::new(value),
                fetched_at: raw.fetched_at,
            }),
            None => Err(Error::PropertyNotFound {
                store: self.store.clone(),
                key: r.key.clone(),
                property: property.to_owned(),
            }),
        }
    }

    /// One provider call for one read; `name` is the key as the user wrote
    /// it, for errors.
    async fn fetch(&self, key: &ReadKey, name: &str) -> Result<SecretValue> {
        self.check_backoff()?;
        match (self.service, key.metadata) {
            (AwsService::SecretsManager, MetadataPolicy::None) => {
                self.get_secret_value(key, name).await
            }
            (AwsService::SecretsManager, MetadataPolicy::Fetch) => {
                self.describe_tags(key, name).await
            }
            (AwsService::ParameterStore, MetadataPolicy::None) => {
                self.get_parameter(key, name).await
            }
            (AwsService::ParameterStore, MetadataPolicy::Fetch) => {
                self.parameter_tags(key, name).await
            }
        }
    }

    async fn get_secret_value(&self, key: &ReadKey, name: &str) -> Result<SecretValue> {
        let request = self.sm.get_secret_value().secret_id(&key.id);
        // Matches ESO: `uuid/<id>` names a version id, anything else a stage.
        let request = match key.version.strip_prefix("uuid/") {
            Some(id) => request.version_id(id),
            None => request.version_stage(&key.version),
        };
        let out = self
            .observe("GetSecretValue", request.send().await)
            .map_err(|e| self.error(classify(&e), Some(name)))?;
        secret_bytes(out.secret_string, out.secret_binary).ok_or_else(|| Error::Config {
            store: self.store.clone(),
            reason: format!("secret {name:?} has neither a string nor a binary value"),
        })
    }

    /// ESO's `metadataPolicy: Fetch`: the secret's tags as a JSON object.
    async fn describe_tags(&self, key: &ReadKey, name: &str) -> Result<SecretValue> {
        let out = self
            .observe(
                "DescribeSecret",
                self.sm.describe_secret().secret_id(&key.id).send().await,
            )
            .map_err(|e| self.error(classify(&e), Some(name)))?;
        let tags = out.tags();
        Ok(SecretValue::new(json_path::tags_json(tags.iter().map(
            |t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()),
        ))))
    }

    /// Reports one API call to the observer; a success ends the throttling
    /// steps.
    fn observe<T, E>(
        &self,
        call: &'static str,
        result: std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let status = match &result {
            Ok(_) => {
                self.backoff.succeeded();
                CallStatus::Success
            }
            Err(_) => CallStatus::Error,
        };
        let provider = match self.service {
            AwsService::SecretsManager => PROVIDER,
            AwsService::ParameterStore => parameter_store::PROVIDER,
        };
        self.observer.provider_call(provider, call, status);
        result
    }

    /// Fails fast while the throttling backoff is open.
    fn check_backoff(&self) -> Result<()> {
        self.backoff
            .check(Instant::now())
            .map_err(|retry_after| Error::Throttled {
                store: self.store.clone(),
                retry_after,
            })
    }

    /// The provider error for a failure reading `key` (a throttle opens the
    /// backoff).
    fn error(&self, failure: Failure, key: Option<&str>) -> Error {
        let store = self.store.clone();
        let key = key.map(str::to_owned);
        match failure {
            Failure::NotFound => Error::NotFound {
                store,
                key: key.unwrap_or_default(),
            },
            Failure::Throttled(_) => Error::Throttled {
                store,
                retry_after: self.backoff.throttled(Instant::now(), backoff::jitter()),
            },
            Failure::Denied { reason, .. } => Error::AccessDenied { store, key, reason },
            Failure::Unavailable(reason) => Error::Unavailable { store, key, reason },
            Failure::Unsupported(reason) | Failure::Invalid(reason) => Error::Config {
                store,
                reason: match key {
                    Some(key) => format!("reading {key:?}: {reason}"),
                    None => reason,
                },
            },
            Failure::Resolved(Error::Throttled { store, .. }) => Error::Throttled {
                store,
                retry_after: self.backoff.throttled(Instant::now(), backoff::jitter()),
            },
            Failure::Resolved(error) => error,
        }
    }
}

/// The value of a read: the binary if there is one (as ESO, which checks
/// it last), else the string.
fn secret_bytes(string: Option<String>, binary: Option<Blob>) -> Option<SecretValue> {
    match (binary, string) {
        (Some(binary), _) => Some(SecretValue::new(binary.into_inner())),
        (None, Some(string)) => Some(SecretValue::new(string.into_bytes())),
        (None, None) => None,
    }
}

/// The top-level keys of `value`, a JSON object, as secret values.
fn object_map(
    store: &str,
    r: &RemoteRef,
    value: &SecretValue,
) -> Result<BTreeMap<String, SecretValue>> {
    let Some(map) = json_path::top_level_map(value.expose()) else {
        let what = match r.property.as_deref().filter(|p| !p.is_empty()) {
            Some(property) => format!("property {property:?} of secret {:?}", r.key),
            None => format!("secret {:?}", r.key),
        };
        return Err(Error::Config {
            store: store.to_owned(),
            reason: format!("{what} is not a JSON object, which dataFrom.extract needs"),
        });
    };
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, SecretValue::new(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StaticToken;

    fn base() -> AwsConfig {
        AwsConfig {
            region: "eu-west-1".into(),
            auth: AwsAuth::Static {
                access_key_id: SecretString::from("AKID"),
                secret_access_key: SecretString::from("secret-one"),
                session_token: None,
            },
            role: None,
            additional_roles: Vec::new(),
            external_id: None,
            service: AwsService::SecretsManager,
            ssm_endpoint: None,
            session_tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            prefix: None,
            endpoint: None,
            sts_endpoint: None,
        }
    }

    /// Issues a new token on every call, like a service account's
    /// TokenRequest source.
    #[derive(Debug)]
    struct Rotating;

    impl TokenSource for Rotating {
        fn token(&self) -> futures::future::BoxFuture<'_, Result<SecretString>> {
            Box::pin(async { Ok(SecretString::from(format!("{:?}", Instant::now()))) })
        }
    }

    fn web_identity(identity: &str) -> AwsAuth {
        AwsAuth::WebIdentity {
            token: Arc::new(Rotating),
            identity: identity.into(),
            role: None,
        }
    }

    #[test]
    fn the_fingerprint_covers_credentials_and_every_field() {
        let a = base();
        assert_eq!(a.fingerprint(), base().fingerprint());
        let mut rotated = base();
        rotated.auth = AwsAuth::Static {
            access_key_id: SecretString::from("AKID"),
            secret_access_key: SecretString::from("secret-two"),
            session_token: None,
        };
        assert_ne!(a.fingerprint(), rotated.fingerprint());
        let changes: [fn(&mut AwsConfig); 7] = [
            |c| c.region = "us-east-1".into(),
            |c| c.role = Some("r".into()),
            |c| c.additional_roles = vec!["r".into()],
            |c| c.external_id = Some("x".into()),
            |c| c.prefix = Some("p/".into()),
            |c| c.endpoint = Some("http://e".into()),
            |c| c.sts_endpoint = Some("http://e".into()),
        ];
        for change in changes {
            let mut changed = base();
            change(&mut changed);
            assert_ne!(a.fingerprint(), changed.fingerprint(), "{changed:?}");
        }
        // Moving bytes between fields changes the fingerprint.
        let mut p1 = base();
        p1.prefix = Some("ab".into());
        p1.endpoint = Some("c".into());
        let mut p2 = base();
        p2.prefix = Some("a".into());
        p2.endpoint = Some("bc".into());
        assert_ne!(p1.fingerprint(), p2.fingerprint());
    }

    #[test]
    fn a_web_identity_fingerprint_depends_on_the_account_not_the_token() {
        let mut one = base();
        one.auth = web_identity("system:serviceaccount:ns:sa");
        let mut two = base();
        two.auth = web_identity("system:serviceaccount:ns:sa");
        assert_eq!(one.fingerprint(), two.fingerprint());
        let mut other = base();
        other.auth = web_identity("system:serviceaccount:other:sa");
        assert_ne!(one.fingerprint(), other.fingerprint());
        let mut fixed = base();
        fixed.auth = AwsAuth::WebIdentity {
            token: Arc::new(StaticToken(SecretString::from("a-jwt"))),
            identity: "system:serviceaccount:ns:sa".into(),
            role: None,
        };
        assert_ne!(one.fingerprint(), fixed.fingerprint());
    }

    #[test]
    fn config_debug_hides_the_secret_access_key() {
        let shown = format!("{:?}", base());
        assert!(!shown.contains("secret-one"), "{shown}");
    }
}
