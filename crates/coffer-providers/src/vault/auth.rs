//! Getting a Vault token and keeping it alive.
//!
//! A client logs in once (token, AppRole, Kubernetes or JWT auth) and keeps
//! the resulting token: renewed with `auth/token/renew-self` at two thirds
//! of its TTL while renewable, replaced by a new login when renewal fails,
//! when the token is not renewable, or when Vault stops extending it (its
//! max TTL is near). A read refused with 403 re-logs in once (see
//! [`super::VaultClient`]); concurrent callers that saw the same token share
//! that one login.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::VaultAuth;
use super::transport::{CALL_LOGIN, CALL_LOOKUP_SELF, CALL_RENEW_SELF, Call, Transport};
use crate::{Error, Result};

/// A token and what Vault told us about its lifetime.
pub(super) struct Session {
    /// The token.
    pub token: SecretString,
    /// Increases with every login, so that callers that saw a refused token
    /// can tell whether someone already replaced it.
    pub generation: u64,
    obtained_at: Instant,
    /// `None`: the token never expires (root, or TTL 0).
    ttl: Option<Duration>,
    renewable: bool,
    /// The TTL the login granted; a renewal that grants less means the max
    /// TTL caps it, so the next refresh is a new login.
    login_ttl: Option<Duration>,
}

impl Session {
    fn expires_at(&self) -> Option<Instant> {
        self.ttl.map(|ttl| self.obtained_at + ttl)
    }

    /// Whether the token has certainly expired by the clock.
    pub fn expired(&self) -> bool {
        self.expires_at().is_some_and(|at| at <= Instant::now())
    }

    fn capped(&self) -> bool {
        matches!((self.ttl, self.login_ttl), (Some(now), Some(login)) if now < login)
    }
}

/// The login method and the current session.
pub(super) struct Auth {
    method: VaultAuth,
    session: RwLock<Arc<Session>>,
    relogin: tokio::sync::Mutex<()>,
    generations: AtomicU64,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("method", &method_name(&self.method))
            .finish_non_exhaustive()
    }
}

/// The method's name for logs and `Debug`.
pub(super) fn method_name(method: &VaultAuth) -> &'static str {
    match method {
        VaultAuth::Token(_) => "token",
        VaultAuth::AppRole { .. } => "appRole",
        VaultAuth::Kubernetes { .. } => "kubernetes",
        VaultAuth::Jwt { .. } => "jwt",
        VaultAuth::UserPass { .. } => "userPass",
        VaultAuth::Cert { .. } => "cert",
    }
}

#[derive(Deserialize)]
struct LoginReply {
    auth: LoginAuth,
}

#[derive(Deserialize)]
struct LoginAuth {
    client_token: String,
    #[serde(default)]
    lease_duration: u64,
    #[serde(default)]
    renewable: bool,
}

#[derive(Deserialize)]
struct LookupReply {
    data: LookupData,
}

/// What `lookup-self` tells about a token.
#[derive(Deserialize)]
pub(super) struct LookupData {
    #[serde(default)]
    ttl: u64,
    #[serde(default)]
    renewable: bool,
}

fn ttl(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// A login: the API path, the JSON body (it holds the credential, so it
/// is wiped when dropped) and what to cut out of Vault's error text.
pub(super) struct LoginRequest {
    pub path: String,
    pub body: Zeroizing<Vec<u8>>,
    pub redact: Vec<SecretString>,
}

/// The login for `method` (token auth has none).
pub(super) async fn login_request(method: &VaultAuth) -> Result<Option<LoginRequest>> {
    let (path, role, jwt) = match method {
        VaultAuth::Token(_) => return Ok(None),
        VaultAuth::AppRole {
            path,
            role_id,
            secret_id,
        } => {
            let body = json_body(&[
                ("role_id", role_id.as_str()),
                ("secret_id", secret_id.expose_secret()),
            ]);
            return Ok(Some(LoginRequest {
                path: login_path(path, "approle"),
                body,
                redact: vec![secret_id.clone(), SecretString::from(role_id.as_str())],
            }));
        }
        VaultAuth::UserPass {
            path,
            username,
            password,
        } => {
            return Ok(Some(LoginRequest {
                path: format!("{}/{username}", login_path(path, "userpass")),
                body: json_body(&[("password", password.expose_secret())]),
                redact: vec![password.clone()],
            }));
        }
        VaultAuth::Cert { path, role, .. } => {
            // The credential is the certificate of the TLS handshake; the
            // body only picks the role, as ESO's `{"name": vaultRole}`.
            let fields: Vec<(&str, &str)> = role
                .iter()
                .filter(|r| !r.is_empty())
                .map(|r| ("name", r.as_str()))
                .collect();
            return Ok(Some(LoginRequest {
                path: login_path(path, "cert"),
                body: json_body(&fields),
                redact: Vec::new(),
            }));
        }
        VaultAuth::Kubernetes {
            mount_path,
            role,
            token,
            ..
        } => (
            login_path(mount_path, "kubernetes"),
            role,
            token.token().await?,
        ),
        VaultAuth::Jwt {
            path, role, token, ..
        } => (login_path(path, "jwt"), role, token.token().await?),
    };
    let body = json_body(&[("role", role.as_str()), ("jwt", jwt.expose_secret())]);
    Ok(Some(LoginRequest {
        path,
        body,
        redact: vec![jwt],
    }))
}

fn login_path(mount: &str, default: &str) -> String {
    let mount = mount.trim_matches('/');
    let mount = if mount.is_empty() { default } else { mount };
    format!("auth/{mount}/login")
}

fn json_body(fields: &[(&str, &str)]) -> Zeroizing<Vec<u8>> {
    let map: BTreeMap<&str, &str> = fields.iter().copied().collect();
    let mut out = Zeroizing::new(Vec::new());
    // Serializing a map of strings into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &map);
    out
}

impl Auth {
    /// Logs in with `method` (token auth: looks the token up to learn its
    /// TTL; an unknown token is refused here).
    pub async fn login(method: VaultAuth, transport: &Transport) -> Result<Auth> {
        let session = new_session(&method, transport, 1).await?;
        Ok(Auth {
            method,
            session: RwLock::new(Arc::new(session)),
            relogin: tokio::sync::Mutex::new(()),
            generations: AtomicU64::new(1),
        })
    }

    /// The current session.
    pub fn current(&self) -> Arc<Session> {
        self.session
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether a new token can be had (every method but a given token).
    pub fn can_login(&self) -> bool {
        !matches!(self.method, VaultAuth::Token(_))
    }

    /// A session to use now: the current one, or a new login when the
    /// current token has expired by the clock (the keep-alive task could
    /// not run, or renewing failed).
    pub async fn usable(&self, transport: &Transport) -> Result<Arc<Session>> {
        let session = self.current();
        if session.expired() && self.can_login() {
            return self.relogin(transport, session.generation).await;
        }
        Ok(session)
    }

    /// Logs in again unless someone already replaced the session of
    /// generation `seen` (then returns theirs).
    pub async fn relogin(&self, transport: &Transport, seen: u64) -> Result<Arc<Session>> {
        let _one_at_a_time = self.relogin.lock().await;
        let current = self.current();
        if current.generation != seen {
            return Ok(current);
        }
        let generation = self.generations.fetch_add(1, Ordering::SeqCst) + 1;
        let session = Arc::new(new_session(&self.method, transport, generation).await?);
        tracing::debug!(
            store = transport.store(),
            method = method_name(&self.method),
            "vault: logged in again"
        );
        self.replace(session.clone());
        Ok(session)
    }

    /// Whether the current token is still accepted (`lookup-self`): tells a
    /// revoked token from a policy that denies a path.
    pub async fn token_valid(&self, transport: &Transport, session: &Session) -> Result<bool> {
        match lookup_self(transport, &session.token).await {
            Ok(_) => Ok(true),
            Err(Error::AccessDenied { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// How long until the keep-alive task should act; `None` when there is
    /// nothing it could do (the token never expires, or it is a given
    /// token that cannot be renewed).
    pub fn refresh_in(&self) -> Option<Duration> {
        let session = self.current();
        let ttl = session.ttl?;
        if !session.renewable && !self.can_login() {
            return None;
        }
        let at = session.obtained_at + ttl * 2 / 3;
        Some(at.saturating_duration_since(Instant::now()))
    }

    /// Renews the token, or logs in again when renewing is not possible or
    /// no longer extends it.
    pub async fn refresh(&self, transport: &Transport) -> Result<()> {
        let session = self.current();
        if self.can_login() && (!session.renewable || session.capped()) {
            self.relogin(transport, session.generation).await?;
            return Ok(());
        }
        match self.renew(transport, &session).await {
            Ok(()) => Ok(()),
            Err(e) if self.can_login() && !e.is_transient() => {
                tracing::debug!(store = transport.store(), error = %e, "vault: renewal refused; logging in again");
                self.relogin(transport, session.generation)
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    async fn renew(&self, transport: &Transport, session: &Session) -> Result<()> {
        let mut call = Call::new(CALL_RENEW_SELF, Method::POST, "auth/token/renew-self");
        call.auth = true;
        call.body = Some(Zeroizing::new(b"{}".to_vec()));
        let started = Instant::now();
        let body = transport
            .send(call, Some(&session.token))
            .await?
            .found()
            .ok_or_else(|| access_denied(transport, "renew-self: token not found".into()))?;
        let reply: LoginReply = serde_json::from_slice(&body)
            .map_err(|e| unavailable(transport, format!("renew-self reply: {e}")))?;
        let renewed = Arc::new(Session {
            token: session.token.clone(),
            generation: session.generation,
            obtained_at: started,
            ttl: ttl(reply.auth.lease_duration),
            renewable: reply.auth.renewable,
            login_ttl: session.login_ttl,
        });
        // A login that raced this renewal wins.
        let mut slot = self.session.write().unwrap_or_else(PoisonError::into_inner);
        if slot.generation == session.generation {
            *slot = renewed;
        }
        Ok(())
    }

    fn replace(&self, session: Arc<Session>) {
        *self.session.write().unwrap_or_else(PoisonError::into_inner) = session;
    }
}

async fn new_session(
    method: &VaultAuth,
    transport: &Transport,
    generation: u64,
) -> Result<Session> {
    let started = Instant::now();
    let Some(LoginRequest { path, body, redact }) = login_request(method).await? else {
        let VaultAuth::Token(token) = method else {
            unreachable!("only token auth has no login request")
        };
        let data = lookup_self(transport, token).await?;
        return Ok(Session {
            token: token.clone(),
            generation,
            obtained_at: started,
            ttl: ttl(data.ttl),
            renewable: data.renewable,
            login_ttl: ttl(data.ttl),
        });
    };
    let mut call = Call::new(CALL_LOGIN, Method::POST, &path);
    call.auth = true;
    call.body = Some(body);
    call.redact = redact.iter().map(|s| s.expose_secret()).collect();
    let body = transport
        .send(call, None)
        .await?
        .found()
        .ok_or_else(|| access_denied(transport, format!("{path}: no such auth mount")))?;
    let reply: LoginReply = serde_json::from_slice(&body)
        .map_err(|_| access_denied(transport, format!("{path}: the reply holds no token")))?;
    let ttl = ttl(reply.auth.lease_duration);
    Ok(Session {
        token: SecretString::from(reply.auth.client_token),
        generation,
        obtained_at: started,
        ttl,
        renewable: reply.auth.renewable,
        login_ttl: ttl,
    })
}

/// `auth/token/lookup-self`. Its reply echoes the token (`id`), so only
/// the TTL fields are kept.
pub(super) async fn lookup_self(transport: &Transport, token: &SecretString) -> Result<LookupData> {
    let mut call = Call::new(CALL_LOOKUP_SELF, Method::GET, "auth/token/lookup-self");
    call.auth = true;
    let body = transport
        .send(call, Some(token))
        .await?
        .found()
        .ok_or_else(|| access_denied(transport, "lookup-self: token not found".into()))?;
    let reply: LookupReply = serde_json::from_slice(&body)
        .map_err(|e| unavailable(transport, format!("lookup-self reply: {e}")))?;
    Ok(reply.data)
}

fn access_denied(transport: &Transport, reason: String) -> Error {
    Error::AccessDenied {
        store: transport.store().to_owned(),
        key: None,
        reason,
    }
}

fn unavailable(transport: &Transport, reason: String) -> Error {
    Error::Unavailable {
        store: transport.store().to_owned(),
        key: None,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StaticToken;

    async fn request(method: &VaultAuth) -> (String, serde_json::Value) {
        let login = login_request(method).await.unwrap().unwrap();
        (login.path, serde_json::from_slice(&login.body).unwrap())
    }

    #[tokio::test]
    async fn userpass_and_cert_logins_match_eso() {
        let userpass = VaultAuth::UserPass {
            path: "people".into(),
            username: "app".into(),
            password: SecretString::from("pw"),
        };
        let (path, body) = request(&userpass).await;
        assert_eq!(path, "auth/people/login/app");
        assert_eq!(body, serde_json::json!({"password": "pw"}));
        let cert = |role: Option<&str>| VaultAuth::Cert {
            path: "".into(),
            role: role.map(str::to_owned),
            certificate: None,
        };
        let (path, body) = request(&cert(Some("web"))).await;
        assert_eq!(path, "auth/cert/login");
        assert_eq!(body, serde_json::json!({"name": "web"}));
        let (_, body) = request(&cert(None)).await;
        assert_eq!(body, serde_json::json!({}));
    }

    #[tokio::test]
    async fn kubernetes_login_posts_role_and_service_account_jwt_to_the_mount() {
        let method = VaultAuth::Kubernetes {
            mount_path: "k8s-prod".into(),
            role: "eso".into(),
            token: Arc::new(StaticToken(SecretString::from("sa.jwt.token"))),
            identity: "ns/sa".into(),
        };
        let (path, body) = request(&method).await;
        assert_eq!(path, "auth/k8s-prod/login");
        assert_eq!(
            body,
            serde_json::json!({"role": "eso", "jwt": "sa.jwt.token"})
        );
    }

    #[tokio::test]
    async fn approle_and_jwt_logins_carry_their_credentials() {
        let approle = VaultAuth::AppRole {
            path: "".into(),
            role_id: "rid".into(),
            secret_id: SecretString::from("sid"),
        };
        let (path, body) = request(&approle).await;
        assert_eq!(path, "auth/approle/login");
        assert_eq!(
            body,
            serde_json::json!({"role_id": "rid", "secret_id": "sid"})
        );
        let jwt = VaultAuth::Jwt {
            path: "/oidc/".into(),
            role: "".into(),
            token: Arc::new(StaticToken(SecretString::from("a.b.c"))),
            identity: "secret".into(),
        };
        let (path, body) = request(&jwt).await;
        assert_eq!(path, "auth/oidc/login");
        assert_eq!(body, serde_json::json!({"role": "", "jwt": "a.b.c"}));
        assert!(
            login_request(&VaultAuth::Token(SecretString::from("t")))
                .await
                .unwrap()
                .is_none()
        );
    }
}
