//! Vault auth methods through the controller, against OpenBao configured as
//! an operator would: AppRole, Kubernetes auth reviewed by the real API
//! server, JWT auth trusting the API server's signing key; KV v1 stores and
//! OpenBao namespaces. Every test has its own mounts, named after its
//! Kubernetes namespace, so tests run in parallel.

use serde_json::json;

use crate::bao::Bao;
use crate::common::*;
use crate::identity::{self, ISSUER};
use crate::sync::*;

/// A KV v2 mount of this test's own holding `db` = {"password": value},
/// and a policy reading it; returns (mount, policy).
pub async fn kv_with_policy(bao: &Bao, world: &World, value: &str) -> (String, String) {
    let mount = format!("kv-{}", world.name());
    bao.mount_kv(&mount, "2").await;
    bao.put_v2(&mount, "db", json!({ "password": value })).await;
    let policy = format!("read-{}", world.name());
    bao.read_policy(&policy, &[&format!("{mount}/")]).await;
    (mount, policy)
}

#[tokio::test]
async fn vault_approle_store_logs_in_and_syncs_without_showing_the_secret_id() {
    let world = World::new("vault-approle").await;
    let bao = Bao::new(world.env);
    let (mount, policy) = kv_with_policy(&bao, &world, "approle-pw").await;
    let auth = format!("approle-{}", world.name());
    bao.enable_auth(&auth, "approle").await;
    let (role_id, secret_id) = bao.approle(&auth, "reader", &policy, None).await;
    world
        .put_secret("approle", &[("secret-id", &secret_id)])
        .await;
    let login = VaultLogin::app_role(&auth, &role_id, "approle", "secret-id");
    world
        .apply(StoreManifest::vault("vault", &bao.addr, &mount, login).provider("version", "v2"))
        .await;
    external_secret(&world, "db", "vault", "db", "password").await;
    assert_synced(&world, "db", "approle-pw").await;
    let (status, reason, _) = store_ready(&world, "vault").await;
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Valid"));
    assert_undisclosed(&world, &[&secret_id]).await;
}

/// OpenBao's Kubernetes auth at a mount of this test's own, pointed at the
/// test API server (it reviews each login JWT with the TokenReview API,
/// using the JWT itself), with role `reader` bound to ServiceAccount
/// `reader` of the test namespace.
async fn kubernetes_auth(bao: &Bao, world: &World, policy: &str) -> String {
    let (host, ca) = identity::api_server(world.env).await;
    let auth = format!("k8s-{}", world.name());
    bao.enable_auth(&auth, "kubernetes").await;
    bao.call(
        "POST",
        &format!("auth/{auth}/config"),
        Some(json!({
            "kubernetes_host": host,
            "kubernetes_ca_cert": ca,
            // OpenBao runs outside the cluster: no token of its own to fall
            // back on, so the login JWT reviews itself.
            "disable_local_ca_jwt": true,
        })),
    )
    .await;
    bao.call(
        "POST",
        &format!("auth/{auth}/role/reader"),
        Some(json!({
            "bound_service_account_names": ["reader"],
            "bound_service_account_namespaces": [world.name()],
            "token_policies": [policy],
            "token_ttl": "1h",
        })),
    )
    .await;
    auth
}

#[tokio::test]
async fn vault_kubernetes_auth_logs_in_with_a_requested_service_account_token() {
    let world = World::new("vault-k8s").await;
    let bao = Bao::new(world.env);
    let (mount, policy) = kv_with_policy(&bao, &world, "k8s-pw").await;
    let auth = kubernetes_auth(&bao, &world, &policy).await;
    // Both may call TokenReview; only `reader` is bound to the Vault role.
    for sa in ["reader", "stranger"] {
        identity::service_account(&world, sa, &[]).await;
        identity::auth_delegator(&world, sa).await;
    }
    for (store, sa) in [("vault", "reader"), ("stranger", "stranger")] {
        let login = VaultLogin::kubernetes(&auth, "reader", sa);
        world
            .apply(StoreManifest::vault(store, &bao.addr, &mount, login))
            .await;
    }
    external_secret(&world, "db", "vault", "db", "password").await;
    assert_synced(&world, "db", "k8s-pw").await;

    // OpenBao learned who the token belongs to from the API server: a
    // valid token of another ServiceAccount is refused.
    external_secret(&world, "denied", "stranger", "db", "password").await;
    let message = assert_failed(&world, "denied").await;
    assert!(message.contains("SecretStore"), "{message}");
    assert!(!message.contains("k8s-pw"), "{message}");
}

/// OpenBao's JWT auth at a mount of this test's own, trusting the test API
/// server's service-account signing key, with role `reader` for
/// ServiceAccount `ci` of the test namespace and tokens for `audience`.
async fn jwt_auth(bao: &Bao, world: &World, policy: &str, audience: &str) -> String {
    let auth = format!("jwt-{}", world.name());
    bao.enable_auth(&auth, "jwt").await;
    bao.call(
        "POST",
        &format!("auth/{auth}/config"),
        Some(json!({
            "jwt_validation_pubkeys": [identity::service_account_signing_key(world.env)],
            "bound_issuer": ISSUER,
        })),
    )
    .await;
    bao.call(
        "POST",
        &format!("auth/{auth}/role/reader"),
        Some(json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_subject": format!("system:serviceaccount:{}:ci", world.name()),
            "bound_audiences": [audience],
            "token_policies": [policy],
            "token_ttl": "1h",
        })),
    )
    .await;
    auth
}

#[tokio::test]
async fn vault_jwt_auth_logs_in_with_a_service_account_token_for_the_given_audience() {
    let world = World::new("vault-jwt").await;
    let bao = Bao::new(world.env);
    let (mount, policy) = kv_with_policy(&bao, &world, "jwt-pw").await;
    let auth = jwt_auth(&bao, &world, &policy, "openbao-coffer-test").await;
    identity::service_account(&world, "ci", &[]).await;
    let login = VaultLogin::jwt(&auth, "reader", "ci", Some(&["openbao-coffer-test"]));
    world
        .apply(StoreManifest::vault("vault", &bao.addr, &mount, login).provider("version", "v2"))
        .await;
    external_secret(&world, "db", "vault", "db", "password").await;
    assert_synced(&world, "db", "jwt-pw").await;
}

/// Regression: ESO requests service-account tokens for JWT auth with the
/// audience `vault` when `kubernetesServiceAccountToken.audiences` is not
/// set (Coffer asked for the API server's default audience, which a role
/// bound to `vault`, as in ESO's docs, refuses).
#[tokio::test]
async fn vault_jwt_auth_requests_the_vault_audience_by_default_as_eso_does() {
    let world = World::new("vault-jwt-aud").await;
    let bao = Bao::new(world.env);
    let (mount, policy) = kv_with_policy(&bao, &world, "default-aud-pw").await;
    let auth = jwt_auth(&bao, &world, &policy, "vault").await;
    identity::service_account(&world, "ci", &[]).await;
    let login = VaultLogin::jwt(&auth, "reader", "ci", None);
    world
        .apply(StoreManifest::vault("vault", &bao.addr, &mount, login))
        .await;
    external_secret(&world, "db", "vault", "db", "password").await;
    assert_synced(&world, "db", "default-aud-pw").await;
}

#[tokio::test]
async fn vault_kv_v1_store_reads_properties_and_extracts_whole_secrets() {
    let world = World::new("vault-kv1").await;
    let bao = Bao::new(world.env);
    let mount = format!("kv1-{}", world.name());
    bao.mount_kv(&mount, "1").await;
    bao.put_v1(&mount, "app", json!({"user": "app", "password": "v1-pw"}))
        .await;
    world
        .put_secret("vault-token", &[("token", &world.env.vault.token)])
        .await;
    let login = VaultLogin::token("vault-token", "token");
    world
        .apply(StoreManifest::vault("vault", &bao.addr, &mount, login).provider("version", "v1"))
        .await;
    external_secret(&world, "password", "vault", "app", "password").await;
    assert_synced(&world, "password", "v1-pw").await;
    world
        .apply(ExternalSecretManifest::new("whole", "vault").extract("app"))
        .await;
    let secret = world
        .wait_secret("whole", "the extracted KV v1 secret", |s| {
            keys(s).len() == 2
        })
        .await;
    assert_eq!(value(&secret, "user").as_deref(), Some("app"));
    assert_eq!(value(&secret, "password").as_deref(), Some("v1-pw"));
}

#[tokio::test]
async fn vault_namespace_scopes_the_login_and_the_reads() {
    let world = World::new("vault-ns").await;
    let root = Bao::new(world.env);
    let ns = format!("team-{}", world.name());
    root.create_namespace(&ns).await;
    let team = root.in_namespace(&ns);
    // The same mount and key in the root namespace and in the team's: only
    // the namespace tells them apart.
    let key = remote(&world, "app");
    root.put_v2("secret", &key, json!({"k": "from-root"})).await;
    team.mount_kv("secret", "2").await;
    team.put_v2("secret", &key, json!({"k": "from-team"})).await;
    team.read_policy("reader", &["secret/"]).await;
    // AppRole exists only inside the namespace, at its default path.
    team.enable_auth("approle", "approle").await;
    let (role_id, secret_id) = team.approle("approle", "reader", "reader", None).await;
    world
        .put_secret("approle", &[("secret-id", &secret_id)])
        .await;
    let login = VaultLogin::other(json!({"appRole": {
        "roleId": role_id,
        "secretRef": {"name": "approle", "key": "secret-id"},
    }}));
    world
        .apply(
            StoreManifest::vault("vault", &root.addr, "secret", login)
                .provider("namespace", ns.clone())
                .provider("version", "v2"),
        )
        .await;
    external_secret(&world, "app", "vault", &key, "k").await;
    assert_synced(&world, "app", "from-team").await;
    assert_undisclosed(&world, &[&secret_id]).await;
}

/// Matches ESO: `auth.namespace` is where the login goes; reads go to the
/// provider's `namespace`. Here the login (userpass) exists only in a
/// parent namespace, whose policy reads the KV mount of its child, and the
/// secrets live only in the child: a login in the child, or reads in the
/// parent, both fail.
#[tokio::test]
async fn vault_auth_namespace_is_for_the_login_only() {
    let world = World::new("vault-auth-ns").await;
    let root = Bao::new(world.env);
    let parent = format!("org-{}", world.name());
    root.create_namespace(&parent).await;
    let org = root.in_namespace(&parent);
    org.create_namespace("team").await;
    let team = root.in_namespace(&format!("{parent}/team"));
    team.mount_kv("secret", "2").await;
    team.put_v2("secret", "db", json!({"password": "child-pw"}))
        .await;
    org.read_policy("team-reader", &["team/secret/"]).await;
    org.enable_auth("userpass", "userpass").await;
    org.call(
        "POST",
        "auth/userpass/users/reader",
        Some(json!({"password": "org-user-pw", "token_policies": ["team-reader"]})),
    )
    .await;
    world
        .put_secret("userpass", &[("password", "org-user-pw")])
        .await;
    let login = json!({
        "namespace": parent,
        "userPass": {"path": "userpass", "username": "reader",
                     "secretRef": {"name": "userpass", "key": "password"}},
    });
    world
        .apply(
            StoreManifest::vault("vault", &root.addr, "secret", VaultLogin::other(login))
                .provider("namespace", format!("{parent}/team"))
                .provider("version", "v2"),
        )
        .await;
    external_secret(&world, "db", "vault", "db", "password").await;
    assert_synced(&world, "db", "child-pw").await;
    assert_undisclosed(&world, &["org-user-pw"]).await;
}

#[tokio::test]
async fn vault_userpass_store_logs_in_and_a_wrong_password_is_refused_unshown() {
    let world = World::new("vault-userpass").await;
    let bao = Bao::new(world.env);
    let (mount, policy) = kv_with_policy(&bao, &world, "userpass-pw").await;
    let auth = format!("userpass-{}", world.name());
    bao.enable_auth(&auth, "userpass").await;
    bao.call(
        "POST",
        &format!("auth/{auth}/users/reader"),
        Some(json!({"password": "the-user-password", "token_policies": [policy]})),
    )
    .await;
    world
        .put_secret(
            "userpass",
            &[
                ("password", "the-user-password"),
                ("wrong", "not-the-password"),
            ],
        )
        .await;
    for (store, key) in [("vault", "password"), ("wrong", "wrong")] {
        let login = VaultLogin::other(json!({"userPass": {
            "path": auth,
            "username": "reader",
            "secretRef": {"name": "userpass", "key": key},
        }}));
        world
            .apply(StoreManifest::vault(store, &bao.addr, &mount, login))
            .await;
    }
    external_secret(&world, "db", "vault", "db", "password").await;
    assert_synced(&world, "db", "userpass-pw").await;
    let (status, _, message) = store_ready(&world, "wrong").await;
    assert_eq!(status, "False", "{message}");
    assert_undisclosed(&world, &["the-user-password", "not-the-password"]).await;
}

/// As ESO: Kubernetes auth naming neither a ServiceAccount nor a Secret
/// presents the controller's own token (on a ClusterSecretStore only), read from its mounted file
/// (here a file holding a token of ServiceAccount `reader`, as the kubelet
/// would mount for a controller running as `reader`).
#[tokio::test]
async fn vault_kubernetes_auth_without_a_reference_presents_the_controllers_own_token() {
    let mut world = World::without_controller("vault-k8s-own").await;
    let bao = Bao::new(world.env);
    let (mount, policy) = kv_with_policy(&bao, &world, "own-token-pw").await;
    let auth = kubernetes_auth(&bao, &world, &policy).await;
    identity::service_account(&world, "reader", &[]).await;
    identity::auth_delegator(&world, "reader").await;
    let token = identity::token_for(&world, "reader", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token).unwrap();
    let mut config = world.config();
    config.own_token_path = token_file;
    world.start_with(config).await;

    let login = VaultLogin::other(json!({"kubernetes": {"mountPath": auth, "role": "reader"}}));
    // A namespace's SecretStore may not log in as the controller (unlike
    // ESO): refused by name.
    world
        .apply(StoreManifest::vault(
            "vault",
            &bao.addr,
            &mount,
            login.clone(),
        ))
        .await;
    let (status, _, message) = store_ready(&world, "vault").await;
    assert_eq!(status, "False", "{message}");
    assert!(message.contains("ClusterSecretStore"), "{message}");
    // A ClusterSecretStore may.
    let cluster = world.name().to_owned();
    world
        .apply(StoreManifest::vault(&cluster, &bao.addr, &mount, login).cluster())
        .await;
    world
        .apply(
            ExternalSecretManifest::new("db", &cluster)
                .cluster_store()
                .property("password", "db", "password"),
        )
        .await;
    let secret = world
        .wait_secret("db", "synced with the controller's own token", |s| {
            value(s, "password").is_some()
        })
        .await;
    assert_eq!(value(&secret, "password").as_deref(), Some("own-token-pw"));
    assert_undisclosed(&world, &[&token]).await;
}

/// How long the JWT a login presented lives (`exp - iat`), from the login
/// request recorded by the proxy.
fn presented_lifetime(login: &coffer_testenv::RecordedRequest) -> i64 {
    use base64::Engine;
    let body: serde_json::Value = serde_json::from_slice(&login.body).unwrap();
    let jwt = body["jwt"].as_str().expect("a JWT login");
    let claims = jwt.split('.').nth(1).expect("a JWT");
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&claims).unwrap();
    claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap()
}

#[tokio::test]
async fn vault_jwt_auth_requests_tokens_living_expiration_seconds_at_least_ten_minutes() {
    let world = World::new("vault-jwt-exp").await;
    let bao = Bao::new(world.env);
    let (mount, policy) = kv_with_policy(&bao, &world, "exp-pw").await;
    let auth = jwt_auth(&bao, &world, &policy, "vault").await;
    identity::service_account(&world, "ci", &[]).await;
    let mut proxies = Vec::new();
    for (store, seconds) in [("hour", Some(3600)), ("short", Some(60)), ("unset", None)] {
        let proxy = coffer_testenv::RecordingProxy::start(&bao.addr)
            .await
            .unwrap();
        let mut token = json!({"serviceAccountRef": {"name": "ci"}});
        if let Some(seconds) = seconds {
            token["expirationSeconds"] = json!(seconds);
        }
        let login = VaultLogin::other(json!({"jwt": {
            "path": auth, "role": "reader", "kubernetesServiceAccountToken": token,
        }}));
        world
            .apply(StoreManifest::vault(store, &proxy.url(), &mount, login))
            .await;
        external_secret(&world, store, store, "db", "password").await;
        proxies.push((store, proxy));
    }
    for (store, proxy) in &proxies {
        assert_synced(&world, store, "exp-pw").await;
        let requests = proxy.requests();
        let login = requests
            .iter()
            .find(|r| r.path.ends_with("/login"))
            .expect("a login");
        let expected = if *store == "hour" { 3600 } else { 600 };
        assert_eq!(presented_lifetime(login), expected, "store {store}");
    }
}
