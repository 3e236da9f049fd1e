//! The ExternalSecret controller as the controller process runs it: ESO's
//! metric names on `/metrics` after a sync and after a failure, and ESO's
//! Events on the ExternalSecrets (against the real control plane and
//! OpenBao).

mod common;

use coffer_api::ExternalSecret;
use coffer_controller::Config;
use coffer_testenv::external::{self, ExternalSecretManifest};
use common::*;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, Patch, PatchParams};

async fn external_secret(world: &World, name: &str, store: &str, path: &str) {
    let es = ExternalSecretManifest::new(name, store).property("token", path, "token");
    external::apply(&world.client, world.ns.name(), &es.to_string()).await;
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

async fn event(world: &World, name: &str, reason: &str) -> Event {
    eventually(&format!("a {reason} Event on {name}"), || async {
        external::external_secret_events(&world.client, world.ns.name(), name)
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
    world
        .env
        .vault
        .put(&path, serde_json::json!({"token": "t-1"}))
        .await;
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
    world
        .env
        .vault
        .put(&path, serde_json::json!({"token": "t-2"}))
        .await;
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
    // What ESO's Grafana dashboard reads is served, the error ratio of the
    // externalsecret controller included.
    let dashboard = include_str!("data/eso-dashboard-metrics.txt");
    for name in dashboard
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('!') && !l.trim().is_empty())
    {
        assert!(
            page.lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "ESO's dashboard reads {name}, which /metrics does not serve:\n{page}"
        );
    }
    assert!(
        value("controller_runtime_reconcile_total{controller=\"externalsecret\",result=\"error\"}")
            >= 1.0
    );
    assert!(
        value("controller_runtime_reconcile_errors_total{controller=\"externalsecret\"}") >= 1.0
    );
    // ESO's store status gauges.
    let store = |name: &str, status: &str| {
        format!(
            "secretstore_status_condition{{condition=\"Ready\",name=\"{name}\",namespace=\"{ns}\",status=\"{status}\"}}"
        )
    };
    let page = eventually("the stores' status gauges", || async {
        let (_, page) = get(&url).await?;
        (series(&page, &store("vault", "True")) == Some(1.0)
            && series(&page, &store("denied", "False")) == Some(1.0))
        .then_some(page)
    })
    .await;
    assert_eq!(series(&page, &store("vault", "False")), Some(0.0));
    running.shutdown().await;
}
