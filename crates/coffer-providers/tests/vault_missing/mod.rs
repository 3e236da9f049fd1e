//! A 404 from Vault is "not found" (the remote secret is gone, which may
//! delete a Secret under ESO's `deletionPolicy`) only when Vault confirms a
//! missing KV secret: proven on OpenBao for each way a 404 comes about.

use coffer_providers::vault::{KvVersion, VaultClient};
use coffer_providers::{Error, Find, RemoteRef};
use serde_json::json;

use crate::stub_http::{self, Answer};
use crate::vault_support::{Admin, Counter, unique};
use crate::{FRESH, root_client};

/// Reads `key` and returns the error (the read must fail).
async fn error_of(client: &VaultClient, key: &str) -> Error {
    client
        .get(&RemoteRef::key(key), FRESH)
        .await
        .expect_err("the read fails")
}

/// The error must not count as a deletion, and must say why.
fn assert_unconfirmed(err: &Error, case: &str, says: &str) {
    assert!(!err.is_not_found(), "{case}: counted as deleted: {err}");
    assert!(
        matches!(err, Error::NotFoundUnconfirmed { .. }),
        "{case}: {err}"
    );
    let text = err.to_string();
    assert!(text.contains(says), "{case}: {text}");
}

#[tokio::test]
async fn a_missing_soft_deleted_or_destroyed_kv_secret_is_not_found() {
    let admin = Admin::shared().await;
    for version in [KvVersion::V2, KvVersion::V1] {
        let mount = admin.kv_mount(version).await;
        let (client, counter) = root_client(&admin, Some(&mount), version).await;
        assert!(
            error_of(&client, "never").await.is_not_found(),
            "{version:?}"
        );
        // The mount lookup confirmed it.
        assert_eq!(counter.calls("ReadMount"), 1, "{version:?}");
        let empty = Find {
            path: Some("nothing-here".into()),
            ..Find::default()
        };
        let err = client.find(&empty, FRESH).await.unwrap_err();
        assert!(err.is_not_found(), "{version:?} empty folder: {err}");
    }
    let mount = admin.kv_mount(KvVersion::V2).await;
    admin.put_v2(&mount, "soft", json!({"a": "1"})).await;
    admin.put_v2(&mount, "soft", json!({"a": "2"})).await;
    admin
        .call("DELETE", &format!("{mount}/data/soft"), None)
        .await;
    admin.put_v2(&mount, "destroyed", json!({"a": "1"})).await;
    admin
        .call(
            "POST",
            &format!("{mount}/destroy/destroyed"),
            Some(json!({"versions": [1]})),
        )
        .await;
    let (client, counter) = root_client(&admin, Some(&mount), KvVersion::V2).await;
    for key in ["soft", "destroyed"] {
        assert!(error_of(&client, key).await.is_not_found(), "{key}");
    }
    // The version's metadata said so: no mount lookup was needed.
    assert_eq!(counter.calls("ReadMount"), 0);
    // An earlier version of the soft-deleted secret is still readable.
    let v1 = RemoteRef {
        version: Some("1".into()),
        property: Some("a".into()),
        ..RemoteRef::key("soft")
    };
    assert_eq!(client.get(&v1, FRESH).await.unwrap().value.expose(), b"1");
}

#[tokio::test]
async fn a_404_from_outside_a_kv_mount_of_the_stores_version_is_never_not_found() {
    let admin = Admin::shared().await;
    // An unmounted path.
    let (client, _) = root_client(&admin, Some(&unique("nomount")), KvVersion::V2).await;
    assert_unconfirmed(
        &error_of(&client, "app").await,
        "unmounted",
        "no handler for route",
    );
    let err = client.find(&Find::default(), FRESH).await.unwrap_err();
    assert_unconfirmed(&err, "unmounted LIST", "no handler for route");

    // A mount disabled after the store first read from it.
    let mount = admin.kv_mount(KvVersion::V2).await;
    admin.put_v2(&mount, "app", json!({"a": "1"})).await;
    let (client, _) = root_client(&admin, Some(&mount), KvVersion::V2).await;
    client.get(&RemoteRef::key("app"), FRESH).await.unwrap();
    admin
        .call("DELETE", &format!("sys/mounts/{mount}"), None)
        .await;
    assert_unconfirmed(
        &error_of(&client, "app").await,
        "disabled",
        "no handler for route",
    );

    // A mount of another engine, and a KV mount of the other version.
    let transit = unique("transit");
    admin
        .call(
            "POST",
            &format!("sys/mounts/{transit}"),
            Some(json!({"type": "transit"})),
        )
        .await;
    let (client, _) = root_client(&admin, Some(&transit), KvVersion::V2).await;
    assert_unconfirmed(&error_of(&client, "app").await, "transit", "404");
    let kv2 = admin.kv_mount(KvVersion::V2).await;
    let (client, _) = root_client(&admin, Some(&kv2), KvVersion::V1).await;
    assert_unconfirmed(
        &error_of(&client, "app").await,
        "KV v1 store on KV v2",
        "404",
    );

    // The right mount, in the wrong (existing) namespace.
    let namespace = unique("ns");
    admin
        .call(
            "POST",
            &format!("sys/namespaces/{namespace}"),
            Some(json!({})),
        )
        .await;
    let kv = admin.kv_mount(KvVersion::V2).await;
    let mut config = admin.root_config(Some(&kv), KvVersion::V2);
    config.namespace = Some(namespace);
    let client = VaultClient::connect("test-store", &config, Counter::new())
        .await
        .unwrap();
    assert_unconfirmed(
        &error_of(&client, "app").await,
        "wrong namespace",
        "no handler for route",
    );
}

/// A proxy that knows the token endpoint but routes everything else
/// nowhere: with an HTML page, or with Vault's own empty error list.
fn misrouting(_: &str, path: &str) -> Answer {
    if path.starts_with("/v1/auth/token/lookup-self") {
        (
            200,
            "application/json",
            r#"{"data":{"ttl":0,"renewable":false}}"#.into(),
        )
    } else if path.starts_with("/v1/mimic/") {
        (404, "application/json", r#"{"errors":[]}"#.into())
    } else {
        stub_http::html_404()
    }
}

#[tokio::test]
async fn a_misrouted_proxys_404_is_never_not_found() {
    let admin = Admin::shared().await;
    let server = stub_http::serve(misrouting).await;
    for (mount, says) in [("html", "not Vault's JSON"), ("mimic", "no mount")] {
        let mut config = admin.root_config(Some(mount), KvVersion::V2);
        config.server = server.clone();
        let client = VaultClient::connect("test-store", &config, Counter::new())
            .await
            .unwrap();
        assert_unconfirmed(&error_of(&client, "app").await, mount, says);
    }
}
