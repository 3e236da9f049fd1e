//! One HTTP connection pool per Vault store: builds requests against
//! `/v1/<path>`, sends the namespace and token headers, turns status codes
//! into [`Error`]s, reports every call to the metrics observer and keeps the
//! store's throttling backoff.
//!
//! Error text is built from Vault's `errors` array, which names request
//! paths and reasons; any credential the request carried is cut out of it
//! anyway, so that neither a token nor a secret id can reach a log.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::VaultConfig;
use super::consistency::Consistency;
use super::headers::custom_headers;
use crate::{CallObserver, CallStatus, Error, Result};

/// ESO's provider label (`runtime/metrics`, vault `constants.go`).
pub(super) const PROVIDER: &str = "HashiCorp/Vault";
/// ESO's call labels, plus `RenewSelf`, which ESO never makes (it logs in
/// per client and revokes) but a long-lived client does.
pub(super) const CALL_LOGIN: &str = "Login";
pub(super) const CALL_LOOKUP_SELF: &str = "LookupSelf";
pub(super) const CALL_RENEW_SELF: &str = "RenewSelf";
pub(super) const CALL_READ: &str = "ReadSecretData";
pub(super) const CALL_LIST: &str = "ListSecrets";
/// Not a metric label in ESO (its mount check is unobserved); ours is.
pub(super) const CALL_READ_MOUNT: &str = "ReadMount";

const NAMESPACE_HEADER: &str = "X-Vault-Namespace";
const TOKEN_HEADER: &str = "X-Vault-Token";
/// Longest Vault error text kept in an [`Error`].
const MAX_REASON: usize = 400;
const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(60);

/// A response body; may hold secret values, so it is wiped when dropped.
pub(super) type Body = Zeroizing<Vec<u8>>;

/// A call's answer, when it is not an error.
pub(super) enum Answer {
    /// 2xx.
    Found(Body),
    /// 404, with its body: whoever answered says there is nothing there
    /// (`missing` decides whether that proves anything).
    Missing(Body),
}

impl Answer {
    /// The body of a 2xx answer.
    pub fn found(self) -> Option<Body> {
        match self {
            Answer::Found(body) => Some(body),
            Answer::Missing(_) => None,
        }
    }
}

/// One Vault API call.
pub(super) struct Call<'a> {
    /// The metric label.
    pub name: &'static str,
    /// `GET`, `POST`; `LIST` is sent as `GET ...?list=true`.
    pub method: Method,
    /// The API path below `/v1/`, e.g. `secret/data/app`.
    pub path: &'a str,
    /// Query parameters.
    pub query: Vec<(&'static str, String)>,
    /// A JSON body (login requests carry credentials in it).
    pub body: Option<Zeroizing<Vec<u8>>>,
    /// The remote key the call is about, for error messages.
    pub key: Option<&'a str>,
    /// Credentials in the body, cut out of any error text.
    pub redact: Vec<&'a str>,
    /// A login or a call about the token itself (renew, lookup): sent in
    /// the auth namespace.
    pub auth: bool,
}

impl<'a> Call<'a> {
    /// A call with no query, body or key.
    pub fn new(name: &'static str, method: Method, path: &'a str) -> Self {
        Call {
            name,
            method,
            path,
            query: Vec::new(),
            body: None,
            key: None,
            redact: Vec::new(),
            auth: false,
        }
    }
}

/// The store's HTTP client and the state shared by its calls.
pub(super) struct Transport {
    store: String,
    base: Url,
    namespace: Option<String>,
    /// Where logins and token calls go (`auth.namespace`, else `namespace`).
    auth_namespace: Option<String>,
    /// `headers`, checked ([`custom_headers`]).
    custom: HeaderMap,
    /// `readYourWrites` and `forwardInconsistent`.
    consistency: Consistency,
    http: reqwest::Client,
    observer: Arc<dyn CallObserver>,
    backoff: Mutex<Backoff>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("server", &self.base.as_str())
            .field("namespace", &self.namespace)
            .field("auth_namespace", &self.auth_namespace)
            .field("headers", &self.custom.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Backoff {
    until: Option<Instant>,
    failures: u32,
}

impl Transport {
    /// Builds the client for `config`: `caBundle`, when given, replaces
    /// the system roots (matches ESO, which sets the TLS config's `RootCAs`
    /// to the bundle alone).
    pub fn new(store: &str, config: &VaultConfig, observer: Arc<dyn CallObserver>) -> Result<Self> {
        let invalid = |reason: String| Error::Config {
            store: store.to_owned(),
            reason,
        };
        let server = config.server.as_str();
        let base = Url::parse(server)
            .map_err(|e| invalid(format!("vault server {server:?} is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid(format!(
                "vault server {server:?} must be an http:// or https:// URL"
            )));
        }
        let custom = custom_headers(store, &config.headers)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30));
        if let Some(pem) = config.ca_bundle.as_deref() {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| invalid(format!("caBundle is not PEM certificates: {e}")))?;
            if certs.is_empty() {
                return Err(invalid("caBundle holds no certificate".into()));
            }
            builder = builder.tls_certs_only(certs);
        }
        if let Some(certificate) = config.client_certificate() {
            if base.scheme() != "https" {
                return Err(invalid(format!(
                    "{}: a client certificate needs an https:// server, not {server:?}",
                    certificate.cert_field
                )));
            }
            builder = builder.identity(certificate.identity(store)?);
        }
        let http = builder
            .build()
            .map_err(|e| invalid(format!("cannot build the HTTP client: {}", error_chain(&e))))?;
        Ok(Transport {
            store: store.to_owned(),
            base,
            namespace: config
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            auth_namespace: config
                .auth_namespace
                .as_deref()
                .or(config.namespace.as_deref())
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            custom,
            consistency: Consistency::new(config.read_your_writes, config.forward_inconsistent),
            http,
            observer,
            backoff: Mutex::new(Backoff::default()),
        })
    }

    /// The store's name, for errors.
    pub fn store(&self) -> &str {
        &self.store
    }

    /// The headers every request carries besides the token: the store's
    /// `headers`, then the client's own (which they cannot override), with
    /// the namespace of reads, or of logins and token calls (`auth`).
    fn headers_for(&self, auth: bool) -> HeaderMap {
        let mut headers = self.custom.clone();
        let namespace = if auth {
            &self.auth_namespace
        } else {
            &self.namespace
        };
        if let Some(ns) = namespace
            && let Ok(value) = HeaderValue::from_str(ns)
        {
            headers.insert(NAMESPACE_HEADER, value);
        }
        self.consistency.add_to(&mut headers);
        headers
    }

    /// The URL of an API path: each segment percent-encoded, so a key may
    /// hold `?`, `#` or spaces.
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push("v1");
            segments.extend(path.split('/'));
        }
        url
    }

    /// Sends `call` with `token`. A 404 (missing secret, deleted version,
    /// empty list, but also an unknown path) is [`Answer::Missing`].
    pub async fn send(&self, call: Call<'_>, token: Option<&SecretString>) -> Result<Answer> {
        self.check_backoff()?;
        let mut url = self.url(call.path);
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in &call.query {
                query.append_pair(k, v);
            }
            if call.method.as_str() == "LIST" {
                query.append_pair("list", "true");
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let method = if call.method.as_str() == "LIST" {
            Method::GET
        } else {
            call.method.clone()
        };
        let mut request = self
            .http
            .request(method, url)
            .headers(self.headers_for(call.auth));
        if let Some(token) = token {
            let mut value =
                HeaderValue::from_str(token.expose_secret()).map_err(|_| Error::AccessDenied {
                    store: self.store.clone(),
                    key: call.key.map(str::to_owned),
                    reason: "the vault token holds characters not allowed in a header".into(),
                })?;
            value.set_sensitive(true);
            request = request.header(TOKEN_HEADER, value);
        }
        if let Some(body) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                self.observe(call.name, CallStatus::Error);
                return Err(Error::Unavailable {
                    store: self.store.clone(),
                    key: call.key.map(str::to_owned),
                    reason: format!("{} {}: {}", call.method, call.path, error_chain(&e)),
                });
            }
        };
        let status = response.status();
        self.consistency.record(response.headers());
        let retry_after = retry_after(response.headers());
        let body = match response.bytes().await {
            Ok(b) => Zeroizing::new(Vec::from(b)),
            Err(e) => {
                self.observe(call.name, CallStatus::Error);
                return Err(Error::Unavailable {
                    store: self.store.clone(),
                    key: call.key.map(str::to_owned),
                    reason: format!("{} {}: reading the response: {e}", call.method, call.path),
                });
            }
        };
        if status.is_success() || status == StatusCode::NOT_FOUND {
            // Matches ESO's metric: the Go client reports a 404 read as no
            // secret and no error.
            self.observe(call.name, CallStatus::Success);
            self.reset_backoff();
            return Ok(if status.is_success() {
                Answer::Found(body)
            } else {
                Answer::Missing(body)
            });
        }
        self.observe(call.name, CallStatus::Error);
        let mut redact = call.redact.clone();
        if let Some(t) = token {
            redact.push(t.expose_secret());
        }
        let message = vault_message(&body, &redact);
        Err(self.status_error(&call, status, retry_after, message))
    }

    fn status_error(
        &self,
        call: &Call<'_>,
        status: StatusCode,
        retry_after: Option<Duration>,
        message: String,
    ) -> Error {
        let store = self.store.clone();
        let key = call.key.map(str::to_owned);
        let what = format!("{} {}: {status}: {message}", call.method, call.path);
        let login = call.name == CALL_LOGIN;
        match status {
            StatusCode::TOO_MANY_REQUESTS => Error::Throttled {
                store,
                retry_after: self.throttled(retry_after),
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::AccessDenied {
                store,
                key,
                reason: what,
            },
            // A refused login (bad role id, secret id or JWT) is a 400.
            StatusCode::BAD_REQUEST if login => Error::AccessDenied {
                store,
                key,
                reason: what,
            },
            // 412: a KV v2 performance standby has not caught up yet.
            s if s.is_server_error() || s == StatusCode::PRECONDITION_FAILED => {
                Error::Unavailable {
                    store,
                    key,
                    reason: what,
                }
            }
            _ => Error::Config {
                store,
                reason: match key {
                    Some(k) => format!("reading {k:?}: {what}"),
                    None => what,
                },
            },
        }
    }

    fn observe(&self, call: &'static str, status: CallStatus) {
        self.observer.provider_call(PROVIDER, call, status);
    }

    /// Fails fast while the store is backing off after a 429.
    fn check_backoff(&self) -> Result<()> {
        let backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        match backoff.until {
            Some(until) if until > Instant::now() => Err(Error::Throttled {
                store: self.store.clone(),
                retry_after: until - Instant::now(),
            }),
            _ => Ok(()),
        }
    }

    /// Records a 429: backs off exponentially (1 s doubling to 60 s) with
    /// jitter, or as long as Vault's `Retry-After` asks if that is longer.
    fn throttled(&self, retry_after: Option<Duration>) -> Duration {
        let mut backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        backoff.failures = backoff.failures.saturating_add(1);
        let exp = BACKOFF_BASE
            .saturating_mul(1 << backoff.failures.saturating_sub(1).min(6))
            .min(BACKOFF_CAP);
        // Full jitter over the upper half: [exp/2, exp].
        let jitter = exp / 2 * (random_u64() % 1001) as u32 / 1000;
        let delay = (exp / 2 + jitter).max(retry_after.unwrap_or_default());
        backoff.until = Some(Instant::now() + delay);
        delay
    }

    fn reset_backoff(&self) {
        let mut backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        if backoff.failures != 0 {
            *backoff = Backoff::default();
        }
    }
}

/// Random bits for jitter, from std's per-instance random hash keys (no
/// RNG dependency for something this unimportant).
fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    hasher.finish()
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.min(BACKOFF_CAP.as_secs() * 10)))
}

/// Vault's `{"errors": [...]}` as one line, credentials cut out, bounded.
pub(super) fn vault_message(body: &[u8], redact: &[&str]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<String>,
    }
    let mut text = match serde_json::from_slice::<Errors>(body) {
        Ok(e) if !e.errors.is_empty() => e.errors.join("; "),
        Ok(_) => "no error message".to_owned(),
        Err(_) => "response is not Vault's JSON".to_owned(),
    };
    text = redact_all(text, redact);
    if text.len() > MAX_REASON {
        let mut cut = MAX_REASON;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text.replace('\n', " ")
}

/// `text` with every occurrence of each (non-trivial) secret replaced.
pub(super) fn redact_all(mut text: String, secrets: &[&str]) -> String {
    for secret in secrets {
        if secret.len() >= 4 && text.contains(secret) {
            text = text.replace(secret, "[redacted]");
        }
    }
    text
}

/// `error: cause: cause` on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    std::iter::successors(Some(error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoObserver;

    fn config(server: &str) -> VaultConfig {
        VaultConfig {
            server: server.into(),
            path: None,
            version: super::super::KvVersion::V2,
            namespace: None,
            auth_namespace: None,
            ca_bundle: None,
            headers: Default::default(),
            client_tls: None,
            read_your_writes: false,
            forward_inconsistent: false,
            auth: super::super::VaultAuth::Token(SecretString::from("t")),
        }
    }

    fn transport(ns: Option<&str>) -> Transport {
        let mut config = config("http://127.0.0.1:8200/");
        config.namespace = ns.map(str::to_owned);
        Transport::new("s", &config, Arc::new(NoObserver)).unwrap()
    }

    #[test]
    fn urls_encode_each_segment_below_v1() {
        let t = transport(None);
        assert_eq!(
            t.url("secret/data/a b/c?d").as_str(),
            "http://127.0.0.1:8200/v1/secret/data/a%20b/c%3Fd"
        );
        assert_eq!(
            t.url("secret/metadata/sub/").as_str(),
            "http://127.0.0.1:8200/v1/secret/metadata/sub/"
        );
    }

    #[test]
    fn namespace_is_sent_as_x_vault_namespace() {
        let t = transport(Some("team-a/dev"));
        assert_eq!(
            t.headers_for(false).get("x-vault-namespace").unwrap(),
            "team-a/dev"
        );
        assert!(transport(None).headers_for(false).is_empty());
    }

    #[test]
    fn logins_go_to_the_auth_namespace_and_reads_to_the_store_s() {
        let ns = |t: &Transport, auth: bool| {
            t.headers_for(auth)
                .get("x-vault-namespace")
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let mut c = config("http://127.0.0.1:8200/");
        c.auth_namespace = Some("admin".into());
        // ESO: a login-only namespace; reads stay in the root.
        let t = Transport::new("s", &c, Arc::new(NoObserver)).unwrap();
        assert_eq!(ns(&t, true).as_deref(), Some("admin"));
        assert_eq!(ns(&t, false), None);
        c.namespace = Some("team".into());
        let t = Transport::new("s", &c, Arc::new(NoObserver)).unwrap();
        assert_eq!(ns(&t, true).as_deref(), Some("admin"));
        assert_eq!(ns(&t, false).as_deref(), Some("team"));
        // Without auth.namespace, the login goes to the store's.
        c.auth_namespace = None;
        let t = Transport::new("s", &c, Arc::new(NoObserver)).unwrap();
        assert_eq!(ns(&t, true).as_deref(), Some("team"));
    }

    #[test]
    fn store_headers_go_with_every_request_and_refused_ones_fail_the_build() {
        let mut with = config("http://127.0.0.1:8200/");
        with.namespace = Some("team".into());
        with.headers.insert("X-Team".into(), "payments".into());
        let t = Transport::new("s", &with, Arc::new(NoObserver)).unwrap();
        let headers = t.headers_for(false);
        assert_eq!(headers.get("x-team").unwrap(), "payments");
        assert_eq!(headers.get("x-vault-namespace").unwrap(), "team");
        assert!(!format!("{t:?}").contains("payments"));
        with.headers
            .insert("X-Vault-Namespace".into(), "root".into());
        let err = Transport::new("s", &with, Arc::new(NoObserver)).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
        assert!(err.to_string().contains("\"X-Vault-Namespace\""), "{err}");
    }

    #[test]
    fn a_server_that_is_not_an_http_url_is_a_config_error() {
        for server in ["vault:8200", "ftp://vault", "not a url"] {
            let err = Transport::new("s", &config(server), Arc::new(NoObserver)).unwrap_err();
            assert!(matches!(err, Error::Config { .. }), "{server}: {err}");
        }
    }

    #[test]
    fn a_ca_bundle_without_certificates_is_a_config_error() {
        let mut config = config("https://vault");
        config.ca_bundle = Some(b"not pem".to_vec());
        let err = Transport::new("s", &config, Arc::new(NoObserver)).unwrap_err();
        assert!(err.to_string().contains("caBundle"), "{err}");
    }

    #[test]
    fn vault_messages_lose_credentials_and_stay_short() {
        let body = br#"{"errors":["invalid secret id s3cr3t-id for role x"]}"#;
        let msg = vault_message(body, &["s3cr3t-id"]);
        assert_eq!(msg, "invalid secret id [redacted] for role x");
        let long = format!(r#"{{"errors":["{}"]}}"#, "é".repeat(500));
        assert!(vault_message(long.as_bytes(), &[]).len() <= MAX_REASON + 3);
    }

    #[test]
    fn throttling_backs_off_exponentially_and_fails_fast_meanwhile() {
        let t = transport(None);
        let first = t.throttled(None);
        assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
        let second = t.throttled(None);
        assert!(second >= Duration::from_secs(1) && second <= Duration::from_secs(2));
        assert!(matches!(t.check_backoff(), Err(Error::Throttled { .. })));
        let honoured = t.throttled(Some(Duration::from_secs(30)));
        assert!(honoured >= Duration::from_secs(30));
    }
}
