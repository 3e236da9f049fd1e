//! Service-account tokens from the TokenRequest API, for provider auth that
//! trades a Kubernetes identity for provider credentials (Vault Kubernetes
//! and JWT auth, AWS web identity).
//!
//! A token is requested when a provider client logs in, and kept until
//! shortly before it expires, so a store's logins and credential refreshes
//! do not each cost an API call. The controller's own token
//! ([`MountedToken`]) is read from the file the kubelet keeps fresh.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use coffer_providers::{Error as ProviderError, TokenSource};
use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::PostParams;
use secrecy::SecretString;

/// How long requested tokens live unless a store asks otherwise (ESO's
/// default), and the least the API server accepts.
const TOKEN_LIFETIME: Duration = Duration::from_secs(600);
/// The most the TokenRequest API accepts (`expirationSeconds` < 2^32).
const MAX_LIFETIME_SECS: i64 = (1 << 32) - 1;
/// A cached token is replaced once less than this much of its life is left.
const RENEW_MARGIN: Duration = Duration::from_secs(120);

/// Largest token file read (projected tokens are about a kilobyte).
const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// The controller's own service-account token, read from its file at each
/// login: the kubelet rotates the projected token in place, so a copy
/// kept from an earlier read may have expired.
#[derive(Debug)]
pub struct MountedToken {
    path: PathBuf,
}

impl MountedToken {
    /// The token at `path`.
    pub fn new(path: &Path) -> Self {
        MountedToken {
            path: path.to_owned(),
        }
    }

    /// What a store's fingerprint records instead of the token.
    pub fn identity(&self) -> String {
        format!(
            "the controller's service account token {}",
            self.path.display()
        )
    }

    async fn read(&self) -> Result<SecretString, String> {
        use tokio::io::AsyncReadExt;
        let file = tokio::fs::File::open(&self.path)
            .await
            .map_err(|e| e.to_string())?;
        let mut text = zeroize::Zeroizing::new(String::new());
        file.take(MAX_TOKEN_FILE + 1)
            .read_to_string(&mut text)
            .await
            .map_err(|e| e.to_string())?;
        if text.len() as u64 > MAX_TOKEN_FILE {
            return Err(format!("larger than {MAX_TOKEN_FILE} bytes"));
        }
        let token = text.trim();
        if token.is_empty() {
            return Err("the file is empty".to_owned());
        }
        Ok(SecretString::from(token))
    }
}

impl TokenSource for MountedToken {
    fn token(&self) -> BoxFuture<'_, Result<SecretString, ProviderError>> {
        Box::pin(async move {
            self.read().await.map_err(|reason| ProviderError::Token {
                purpose: format!(
                    "the controller's service account token {}",
                    self.path.display()
                ),
                reason,
            })
        })
    }
}

/// Requests tokens for one service account.
pub struct ServiceAccountToken {
    client: kube::Client,
    namespace: String,
    name: String,
    audiences: Vec<String>,
    lifetime: Duration,
    cached: Mutex<Option<(SecretString, Instant)>>,
}

/// The lifetime to request for a store's `expirationSeconds`: 600 s when
/// unset, and clamped to what the TokenRequest API accepts (at least
/// 600 s, below 2^32 s), so a smaller value asks for 10 minutes rather
/// than fail every login.
pub fn requested_lifetime(expiration_seconds: Option<i64>) -> Duration {
    match expiration_seconds {
        None => TOKEN_LIFETIME,
        Some(secs) => Duration::from_secs(
            secs.clamp(TOKEN_LIFETIME.as_secs() as i64, MAX_LIFETIME_SECS) as u64,
        ),
    }
}

impl ServiceAccountToken {
    /// Tokens for `namespace/name` with `audiences` (empty: the API
    /// server's default audience), living `lifetime` (see
    /// [`requested_lifetime`]).
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: &str,
        audiences: Vec<String>,
        lifetime: Duration,
    ) -> Self {
        ServiceAccountToken {
            client,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            audiences,
            lifetime,
            cached: Mutex::new(None),
        }
    }

    /// `namespace/name`, the audiences and the lifetime: what a store's
    /// fingerprint records instead of the token.
    pub fn identity(&self) -> String {
        format!(
            "serviceaccount {}/{} audiences {:?} lifetime {}s",
            self.namespace,
            self.name,
            self.audiences,
            self.lifetime.as_secs()
        )
    }

    /// A new token and how long it lives: as the API server says (it may
    /// shorten the lifetime asked for), never longer than asked.
    async fn request(&self) -> Result<(SecretString, Duration), ProviderError> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &self.namespace);
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                audiences: (!self.audiences.is_empty()).then(|| self.audiences.clone()),
                expiration_seconds: Some(self.lifetime.as_secs() as i64),
                ..Default::default()
            }),
            ..Default::default()
        };
        let response: TokenRequest = api
            .create_subresource("token", &self.name, &PostParams::default(), &request)
            .await
            .map_err(|e| self.error(e.to_string()))?;
        let status = response.status.unwrap_or_default();
        let lifetime = status
            .expiration_timestamp
            .and_then(|at| {
                let left = at.0.duration_since(k8s_openapi::jiff::Timestamp::now());
                Duration::try_from(left).ok()
            })
            .map_or(self.lifetime, |left| left.min(self.lifetime));
        let token = status
            .token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.error("the API server returned no token".to_owned()))?;
        Ok((SecretString::from(token), lifetime))
    }

    fn error(&self, reason: String) -> ProviderError {
        ProviderError::Token {
            purpose: format!("service account {}/{}", self.namespace, self.name),
            reason,
        }
    }
}

impl std::fmt::Debug for ServiceAccountToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountToken")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("audiences", &self.audiences)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl TokenSource for ServiceAccountToken {
    fn token(&self) -> BoxFuture<'_, Result<SecretString, ProviderError>> {
        Box::pin(async move {
            if let Some((token, expires)) = self.cached.lock().ok().and_then(|c| c.clone())
                && expires.saturating_duration_since(Instant::now()) > RENEW_MARGIN
            {
                return Ok(token);
            }
            let requested_at = Instant::now();
            let (token, lifetime) = self.request().await?;
            if let Ok(mut cached) = self.cached.lock() {
                *cached = Some((token.clone(), requested_at + lifetime));
            }
            Ok(token)
        })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn expiration_seconds_is_honoured_within_what_the_api_server_accepts() {
        assert_eq!(requested_lifetime(None), Duration::from_secs(600));
        assert_eq!(requested_lifetime(Some(3600)), Duration::from_secs(3600));
        // Below the API server's minimum: 10 minutes, not a refused login.
        assert_eq!(requested_lifetime(Some(60)), Duration::from_secs(600));
        assert_eq!(requested_lifetime(Some(-5)), Duration::from_secs(600));
        assert_eq!(
            requested_lifetime(Some(i64::MAX)),
            Duration::from_secs((1 << 32) - 1)
        );
    }

    #[tokio::test]
    async fn the_mounted_token_is_read_again_at_each_login() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first.jwt\n").unwrap();
        let source = MountedToken::new(&path);
        assert_eq!(source.token().await.unwrap().expose_secret(), "first.jwt");
        // The kubelet rotates the file in place.
        std::fs::write(&path, "second.jwt").unwrap();
        assert_eq!(source.token().await.unwrap().expose_secret(), "second.jwt");
        assert!(source.fixed().is_none(), "a rotating source");
    }

    #[tokio::test]
    async fn a_missing_empty_or_huge_token_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let err = MountedToken::new(&path).token().await.unwrap_err();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        std::fs::write(&path, "\n").unwrap();
        let err = MountedToken::new(&path).token().await.unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        std::fs::write(&path, "x".repeat(MAX_TOKEN_FILE as usize + 1)).unwrap();
        let err = MountedToken::new(&path).token().await.unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
