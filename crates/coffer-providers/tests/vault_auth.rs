//! Vault authentication against a real OpenBao dev server: token, AppRole
//! and JWT logins, one login per client, renewal of short-lived tokens,
//! re-login after revocation and at max TTL, refused credentials, and no
//! credential in any output.

mod vault_support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use coffer_providers::vault::{KvVersion, VaultAuth, VaultClient, VaultConfig};
use coffer_providers::{Error, ReadOptions, RemoteRef, StaticToken};
use secrecy::SecretString;
use serde_json::json;
use vault_support::{Admin, Counter, unique};

const FRESH: ReadOptions = ReadOptions {
    max_age: Duration::ZERO,
};

fn prop(key: &str, property: &str) -> RemoteRef {
    RemoteRef {
        property: Some(property.into()),
        ..RemoteRef::key(key)
    }
}

/// A KV v2 mount holding `app` = {"k": "v"} and a policy reading it.
async fn mount_with_policy(admin: &Admin) -> (String, String) {
    let mount = admin.kv_mount(KvVersion::V2).await;
    admin.put_v2(&mount, "app", json!({"k": "v"})).await;
    let policy = admin.read_policy(&[&mount]).await;
    (mount, policy)
}

fn approle(mount: &str, role_id: &str, secret_id: &str) -> VaultAuth {
    VaultAuth::AppRole {
        path: mount.to_owned(),
        role_id: role_id.to_owned(),
        secret_id: SecretString::from(secret_id.to_owned()),
    }
}

/// A client logged in through a new AppRole for `policy` (token TTL and
/// max TTL as given), reading `mount` (or full paths with `None`), its
/// calls counted.
struct AppRoleClient {
    client: VaultClient,
    counter: Arc<Counter>,
    config: VaultConfig,
    auth_mount: String,
    secret_id: String,
}

async fn approle_client(
    admin: &Admin,
    mount: Option<&str>,
    policy: &str,
    ttl: &str,
    max_ttl: &str,
) -> AppRoleClient {
    let (auth_mount, role_id, secret_id) = admin.approle(policy, ttl, max_ttl).await;
    let counter = Counter::new();
    let config = admin.config(
        mount,
        KvVersion::V2,
        approle(&auth_mount, &role_id, &secret_id),
    );
    let client = VaultClient::connect("s", &config, counter.clone())
        .await
        .unwrap();
    AppRoleClient {
        client,
        counter,
        config,
        auth_mount,
        secret_id,
    }
}

#[tokio::test]
async fn token_auth_looks_the_token_up_once_and_never_logs_in() {
    let admin = Admin::shared().await;
    let (mount, policy) = mount_with_policy(&admin).await;
    let token = admin.token(&policy, "1h").await;
    let counter = Counter::new();
    let config = admin.config(
        Some(&mount),
        KvVersion::V2,
        VaultAuth::Token(SecretString::from(token)),
    );
    let client = VaultClient::connect("s", &config, counter.clone())
        .await
        .unwrap();
    for _ in 0..5 {
        let v = client.get(&prop("app", "k"), FRESH).await.unwrap();
        assert_eq!(v.value.expose(), b"v");
    }
    client.validate().await.unwrap();
    assert_eq!(counter.calls("Login"), 0);
    assert_eq!(counter.calls("LookupSelf"), 2, "connect and validate");
}

#[tokio::test]
async fn approle_logs_in_once_for_many_reads() {
    let admin = Admin::shared().await;
    let (mount, policy) = mount_with_policy(&admin).await;
    let AppRoleClient {
        client, counter, ..
    } = approle_client(&admin, Some(&mount), &policy, "1h", "2h").await;
    let r = prop("app", "k");
    let reads = futures::future::join_all((0..20).map(|_| client.get(&r, FRESH))).await;
    assert!(
        reads
            .iter()
            .all(|r| r.as_ref().unwrap().value.expose() == b"v")
    );
    client.validate().await.unwrap();
    assert_eq!(counter.calls("Login"), 1);
}

/// A P-256 key whose public half OpenBao's JWT auth trusts, and JWTs it signs.
struct JwtIssuer {
    key: EcdsaKeyPair,
    public_pem: String,
}

impl JwtIssuer {
    fn new() -> JwtIssuer {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let der = key.public_key().as_der().unwrap();
        let b64 = STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let public_pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        );
        JwtIssuer { key, public_pem }
    }

    fn sign(&self, subject: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
        let claims = json!({
            "iss": "coffer-test", "sub": subject, "aud": "coffer",
            "iat": now, "nbf": now - 5, "exp": now + 600,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature = self
            .key
            .sign(&SystemRandom::new(), signed.as_bytes())
            .unwrap();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

#[tokio::test]
async fn jwt_auth_logs_in_with_a_signed_token() {
    let admin = Admin::shared().await;
    let (mount, policy) = mount_with_policy(&admin).await;
    let issuer = JwtIssuer::new();
    let jwt_mount = unique("jwt");
    admin
        .call(
            "POST",
            &format!("sys/auth/{jwt_mount}"),
            Some(json!({"type": "jwt"})),
        )
        .await;
    admin
        .call(
            "POST",
            &format!("auth/{jwt_mount}/config"),
            Some(json!({"jwt_validation_pubkeys": [issuer.public_pem], "bound_issuer": "coffer-test"})),
        )
        .await;
    admin
        .call(
            "POST",
            &format!("auth/{jwt_mount}/role/reader"),
            Some(json!({
                "role_type": "jwt", "user_claim": "sub", "bound_audiences": ["coffer"],
                "token_policies": [policy], "token_ttl": "1h",
            })),
        )
        .await;
    let counter = Counter::new();
    let jwt = |token: String| VaultAuth::Jwt {
        path: jwt_mount.clone(),
        role: "reader".into(),
        token: Arc::new(StaticToken(SecretString::from(token))),
        identity: "test".into(),
    };
    let config = admin.config(Some(&mount), KvVersion::V2, jwt(issuer.sign("ci")));
    let client = VaultClient::connect("s", &config, counter.clone())
        .await
        .unwrap();
    assert_eq!(
        client
            .get(&prop("app", "k"), FRESH)
            .await
            .unwrap()
            .value
            .expose(),
        b"v"
    );
    assert_eq!(counter.calls("Login"), 1);

    // A JWT signed by another key is refused, and the JWT is not echoed.
    let forged = JwtIssuer::new().sign("ci");
    let config = admin.config(Some(&mount), KvVersion::V2, jwt(forged.clone()));
    let err = VaultClient::connect("s", &config, Counter::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AccessDenied { .. }), "{err}");
    assert!(!format!("{err} {err:?}").contains(&forged), "{err}");
}

#[tokio::test]
async fn a_short_lived_token_is_renewed_rather_than_replaced() {
    let admin = Admin::shared().await;
    let (mount, policy) = mount_with_policy(&admin).await;
    let AppRoleClient {
        client, counter, ..
    } = approle_client(&admin, Some(&mount), &policy, "3s", "60s").await;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        let v = client.get(&prop("app", "k"), FRESH).await.unwrap();
        assert_eq!(v.value.expose(), b"v");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert_eq!(counter.calls("Login"), 1, "renewed, never replaced");
    assert!(
        counter.calls("RenewSelf") >= 3,
        "renewals: {}",
        counter.calls("RenewSelf")
    );
}

#[tokio::test]
async fn a_token_near_its_max_ttl_is_replaced_by_a_new_login() {
    let admin = Admin::shared().await;
    let (mount, policy) = mount_with_policy(&admin).await;
    let AppRoleClient {
        client, counter, ..
    } = approle_client(&admin, Some(&mount), &policy, "2s", "4s").await;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(7) {
        client.get(&prop("app", "k"), FRESH).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        counter.calls("Login") >= 2,
        "logins: {}",
        counter.calls("Login")
    );
}

#[tokio::test]
async fn a_revoked_token_is_replaced_by_one_new_login() {
    let admin = Admin::shared().await;
    let (mount, policy) = mount_with_policy(&admin).await;
    let AppRoleClient {
        client,
        counter,
        auth_mount,
        ..
    } = approle_client(&admin, Some(&mount), &policy, "1h", "2h").await;
    client.get(&prop("app", "k"), FRESH).await.unwrap();
    admin
        .call(
            "PUT",
            &format!("sys/leases/revoke-prefix/auth/{auth_mount}/login"),
            None,
        )
        .await;
    let r = prop("app", "k");
    let reads = futures::future::join_all((0..10).map(|_| client.get(&r, FRESH))).await;
    for r in &reads {
        assert_eq!(r.as_ref().unwrap().value.expose(), b"v");
    }
    assert_eq!(
        counter.calls("Login"),
        2,
        "one re-login shared by 10 refused reads"
    );
}

#[tokio::test]
async fn refused_credentials_are_access_denied_and_not_echoed() {
    let admin = Admin::shared().await;
    let (mount, policy) = mount_with_policy(&admin).await;
    let (auth_mount, role_id, _) = admin.approle(&policy, "1h", "2h").await;
    let bad_secret = "wrong-secret-id-0123456789";
    let config = admin.config(
        Some(&mount),
        KvVersion::V2,
        approle(&auth_mount, &role_id, bad_secret),
    );
    let err = VaultClient::connect("s", &config, Counter::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::AccessDenied { .. }) && !err.is_transient(),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains(bad_secret));

    let bad_token = "hvs.not-a-real-token-42";
    let config = admin.config(
        Some(&mount),
        KvVersion::V2,
        VaultAuth::Token(SecretString::from(bad_token)),
    );
    let err = VaultClient::connect("s", &config, Counter::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AccessDenied { .. }), "{err}");
    assert!(!format!("{err} {err:?}").contains(bad_token));
}

#[tokio::test]
async fn a_path_the_policy_denies_is_access_denied_without_a_new_login() {
    let admin = Admin::shared().await;
    let (mount, policy) = mount_with_policy(&admin).await;
    let other = admin.kv_mount(KvVersion::V2).await;
    admin.put_v2(&other, "app", json!({"k": "v"})).await;
    let AppRoleClient {
        client, counter, ..
    } = approle_client(&admin, None, &policy, "1h", "2h").await;
    client
        .get(&prop(&format!("{mount}/app"), "k"), FRESH)
        .await
        .unwrap();
    let err = client
        .get(&prop(&format!("{other}/app"), "k"), FRESH)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::AccessDenied { key: Some(k), .. } if k.ends_with("/app")),
        "{err}"
    );
    assert_eq!(
        counter.calls("Login"),
        1,
        "a policy denial is not a dead token"
    );
}

#[tokio::test]
async fn debug_output_shows_no_token_or_secret_id() {
    let admin = Admin::shared().await;
    let (mount, policy) = mount_with_policy(&admin).await;
    let AppRoleClient {
        client,
        config,
        secret_id,
        ..
    } = approle_client(&admin, Some(&mount), &policy, "1h", "2h").await;
    let root = admin.root_config(Some(&mount), KvVersion::V2);
    let shown = format!("{config:?} {client:?} {root:?}");
    assert!(!shown.contains(&secret_id), "{shown}");
    assert!(!shown.contains(&admin.root), "{shown}");
}
