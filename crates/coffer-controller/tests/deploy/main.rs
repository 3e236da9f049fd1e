//! The manifests under `deploy/`: they parse into Kubernetes types, grant
//! exactly the permissions the controller uses (listed once, with the code
//! that uses each, in `rbac::REQUIRED`), keep kubeseal's Service name and
//! port, carry current copies of the CRDs (`manifests`), and work: the
//! controller, authenticated with a token of the manifests' ServiceAccount
//! and so holding exactly their RBAC, elects a leader, unseals, and syncs,
//! renames and deletes ExternalSecret targets (`live`).

#[path = "../common/mod.rs"]
mod common;
mod live;
mod manifests;
mod rbac;

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde_json::Value;

pub(crate) fn deploy_dir() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("../../deploy")
}

/// Every document of a YAML file, as JSON values.
pub(crate) fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// The kustomize base's objects, parsed into their Kubernetes types.
#[derive(Default)]
pub(crate) struct Base {
    pub service_accounts: Vec<ServiceAccount>,
    pub cluster_roles: Vec<ClusterRole>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
    pub deployments: Vec<Deployment>,
    pub services: Vec<Service>,
}

fn typed<T: serde::de::DeserializeOwned>(doc: Value, file: &str) -> T {
    serde_json::from_value(doc).unwrap_or_else(|e| panic!("{file}: {e}"))
}

pub(crate) fn base() -> Base {
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
