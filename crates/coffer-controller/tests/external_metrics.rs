//! The ExternalSecret controller as the controller process runs it: ESO's
//! metric names on `/metrics` after a sync and after a failure, and ESO's
//! Events on the ExternalSecrets (against the real control plane and
//! OpenBao).

mod common;

use coffer_api::ExternalSecret;
use coffer_controller::Config;
use common::*;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;

/// Applies a namespaced manifest (YAML, `NAMESPACE` replaced) with
/// server-side apply.
async fn apply(world: &World, yaml: &str) {
    let yaml = yaml.replace("NAMESPACE", world.ns.name());
    let value: serde_json::Value = serde_saphyr::from_str(&yaml).expect("manifest is YAML");
    let api_version = value["apiVersion"].as_str().expect("apiVersion").to_owned();
    let kind = value["kind"].as_str().expect("kind").to_owned();
    let name = value["metadata"]["name"].as_str().expect("name").to_owned();
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let plural = format!("{}s", kind.to_lowercase());
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, &kind), &plural);
    let api: Api<DynamicObject> =
        Api::namespaced_with(world.client.clone(), world.ns.name(), &resource);
    let object: DynamicObject = serde_json::from_value(value).expect("object");
    api.patch(
        &name,
        &PatchParams::apply("coffer-test").force(),
        &Patch::Apply(&object),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {kind} {name}: {e}"));
}

/// Writes KV v2 data at `secret/<path>` in OpenBao.
async fn vault_put(world: &World, path: &str, data: serde_json::Value) {
    let vault = &world.env.vault;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/secret/data/{path}", vault.addr))
        .header("X-Vault-Token", &vault.token)
        .json(&serde_json::json!({ "data": data }))
        .send()
        .await
        .expect("openbao reachable");
    assert!(response.status().is_success(), "{}", response.status());
}

/// A token Secret and a Vault SecretStore `name` using it.
async fn vault_store(world: &World, name: &str, token: &str) {
    apply(
        world,
        &format!(
            r#"
apiVersion: v1
kind: Secret
metadata:
  name: {name}-token
  namespace: NAMESPACE
stringData:
  token: "{token}"
"#
        ),
    )
    .await;
    apply(
        world,
        &format!(
            r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: {name}
  namespace: NAMESPACE
spec:
  provider:
    vault:
      server: "{server}"
      path: secret
      version: v2
      auth:
        tokenSecretRef:
          name: {name}-token
          key: token
"#,
            server = world.env.vault.addr
        ),
    )
    .await;
}

async fn external_secret(world: &World, name: &str, store: &str, path: &str) {
    apply(
        world,
        &format!(
            r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: {name}
  namespace: NAMESPACE
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: {store}
  data:
  - secretKey: token
    remoteRef:
      key: {path}
      property: token
"#
        ),
    )
    .await;
}

/// The value of the series `name{labels}` (labels exactly as rendered).
fn series(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines().find_map(|line| {
        line.strip_prefix(name_and_labels)?
            .strip_prefix(' ')?
            .parse()
            .ok()
    })
}

async fn events(world: &World, name: &str) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(world.client.clone(), world.ns.name());
    let params = ListParams::default().fields(&format!(
        "involvedObject.kind=ExternalSecret,involvedObject.name={name}"
    ));
    api.list(&params).await.map(|l| l.items).unwrap_or_default()
}

async fn event(world: &World, name: &str, reason: &str) -> Event {
    eventually(&format!("a {reason} Event on {name}"), || async {
        events(world, name)
            .await
            .into_iter()
            .find(|e| e.reason.as_deref() == Some(reason))
    })
    .await
}

#[tokio::test]
async fn external_secret_syncs_and_failures_show_in_eso_metrics_and_events() {
    let world = World::new("es-metrics").await;
    let ns = world.ns.name().to_owned();
    let config = Config {
        sealed_secrets: false,
        external_secrets: Some(coffer_external::Config {
            namespaces: vec![ns.clone()],
            cluster_external_secrets: false,
            ..coffer_external::Config::default()
        }),
        ..world.config()
    };
    let running = world.start_with(config).await;
    let url = format!("http://{}/metrics", running.metrics_addr.unwrap());

    let path = format!("{ns}/app");
    vault_put(&world, &path, serde_json::json!({"token": "t-1"})).await;
    vault_store(&world, "vault", &world.env.vault.token).await;
    vault_store(&world, "denied", "not-a-token-7f3a").await;
    external_secret(&world, "good", "vault", &path).await;
    external_secret(&world, "bad", "denied", &path).await;

    secret_with_data(&world, "good", &[("token", "t-1")]).await;
    let created = event(&world, "good", "Created").await;
    assert_eq!(created.type_.as_deref(), Some("Normal"));
    assert_eq!(created.message.as_deref(), Some("secret created"));
    let failed = event(&world, "bad", "UpdateFailed").await;
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    assert!(
        !failed
            .message
            .unwrap_or_default()
            .contains("not-a-token-7f3a"),
        "the Event leaks the token"
    );

    // An upstream change picked up through force-sync: `Updated`.
    vault_put(&world, &path, serde_json::json!({"token": "t-2"})).await;
    let es: Api<ExternalSecret> = Api::namespaced(world.client.clone(), &ns);
    es.patch(
        "good",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({
            "metadata": { "annotations": { "external-secrets.io/force-sync": "1" } }
        })),
    )
    .await
    .unwrap();
    secret_with_data(&world, "good", &[("token", "t-2")]).await;
    let updated = event(&world, "good", "Updated").await;
    assert_eq!(updated.type_.as_deref(), Some("Normal"));
    assert_eq!(updated.message.as_deref(), Some("secret updated"));

    let labels = |name: &str| format!("name=\"{name}\",namespace=\"{ns}\"");
    let ready = |name: &str, status: &str| {
        format!(
            "externalsecret_status_condition{{condition=\"Ready\",{},status=\"{status}\"}}",
            labels(name)
        )
    };
    let page = eventually("both outcomes on /metrics", || async {
        let (status, page) = get(&url).await?;
        (status == 200
            && series(&page, &ready("good", "True")) == Some(1.0)
            && series(&page, &ready("bad", "False")) == Some(1.0))
        .then_some(page)
    })
    .await;
    let value = |series_name: &str| {
        series(&page, series_name).unwrap_or_else(|| panic!("no {series_name} in:\n{page}"))
    };
    // The sync of `good` (twice) and the failure of `bad`.
    assert!(
        value(&format!(
            "externalsecret_sync_calls_total{{{}}}",
            labels("good")
        )) >= 2.0
    );
    assert!(
        value(&format!(
            "externalsecret_sync_calls_total{{{}}}",
            labels("bad")
        )) >= 1.0
    );
    assert!(
        value(&format!(
            "externalsecret_sync_calls_error{{{}}}",
            labels("bad")
        )) >= 1.0
    );
    assert_eq!(value(&ready("good", "False")), 0.0);
    assert_eq!(value(&ready("bad", "True")), 0.0);
    assert!(
        value(&format!(
            "externalsecret_reconcile_duration{{{}}}",
            labels("good")
        )) > 0.0
    );
    assert!(
        value(
            "externalsecret_provider_api_calls_count{call=\"ReadSecretData\",provider=\"HashiCorp/Vault\",status=\"success\"}"
        ) >= 2.0
    );
    assert!(
        page.lines().any(|l| {
            l.starts_with("externalsecret_provider_api_calls_count{")
                && l.contains("provider=\"HashiCorp/Vault\",status=\"error\"}")
        }),
        "the refused read is counted as an error:\n{page}"
    );
    // The reconcile-duration histogram, by result.
    for result in ["success", "error"] {
        let labels = format!("controller=\"externalsecret\",result=\"{result}\"");
        let count = value(&format!(
            "coffer_reconcile_duration_seconds_count{{{labels}}}"
        ));
        assert!(count >= 1.0, "{result}: {count}");
        assert_eq!(
            value(&format!(
                "coffer_reconcile_duration_seconds_bucket{{{labels},le=\"+Inf\"}}"
            )),
            count
        );
        assert!(
            value(&format!(
                "coffer_reconcile_duration_seconds_sum{{{labels}}}"
            )) > 0.0
        );
    }
    assert!(
        page.contains("# TYPE coffer_reconcile_duration_seconds histogram\n"),
        "{page}"
    );
    running.shutdown().await;
}
