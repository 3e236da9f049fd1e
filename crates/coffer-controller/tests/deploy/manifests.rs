//! The manifests as files: the Deployment and Service kubeseal expects,
//! current CRD copies, and a Helm chart that grants what the kustomize base
//! grants.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{base, deploy_dir, documents};

#[test]
fn deployment_runs_two_electing_replicas_behind_kubeseals_service() {
    let base = base();
    let deployment = &base.deployments[0];
    let spec = deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some("coffer-controller")
    );
    let container = &pod.containers[0];
    let args = container.args.clone().unwrap_or_default();
    assert!(args.contains(&"--leader-elect=true".to_owned()), "{args:?}");
    let env: Vec<&str> = container
        .env
        .iter()
        .flatten()
        .map(|e| e.name.as_str())
        .collect();
    assert!(
        env.contains(&"COFFER_NAMESPACE") && env.contains(&"POD_NAME"),
        "{env:?}"
    );
    let ports: BTreeMap<String, i32> = container
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone().unwrap_or_default(), p.container_port))
        .collect();
    assert_eq!(ports.get("http"), Some(&8080));
    assert_eq!(ports.get("metrics"), Some(&8081));

    // kubeseal --fetch-cert: service sealed-secrets-controller, port 8080,
    // in the controller's namespace (kube-system by default).
    let service = base
        .services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("sealed-secrets-controller"))
        .expect("the Service kubeseal looks for");
    assert_eq!(service.metadata.namespace.as_deref(), Some("kube-system"));
    let port = &service.spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
    assert_eq!(port.port, 8080);
    let selector = service.spec.as_ref().unwrap().selector.clone().unwrap();
    let labels = spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    assert!(
        selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
        "selects the pods"
    );
}

#[test]
fn deploy_carries_current_copies_of_every_crd() {
    let crds = deploy_dir().join("../crds");
    let kustomization =
        std::fs::read_to_string(deploy_dir().join("kustomize/crds/kustomization.yaml")).unwrap();
    for entry in std::fs::read_dir(&crds).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap();
        let original = std::fs::read_to_string(&path).unwrap();
        for copy in [
            deploy_dir().join("kustomize/crds").join(name),
            deploy_dir().join("helm/coffer/crds").join(name),
        ] {
            let text = std::fs::read_to_string(&copy).unwrap_or_default();
            assert!(
                text == original,
                "{} is missing or stale: run `cargo run -p coffer-api --features crdgen --bin crdgen`, which writes crds/ and these copies (kustomize and helm read no file outside their root)",
                copy.display()
            );
        }
        assert!(
            kustomization.contains(&format!("- {name}")),
            "list {name} in deploy/kustomize/crds/kustomization.yaml"
        );
    }
}

/// Renders the few template constructs the chart's RBAC uses, with the
/// chart's defaults in `kube-system`.
fn render_helm_rbac() -> String {
    let text =
        std::fs::read_to_string(deploy_dir().join("helm/coffer/templates/rbac.yaml")).unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("{{- if") && l.trim() != "{{- end }}")
        .map(|l| {
            if l.contains("include \"coffer.labels\"") {
                "    app.kubernetes.io/name: coffer-controller".to_owned()
            } else {
                l.replace("{{ .Release.Namespace }}", "kube-system")
                    .replace("{{ .Values.service.name }}", "sealed-secrets-controller")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn helm_chart_grants_the_same_rules_as_the_kustomize_base() {
    let rules = |docs: Vec<Value>| -> Vec<(String, Value)> {
        docs.into_iter()
            .map(|d| {
                (
                    format!("{}/{}", d["kind"], d["metadata"]["name"]),
                    d["rules"].clone(),
                )
            })
            .collect()
    };
    let helm = rules(
        serde_saphyr::from_multiple::<Value>(&render_helm_rbac()).expect("chart RBAC parses"),
    );
    let kustomize = rules(documents(&deploy_dir().join("kustomize/base/rbac.yaml")));
    assert_eq!(helm, kustomize);
    let values = documents(&deploy_dir().join("helm/coffer/values.yaml"));
    assert_eq!(values[0]["replicas"], 2);
    assert_eq!(values[0]["service"]["name"], "sealed-secrets-controller");
    assert_eq!(values[0]["leaderElection"]["enabled"], true);
}
