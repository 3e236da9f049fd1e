//! Mutual TLS with Vault: OpenBao's second listener requires a client
//! certificate signed by the test CA (`tls_require_and_verify_client_cert`).

use serde_json::json;

use crate::bao::Bao;
use crate::common::*;
use crate::sync::*;

/// Secret `vault-tls` as cert-manager writes one: `tls.crt`, `tls.key` and
/// `ca.crt` (the CA of the server's certificate too).
async fn client_tls_secret(world: &World) {
    let tls = &world.env.vault.tls;
    world
        .put_secret(
            "vault-tls",
            &[
                ("tls.crt", &tls.client_cert),
                ("tls.key", &tls.client_key),
                ("ca.crt", &tls.ca),
            ],
        )
        .await;
}

/// A token-auth store on the TLS listener, trusting the test CA.
fn tls_store(world: &World, name: &str) -> StoreManifest {
    StoreManifest::vault(
        name,
        &world.env.vault.tls.addr,
        "secret",
        VaultLogin::token("vault-token", "token"),
    )
    .provider("version", "v2")
    .provider(
        "caProvider",
        json!({"type": "Secret", "name": "vault-tls", "key": "ca.crt"}),
    )
}

#[tokio::test]
async fn vault_client_certificate_is_presented_to_a_server_that_requires_one() {
    let world = World::new("vault-mtls").await;
    let bao = Bao::new(world.env);
    let key = remote(&world, "db");
    bao.put_v2("secret", &key, json!({"password": "mtls-pw"}))
        .await;
    world
        .put_secret("vault-token", &[("token", &world.env.vault.token)])
        .await;
    client_tls_secret(&world).await;
    // The keys default to tls.crt and tls.key, as in ESO.
    world
        .apply(tls_store(&world, "vault").provider(
            "tls",
            json!({"certSecretRef": {"name": "vault-tls"}, "keySecretRef": {"name": "vault-tls"}}),
        ))
        .await;
    // The same server without a client certificate: the handshake fails.
    world.apply(tls_store(&world, "no-cert")).await;
    // A certificate without its key is refused, naming the missing field.
    world
        .apply(
            tls_store(&world, "half")
                .provider("tls", json!({"certSecretRef": {"name": "vault-tls"}})),
        )
        .await;

    external_secret(&world, "db", "vault", &key, "password").await;
    assert_synced(&world, "db", "mtls-pw").await;
    let (status, reason, _) = store_ready(&world, "vault").await;
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Valid"));

    let (status, _, message) = store_ready(&world, "no-cert").await;
    assert_eq!(status, "False", "{message}");
    let (status, _, message) = store_ready(&world, "half").await;
    assert_eq!(status, "False", "{message}");
    assert!(
        message.contains("tls.certSecretRef is set without tls.keySecretRef"),
        "{message}"
    );
    let tls = &world.env.vault.tls;
    let key_body: String = tls
        .client_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert_undisclosed(&world, &[&key_body, &world.env.vault.token]).await;
}

#[tokio::test]
async fn vault_cert_auth_logs_in_with_its_own_certificate_or_the_store_tls() {
    let world = World::new("vault-cert-auth").await;
    let bao = Bao::new(world.env);
    let (mount, policy) = crate::vault_auth::kv_with_policy(&bao, &world, "cert-pw").await;
    let auth = format!("cert-{}", world.name());
    bao.enable_auth(&auth, "cert").await;
    bao.call(
        "POST",
        &format!("auth/{auth}/certs/reader"),
        Some(json!({
            "certificate": world.env.vault.tls.ca,
            "allowed_common_names": ["coffer-vault-client"],
            "token_policies": [policy],
            "token_ttl": "1h",
        })),
    )
    .await;
    client_tls_secret(&world).await;
    let store = |name: &str, login: serde_json::Value| {
        StoreManifest::vault(
            name,
            &world.env.vault.tls.addr,
            &mount,
            VaultLogin::other(login),
        )
        .provider(
            "caProvider",
            json!({"type": "Secret", "name": "vault-tls", "key": "ca.crt"}),
        )
    };
    // ESO's documented form: the certificate and key in auth.cert.
    world
        .apply(store(
            "own",
            json!({"cert": {
                "path": auth,
                "vaultRole": "reader",
                "clientCert": {"name": "vault-tls", "key": "tls.crt"},
                "secretRef": {"name": "vault-tls", "key": "tls.key"},
            }}),
        ))
        .await;
    // The store's tls certificate as the credential.
    world
        .apply(store("tls", json!({"cert": {"path": auth}})).provider(
            "tls",
            json!({"certSecretRef": {"name": "vault-tls"}, "keySecretRef": {"name": "vault-tls"}}),
        ))
        .await;
    // A role the certificate does not match is refused by OpenBao.
    world
        .apply(
            store("other-role", json!({"cert": {"path": auth, "vaultRole": "nobody"}})).provider(
                "tls",
                json!({"certSecretRef": {"name": "vault-tls"}, "keySecretRef": {"name": "vault-tls"}}),
            ),
        )
        .await;
    for store in ["own", "tls"] {
        external_secret(&world, store, store, "db", "password").await;
        assert_synced(&world, store, "cert-pw").await;
    }
    let (status, _, message) = store_ready(&world, "other-role").await;
    assert_eq!(status, "False", "{message}");
    let key_body: String = world
        .env
        .vault
        .tls
        .client_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert_undisclosed(&world, &[&key_body]).await;
}
