//! The manifests under `deploy/`: they parse into Kubernetes types, grant
//! every permission the controller uses (listed once, in [`REQUIRED`]), keep
//! kubeseal's Service name and port, carry current copies of the CRDs, and
//! work: the controller, running as the manifests' ServiceAccount with
//! exactly their RBAC, elects a leader and unseals.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use coffer_controller::LeaseConfig;
use common::{World, secret_with_data};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use kube::api::{Api, Patch, PatchParams};
use serde_json::Value;

/// Where a permission must hold: in every namespace, or in the
/// controller's own.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    Cluster,
    ControllerNamespace,
}

/// Every API call the controller makes, as (API group, resource, verbs,
/// scope), with the code that makes it. Change this list with the code;
/// the test below checks the manifests against it.
const REQUIRED: &[(&str, &str, &[&str], Scope)] = &[
    // sealed::reconcile: watch SealedSecrets and Secrets, read, create and
    // replace the Secret, write status (server-side apply).
    (
        "bitnami.com",
        "sealedsecrets",
        &["get", "list", "watch"],
        Scope::Cluster,
    ),
    (
        "bitnami.com",
        "sealedsecrets/status",
        &["patch"],
        Scope::Cluster,
    ),
    (
        "",
        "secrets",
        &["get", "list", "watch", "create", "update"],
        Scope::Cluster,
    ),
    // Event recorder (events.k8s.io/v1; create, then patch for a series).
    (
        "events.k8s.io",
        "events",
        &["create", "patch"],
        Scope::Cluster,
    ),
    // sealed::keys: list, watch and create key Secrets.
    (
        "",
        "secrets",
        &["get", "list", "watch", "create"],
        Scope::ControllerNamespace,
    ),
    // lease: kube-lease-manager reads, creates and applies the Lease.
    (
        "coordination.k8s.io",
        "leases",
        &["get", "create", "patch"],
        Scope::ControllerNamespace,
    ),
    // The ExternalSecret controller (coffer-external): its resources and
    // their status, the ExternalSecrets a ClusterExternalSecret makes,
    // Secrets it writes (server-side apply), CA bundles, namespace labels,
    // and ServiceAccount tokens (and IRSA annotations) for provider auth.
    (
        "external-secrets.io",
        "externalsecrets",
        &[
            "get", "list", "watch", "create", "update", "patch", "delete",
        ],
        Scope::Cluster,
    ),
    (
        "external-secrets.io",
        "secretstores",
        &["get", "list", "watch"],
        Scope::Cluster,
    ),
    (
        "external-secrets.io",
        "clustersecretstores",
        &["get", "list", "watch"],
        Scope::Cluster,
    ),
    (
        "external-secrets.io",
        "clusterexternalsecrets",
        &["get", "list", "watch"],
        Scope::Cluster,
    ),
    (
        "external-secrets.io",
        "externalsecrets/status",
        &["patch", "update"],
        Scope::Cluster,
    ),
    (
        "external-secrets.io",
        "secretstores/status",
        &["patch", "update"],
        Scope::Cluster,
    ),
    (
        "external-secrets.io",
        "clustersecretstores/status",
        &["patch", "update"],
        Scope::Cluster,
    ),
    (
        "external-secrets.io",
        "clusterexternalsecrets/status",
        &["patch", "update"],
        Scope::Cluster,
    ),
    ("", "secrets", &["patch"], Scope::Cluster),
    ("", "configmaps", &["get"], Scope::Cluster),
    ("", "namespaces", &["get", "list", "watch"], Scope::Cluster),
    ("", "serviceaccounts/token", &["create"], Scope::Cluster),
    ("", "serviceaccounts", &["get"], Scope::Cluster),
];

fn deploy_dir() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("../../deploy")
}

/// Every document of a YAML file, as JSON values.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// The kustomize base's objects, parsed into their Kubernetes types.
#[derive(Default)]
struct Base {
    service_accounts: Vec<ServiceAccount>,
    cluster_roles: Vec<ClusterRole>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    roles: Vec<Role>,
    role_bindings: Vec<RoleBinding>,
    deployments: Vec<Deployment>,
    services: Vec<Service>,
}

fn typed<T: serde::de::DeserializeOwned>(doc: Value, file: &str) -> T {
    serde_json::from_value(doc).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn base() -> Base {
    let dir = deploy_dir().join("kustomize/base");
    let mut base = Base::default();
    for file in [
        "serviceaccount.yaml",
        "rbac.yaml",
        "deployment.yaml",
        "service.yaml",
    ] {
        for doc in documents(&dir.join(file)) {
            match doc["kind"].as_str().unwrap_or_default() {
                "ServiceAccount" => base.service_accounts.push(typed(doc, file)),
                "ClusterRole" => base.cluster_roles.push(typed(doc, file)),
                "ClusterRoleBinding" => base.cluster_role_bindings.push(typed(doc, file)),
                "Role" => base.roles.push(typed(doc, file)),
                "RoleBinding" => base.role_bindings.push(typed(doc, file)),
                "Deployment" => base.deployments.push(typed(doc, file)),
                "Service" => base.services.push(typed(doc, file)),
                other => panic!("{file}: unexpected kind {other:?}"),
            }
        }
    }
    base
}

fn grants(rules: &[PolicyRule], group: &str, resource: &str, verb: &str) -> bool {
    rules.iter().any(|r| {
        let has = |list: &Option<Vec<String>>, want: &str| {
            list.iter().flatten().any(|x| x == want || x == "*")
        };
        has(&r.api_groups, group)
            && r.resources
                .iter()
                .flatten()
                .any(|x| x == resource || x == "*")
            && r.verbs.iter().any(|v| v == verb || v == "*")
            && r.resource_names.is_none()
    })
}

/// The rules bound to the ServiceAccount, cluster-wide and in its namespace.
fn rules_for_service_account(base: &Base) -> (Vec<PolicyRule>, Vec<PolicyRule>) {
    let sa = &base.service_accounts[0].metadata;
    let is_sa = |subjects: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>| {
        subjects.iter().flatten().any(|s| {
            s.kind == "ServiceAccount"
                && Some(&s.name) == sa.name.as_ref()
                && s.namespace == sa.namespace
        })
    };
    let mut cluster = Vec::new();
    for binding in base
        .cluster_role_bindings
        .iter()
        .filter(|b| is_sa(&b.subjects))
    {
        let role = base
            .cluster_roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(binding.role_ref.name.as_str()))
            .expect("bound ClusterRole exists");
        cluster.extend(role.rules.clone().unwrap_or_default());
    }
    let mut namespaced = cluster.clone();
    for binding in base.role_bindings.iter().filter(|b| is_sa(&b.subjects)) {
        assert_eq!(binding.metadata.namespace, sa.namespace);
        let role = base
            .roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(binding.role_ref.name.as_str()))
            .expect("bound Role exists");
        namespaced.extend(role.rules.clone().unwrap_or_default());
    }
    (cluster, namespaced)
}

#[test]
fn rbac_grants_every_call_the_controller_makes() {
    let base = base();
    let (cluster, namespaced) = rules_for_service_account(&base);
    let mut missing = Vec::new();
    for (group, resource, verbs, scope) in REQUIRED {
        let rules = match scope {
            Scope::Cluster => &cluster,
            Scope::ControllerNamespace => &namespaced,
        };
        for verb in *verbs {
            if !grants(rules, group, resource, verb) {
                missing.push(format!("{verb} {group}/{resource} ({scope:?})"));
            }
        }
    }
    assert!(missing.is_empty(), "not granted: {missing:#?}");
    // Leases and key Secrets are the controller namespace's business only.
    assert!(!grants(&cluster, "coordination.k8s.io", "leases", "patch"));
    assert!(
        !grants(&cluster, "", "secrets", "delete"),
        "never deletes Secrets"
    );
}

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

/// Points the base's namespaced objects and cluster-wide names at a test's
/// own namespace and a unique suffix.
fn relocate<T: kube::Resource>(mut object: T, namespace: &str, suffix: &str) -> T {
    let meta = object.meta_mut();
    if meta.namespace.is_some() {
        meta.namespace = Some(namespace.to_owned());
    } else {
        meta.name = meta.name.as_ref().map(|n| format!("{n}-{suffix}"));
    }
    object
}

async fn apply<T>(client: &kube::Client, object: &T)
where
    T: kube::Resource<DynamicType = ()>
        + serde::Serialize
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    let name = object.meta().name.clone().unwrap();
    let resource = kube::api::ApiResource::erase::<T>(&());
    let api: Api<kube::api::DynamicObject> = match &object.meta().namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let mut params = PatchParams::apply("coffer-deploy-test").force();
    params.field_validation = Some(kube::api::ValidationDirective::Strict);
    api.patch(&name, &params, &Patch::Apply(object))
        .await
        .unwrap_or_else(|e| panic!("apply {} {name}: {e}", T::kind(&())));
}

#[tokio::test]
async fn controller_under_the_manifests_rbac_elects_and_unseals() {
    let world = World::new("deploy-rbac").await;
    let ns = world.ctrl_ns.name().to_owned();
    let base = base();
    let suffix = ns.clone();

    // Server-side apply, strictly validated, into the test's namespace.
    for sa in &base.service_accounts {
        apply(&world.client, &relocate(sa.clone(), &ns, &suffix)).await;
    }
    for role in &base.cluster_roles {
        apply(&world.client, &relocate(role.clone(), &ns, &suffix)).await;
    }
    for binding in &base.cluster_role_bindings {
        let mut binding = relocate(binding.clone(), &ns, &suffix);
        binding.role_ref.name = format!("{}-{suffix}", binding.role_ref.name);
        for s in binding.subjects.iter_mut().flatten() {
            s.namespace = Some(ns.clone());
        }
        apply(&world.client, &binding).await;
    }
    for role in &base.roles {
        apply(&world.client, &relocate(role.clone(), &ns, &suffix)).await;
    }
    for binding in &base.role_bindings {
        let mut binding = relocate(binding.clone(), &ns, &suffix);
        for s in binding.subjects.iter_mut().flatten() {
            if s.kind == "ServiceAccount" {
                s.namespace = Some(ns.clone());
            }
        }
        apply(&world.client, &binding).await;
    }
    for service in &base.services {
        apply(&world.client, &relocate(service.clone(), &ns, &suffix)).await;
    }
    for deployment in &base.deployments {
        // Stored and validated; no kubelet runs it here.
        apply(&world.client, &relocate(deployment.clone(), &ns, &suffix)).await;
    }

    // The controller as that ServiceAccount, with leader election on.
    let mut kube_config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(world.env.kubeconfig()).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    kube_config.auth_info.impersonate =
        Some(format!("system:serviceaccount:{ns}:coffer-controller"));
    let client = kube::Client::try_from(kube_config).unwrap();
    let mut config = world.config();
    config.leader_election = Some(LeaseConfig::new("coffer-controller", &ns));
    let running = coffer_controller::start(client, config)
        .await
        .expect("starts with the manifests' permissions");
    let leadership = running.leadership.clone();
    tokio::time::timeout(common::TIMEOUT, leadership.until_leader())
        .await
        .expect("acquires the Lease with the manifests' permissions");
    let key = common::eventually("the leader to create a key", || {
        let keys = running.context.keys.clone();
        async move { keys.newest().ok() }
    })
    .await;
    let sealed = coffer_sealed::seal_secret(
        &world.secret("db", &[("password", "hunter2")]),
        key.certificate().public_key(),
        None,
    )
    .unwrap();
    world
        .sealed_secrets()
        .create(&Default::default(), &sealed)
        .await
        .unwrap();
    secret_with_data(&world, "db", &[("password", "hunter2")]).await;
    common::synced(&world, "db", "True").await;
    assert_eq!(
        running
            .context
            .metrics
            .unseal_errors("status", world.ns.name()),
        0
    );

    // Cluster-wide objects outlive the namespace: remove them.
    let roles: Api<ClusterRole> = Api::all(world.client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(world.client.clone());
    let _ = roles
        .delete(&format!("coffer-controller-{suffix}"), &Default::default())
        .await;
    let _ = bindings
        .delete(&format!("coffer-controller-{suffix}"), &Default::default())
        .await;
}
