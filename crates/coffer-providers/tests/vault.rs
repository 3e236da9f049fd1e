//! The Vault provider against a real OpenBao dev server: KV v1/v2 reads,
//! properties, versions, extract, find, coalescing, and errors.
//! Authentication and token lifetime are in `vault_auth.rs`.

mod stub_http;
mod vault_missing;
mod vault_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use coffer_providers::vault::{KvVersion, VaultClient};
use coffer_providers::{
    Client, Error, Find, MetadataPolicy, ReadOptions, RemoteRef, Sessions, StoreConfig,
};
use serde_json::json;
use vault_support::{Admin, Counter};

const FRESH: ReadOptions = ReadOptions {
    max_age: Duration::ZERO,
};

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

fn prop(key: &str, property: &str) -> RemoteRef {
    RemoteRef {
        property: Some(property.into()),
        ..RemoteRef::key(key)
    }
}

async fn root_client(
    admin: &Admin,
    path: Option<&str>,
    version: KvVersion,
) -> (VaultClient, Arc<Counter>) {
    let counter = Counter::new();
    let client = VaultClient::connect(
        "test-store",
        &admin.root_config(path, version),
        counter.clone(),
    )
    .await
    .unwrap();
    (client, counter)
}

#[tokio::test]
async fn kv2_reads_properties_nested_paths_versions_and_the_whole_secret() {
    let admin = Admin::shared().await;
    let mount = admin.kv_mount(KvVersion::V2).await;
    admin
        .put_v2(&mount, "app/db", json!({"user": "old", "port": 1}))
        .await;
    admin
        .put_v2(
            &mount,
            "app/db",
            json!({"user": "admin", "port": 5432, "conn": {"host": "db<1>", "tls": true}}),
        )
        .await;
    let (client, _) = root_client(&admin, Some(&mount), KvVersion::V2).await;

    let get = |r: RemoteRef| {
        let client = &client;
        async move {
            client
                .get(&r, FRESH)
                .await
                .map(|f| text(f.value.expose()).to_owned())
        }
    };
    assert_eq!(get(prop("app/db", "user")).await.unwrap(), "admin");
    assert_eq!(get(prop("app/db", "port")).await.unwrap(), "5432");
    assert_eq!(get(prop("app/db", "conn.host")).await.unwrap(), "db<1>");
    assert_eq!(
        get(prop("app/db", "conn")).await.unwrap(),
        r#"{"host":"db\u003c1\u003e","tls":true}"#
    );
    assert_eq!(
        get(RemoteRef::key("app/db")).await.unwrap(),
        r#"{"conn":{"host":"db\u003c1\u003e","tls":true},"port":5432,"user":"admin"}"#
    );
    let first = RemoteRef {
        version: Some("1".into()),
        ..prop("app/db", "user")
    };
    assert_eq!(get(first).await.unwrap(), "old");
    // A key that already names the mount (and `data/`) is not prefixed twice.
    assert_eq!(
        get(prop(&format!("{mount}/data/app/db"), "user"))
            .await
            .unwrap(),
        "admin"
    );
    assert_eq!(
        get(prop(&format!("{mount}/app/db"), "user")).await.unwrap(),
        "admin"
    );
}

#[tokio::test]
async fn kv1_reads_keys_and_properties() {
    let admin = Admin::shared().await;
    let mount = admin.kv_mount(KvVersion::V1).await;
    admin
        .put_v1(&mount, "team/api", json!({"token": "t-1", "n": 2}))
        .await;
    let (client, _) = root_client(&admin, Some(&mount), KvVersion::V1).await;
    let value = client.get(&prop("team/api", "token"), FRESH).await.unwrap();
    assert_eq!(value.value.expose(), b"t-1");
    let whole = client
        .get(&RemoteRef::key("team/api"), FRESH)
        .await
        .unwrap();
    assert_eq!(text(whole.value.expose()), r#"{"n":2,"token":"t-1"}"#);
    // Without a store path, the key carries the mount.
    let (bare, _) = root_client(&admin, None, KvVersion::V1).await;
    let value = bare
        .get(&prop(&format!("{mount}/team/api"), "token"), FRESH)
        .await
        .unwrap();
    assert_eq!(value.value.expose(), b"t-1");
}

#[tokio::test]
async fn without_a_store_path_the_first_key_segment_is_the_mount() {
    let admin = Admin::shared().await;
    let mount = admin.kv_mount(KvVersion::V2).await;
    admin.put_v2(&mount, "x/y", json!({"k": "v"})).await;
    let (client, _) = root_client(&admin, None, KvVersion::V2).await;
    for key in [format!("{mount}/x/y"), format!("{mount}/data/x/y")] {
        let value = client.get(&prop(&key, "k"), FRESH).await.unwrap();
        assert_eq!(value.value.expose(), b"v", "{key}");
    }
    let err = client
        .get(&RemoteRef::key("no-mount"), FRESH)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    assert!(
        err.to_string().contains("must start with the KV mount"),
        "{err}"
    );
}

#[tokio::test]
async fn missing_secrets_versions_and_properties_are_reported_as_such() {
    let admin = Admin::shared().await;
    let mount = admin.kv_mount(KvVersion::V2).await;
    admin.put_v2(&mount, "gone", json!({"a": "1"})).await;
    admin.put_v2(&mount, "here", json!({"a": "1"})).await;
    admin
        .call("DELETE", &format!("{mount}/data/gone"), None)
        .await;
    let (client, _) = root_client(&admin, Some(&mount), KvVersion::V2).await;

    let err = client
        .get(&RemoteRef::key("never"), FRESH)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = client
        .get(&RemoteRef::key("gone"), FRESH)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "deleted version: {err}");
    let v9 = RemoteRef {
        version: Some("9".into()),
        ..RemoteRef::key("here")
    };
    assert!(client.get(&v9, FRESH).await.unwrap_err().is_not_found());
    let err = client.get(&prop("here", "b.c"), FRESH).await.unwrap_err();
    assert_eq!(
        err,
        Error::PropertyNotFound {
            store: "test-store".into(),
            key: "here".into(),
            property: "b.c".into()
        }
    );
    let bad_version = RemoteRef {
        version: Some("latest".into()),
        ..RemoteRef::key("here")
    };
    assert!(matches!(
        client.get(&bad_version, FRESH).await.unwrap_err(),
        Error::Config { .. }
    ));
}

#[tokio::test]
async fn get_map_extracts_top_level_keys_or_a_nested_object() {
    let admin = Admin::shared().await;
    let mount = admin.kv_mount(KvVersion::V2).await;
    admin
        .put_v2(
            &mount,
            "cfg",
            json!({"a": "x", "n": 1.5, "obj": {"inner": "y", "deep": {"z": 1}}}),
        )
        .await;
    let client = Client::Vault(root_client(&admin, Some(&mount), KvVersion::V2).await.0);
    let map = client
        .get_map(&RemoteRef::key("cfg"), FRESH)
        .await
        .unwrap()
        .value;
    let shown: BTreeMap<&str, &str> = map
        .iter()
        .map(|(k, v)| (k.as_str(), text(v.expose())))
        .collect();
    assert_eq!(
        shown,
        BTreeMap::from([
            ("a", "x"),
            ("n", "1.5"),
            ("obj", r#"{"deep":{"z":1},"inner":"y"}"#)
        ])
    );
    let nested = client
        .get_map(&prop("cfg", "obj"), FRESH)
        .await
        .unwrap()
        .value;
    assert_eq!(nested["inner"].expose(), b"y");
    assert_eq!(nested["deep"].expose(), br#"{"z":1}"#);
    let err = client.get_map(&prop("cfg", "a"), FRESH).await.unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
}

#[tokio::test]
async fn metadata_policy_fetch_reads_custom_metadata() {
    let admin = Admin::shared().await;
    let mount = admin.kv_mount(KvVersion::V2).await;
    admin.put_v2(&mount, "m", json!({"v": "1"})).await;
    admin
        .custom_metadata(&mount, "m", json!({"owner": "team-a", "tier": "gold"}))
        .await;
    let (client, _) = root_client(&admin, Some(&mount), KvVersion::V2).await;
    let owner = RemoteRef {
        metadata_policy: MetadataPolicy::Fetch,
        ..prop("m", "owner")
    };
    assert_eq!(
        client.get(&owner, FRESH).await.unwrap().value.expose(),
        b"team-a"
    );
    let all = RemoteRef {
        metadata_policy: MetadataPolicy::Fetch,
        ..RemoteRef::key("m")
    };
    let all = client.get(&all, FRESH).await.unwrap();
    let all: serde_json::Value = serde_json::from_slice(all.value.expose()).unwrap();
    assert_eq!(all["tier"], "gold");
    assert_eq!(all["current_version"], "1");
}

#[tokio::test]
async fn find_lists_recursively_and_matches_names_or_tags() {
    let admin = Admin::shared().await;
    let mount = admin.kv_mount(KvVersion::V2).await;
    admin.put_v2(&mount, "apps/web/db", json!({"p": "1"})).await;
    admin
        .put_v2(&mount, "apps/web/cache", json!({"p": "2"}))
        .await;
    admin.put_v2(&mount, "apps/api-db", json!({"p": "3"})).await;
    admin.put_v2(&mount, "other/db", json!({"p": "4"})).await;
    admin
        .custom_metadata(
            &mount,
            "apps/web/cache",
            json!({"team": "web", "env": "prod"}),
        )
        .await;
    admin
        .custom_metadata(&mount, "apps/api-db", json!({"team": "web", "env": "dev"}))
        .await;
    let (client, counter) = root_client(&admin, Some(&mount), KvVersion::V2).await;

    let by_name = Find {
        name_regexp: Some("db$".into()),
        path: Some("apps".into()),
        ..Find::default()
    };
    let found = client.find(&by_name, FRESH).await.unwrap().value;
    let keys: Vec<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(keys, ["apps/api-db", "apps/web/db"]);
    assert_eq!(found["apps/web/db"].expose(), br#"{"p":"1"}"#);
    assert_eq!(counter.calls("ListSecrets"), 2, "apps/ and apps/web/");

    let by_tags = Find {
        tags: BTreeMap::from([("team".into(), "web".into()), ("env".into(), "prod".into())]),
        ..Find::default()
    };
    let found = client.find(&by_tags, FRESH).await.unwrap().value;
    assert_eq!(found.keys().collect::<Vec<_>>(), ["apps/web/cache"]);

    let nowhere = Find {
        path: Some("nothing-here".into()),
        ..Find::default()
    };
    assert!(
        client
            .find(&nowhere, FRESH)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn get_many_returns_one_result_per_ref_in_order() {
    let admin = Admin::shared().await;
    let mount = admin.kv_mount(KvVersion::V2).await;
    for i in 0..20 {
        admin
            .put_v2(&mount, &format!("s{i}"), json!({"v": i.to_string()}))
            .await;
    }
    let (client, counter) = root_client(&admin, Some(&mount), KvVersion::V2).await;
    let mut refs: Vec<RemoteRef> = (0..20).map(|i| prop(&format!("s{i}"), "v")).collect();
    refs.push(RemoteRef::key("missing"));
    refs.push(prop("s3", "nope"));
    let results = client.get_many(&refs, FRESH).await;
    assert_eq!(results.len(), 22);
    for (i, r) in results.iter().take(20).enumerate() {
        assert_eq!(r.as_ref().unwrap().value.expose(), i.to_string().as_bytes());
    }
    assert!(results[20].as_ref().unwrap_err().is_not_found());
    assert!(matches!(results[21], Err(Error::PropertyNotFound { .. })));
    // One call per ref: with max_age zero, the second read of s3 (made after
    // the first finished) asks Vault again.
    assert_eq!(counter.calls("ReadSecretData"), 22);
}

#[tokio::test]
async fn identical_concurrent_reads_share_one_call_and_recent_results_are_reused() {
    let admin = Admin::shared().await;
    let mount = admin.kv_mount(KvVersion::V2).await;
    admin
        .put_v2(&mount, "hot", json!({"user": "u", "pass": "p"}))
        .await;
    let (client, counter) = root_client(&admin, Some(&mount), KvVersion::V2).await;
    let minute = ReadOptions {
        max_age: Duration::from_secs(60),
    };
    let refs: Vec<RemoteRef> = (0..50)
        .map(|i| prop("hot", if i % 2 == 0 { "user" } else { "pass" }))
        .collect();
    let results = futures::future::join_all(refs.iter().map(|r| client.get(r, FRESH))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(
        counter.calls("ReadSecretData"),
        1,
        "50 concurrent reads, 2 properties"
    );

    counter.reset();
    let again = client.get(&prop("hot", "pass"), minute).await.unwrap();
    assert_eq!(again.value.expose(), b"p");
    assert_eq!(counter.calls("ReadSecretData"), 0, "within max_age");
    client.get(&prop("hot", "pass"), FRESH).await.unwrap();
    assert_eq!(
        counter.calls("ReadSecretData"),
        1,
        "max_age zero asks Vault"
    );
}

#[tokio::test]
async fn validate_checks_the_token_and_the_mount_version() {
    let admin = Admin::shared().await;
    let mount = admin.kv_mount(KvVersion::V2).await;
    let (ok, counter) = root_client(&admin, Some(&mount), KvVersion::V2).await;
    ok.validate().await.unwrap();
    assert_eq!(
        counter.calls("LookupSelf"),
        2,
        "one at connect, one to validate"
    );
    let (wrong_version, _) = root_client(&admin, Some(&mount), KvVersion::V1).await;
    let err = wrong_version.validate().await.unwrap_err();
    assert!(err.to_string().contains("kv version v2"), "{err}");
    // Matches ESO: OpenBao answers a lookup of a missing mount with 403,
    // and ESO does not fail validation on a mount lookup that fails.
    let (no_mount, _) = root_client(&admin, Some("no-such-mount-x"), KvVersion::V2).await;
    no_mount.validate().await.unwrap();
}

#[tokio::test]
async fn namespaces_are_sent_with_every_request() {
    let admin = Admin::shared().await;
    let ns = vault_support::unique("ns");
    admin
        .call("POST", &format!("sys/namespaces/{ns}"), Some(json!({})))
        .await;
    admin
        .call_ns(
            Some(&ns),
            "POST",
            "sys/mounts/kv",
            Some(json!({"type": "kv", "options": {"version": "2"}})),
        )
        .await;
    admin
        .call_ns(
            Some(&ns),
            "POST",
            "kv/data/app",
            Some(json!({"data": {"k": "in-ns"}})),
        )
        .await;
    let mut config = admin.root_config(Some("kv"), KvVersion::V2);
    config.namespace = Some(ns.clone());
    let client = VaultClient::connect("ns-store", &config, Counter::new())
        .await
        .unwrap();
    let value = client.get(&prop("app", "k"), FRESH).await.unwrap();
    assert_eq!(value.value.expose(), b"in-ns");
    // The same mount name does not exist outside the namespace.
    let (outside, _) = root_client(&admin, Some("kv"), KvVersion::V2).await;
    assert!(outside.get(&prop("app", "k"), FRESH).await.is_err());
}

#[tokio::test]
async fn throttling_fails_fast_during_the_backoff() {
    let admin = Admin::shared().await;
    let mount = admin.kv_mount(KvVersion::V2).await;
    admin.put_v2(&mount, "a", json!({"k": "v"})).await;
    let quota = vault_support::unique("quota");
    admin
        .call(
            "POST",
            &format!("sys/quotas/rate-limit/{quota}"),
            Some(json!({"rate": 1, "interval": "10s", "path": format!("{mount}/")})),
        )
        .await;
    let (client, counter) = root_client(&admin, Some(&mount), KvVersion::V2).await;
    let mut throttled = None;
    for _ in 0..5 {
        if let Err(e) = client.get(&RemoteRef::key("a"), FRESH).await {
            throttled = Some(e);
            break;
        }
    }
    let err = throttled.expect("the quota allows one read per 10 s");
    let Error::Throttled { retry_after, .. } = err else {
        panic!("expected Throttled, got {err}");
    };
    assert!(retry_after >= Duration::from_millis(500), "{retry_after:?}");
    let calls = counter.calls("ReadSecretData");
    let fast = client.get(&RemoteRef::key("a"), FRESH).await.unwrap_err();
    assert!(
        matches!(fast, Error::Throttled { .. }) && fast.is_transient(),
        "{fast}"
    );
    assert_eq!(
        counter.calls("ReadSecretData"),
        calls,
        "no call during the backoff"
    );
    admin
        .call("DELETE", &format!("sys/quotas/rate-limit/{quota}"), None)
        .await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let port = coffer_testenv::free_port().unwrap();
    let admin = Admin::shared().await;
    let mut config = admin.root_config(Some("secret"), KvVersion::V2);
    config.server = format!("http://127.0.0.1:{port}");
    let err = VaultClient::connect("down", &config, Counter::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { .. }) && err.is_transient(),
        "{err}"
    );
}

#[tokio::test]
async fn a_store_whose_server_hangs_does_not_hold_up_other_stores() {
    // A "server" that accepts connections and never answers: the hanging
    // store's login waits for its request timeout (30 s).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = Admin::shared().await;
    let sessions = Arc::new(Sessions::new(Counter::new()));
    let mut hanging = admin.root_config(Some("secret"), KvVersion::V2);
    hanging.server = format!("http://{}", listener.local_addr().unwrap());
    let stuck = tokio::spawn({
        let sessions = sessions.clone();
        async move {
            let config = StoreConfig::Vault(hanging);
            sessions.client("hanging", None, &config).await.map(|_| ())
        }
    });
    // Its login is on the wire: the connect is in progress.
    let (_held, _) = listener.accept().await.unwrap();

    let good = StoreConfig::Vault(admin.root_config(Some("secret"), KvVersion::V2));
    let client = sessions.client("good", None, &good).await.unwrap();
    client.validate().await.unwrap();
    assert!(
        !stuck.is_finished(),
        "the good store got its client only after the hanging login gave up"
    );
    stuck.abort();
}

#[tokio::test]
async fn values_never_appear_in_debug_output_or_errors() {
    let admin = Admin::shared().await;
    let mount = admin.kv_mount(KvVersion::V2).await;
    let value = "s3cr3t-VALUE-do-not-print";
    admin
        .put_v2(&mount, "leak", json!({"k": value, "obj": {"x": value}}))
        .await;
    let client = Client::Vault(root_client(&admin, Some(&mount), KvVersion::V2).await.0);
    let got = client.get(&prop("leak", "k"), FRESH).await.unwrap();
    let map = client
        .get_map(&RemoteRef::key("leak"), FRESH)
        .await
        .unwrap();
    let errors = [
        client
            .get(&prop("leak", "missing"), FRESH)
            .await
            .unwrap_err(),
        client.get_map(&prop("leak", "k"), FRESH).await.unwrap_err(),
        client.get(&prop("leak", "k.x"), FRESH).await.unwrap_err(),
    ];
    let shown = format!(
        "{got:?} {map:?} {client:?} {errors:?} {}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert!(!shown.contains(value), "{shown}");
    assert!(!shown.contains(&admin.root), "{shown}");
}
