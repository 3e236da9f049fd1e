//! Vault store options that change what goes on the wire (`headers`,
//! `readYourWrites`, `forwardInconsistent`), seen through a recording proxy
//! in front of OpenBao.

use coffer_testenv::RecordingProxy;
use serde_json::json;

use crate::bao::Bao;
use crate::common::*;
use crate::sync::*;
use crate::vault_auth::kv_with_policy;

/// An AppRole login at a mount of this test's own, its secret id in
/// Secret `approle`; returns (login, secret id).
async fn approle_login(bao: &Bao, world: &World, policy: &str) -> (VaultLogin, String) {
    let auth = format!("approle-{}", world.name());
    bao.enable_auth(&auth, "approle").await;
    let (role_id, secret_id) = bao.approle(&auth, "reader", policy, None).await;
    world
        .put_secret("approle", &[("secret-id", &secret_id)])
        .await;
    (
        VaultLogin::app_role(&auth, &role_id, "approle", "secret-id"),
        secret_id,
    )
}

#[tokio::test]
async fn vault_store_headers_go_with_the_login_and_every_read() {
    let world = World::new("vault-headers").await;
    let bao = Bao::new(world.env);
    let (mount, policy) = kv_with_policy(&bao, &world, "headers-pw").await;
    let (login, secret_id) = approle_login(&bao, &world, &policy).await;
    let proxy = RecordingProxy::start(&bao.addr).await.unwrap();
    world
        .apply(
            StoreManifest::vault("vault", &proxy.url(), &mount, login.clone()).provider(
                "headers",
                json!({"X-Team": "payments", "X-Proxy-Key": "proxy-key-value"}),
            ),
        )
        .await;
    external_secret(&world, "db", "vault", "db", "password").await;
    assert_synced(&world, "db", "headers-pw").await;

    let requests = proxy.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert!(
        paths.iter().any(|p| p.ends_with("/login")),
        "no login through the proxy: {paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.contains(&format!("/v1/{mount}/data/db"))),
        "no read through the proxy: {paths:?}"
    );
    for r in &requests {
        assert_eq!(r.header("x-team"), ["payments"], "{} {}", r.method, r.path);
        assert_eq!(r.header("x-proxy-key"), ["proxy-key-value"], "{}", r.path);
    }

    // A header the client sets itself is refused by name, not sent.
    let before = proxy.requests().len();
    world
        .apply(
            StoreManifest::vault("hijack", &proxy.url(), &mount, login)
                .provider("headers", json!({"X-Vault-Token": "hvs.smuggled-token"})),
        )
        .await;
    let (status, _, message) = store_ready(&world, "hijack").await;
    assert_eq!(status, "False", "{message}");
    assert!(message.contains("\"X-Vault-Token\""), "{message}");
    assert!(message.contains("cannot be overridden"), "{message}");
    assert_eq!(
        proxy.requests().len(),
        before,
        "the refused store still reached Vault"
    );
    assert_undisclosed(
        &world,
        &[&secret_id, "proxy-key-value", "hvs.smuggled-token"],
    )
    .await;
}

/// The request number `index-<n>` names, as the proxy answered it.
fn answered_number(index: &str) -> usize {
    index
        .strip_prefix("index-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not an index the proxy gave: {index:?}"))
}

#[tokio::test]
async fn vault_read_your_writes_sends_back_the_index_and_forward_inconsistent_asks_to_forward() {
    let world = World::new("vault-ryw").await;
    let bao = Bao::new(world.env);
    let (mount, policy) = kv_with_policy(&bao, &world, "ryw-pw").await;
    let (login, _) = approle_login(&bao, &world, &policy).await;
    // OpenBao has no replication and sends no X-Vault-Index: the proxies
    // add one to every answer, as Vault Enterprise does.
    let consistent = RecordingProxy::start(&bao.addr).await.unwrap();
    let plain = RecordingProxy::start(&bao.addr).await.unwrap();
    for proxy in [&consistent, &plain] {
        proxy.answer_with("X-Vault-Index", "index-{n}");
    }
    world
        .apply(
            StoreManifest::vault("consistent", &consistent.url(), &mount, login.clone())
                .provider("readYourWrites", true)
                .provider("forwardInconsistent", true),
        )
        .await;
    world
        .apply(StoreManifest::vault("plain", &plain.url(), &mount, login))
        .await;
    for store in ["consistent", "plain"] {
        external_secret(&world, store, store, "db", "password").await;
        assert_synced(&world, store, "ryw-pw").await;
    }

    let requests = consistent.requests();
    let mut sent_back = 0;
    for (i, r) in requests.iter().enumerate() {
        assert_eq!(
            r.header("x-vault-inconsistent"),
            ["forward-active-node"],
            "{} {}",
            r.method,
            r.path
        );
        let index = r.header("x-vault-index");
        assert!(index.len() <= 1, "{} {}: {index:?}", r.method, r.path);
        if let Some(index) = index.first() {
            // An index is one a previous answer carried.
            assert!(
                answered_number(index) <= i,
                "{} {}: {index}",
                r.method,
                r.path
            );
            sent_back += 1;
        }
    }
    assert!(
        sent_back > 0,
        "no request carried an index back: {:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    // The first request of a client has seen no index yet.
    assert!(requests[0].header("x-vault-index").is_empty());

    for r in plain.requests() {
        assert!(r.header("x-vault-index").is_empty(), "{}", r.path);
        assert!(r.header("x-vault-inconsistent").is_empty(), "{}", r.path);
    }
}
