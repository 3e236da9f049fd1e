//! The RBAC the manifests bind to the controller's ServiceAccount, checked
//! against [`REQUIRED`], the list of every API call the controllers make:
//! each verb used is granted, and nothing else is.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};

use crate::{Base, base};

/// Where a permission must hold: in every namespace, or in the
/// controller's own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scope {
    Cluster,
    ControllerNamespace,
}

/// Every API call the controllers make, as (API group, resource, verbs,
/// scope), with the code that makes it. Change this list with the code;
/// the tests check the manifests against it, both ways, and `live` runs
/// the controller with exactly these permissions.
pub(crate) const REQUIRED: &[(&str, &str, &[&str], Scope)] = &[
    // sealed::reconcile: the SealedSecret watch (a kube Controller lists
    // and watches; nothing reads one by name) and its status (server-side
    // apply on the status subresource).
    (
        "bitnami.com",
        "sealedsecrets",
        &["list", "watch"],
        Scope::Cluster,
    ),
    (
        "bitnami.com",
        "sealedsecrets/status",
        &["patch"],
        Scope::Cluster,
    ),
    // Secrets. sealed::reconcile: watch, read, create, replace.
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
    ),
    // Event recorders (kube's, events.k8s.io/v1: create, then patch for a
    // series).
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
        &["list", "watch", "create"],
        Scope::ControllerNamespace,
    ),
    // lease: kube-lease-manager reads, creates and patches the Lease.
    (
        "coordination.k8s.io",
        "leases",
        &["get", "create", "patch"],
        Scope::ControllerNamespace,
    ),
    // coffer-external. ExternalSecrets: watched by their controller and by
    // the ClusterExternalSecret controller (cluster.rs), which reads,
    // server-side applies (patch, and create for a new one) and deletes
    // the ones it makes.
    (
        "external-secrets.io",
        "externalsecrets",
        &["get", "list", "watch", "create", "patch", "delete"],
        Scope::Cluster,
    ),
    // Stores: reflector caches (lib.rs); ClusterExternalSecrets: their
    // controller (cluster.rs).
    (
        "external-secrets.io",
        "secretstores",
        &["list", "watch"],
        Scope::Cluster,
    ),
    (
        "external-secrets.io",
        "clustersecretstores",
        &["list", "watch"],
        Scope::Cluster,
    ),
    (
        "external-secrets.io",
        "clusterexternalsecrets",
        &["list", "watch"],
        Scope::Cluster,
    ),
    // Status: merge patches (reconcile.rs, store_status.rs, cluster.rs).
    (
        "external-secrets.io",
        "externalsecrets/status",
        &["patch"],
        Scope::Cluster,
    ),
    (
        "external-secrets.io",
        "secretstores/status",
        &["patch"],
        Scope::Cluster,
    ),
    (
        "external-secrets.io",
        "clustersecretstores/status",
        &["patch"],
        Scope::Cluster,
    ),
    (
        "external-secrets.io",
        "clusterexternalsecrets/status",
        &["patch"],
        Scope::Cluster,
    ),
    // templateFrom ConfigMaps (build.rs) and caProvider ConfigMaps
    // (store/credentials.rs).
    ("", "configmaps", &["get"], Scope::Cluster),
    // ClusterSecretStore conditions read a namespace's labels (store.rs);
    // the ClusterExternalSecret controller watches and lists namespaces.
    ("", "namespaces", &["get", "list", "watch"], Scope::Cluster),
    // token.rs: TokenRequest for provider auth; store/credentials.rs: the
    // IRSA annotations of a ServiceAccount.
    ("", "serviceaccounts/token", &["create"], Scope::Cluster),
    ("", "serviceaccounts", &["get"], Scope::Cluster),
];

/// (group, resource) → verbs.
type Grants = BTreeMap<(String, String), BTreeSet<String>>;

/// What [`REQUIRED`] asks for in every namespace (`Cluster`) and in the
/// controller's namespace (everything).
fn required(scope: Scope) -> Grants {
    let mut out = Grants::new();
    for (group, resource, verbs, s) in REQUIRED {
        if scope == Scope::Cluster && *s != Scope::Cluster {
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
fn rules_for_service_account(base: &Base) -> (Vec<PolicyRule>, Vec<PolicyRule>) {
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
fn rbac_grants_exactly_the_calls_the_controller_makes() {
    let base = base();
    let (cluster, namespaced) = rules_for_service_account(&base);
    let everywhere = differences(&granted(&cluster), &required(Scope::Cluster));
    assert!(
        everywhere.is_empty(),
        "ClusterRole vs the code: {everywhere:#?}"
    );
    let at_home = differences(&granted(&namespaced), &required(Scope::ControllerNamespace));
    assert!(
        at_home.is_empty(),
        "controller namespace vs the code: {at_home:#?}"
    );
    // Leases are the controller namespace's business only; Secrets may be
    // deleted (ExternalSecrets' deletionPolicy and renames), as ESO's
    // ClusterRole allows.
    let cluster = granted(&cluster);
    assert!(!cluster.contains_key(&("coordination.k8s.io".into(), "leases".into())));
    assert!(cluster[&(String::new(), "secrets".into())].contains("delete"));
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
