//! Smoke tests of the environment itself. Each one depends on a behaviour
//! only the real system has (a watch stream, schema validation by the API
//! server, the garbage collector, OpenBao's KV v2 engine, moto's API), so
//! none of them would pass against a fake.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_secretsmanager::config::BehaviorVersion;
use coffer_api::{SealedSecret, SealedSecretSpec};
use coffer_testenv::TestEnv;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ObjectMeta, PostParams};
use kube::core::GroupVersionKind as GVK;
use kube::runtime::watcher;

const TIMEOUT: Duration = Duration::from_secs(60);

fn meta(name: &str, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn secret_is_created_read_and_seen_through_a_watch() {
    let env = TestEnv::shared().await;
    let ns = env.namespace("secret-watch").await;
    let secrets: Api<Secret> = Api::namespaced(env.client().await, &ns);

    // Watch first, so the creation arrives as an event on the stream.
    let mut events = watcher(secrets.clone(), watcher::Config::default()).boxed();
    let first = tokio::time::timeout(TIMEOUT, events.try_next())
        .await
        .expect("watch starts");
    assert!(matches!(first, Ok(Some(watcher::Event::Init))), "{first:?}");

    let secret = Secret {
        metadata: meta("db", &ns),
        string_data: Some(BTreeMap::from([("password".into(), "hunter2".into())])),
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create Secret");

    let read = secrets.get("db").await.expect("read Secret");
    // stringData is write-only: the server moved it into data.
    let data = read.data.expect("data");
    assert_eq!(data["password"].0, b"hunter2");

    let seen = tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = events.try_next().await.expect("watch stream") {
            if let watcher::Event::Apply(s) | watcher::Event::InitApply(s) = event
                && s.metadata.name.as_deref() == Some("db")
            {
                return s;
            }
        }
        panic!("watch stream ended")
    })
    .await
    .expect("the created Secret appears on the watch");
    assert_eq!(seen.metadata.uid, read.metadata.uid);
}

#[tokio::test]
async fn sealed_secret_crd_accepts_valid_objects_and_rejects_schema_violations() {
    let env = TestEnv::shared().await;
    assert!(
        env.crds.iter().any(|c| c == "sealedsecrets.bitnami.com"),
        "{:?}",
        env.crds
    );
    let ns = env.namespace("crd-schema").await;
    let client = env.client().await;

    let sealed = SealedSecret::new(
        "ok",
        SealedSecretSpec {
            encrypted_data: BTreeMap::from([("k".into(), "AgBy3i4OJSWK+PiTySYZZA==".into())]),
            ..Default::default()
        },
    );
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &sealed)
        .await
        .expect("a valid SealedSecret is accepted");

    // encryptedData must be a map of strings; the server's schema says so.
    let resource = ApiResource::from_gvk(&GVK::gvk("bitnami.com", "v1alpha1", "SealedSecret"));
    let dynamic: Api<DynamicObject> = Api::namespaced_with(client, &ns, &resource);
    let bad = DynamicObject::new("bad", &resource)
        .data(serde_json::json!({ "spec": { "encryptedData": ["not", "a", "map"] } }));
    let err = dynamic
        .create(&PostParams::default(), &bad)
        .await
        .expect_err("schema violation");
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(
                status.message.contains("encryptedData"),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 422 from the API server, got {other}"),
    }
}

#[tokio::test]
async fn dependent_is_garbage_collected_after_its_owner_is_deleted() {
    let env = TestEnv::shared().await;
    let ns = env.namespace("gc").await;
    let client = env.client().await;
    let owners: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client, &ns);

    let owner = owners
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: meta("owner", &ns),
                ..Default::default()
            },
        )
        .await
        .expect("create owner");
    let mut dependent = Secret {
        metadata: meta("dependent", &ns),
        ..Default::default()
    };
    dependent.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.metadata.uid.clone().expect("uid"),
        ..Default::default()
    }]);
    secrets
        .create(&PostParams::default(), &dependent)
        .await
        .expect("create dependent");

    owners
        .delete("owner", &DeleteParams::background())
        .await
        .expect("delete owner");
    let collected = tokio::time::timeout(TIMEOUT, async {
        while secrets.get_opt("dependent").await.expect("get").is_some() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        collected.is_ok(),
        "the garbage collector did not delete the dependent Secret"
    );
}

#[tokio::test]
async fn deleted_namespace_is_emptied_and_removed_by_the_namespace_controller() {
    let env = TestEnv::shared().await;
    let client = env.client().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let name = format!("ns-delete-{}", std::process::id());
    namespaces
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: meta(&name, ""),
                ..Default::default()
            },
        )
        .await
        .expect("create namespace");
    let secrets: Api<Secret> = Api::namespaced(client, &name);
    secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: meta("s", &name),
                ..Default::default()
            },
        )
        .await
        .expect("create Secret");

    namespaces
        .delete(&name, &DeleteParams::default())
        .await
        .expect("delete namespace");
    let removed = tokio::time::timeout(TIMEOUT, async {
        while namespaces.get_opt(&name).await.expect("get").is_some() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(removed.is_ok(), "namespace {name} was not finalized");
}

#[tokio::test]
async fn openbao_kv2_write_then_read_through_vaultrs() {
    let env = TestEnv::shared().await;
    let settings = vaultrs::client::VaultClientSettingsBuilder::default()
        .address(&env.vault.addr)
        .token(&env.vault.token)
        .build()
        .expect("vault settings");
    let vault = vaultrs::client::VaultClient::new(settings).expect("vault client");

    let path = format!("coffer-smoke/{}", std::process::id());
    let written = BTreeMap::from([("username".to_string(), "app".to_string())]);
    vaultrs::kv2::set(&vault, "secret", &path, &written)
        .await
        .expect("kv2 write");
    let read: BTreeMap<String, String> = vaultrs::kv2::read(&vault, "secret", &path)
        .await
        .expect("kv2 read");
    assert_eq!(read, written);

    // A second write makes version 2, a KV v2 behaviour.
    let updated = BTreeMap::from([("username".to_string(), "app2".to_string())]);
    vaultrs::kv2::set(&vault, "secret", &path, &updated)
        .await
        .expect("kv2 write v2");
    let v1: BTreeMap<String, String> = vaultrs::kv2::read_version(&vault, "secret", &path, 1)
        .await
        .expect("kv2 read v1");
    assert_eq!(v1, written);
}

#[tokio::test]
async fn moto_secret_created_and_read_with_endpoint_from_environment() {
    let env = TestEnv::shared().await;
    assert_eq!(
        std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER").as_deref(),
        Ok(env.aws.endpoint.as_str())
    );
    // No endpoint is configured in code: the SDK takes it from the
    // environment, as the controller's provider will. Without it this would
    // try to reach AWS and fail.
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let sm = aws_sdk_secretsmanager::Client::new(&config);

    let name = format!("coffer/smoke/{}", std::process::id());
    sm.create_secret()
        .name(&name)
        .secret_string(r#"{"password":"s3cr3t"}"#)
        .send()
        .await
        .expect("CreateSecret");
    let got = sm
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some(r#"{"password":"s3cr3t"}"#));
    assert_eq!(got.name(), Some(name.as_str()));
}
