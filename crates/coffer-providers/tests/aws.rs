//! The AWS Secrets Manager provider against moto (a real server, started by
//! coffer-testenv): values, properties, versions, batching and coalescing
//! (counted through a `CallObserver`), find, and the credential chains.

mod stub_http;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::Tag;
use coffer_providers::aws::{AwsAuth, AwsClient, AwsConfig};
use coffer_providers::{
    CallObserver, CallStatus, Client, Error, Find, MetadataPolicy, ReadOptions, RemoteRef,
    StaticToken,
};
use coffer_testenv::TestEnv;
use secrecy::SecretString;

const FRESH: ReadOptions = ReadOptions {
    max_age: Duration::ZERO,
};
const MINUTE: ReadOptions = ReadOptions {
    max_age: Duration::from_secs(60),
};

/// Counts provider calls by (call, status).
#[derive(Debug, Default)]
struct Calls(Mutex<HashMap<(&'static str, CallStatus), usize>>);

impl CallObserver for Calls {
    fn provider_call(&self, provider: &'static str, call: &'static str, status: CallStatus) {
        assert_eq!(provider, "AWS/SecretsManager");
        *self.0.lock().unwrap().entry((call, status)).or_default() += 1;
    }
}

impl Calls {
    fn count(&self, call: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|((c, _), _)| *c == call)
            .map(|(_, n)| n)
            .sum()
    }

    fn total(&self) -> usize {
        self.0.lock().unwrap().values().sum()
    }
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "coffer-test/{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

fn static_keys() -> AwsAuth {
    AwsAuth::Static {
        access_key_id: SecretString::from("AKIATESTKEYID"),
        secret_access_key: SecretString::from("wJalrXUtnFEMI-very-secret-access-key"),
        session_token: None,
    }
}

/// A config relying on the environment coffer-testenv exports
/// (`AWS_ENDPOINT_URL_SECRETS_MANAGER`), with moto as STS.
fn config(env: &TestEnv) -> AwsConfig {
    AwsConfig {
        region: env.aws.region.clone(),
        auth: static_keys(),
        role: None,
        additional_roles: Vec::new(),
        external_id: None,
        service: coffer_providers::aws::AwsService::SecretsManager,
        ssm_endpoint: None,
        session_tags: Vec::new(),
        transitive_tag_keys: Vec::new(),
        prefix: None,
        endpoint: None,
        sts_endpoint: Some(env.aws.endpoint.clone()),
    }
}

async fn connect(config: &AwsConfig) -> (AwsClient, Arc<Calls>) {
    let calls = Arc::new(Calls::default());
    let client = AwsClient::connect("SecretStore test/aws", config, calls.clone())
        .await
        .unwrap();
    (client, calls)
}

/// An SDK client for seeding moto directly.
async fn seeder() -> aws_sdk_secretsmanager::Client {
    let env = TestEnv::shared().await;
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new(
            env.aws.region.clone(),
        ))
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&sdk)
}

async fn put_string(name: &str, value: &str) {
    seeder()
        .await
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
}

fn text(value: &coffer_providers::SecretValue) -> &str {
    std::str::from_utf8(value.expose()).unwrap()
}

fn prop(key: &str, property: &str) -> RemoteRef {
    RemoteRef {
        property: Some(property.to_owned()),
        ..RemoteRef::key(key)
    }
}

#[tokio::test]
async fn string_and_binary_secrets_are_returned_as_stored() {
    let env = TestEnv::shared().await;
    let (string, binary) = (unique("string"), unique("binary"));
    put_string(&string, "s3cr3t value").await;
    seeder()
        .await
        .create_secret()
        .name(&binary)
        .secret_binary(Blob::new(vec![0u8, 159, 146, 150, 255]))
        .send()
        .await
        .unwrap();
    let (client, calls) = connect(&config(env)).await;
    let got = client.get(&RemoteRef::key(&string), FRESH).await.unwrap();
    assert_eq!(got.value.expose(), b"s3cr3t value");
    let got = client.get(&RemoteRef::key(&binary), FRESH).await.unwrap();
    assert_eq!(got.value.expose(), [0u8, 159, 146, 150, 255]);
    assert_eq!(calls.total(), 2);
}

#[tokio::test]
async fn properties_reach_nested_values_array_items_and_escaped_dots_in_one_call() {
    let env = TestEnv::shared().await;
    let name = unique("props");
    put_string(
        &name,
        r#"{"user":"admin","db":{"hosts":["h0","h1"],"port":5432},"tls.crt":"CERT","obj":{"a":1}}"#,
    )
    .await;
    let (client, calls) = connect(&config(env)).await;
    let read = |p: &str| {
        let r = prop(&name, p);
        let client = &client;
        async move { client.get(&r, MINUTE).await }
    };
    assert_eq!(text(&read("user").await.unwrap().value), "admin");
    assert_eq!(text(&read("db.hosts.1").await.unwrap().value), "h1");
    assert_eq!(text(&read("db.port").await.unwrap().value), "5432");
    assert_eq!(text(&read(r"tls\.crt").await.unwrap().value), "CERT");
    assert_eq!(text(&read("tls.crt").await.unwrap().value), "CERT");
    assert_eq!(text(&read("obj").await.unwrap().value), r#"{"a":1}"#);
    let missing = read("db.nope").await.unwrap_err();
    assert!(
        matches!(&missing, Error::PropertyNotFound { key, property, .. } if key == &name && property == "db.nope"),
        "{missing:?}"
    );
    // Every property of the secret came from one provider call (a batch:
    // current values are read in batches, see below).
    assert_eq!(calls.total(), 1);
}

#[tokio::test]
async fn versions_are_read_by_stage_or_by_uuid() {
    let env = TestEnv::shared().await;
    let name = unique("versions");
    let sm = seeder().await;
    let first = sm
        .create_secret()
        .name(&name)
        .secret_string("v1")
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    sm.put_secret_value()
        .secret_id(&name)
        .secret_string("v2")
        .send()
        .await
        .unwrap();
    let (client, _) = connect(&config(env)).await;
    let at = |version: &str| RemoteRef {
        version: Some(version.to_owned()),
        ..RemoteRef::key(&name)
    };
    let current = client.get(&RemoteRef::key(&name), FRESH).await.unwrap();
    assert_eq!(text(&current.value), "v2");
    let previous = client.get(&at("AWSPREVIOUS"), FRESH).await.unwrap();
    assert_eq!(text(&previous.value), "v1");
    let by_id = client
        .get(&at(&format!("uuid/{first}")), FRESH)
        .await
        .unwrap();
    assert_eq!(text(&by_id.value), "v1");
    let unknown = client.get(&at("NOSUCHSTAGE"), FRESH).await.unwrap_err();
    assert!(unknown.is_not_found(), "{unknown:?}");
}

#[tokio::test]
async fn the_store_prefix_is_prepended_to_every_key() {
    let env = TestEnv::shared().await;
    let name = unique("prefixed");
    put_string(&name, "behind a prefix").await;
    let (prefix, key) = name.split_at(name.find('/').unwrap() + 1);
    let mut config = config(env);
    config.prefix = Some(prefix.to_owned());
    let (client, _) = connect(&config).await;
    let got = client.get(&RemoteRef::key(key), FRESH).await.unwrap();
    assert_eq!(text(&got.value), "behind a prefix");
}

/// Every request answered by a proxy's HTML 404 page (an endpoint that
/// routes Secrets Manager nowhere).
fn misrouted(_: &str, _: &str) -> stub_http::Answer {
    stub_http::html_404()
}

#[tokio::test]
async fn a_misrouted_endpoints_html_404_is_never_not_found() {
    let env = TestEnv::shared().await;
    let mut config = config(env);
    config.endpoint = Some(stub_http::serve(misrouted).await);
    let (client, _) = connect(&config).await;
    let refs = [
        RemoteRef::key("coffer-test/behind-a-proxy"),
        RemoteRef::key("coffer-test/also-behind-a-proxy"),
    ];
    let mut errors = vec![client.get(&refs[0], FRESH).await.unwrap_err()];
    // BatchGetSecretValue, then each one singly.
    errors.extend(
        client
            .get_many(&refs, FRESH)
            .await
            .into_iter()
            .map(|r| r.unwrap_err()),
    );
    errors.push(client.find(&Find::default(), FRESH).await.unwrap_err());
    for err in &errors {
        assert!(!err.is_not_found(), "counted as deleted: {err:?}");
        assert!(!err.to_string().contains("<html>"), "{err}");
    }
}

#[tokio::test]
async fn a_missing_secret_is_not_found_and_names_the_key() {
    let env = TestEnv::shared().await;
    let (client, calls) = connect(&config(env)).await;
    let err = client
        .get(&RemoteRef::key("coffer-test/does-not-exist"), FRESH)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(
        err.to_string().contains("coffer-test/does-not-exist"),
        "{err}"
    );
    assert_eq!(calls.total(), 1);
}

#[tokio::test]
async fn metadata_fetch_returns_the_tags_as_json_and_a_property_selects_one() {
    let env = TestEnv::shared().await;
    let name = unique("tags");
    seeder()
        .await
        .create_secret()
        .name(&name)
        .secret_string("value is not read")
        .tags(Tag::builder().key("team").value("payments").build())
        .tags(
            Tag::builder()
                .key("app.kubernetes.io/name")
                .value("api")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (client, calls) = connect(&config(env)).await;
    let tags = RemoteRef {
        metadata_policy: MetadataPolicy::Fetch,
        ..RemoteRef::key(&name)
    };
    let all = client.get(&tags, MINUTE).await.unwrap();
    assert_eq!(
        text(&all.value),
        r#"{"app.kubernetes.io/name":"api","team":"payments"}"#
    );
    let one = RemoteRef {
        property: Some("app.kubernetes.io/name".into()),
        ..tags.clone()
    };
    assert_eq!(text(&client.get(&one, MINUTE).await.unwrap().value), "api");
    assert_eq!(calls.count("DescribeSecret"), 1);
    assert_eq!(calls.count("GetSecretValue"), 0);
}

#[tokio::test]
async fn get_map_splits_a_json_secret_and_rejects_other_secrets_without_quoting_them() {
    let env = TestEnv::shared().await;
    let (json, plain) = (unique("map"), unique("plain"));
    put_string(
        &json,
        r#"{"user":"admin","port":5432,"nested":{"a":[1,2]}}"#,
    )
    .await;
    put_string(&plain, "not-json-top-secret").await;
    let client = Client::Aws(connect(&config(env)).await.0);
    let map = client.get_map(&RemoteRef::key(&json), FRESH).await.unwrap();
    let map: BTreeMap<&str, &str> = map
        .value
        .iter()
        .map(|(k, v)| (k.as_str(), text(v)))
        .collect();
    assert_eq!(
        map,
        BTreeMap::from([
            ("nested", r#"{"a":[1,2]}"#),
            ("port", "5432"),
            ("user", "admin")
        ])
    );
    let err = client
        .get_map(&RemoteRef::key(&plain), FRESH)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&plain), "{message}");
    assert!(!message.contains("top-secret"), "{message}");
}

#[tokio::test]
async fn find_matches_names_by_regexp_tags_and_path() {
    let env = TestEnv::shared().await;
    let base = unique("find");
    let sm = seeder().await;
    for (suffix, team) in [("app/one", "a"), ("app/two", "b"), ("other/three", "a")] {
        sm.create_secret()
            .name(format!("{base}/{suffix}"))
            .secret_string(format!("value-{suffix}"))
            .tags(Tag::builder().key("team").value(team).build())
            .tags(Tag::builder().key("run").value(&base).build())
            .send()
            .await
            .unwrap();
    }
    let (client, calls) = connect(&config(env)).await;
    let names =
        |found: coffer_providers::Fetched<BTreeMap<String, coffer_providers::SecretValue>>| {
            found
                .value
                .iter()
                .map(|(k, v)| {
                    (
                        k.strip_prefix(&format!("{base}/")).unwrap().to_owned(),
                        text(v).to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        };

    let by_name = Find {
        name_regexp: Some(format!("^{}/app/", regex::escape(&base))),
        ..Find::default()
    };
    let found = names(client.find(&by_name, FRESH).await.unwrap());
    assert_eq!(
        found,
        [
            ("app/one".to_owned(), "value-app/one".to_owned()),
            ("app/two".to_owned(), "value-app/two".to_owned())
        ]
    );

    let by_tags = Find {
        tags: BTreeMap::from([("team".into(), "a".into()), ("run".into(), base.clone())]),
        ..Find::default()
    };
    let found = names(client.find(&by_tags, FRESH).await.unwrap());
    let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["app/one", "other/three"]);

    let by_path = Find {
        tags: BTreeMap::from([("run".into(), base.clone())]),
        path: Some(format!("{base}/other")),
        ..Find::default()
    };
    let found = names(client.find(&by_path, FRESH).await.unwrap());
    let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["other/three"]);

    assert!(calls.count("ListSecrets") >= 3);
    // Values were read in batches, not one by one.
    assert_eq!(calls.count("GetSecretValue"), 0);

    let neither = client.find(&Find::default(), FRESH).await.unwrap_err();
    assert!(matches!(neither, Error::Config { .. }), "{neither:?}");
}

#[tokio::test]
async fn get_many_batches_twenty_ids_per_call_and_reuses_results_within_max_age() {
    let env = TestEnv::shared().await;
    let base = unique("many");
    let sm = seeder().await;
    let n = 45;
    for i in 0..n {
        sm.create_secret()
            .name(format!("{base}/{i}"))
            .secret_string(format!(r#"{{"i":"{i}","other":"x"}}"#))
            .send()
            .await
            .unwrap();
    }
    let (client, calls) = connect(&config(env)).await;
    // Two properties of each secret, plus one missing secret.
    let mut refs: Vec<RemoteRef> = (0..n)
        .flat_map(|i| {
            [
                prop(&format!("{base}/{i}"), "i"),
                prop(&format!("{base}/{i}"), "other"),
            ]
        })
        .collect();
    refs.push(RemoteRef::key(format!("{base}/missing")));
    let results = client.get_many(&refs, MINUTE).await;
    for i in 0..n {
        assert_eq!(text(&results[2 * i].as_ref().unwrap().value), i.to_string());
        assert_eq!(text(&results[2 * i + 1].as_ref().unwrap().value), "x");
    }
    let missing = results.last().unwrap().as_ref().unwrap_err();
    assert!(missing.is_not_found(), "{missing:?}");
    let distinct = n + 1;
    assert_eq!(calls.count("BatchGetSecretValue"), distinct.div_ceil(20));
    assert_eq!(calls.count("GetSecretValue"), 0);

    let before = calls.total();
    let again = client.get_many(&refs[..2 * n], MINUTE).await;
    assert!(again.iter().all(Result::is_ok));
    assert_eq!(
        calls.total(),
        before,
        "a second get_many within max_age calls nothing"
    );
}

#[tokio::test]
async fn gets_from_separate_callers_share_batches_and_stale_keys_ride_along() {
    let env = TestEnv::shared().await;
    let base = unique("gather");
    let sm = seeder().await;
    let n = 30;
    for i in 0..n {
        sm.create_secret()
            .name(format!("{base}/{i}"))
            .secret_string(format!("v{i}"))
            .send()
            .await
            .unwrap();
    }
    let (client, calls) = connect(&config(env)).await;
    let second = ReadOptions {
        max_age: Duration::from_secs(1),
    };
    let refs: Vec<RemoteRef> = (0..n)
        .map(|i| RemoteRef::key(format!("{base}/{i}")))
        .collect();
    // 30 callers at once (as 30 ExternalSecrets falling due together),
    // each with its own `get`: two batches.
    let results = futures::future::join_all(refs.iter().map(|r| client.get(r, second))).await;
    for (i, result) in results.iter().enumerate() {
        assert_eq!(text(&result.as_ref().unwrap().value), format!("v{i}"));
    }
    assert_eq!(calls.count("BatchGetSecretValue"), 2);
    assert_eq!(calls.total(), 2);

    // Once stale, the first key to be read again takes 19 others along...
    tokio::time::sleep(Duration::from_millis(1200)).await;
    client.get(&refs[0], second).await.unwrap();
    assert_eq!(calls.total(), 3);
    // ... so reading all 30 again costs one batch, for the other 10.
    let results = futures::future::join_all(refs.iter().map(|r| client.get(r, second))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(calls.total(), 4);
    assert_eq!(calls.count("GetSecretValue"), 0);
}

#[tokio::test]
async fn versioned_and_metadata_refs_in_get_many_are_read_one_by_one() {
    let env = TestEnv::shared().await;
    let name = unique("many-versioned");
    put_string(&name, "current").await;
    let (client, calls) = connect(&config(env)).await;
    let refs = [
        RemoteRef::key(&name),
        RemoteRef {
            version: Some("AWSCURRENT".into()),
            ..RemoteRef::key(&name)
        },
        RemoteRef {
            metadata_policy: MetadataPolicy::Fetch,
            ..RemoteRef::key(&name)
        },
        RemoteRef {
            version: Some("AWSPREVIOUS".into()),
            ..RemoteRef::key(&name)
        },
    ];
    let results = client.get_many(&refs, FRESH).await;
    assert_eq!(text(&results[0].as_ref().unwrap().value), "current");
    assert_eq!(text(&results[1].as_ref().unwrap().value), "current");
    assert_eq!(text(&results[2].as_ref().unwrap().value), "{}");
    assert!(results[3].as_ref().unwrap_err().is_not_found());
    // The first two are one read (AWSCURRENT is the default version).
    assert_eq!(calls.count("BatchGetSecretValue"), 1);
    assert_eq!(calls.count("DescribeSecret"), 1);
    assert_eq!(calls.count("GetSecretValue"), 1);
}

#[tokio::test]
async fn fifty_concurrent_identical_gets_make_one_call() {
    let env = TestEnv::shared().await;
    let name = unique("coalesce");
    put_string(&name, r#"{"a":"1","b":"2"}"#).await;
    let (client, calls) = connect(&config(env)).await;
    let refs: Vec<RemoteRef> = (0..50)
        .map(|i| prop(&name, if i % 2 == 0 { "a" } else { "b" }))
        .collect();
    let results = futures::future::join_all(refs.iter().map(|r| client.get(r, FRESH))).await;
    for (i, result) in results.iter().enumerate() {
        let want = if i % 2 == 0 { "1" } else { "2" };
        assert_eq!(text(&result.as_ref().unwrap().value), want);
    }
    assert_eq!(calls.total(), 1);
}

#[tokio::test]
async fn a_role_chain_is_assumed_through_sts() {
    let env = TestEnv::shared().await;
    let name = unique("assume");
    put_string(&name, "via role").await;
    let mut config = config(env);
    config.additional_roles = vec!["arn:aws:iam::123456789012:role/coffer-first".into()];
    config.role = Some("arn:aws:iam::123456789012:role/coffer-reader".into());
    config.external_id = Some("coffer-external-id".into());
    let (client, _) = connect(&config).await;
    client.validate().await.unwrap();
    let got = client.get(&RemoteRef::key(&name), FRESH).await.unwrap();
    assert_eq!(text(&got.value), "via role");
}

#[tokio::test]
async fn web_identity_exchanges_the_token_for_role_credentials() {
    let env = TestEnv::shared().await;
    let name = unique("web-identity");
    put_string(&name, "via web identity").await;
    let mut config = config(env);
    config.role = Some("arn:aws:iam::123456789012:role/coffer-irsa".into());
    config.auth = AwsAuth::WebIdentity {
        token: Arc::new(StaticToken(SecretString::from(
            "eyJhbGciOiJSUzI1NiJ9.e30.sig",
        ))),
        identity: "system:serviceaccount:apps:reader".into(),
        role: None,
    };
    let (client, _) = connect(&config).await;
    client.validate().await.unwrap();
    let got = client.get(&RemoteRef::key(&name), FRESH).await.unwrap();
    assert_eq!(text(&got.value), "via web identity");
}

#[tokio::test]
async fn the_endpoint_override_wins_over_the_environment() {
    let env = TestEnv::shared().await;
    let name = unique("endpoint");
    put_string(&name, "x").await;
    let mut config = config(env);
    // Nothing listens on port 1: the override must be what the client uses.
    config.endpoint = Some("http://127.0.0.1:1".into());
    let (client, calls) = connect(&config).await;
    let err = client.get(&RemoteRef::key(&name), FRESH).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(calls.total(), 1);

    config.endpoint = Some(env.aws.endpoint.clone());
    let (client, _) = connect(&config).await;
    assert_eq!(
        client
            .get(&RemoteRef::key(&name), FRESH)
            .await
            .unwrap()
            .value
            .expose(),
        b"x"
    );
}

#[tokio::test]
async fn validate_reports_an_unreachable_sts_as_unavailable() {
    let env = TestEnv::shared().await;
    let mut config = config(env);
    config.sts_endpoint = Some("http://127.0.0.1:1".into());
    let (client, _) = connect(&config).await;
    let err = client.validate().await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn debug_output_and_errors_never_show_credentials_or_values() {
    let env = TestEnv::shared().await;
    let name = unique("leak");
    let value = r#"{"password":"hunter2-very-secret"}"#;
    put_string(&name, value).await;
    let config = config(env);
    let client = Client::Aws(connect(&config).await.0);
    let got = client.get(&RemoteRef::key(&name), FRESH).await.unwrap();
    let missing = client
        .get(&prop(&name, "password.nope"), FRESH)
        .await
        .unwrap_err();
    let map_err = client
        .get_map(&prop(&name, "password"), FRESH)
        .await
        .unwrap_err();
    let shown =
        format!("{config:?} {client:?} {got:?} {missing:?} {missing} {map_err:?} {map_err}");
    for secret in [
        "wJalrXUtnFEMI-very-secret-access-key",
        "AKIATESTKEYID",
        "hunter2",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked in {shown}");
    }
    assert!(shown.contains(&name), "errors should name the key: {shown}");
}
