//! Every rendering, object by object, through a server-side apply with
//! `dryRun=All` and strict field validation on the local control plane:
//! the API server's schema, defaulting and admission (CEL of the admission
//! policy included) judge what users would apply.

use kube::api::{Api, DynamicObject, Patch, PatchParams, ValidationDirective};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use serde_json::Value;

use crate::common::{World, eventually};
use crate::render;

/// Server-side applies `doc` (`dry_run`: judged, not stored) as
/// `manager`, with strict field validation.
pub(crate) async fn apply(
    client: &kube::Client,
    doc: &Value,
    dry_run: bool,
) -> Result<(), kube::Error> {
    let api_version = doc["apiVersion"].as_str().expect("apiVersion");
    let kind = doc["kind"].as_str().expect("kind");
    let name = doc["metadata"]["name"].as_str().expect("name");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, caps) = kube::discovery::pinned_kind(client, &gvk).await?;
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => {
            let ns = doc["metadata"]["namespace"]
                .as_str()
                .unwrap_or_else(|| panic!("{kind} {name} names its namespace"));
            Api::namespaced_with(client.clone(), ns, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    let mut params = PatchParams::apply("coffer-deploy-test").force();
    params.dry_run = dry_run;
    params.field_validation = Some(ValidationDirective::Strict);
    api.patch(name, &params, &Patch::Apply(doc)).await?;
    Ok(())
}

/// A stand-in for the Prometheus Operator's ServiceMonitor CRD (the local
/// control plane has none), so the chart's optional ServiceMonitor can be
/// dry-run too. Its schema keeps every field: the server checks the object's
/// shape as a custom object, not the operator's full schema.
const SERVICE_MONITOR_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": { "name": "servicemonitors.monitoring.coreos.com" },
  "spec": {
    "group": "monitoring.coreos.com",
    "names": { "kind": "ServiceMonitor", "plural": "servicemonitors", "singular": "servicemonitor", "listKind": "ServiceMonitorList" },
    "scope": "Namespaced",
    "versions": [{
      "name": "v1", "served": true, "storage": true,
      "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } }
    }]
  }
}"#;

#[tokio::test]
async fn every_overlay_and_chart_rendering_passes_a_server_side_dry_run() {
    let world = World::new("deploy-dry-run").await;
    let crd: Value = serde_json::from_str(SERVICE_MONITOR_CRD).unwrap();
    apply(&world.client, &crd, false)
        .await
        .expect("install the ServiceMonitor stand-in CRD");
    let monitor = serde_json::json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": { "name": "probe", "namespace": "kube-system" },
    });
    let client = world.client.clone();
    eventually("the ServiceMonitor CRD to be served", || {
        let (client, monitor) = (client.clone(), monitor.clone());
        async move { apply(&client, &monitor, true).await.ok() }
    })
    .await;

    let mut checked = 0;
    for rendering in render::all() {
        for doc in &rendering.docs {
            apply(&world.client, doc, true).await.unwrap_or_else(|e| {
                panic!(
                    "{}: {} {} fails a server-side dry run: {e}",
                    rendering.name, doc["kind"], doc["metadata"]["name"]
                )
            });
            checked += 1;
        }
    }
    // Every rendering has its objects (a kustomization that renders
    // nothing would pass vacuously).
    assert!(
        render::all().iter().all(|r| r.docs.len() >= 12),
        "a rendering is missing objects"
    );
    assert!(checked > 0);
}
