//! The generated `external-secrets.io/v1` CRDs against a real API server:
//! ESO manifests, sent as they are (dynamic objects, not through our
//! serializer), are accepted; ESO's defaults are filled in; configuration
//! for providers Coffer does not implement survives; bad enum values are
//! rejected with 422.

use coffer_api::external::{
    ClusterSecretStore, CreationPolicy, ExternalSecret, ProviderKind, SecretStore, StoreKind,
};
use coffer_api::{ClusterExternalSecret, external::VaultKvVersion};
use coffer_testenv::TestEnv;
use kube::Resource;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::core::ApiResource;

const EXAMPLES: &[&str] = &[
    "secretstore-aws-secretref.yaml",
    "secretstore-aws-jwt.yaml",
    "secretstore-vault-token.yaml",
    "secretstore-vault-approle.yaml",
    "secretstore-vault-kubernetes.yaml",
    "secretstore-vault-jwt.yaml",
    "secretstore-gcpsm.yaml",
    "clustersecretstore-vault.yaml",
    "externalsecret-full.yaml",
    "clusterexternalsecret.yaml",
];

fn manifest(file: &str) -> serde_json::Value {
    let path = format!(
        "{}/tests/data/eso/{file}",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The API for a manifest's kind: namespaced kinds in `ns`, cluster kinds at
/// cluster scope.
fn api_for(client: &kube::Client, ns: &str, kind: &str) -> (Api<DynamicObject>, bool) {
    let (resource, namespaced) = match kind {
        "ExternalSecret" => (ApiResource::erase::<ExternalSecret>(&()), true),
        "SecretStore" => (ApiResource::erase::<SecretStore>(&()), true),
        "ClusterSecretStore" => (ApiResource::erase::<ClusterSecretStore>(&()), false),
        "ClusterExternalSecret" => (ApiResource::erase::<ClusterExternalSecret>(&()), false),
        other => panic!("unexpected kind {other}"),
    };
    let api = if namespaced {
        Api::namespaced_with(client.clone(), ns, &resource)
    } else {
        Api::all_with(client.clone(), &resource)
    };
    (api, namespaced)
}

/// Creates `value` as it is, except that cluster-scoped objects get a name
/// unique to this test namespace. Returns the server's copy, or its error.
async fn create(
    client: &kube::Client,
    ns: &str,
    mut value: serde_json::Value,
) -> Result<serde_json::Value, kube::Error> {
    let kind = value["kind"].as_str().expect("kind").to_owned();
    let (api, namespaced) = api_for(client, ns, &kind);
    if !namespaced {
        let name = format!("{}-{ns}", value["metadata"]["name"].as_str().expect("name"));
        value["metadata"]["name"] = name.into();
    }
    let object: DynamicObject = serde_json::from_value(value).expect("a Kubernetes object");
    let created = api.create(&PostParams::default(), &object).await?;
    if !namespaced {
        // The test namespace's deletion does not reach cluster objects.
        let name = created.metadata.name.clone().expect("name");
        api.delete(&name, &DeleteParams::default()).await?;
    }
    Ok(serde_json::to_value(created).expect("serializes"))
}

fn assert_422(result: Result<serde_json::Value, kube::Error>, field: &str) {
    match result {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(
                status.message.contains(field),
                "names {field}: {}",
                status.message
            );
        }
        other => panic!("expected 422 for {field}, got {other:?}"),
    }
}

#[tokio::test]
async fn every_eso_example_is_accepted_and_reads_back_into_our_types() {
    let env = TestEnv::shared().await;
    let ns = env.namespace("eso-examples").await;
    let client = env.client().await;
    for file in EXAMPLES {
        let created = create(&client, &ns, manifest(file))
            .await
            .unwrap_or_else(|e| panic!("{file} rejected: {e}"));
        // What the server stores parses into our types.
        let parsed = match created["kind"].as_str() {
            Some("ExternalSecret") => serde_json::from_value::<ExternalSecret>(created).map(drop),
            Some("SecretStore") => serde_json::from_value::<SecretStore>(created).map(drop),
            Some("ClusterSecretStore") => {
                serde_json::from_value::<ClusterSecretStore>(created).map(drop)
            }
            Some("ClusterExternalSecret") => {
                serde_json::from_value::<ClusterExternalSecret>(created).map(drop)
            }
            other => panic!("{file}: unexpected kind {other:?}"),
        };
        parsed.unwrap_or_else(|e| panic!("{file}: server copy does not parse: {e}"));
    }
}

#[tokio::test]
async fn server_fills_in_esos_defaults() {
    let env = TestEnv::shared().await;
    let ns = env.namespace("eso-defaults").await;
    let client = env.client().await;

    let es = serde_json::json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": "minimal"},
        "spec": {
            "secretStoreRef": {"name": "vault-token"},
            "data": [{"secretKey": "password", "remoteRef": {"key": "db"}}]
        }
    });
    let created: ExternalSecret =
        serde_json::from_value(create(&client, &ns, es).await.expect("accepted")).unwrap();
    let spec = &created.spec;
    assert_eq!(spec.refresh_interval.as_deref(), Some("1h"));
    assert_eq!(spec.target.creation_policy, Some(CreationPolicy::Owner));
    assert_eq!(
        spec.target.deletion_policy,
        Some(coffer_api::external::DeletionPolicy::Retain)
    );
    assert_eq!(spec.secret_store_ref.kind(), StoreKind::SecretStore);
    let remote = &spec.data[0].remote_ref;
    assert!(
        remote.shaping.conversion_strategy.is_some() && remote.shaping.decoding_strategy.is_some()
    );
    assert!(remote.metadata_policy.is_some());

    let store: SecretStore = serde_json::from_value(
        create(&client, &ns, manifest("secretstore-vault-kubernetes.yaml"))
            .await
            .expect("accepted"),
    )
    .unwrap();
    let ProviderKind::Vault(vault) = store.spec.provider.kind() else {
        panic!("vault store");
    };
    assert_eq!(
        vault.version,
        Some(VaultKvVersion::V2),
        "defaulted by the server"
    );
}

#[tokio::test]
async fn unsupported_provider_configuration_is_kept_by_the_server() {
    let env = TestEnv::shared().await;
    let ns = env.namespace("eso-unsupported").await;
    let client = env.client().await;
    let created = create(&client, &ns, manifest("secretstore-gcpsm.yaml"))
        .await
        .expect("accepted");
    let store: SecretStore = serde_json::from_value(created).unwrap();
    assert_eq!(
        store.spec.provider.kind(),
        ProviderKind::Unsupported("gcpsm")
    );
    let gcpsm = &store.spec.provider.other["gcpsm"];
    assert_eq!(
        gcpsm["projectID"], "analytics-prod-4411",
        "not pruned: {gcpsm}"
    );
    assert_eq!(
        gcpsm["auth"]["secretRef"]["secretAccessKeySecretRef"]["key"],
        "credentials.json"
    );
}

#[tokio::test]
async fn wrong_enum_values_are_rejected_with_422() {
    let env = TestEnv::shared().await;
    let ns = env.namespace("eso-invalid").await;
    let client = env.client().await;

    let mut es = manifest("externalsecret-full.yaml");
    es["spec"]["target"]["creationPolicy"] = "Sometimes".into();
    assert_422(create(&client, &ns, es).await, "creationPolicy");

    let mut es = manifest("externalsecret-full.yaml");
    es["spec"]["data"][0]["remoteRef"]["decodingStrategy"] = "Base32".into();
    assert_422(create(&client, &ns, es).await, "decodingStrategy");

    let mut es = manifest("externalsecret-full.yaml");
    es["spec"]["secretStoreRef"]["kind"] = "VaultStore".into();
    assert_422(create(&client, &ns, es).await, "kind");

    let mut store = manifest("secretstore-aws-jwt.yaml");
    store["spec"]["provider"]["aws"]["service"] = "KMS".into();
    assert_422(create(&client, &ns, store).await, "service");

    let mut store = manifest("secretstore-vault-token.yaml");
    store["spec"]["provider"]["vault"]["version"] = "v3".into();
    assert_422(create(&client, &ns, store).await, "version");
}

#[tokio::test]
async fn store_with_two_providers_is_rejected() {
    let env = TestEnv::shared().await;
    let ns = env.namespace("eso-two-providers").await;
    let client = env.client().await;
    let mut store = manifest("secretstore-vault-token.yaml");
    store["spec"]["provider"]["gcpsm"] = serde_json::json!({"projectID": "p"});
    assert_422(create(&client, &ns, store).await, "provider");
}

#[test]
fn cluster_secret_store_is_cluster_scoped_and_shares_the_store_schema() {
    use kube::CustomResourceExt;
    let css = ClusterSecretStore::crd();
    let ss = SecretStore::crd();
    assert_eq!(css.spec.scope, "Cluster");
    assert_eq!(
        css.spec.names.short_names.as_deref(),
        Some(&["css".to_owned()][..])
    );
    assert_eq!(ClusterSecretStore::plural(&()), "clustersecretstores");
    let schema = |crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition| {
        serde_json::to_value(&crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap().properties)
            .unwrap()
    };
    assert_eq!(schema(&css), schema(&ss));
    let json = serde_json::to_value(ClusterSecretStore::default()).unwrap();
    assert_eq!(
        (json["apiVersion"].as_str(), json["kind"].as_str()),
        (Some("external-secrets.io/v1"), Some("ClusterSecretStore"))
    );
}

/// On a cluster where ESO once stored `v1beta1` objects, the CRD's
/// `status.storedVersions` lists `v1beta1`, and the API server refuses an
/// update that drops it from `spec.versions`: our CRDs keep the entry (not
/// served), so installing them over ESO's succeeds. (A copy under a group
/// of its own, so the shared CRDs stay as they are.)
#[tokio::test]
async fn crd_update_succeeds_where_eso_stored_v1beta1() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Patch, PatchParams};

    let env = TestEnv::shared().await;
    let client = env.client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let group = "retired-v1beta1.coffer.test";
    let ours = |with_v1beta1: bool| {
        let mut crd = <ExternalSecret as kube::CustomResourceExt>::crd();
        if with_v1beta1 {
            crd = coffer_api::crds::with_retired_v1beta1(crd);
        }
        crd.metadata.name = Some(format!("externalsecrets.{group}"));
        crd.spec.group = group.to_owned();
        crd
    };
    let name = format!("externalsecrets.{group}");
    let _ = crds.delete(&name, &DeleteParams::default()).await;
    // As ESO left it: created, then v1beta1 recorded as once stored.
    let mut created = None;
    for _ in 0..50 {
        match crds.create(&PostParams::default(), &ours(true)).await {
            Ok(crd) => {
                created = Some(crd);
                break;
            }
            // The previous run's copy may still be terminating.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
    created.expect("the CRD copy is created");
    let stored = serde_json::json!({"status": {"storedVersions": ["v1beta1", "v1"]}});
    crds.patch_status(&name, &PatchParams::default(), &Patch::Merge(&stored))
        .await
        .expect("storedVersions patched");

    let apply = PatchParams::apply("coffer-test").force();
    crds.patch(&name, &apply, &Patch::Apply(&ours(true)))
        .await
        .expect("our CRD, with its v1beta1 entry, updates the CRD");
    let dropped = crds
        .patch(&name, &apply, &Patch::Apply(&ours(false)))
        .await
        .expect_err("without the entry the update is refused");
    assert!(dropped.to_string().contains("storedVersions"), "{dropped}");
    crds.delete(&name, &DeleteParams::default()).await.unwrap();
}
