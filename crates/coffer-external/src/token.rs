//! Service-account tokens from the TokenRequest API, for provider auth that
//! trades a Kubernetes identity for provider credentials (Vault Kubernetes
//! and JWT auth, AWS web identity).
//!
//! A token is requested when a provider client logs in, and kept until
//! shortly before it expires, so a store's logins and credential refreshes
//! do not each cost an API call.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use coffer_providers::{Error as ProviderError, TokenSource};
use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::PostParams;
use secrecy::SecretString;

/// How long requested tokens live (the API server's minimum is 10 minutes).
const TOKEN_LIFETIME: Duration = Duration::from_secs(600);
/// A cached token is replaced once less than this much of its life is left.
const RENEW_MARGIN: Duration = Duration::from_secs(120);

/// Requests tokens for one service account.
pub struct ServiceAccountToken {
    client: kube::Client,
    namespace: String,
    name: String,
    audiences: Vec<String>,
    cached: Mutex<Option<(SecretString, Instant)>>,
}

impl ServiceAccountToken {
    /// Tokens for `namespace/name` with `audiences` (empty: the API
    /// server's default audience).
    pub fn new(client: kube::Client, namespace: &str, name: &str, audiences: Vec<String>) -> Self {
        ServiceAccountToken {
            client,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            audiences,
            cached: Mutex::new(None),
        }
    }

    /// `namespace/name` and the audiences: what a store's fingerprint
    /// records instead of the token.
    pub fn identity(&self) -> String {
        format!(
            "serviceaccount {}/{} audiences {:?}",
            self.namespace, self.name, self.audiences
        )
    }

    async fn request(&self) -> Result<SecretString, ProviderError> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &self.namespace);
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                audiences: (!self.audiences.is_empty()).then(|| self.audiences.clone()),
                expiration_seconds: Some(TOKEN_LIFETIME.as_secs() as i64),
                ..Default::default()
            }),
            ..Default::default()
        };
        let response: TokenRequest = api
            .create_subresource("token", &self.name, &PostParams::default(), &request)
            .await
            .map_err(|e| self.error(e.to_string()))?;
        let token = response
            .status
            .and_then(|s| s.token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.error("the API server returned no token".to_owned()))?;
        Ok(SecretString::from(token))
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
            let token = self.request().await?;
            if let Ok(mut cached) = self.cached.lock() {
                *cached = Some((token.clone(), requested_at + TOKEN_LIFETIME));
            }
            Ok(token)
        })
    }
}
