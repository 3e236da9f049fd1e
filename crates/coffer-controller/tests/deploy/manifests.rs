//! The manifests as rendered: the Deployment and Service kubeseal expects,
//! current CRD copies, a Helm chart that renders what the matching
//! kustomization does (RBAC, admission policy, NetworkPolicy), operational
//! objects (PodDisruptionBudget, NetworkPolicy, ServiceMonitor, resources)
//! and a clean `helm lint`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::render::{self, Rendering};
use crate::{Manifests, base, deploy_dir};

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

/// What must be the same between the chart and a kustomization: every
/// RBAC rule and subject set, the admission policy and its binding, and
/// the NetworkPolicy's rules, by kind and name (labels and Helm's
/// instance selectors aside).
fn comparable(rendering: &Rendering) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for doc in &rendering.docs {
        let kind = doc["kind"].as_str().unwrap_or_default();
        let key = format!(
            "{kind}/{}",
            doc["metadata"]["name"].as_str().unwrap_or_default()
        );
        let value = match kind {
            "ClusterRole" | "Role" => doc["rules"].clone(),
            "ClusterRoleBinding" | "RoleBinding" => {
                serde_json::json!([doc["roleRef"], doc["subjects"]])
            }
            "ValidatingAdmissionPolicy" | "ValidatingAdmissionPolicyBinding" => doc["spec"].clone(),
            "NetworkPolicy" => serde_json::json!([doc["spec"]["ingress"], doc["spec"]["egress"]]),
            _ => continue,
        };
        out.insert(key, value);
    }
    out
}

#[test]
fn helm_chart_renders_what_the_matching_kustomization_renders() {
    for (kustomization, helm) in [
        ("kustomize build base", "helm template (defaults)"),
        (
            "kustomize build overlays/sealed-secrets",
            "helm template (sealed-secrets only)",
        ),
        (
            "kustomize build overlays/external-secrets",
            "helm template (external-secrets only)",
        ),
    ] {
        let (k, h) = (render::named(kustomization), render::named(helm));
        assert_eq!(
            comparable(k),
            comparable(h),
            "{kustomization} and {helm} differ"
        );
        let (k, h) = (
            Manifests::parse(kustomization, &k.docs),
            Manifests::parse(helm, &h.docs),
        );
        assert_eq!(k.controllers(), h.controllers(), "{helm}");
    }
    let values = render::parse(
        "values.yaml",
        &std::fs::read_to_string(deploy_dir().join("helm/coffer/values.yaml")).unwrap(),
    );
    assert_eq!(values[0]["replicas"], 2);
    assert_eq!(values[0]["service"]["name"], "sealed-secrets-controller");
    assert_eq!(values[0]["leaderElection"]["enabled"], true);
}

#[test]
fn helm_lint_is_clean() {
    let out = render::run("helm", &["lint", "--strict", "helm/coffer"], &deploy_dir())
        .unwrap_or_else(|e| panic!("helm lint: {e}"));
    assert!(out.contains("0 chart(s) failed"), "{out}");
    assert!(
        !out.contains("[WARNING]") && !out.contains("[ERROR]"),
        "{out}"
    );
}

#[test]
fn helm_refuses_values_that_run_no_controller() {
    let err = render::helm(&[
        "sealedSecrets.enabled=false",
        "externalSecrets.enabled=false",
    ])
    .expect_err("helm template fails");
    assert!(
        err.contains("enable sealedSecrets, externalSecrets or both"),
        "{err}"
    );
}

/// The (container) ports a NetworkPolicy's ingress rules admit.
fn ingress_ports(policy: &k8s_openapi::api::networking::v1::NetworkPolicy) -> BTreeSet<String> {
    let spec = policy.spec.as_ref().unwrap();
    spec.ingress
        .iter()
        .flatten()
        .flat_map(|rule| rule.ports.iter().flatten())
        .map(
            |p| match p.port.as_ref().expect("every ingress rule names its port") {
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
            },
        )
        .collect()
}

#[test]
fn every_rendering_has_a_disruption_budget_a_network_policy_and_sized_resources() {
    for rendering in render::all() {
        let name = &rendering.name;
        let m = Manifests::parse(name, &rendering.docs);
        let deployment = &m.deployments[0];
        let spec = deployment.spec.as_ref().unwrap();
        let pod_labels = spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .clone()
            .unwrap();
        let selects = |selector: &Option<BTreeMap<String, String>>| {
            selector
                .iter()
                .flatten()
                .all(|(k, v)| pod_labels.get(k) == Some(v))
        };
        let replicas = spec.replicas.unwrap_or(1);
        let optional_off = name.contains("optional objects off");
        // A budget only where two replicas can share the load.
        match (&m.pod_disruption_budgets[..], replicas > 1 && !optional_off) {
            ([pdb], true) => {
                let pdb_spec = pdb.spec.as_ref().unwrap();
                assert!(pdb_spec.min_available.is_some(), "{name}");
                assert!(
                    selects(&pdb_spec.selector.as_ref().unwrap().match_labels),
                    "{name}: the budget selects the controller's pods"
                );
            }
            ([], false) => {}
            (pdbs, want) => panic!("{name}: {} budgets, want one: {want}", pdbs.len()),
        }
        if optional_off {
            assert!(m.network_policies.is_empty(), "{name}");
        } else {
            let [policy] = &m.network_policies[..] else {
                panic!("{name}: one NetworkPolicy");
            };
            let policy_spec = policy.spec.as_ref().unwrap();
            assert!(
                selects(&policy_spec.pod_selector.as_ref().unwrap().match_labels),
                "{name}"
            );
            assert_eq!(
                policy_spec.policy_types.clone().unwrap_or_default(),
                ["Ingress", "Egress"],
                "{name}"
            );
            assert_eq!(
                ingress_ports(policy),
                BTreeSet::from(["http".to_owned(), "metrics".to_owned()]),
                "{name}: ingress only to the certificate/verify and metrics ports"
            );
            // Providers (OpenBao's 8200) only where ExternalSecrets run.
            let egress = serde_json::to_string(&policy_spec.egress).unwrap();
            assert_eq!(
                egress.contains("8200"),
                m.controllers().1,
                "{name}: {egress}"
            );
        }
        let container = &spec.template.spec.as_ref().unwrap().containers[0];
        let resources = container.resources.as_ref().expect("resources");
        for (what, map) in [
            ("requests", &resources.requests),
            ("limits", &resources.limits),
        ] {
            assert!(
                map.as_ref().is_some_and(|m| m.contains_key("memory")),
                "{name}: memory {what}"
            );
        }
        // The ServiceMonitor only when asked for, and then on the metrics
        // Service.
        let monitors: Vec<&Value> = m
            .others
            .iter()
            .filter(|d| d["kind"] == "ServiceMonitor")
            .collect();
        if name.contains("every value set") {
            let [monitor] = &monitors[..] else {
                panic!("{name}: one ServiceMonitor");
            };
            assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
            let wanted = &monitor["spec"]["selector"]["matchLabels"];
            let metrics = m
                .services
                .iter()
                .filter(|s| {
                    let labels = s.metadata.labels.clone().unwrap_or_default();
                    wanted
                        .as_object()
                        .unwrap()
                        .iter()
                        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
                })
                .collect::<Vec<_>>();
            assert_eq!(metrics.len(), 1, "{name}: the monitor selects one Service");
            let port = &metrics[0].spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
            assert_eq!(port.name.as_deref(), Some("metrics"));
            assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
        } else {
            assert!(monitors.is_empty(), "{name}");
        }
    }
}

/// The controller binary accepts every argument each rendering passes it:
/// with no cluster to reach it gets past argument parsing (clap exits 2)
/// and stops at the API (exit 1, "cannot reach the Kubernetes API").
#[test]
fn the_controller_binary_accepts_every_rendered_argument() {
    let home = std::env::temp_dir().join(format!("coffer-deploy-args-{}", std::process::id()));
    for rendering in render::all() {
        let args = Manifests::parse(&rendering.name, &rendering.docs).args();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_coffer-controller"))
            .args(&args)
            .env_clear()
            .env("HOME", &home)
            .env("KUBECONFIG", home.join("no-such-kubeconfig"))
            .env("COFFER_NAMESPACE", "kube-system")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {args:?}: {stderr}",
            rendering.name
        );
        assert!(
            stderr.contains("cannot reach the Kubernetes API"),
            "{}: {stderr}",
            rendering.name
        );
    }
}
