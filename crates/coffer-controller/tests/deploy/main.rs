//! The manifests under `deploy/`, as the real `kustomize build` and `helm
//! template` render them (`render`): they parse into Kubernetes types,
//! pass a server-side dry run on the local control plane, grant exactly the
//! permissions the enabled controllers use (listed once, with the code that
//! uses each, in `rbac::REQUIRED`), keep kubeseal's Service name and port,
//! carry current copies of the CRDs (`manifests`), and work: the
//! controller, authenticated with a token of each kustomization's
//! ServiceAccount and so holding exactly its RBAC, elects a leader,
//! unseals, and syncs, renames and deletes ExternalSecret targets, and
//! cannot plant a key Secret outside its namespace (`live`).

#[path = "../common/mod.rs"]
mod common;
mod dry_run;
mod live;
mod live_overlays;
mod manifests;
mod rbac;
mod render;
mod static_binary;

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde_json::Value;

pub(crate) fn deploy_dir() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("../../deploy")
}

/// One rendering's objects, parsed into their Kubernetes types (the rest,
/// CRDs and admission policies among them, stay JSON in `others`).
#[derive(Default)]
pub(crate) struct Manifests {
    pub service_accounts: Vec<ServiceAccount>,
    pub cluster_roles: Vec<ClusterRole>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
    pub deployments: Vec<Deployment>,
    pub services: Vec<Service>,
    pub pod_disruption_budgets: Vec<PodDisruptionBudget>,
    pub network_policies: Vec<NetworkPolicy>,
    pub others: Vec<Value>,
}

fn typed<T: serde::de::DeserializeOwned>(doc: &Value, what: &str) -> T {
    serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{what}: {e}"))
}

impl Manifests {
    pub(crate) fn parse(what: &str, docs: &[Value]) -> Manifests {
        let mut m = Manifests::default();
        for doc in docs {
            match doc["kind"].as_str().unwrap_or_default() {
                "ServiceAccount" => m.service_accounts.push(typed(doc, what)),
                "ClusterRole" => m.cluster_roles.push(typed(doc, what)),
                "ClusterRoleBinding" => m.cluster_role_bindings.push(typed(doc, what)),
                "Role" => m.roles.push(typed(doc, what)),
                "RoleBinding" => m.role_bindings.push(typed(doc, what)),
                "Deployment" => m.deployments.push(typed(doc, what)),
                "Service" => m.services.push(typed(doc, what)),
                "PodDisruptionBudget" => m.pod_disruption_budgets.push(typed(doc, what)),
                "NetworkPolicy" => m.network_policies.push(typed(doc, what)),
                _ => m.others.push(doc.clone()),
            }
        }
        m
    }

    /// The controller's arguments, as its one Deployment passes them.
    pub(crate) fn args(&self) -> Vec<String> {
        assert_eq!(self.deployments.len(), 1, "one Deployment");
        let pod = self.deployments[0]
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref();
        pod.unwrap().containers[0].args.clone().unwrap_or_default()
    }

    /// Whether the Deployment runs the SealedSecret and the ExternalSecret
    /// controllers (each on unless its flag says `false`).
    pub(crate) fn controllers(&self) -> (bool, bool) {
        let args = self.args();
        let on = |flag: &str| !args.iter().any(|a| a == &format!("--{flag}=false"));
        (on("sealed-secrets"), on("external-secrets"))
    }
}

/// The kustomize base (both controllers), rendered by `kustomize build`.
pub(crate) fn base() -> Manifests {
    let rendering = render::named("kustomize build base");
    Manifests::parse(&rendering.name, &rendering.docs)
}
