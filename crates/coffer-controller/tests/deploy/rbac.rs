//! The RBAC every rendering (each kustomization, each `helm template` run)
//! binds to the controller's ServiceAccount, checked against [`REQUIRED`],
//! the list of every API call the controllers make, for the controllers
//! that rendering's Deployment runs: each verb used is granted, and nothing
//! else is.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};

use crate::{Manifests, render};

/// Where a permission must hold: in every namespace, or in the
/// controller's own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scope {
    Cluster,
    ControllerNamespace,
}

/// Which controllers make a call: both, or only the SealedSecret or only
/// the ExternalSecret one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum By {
    Both,
    Sealed,
    External,
}

/// Every API call the controllers make, as (API group, resource, verbs,
/// scope, which controller), with the code that makes it. Change this list with the code;
/// the tests check the manifests against it, both ways, and `live` runs
/// the controller with exactly these permissions.
pub(crate) const REQUIRED: &[(&str, &str, &[&str], Scope, By)] = &[
    // sealed::reconcile: the SealedSecret watch (a kube Controller lists
    // and watches; nothing reads one by name) and its status (server-side
    // apply on the status subresource).
    (
        "bitnami.com",
        "sealedsecrets",
        &["list", "watch"],
        Scope::Cluster,
        By::Sealed,
    ),
    (
        "bitnami.com",
        "sealedsecrets/status",
        &["patch"],
        Scope::Cluster,
        By::Sealed,
    ),
    // Secrets. sealed::reconcile: watch, read, create, replace.
    (
        "",
        "secrets",
        &["get", "list", "watch", "create", "update"],
        Scope::Cluster,
        By::Sealed,
    ),
    // coffer-external: the managed-Secret watch and its first list
    // (secrets.rs, lib.rs); write.rs reads, creates and replaces targets,
    // lists (metadata) and deletes the Secrets a renamed target left
    // behind, and deletes the target under `deletionPolicy: Delete`;
    // store/credentials.rs and build.rs read credential and templateFrom
    // Secrets.
    (
        "",
        "secrets",
        &["get", "list", "watch", "create", "update", "delete"],
        Scope::Cluster,
        By::External,
    ),
    // Event recorders (kube's, events.k8s.io/v1: create, then patch for a
    // series).
    (
        "events.k8s.io",
        "events",
        &["create", "patch"],
        Scope::Cluster,
        By::Both,
    ),
    // sealed::keys: the key registry lists and watches key Secrets in
    // every process (lib.rs `start`: the certificate endpoint answers from
    // it); only the SealedSecret controller creates keys (sealed::lead).
    (
        "",
        "secrets",
        &["list", "watch"],
        Scope::ControllerNamespace,
        By::Both,
    ),
    (
        "",
        "secrets",
        &["create"],
        Scope::ControllerNamespace,
        By::Sealed,
    ),
    // lease: kube-lease-manager reads, creates and patches the Lease (the
    // leader's, and with --shards each shard's); shard/members.rs applies
    // (patch) its member Lease, lists the members and deletes its own (and
    // long-expired ones).
    (
        "coordination.k8s.io",
        "leases",
        &["get", "list", "create", "patch", "delete"],
        Scope::ControllerNamespace,
        By::Both,
    ),
    // coffer-external. ExternalSecrets: watched by their controller and by
    // the ClusterExternalSecret controller (cluster_external_secret.rs),
    // which reads, server-side applies (patch, and create for a new one)
    // and deletes the ones it makes.
    (
        "external-secrets.io",
        "externalsecrets",
        &["get", "list", "watch", "create", "patch", "delete"],
        Scope::Cluster,
        By::External,
    ),
    // Stores: reflector caches (lib.rs); ClusterExternalSecrets: their
    // controller (cluster_external_secret.rs).
    (
        "external-secrets.io",
        "secretstores",
        &["list", "watch"],
        Scope::Cluster,
        By::External,
    ),
    (
        "external-secrets.io",
        "clustersecretstores",
        &["list", "watch"],
        Scope::Cluster,
        By::External,
    ),
    (
        "external-secrets.io",
        "clusterexternalsecrets",
        &["list", "watch"],
        Scope::Cluster,
        By::External,
    ),
    // Status: merge patches (reconcile.rs, store_status.rs,
    // cluster_external_secret.rs).
    (
        "external-secrets.io",
        "externalsecrets/status",
        &["patch"],
        Scope::Cluster,
        By::External,
    ),
    (
        "external-secrets.io",
        "secretstores/status",
        &["patch"],
        Scope::Cluster,
        By::External,
    ),
    (
        "external-secrets.io",
        "clustersecretstores/status",
        &["patch"],
        Scope::Cluster,
        By::External,
    ),
    (
        "external-secrets.io",
        "clusterexternalsecrets/status",
        &["patch"],
        Scope::Cluster,
        By::External,
    ),
    // templateFrom ConfigMaps (build.rs) and caProvider ConfigMaps
    // (store/credentials.rs).
    ("", "configmaps", &["get"], Scope::Cluster, By::External),
    // ClusterSecretStore conditions read a namespace's labels (store.rs);
    // the ClusterExternalSecret controller watches and lists namespaces.
    (
        "",
        "namespaces",
        &["get", "list", "watch"],
        Scope::Cluster,
        By::External,
    ),
    // token.rs: TokenRequest for provider auth; store/credentials.rs: the
    // IRSA annotations of a ServiceAccount.
    (
        "",
        "serviceaccounts/token",
        &["create"],
        Scope::Cluster,
        By::External,
    ),
    (
        "",
        "serviceaccounts",
        &["get"],
        Scope::Cluster,
        By::External,
    ),
];

/// (group, resource) → verbs.
type Grants = BTreeMap<(String, String), BTreeSet<String>>;

/// What [`REQUIRED`] asks for in every namespace (`Cluster`) and in the
/// controller's namespace (everything), for the controllers that run
/// (`sealed`, `external`).
fn required(scope: Scope, (sealed, external): (bool, bool)) -> Grants {
    let mut out = Grants::new();
    for (group, resource, verbs, s, by) in REQUIRED {
        if scope == Scope::Cluster && *s != Scope::Cluster {
            continue;
        }
        let runs = match by {
            By::Both => true,
            By::Sealed => sealed,
            By::External => external,
        };
        if !runs {
            continue;
        }
        out.entry((group.to_string(), resource.to_string()))
            .or_default()
            .extend(verbs.iter().map(|v| v.to_string()));
    }
    out
}

/// What `rules` grant; panics on a wildcard or a `resourceNames` rule,
/// which the comparison could not account for.
fn granted(rules: &[PolicyRule]) -> Grants {
    let mut out = Grants::new();
    for rule in rules {
        assert!(
            rule.resource_names.is_none(),
            "the controller's rules name no single object: {rule:?}"
        );
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    assert!(
                        group != "*" && resource != "*" && verb != "*",
                        "no wildcards in the controller's rules: {rule:?}"
                    );
                    out.entry((group.clone(), resource.clone()))
                        .or_default()
                        .insert(verb.clone());
                }
            }
        }
    }
    out
}

/// The rules bound to the ServiceAccount, cluster-wide and in its
/// namespace (the cluster-wide ones hold there too).
fn rules_for_service_account(base: &Manifests) -> (Vec<PolicyRule>, Vec<PolicyRule>) {
    let sa = &base.service_accounts[0].metadata;
    let is_sa = |subjects: &Option<Vec<Subject>>| {
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

/// The differences between what is granted and what is required, as
/// readable lines (`+` granted but unused, `-` used but not granted).
fn differences(granted: &Grants, required: &Grants) -> Vec<String> {
    let keys: BTreeSet<&(String, String)> = granted.keys().chain(required.keys()).collect();
    let none = BTreeSet::new();
    let mut out = Vec::new();
    for key in keys {
        let g = granted.get(key).unwrap_or(&none);
        let r = required.get(key).unwrap_or(&none);
        let name = format!("{}/{}", key.0, key.1);
        out.extend(
            g.difference(r)
                .map(|v| format!("+ {v} {name} (granted, never used)")),
        );
        out.extend(
            r.difference(g)
                .map(|v| format!("- {v} {name} (used, not granted)")),
        );
    }
    out
}

#[test]
fn every_rendering_grants_exactly_the_calls_its_controllers_make() {
    for rendering in render::all() {
        let manifests = Manifests::parse(&rendering.name, &rendering.docs);
        let controllers = manifests.controllers();
        let (cluster, namespaced) = rules_for_service_account(&manifests);
        let everywhere = differences(&granted(&cluster), &required(Scope::Cluster, controllers));
        assert!(
            everywhere.is_empty(),
            "{}: ClusterRole vs the code of the controllers it runs {controllers:?}: {everywhere:#?}",
            rendering.name
        );
        let at_home = differences(
            &granted(&namespaced),
            &required(Scope::ControllerNamespace, controllers),
        );
        assert!(
            at_home.is_empty(),
            "{}: controller namespace vs the code: {at_home:#?}",
            rendering.name
        );
        // Leases are the controller namespace's business only; Secrets may
        // be deleted only where ExternalSecrets run (deletionPolicy and
        // renames, as ESO's ClusterRole allows).
        let cluster = granted(&cluster);
        assert!(!cluster.contains_key(&("coordination.k8s.io".into(), "leases".into())));
        assert_eq!(
            cluster[&(String::new(), "secrets".into())].contains("delete"),
            controllers.1,
            "{}",
            rendering.name
        );
    }
}

#[test]
fn each_overlay_runs_and_grants_only_its_own_controller() {
    let expect = [
        ("kustomize build base", (true, true)),
        ("kustomize build overlays/sealed-secrets", (true, false)),
        ("kustomize build overlays/external-secrets", (false, true)),
        ("helm template (sealed-secrets only)", (true, false)),
        ("helm template (external-secrets only)", (false, true)),
    ];
    for (name, controllers) in expect {
        let rendering = render::named(name);
        let manifests = Manifests::parse(name, &rendering.docs);
        assert_eq!(manifests.controllers(), controllers, "{name}");
        let groups: BTreeSet<String> = rules_for_service_account(&manifests)
            .1
            .iter()
            .flat_map(|r| r.api_groups.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            groups.contains("bitnami.com"),
            controllers.0,
            "{name}: {groups:?}"
        );
        assert_eq!(
            groups.contains("external-secrets.io"),
            controllers.1,
            "{name}: {groups:?}"
        );
        // The kustomizations install only their controllers' CRDs (Helm
        // installs crds/ whole; values.yaml says so).
        if name.starts_with("kustomize") {
            let crds: BTreeSet<&str> = manifests
                .others
                .iter()
                .filter(|d| d["kind"] == "CustomResourceDefinition")
                .filter_map(|d| d["spec"]["group"].as_str())
                .collect();
            assert_eq!(crds.contains("bitnami.com"), controllers.0, "{name}");
            assert_eq!(
                crds.contains("external-secrets.io"),
                controllers.1,
                "{name}"
            );
        }
    }
}

#[test]
fn the_comparison_catches_an_extra_or_a_missing_verb() {
    let rule = |verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec!["configmaps".into()]),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    };
    let want = granted(&[rule(&["get"])]);
    assert!(differences(&granted(&[rule(&["get"])]), &want).is_empty());
    assert_eq!(
        differences(&granted(&[rule(&["get", "list"])]), &want).len(),
        1
    );
    assert_eq!(differences(&granted(&[rule(&[])]), &want).len(), 1);
}
