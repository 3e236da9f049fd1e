//! `external-secrets.io/v1` ClusterExternalSecret: one ExternalSecret spec
//! stamped into every namespace a selector or list picks, as ESO defines it.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::{DurationError, parse_go_duration};
use super::external_secret::ExternalSecretSpec;
use super::meta::{DNS_LABEL, DNS_SUBDOMAIN};

/// A ClusterExternalSecret's `Ready` condition type.
pub const CES_CONDITION_READY: &str = "Ready";

/// ClusterExternalSecretSpec defines the desired state of ClusterExternalSecret.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "ClusterExternalSecret",
    plural = "clusterexternalsecrets",
    singular = "clusterexternalsecret",
    shortname = "ces",
    category = "external-secrets",
    status = "ClusterExternalSecretStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "ClusterExternalSecret is the Schema for the clusterexternalsecrets API.",
    printcolumn = r#"{"jsonPath": ".spec.externalSecretSpec.secretStoreRef.name", "name": "Store", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".spec.refreshTime", "name": "Refresh Interval", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "name": "Ready", "type": "string"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterExternalSecretSpec {
    /// The spec of the ExternalSecrets to create.
    pub external_secret_spec: ExternalSecretSpec,

    /// The name of the ExternalSecrets to create; defaults to the
    /// ClusterExternalSecret's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub external_secret_name: Option<String>,

    /// Labels and annotations of the ExternalSecrets to create.
    #[serde(default, skip_serializing_if = "super::external_secret::is_default")]
    pub external_secret_metadata: ExternalSecretMetadata,

    /// Deprecated in ESO: use `namespaceSelectors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,

    /// Namespaces matching any of these selectors get the ExternalSecret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_selectors: Vec<LabelSelector>,

    /// Namespaces by name (ORed with the selectors; deprecated in ESO).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1, max = 63), regex(pattern = DNS_LABEL)))]
    pub namespaces: Vec<String>,

    /// How often to recheck namespaces, as a Go duration string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<String>,
}

impl ClusterExternalSecretSpec {
    /// `refreshTime` parsed; `None` when unset.
    pub fn refresh_time(&self) -> Result<Option<Duration>, DurationError> {
        self.refresh_time
            .as_deref()
            .map(parse_go_duration)
            .transpose()
    }

    /// The name of the ExternalSecrets to create.
    pub fn external_secret_name<'a>(&'a self, cluster_external_secret_name: &'a str) -> &'a str {
        self.external_secret_name
            .as_deref()
            .unwrap_or(cluster_external_secret_name)
    }
}

/// Labels and annotations for the ExternalSecrets a ClusterExternalSecret creates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ExternalSecretMetadata {
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// The observed state of a ClusterExternalSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterExternalSecretStatus {
    /// The name of the ExternalSecrets created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_secret_name: Option<String>,
    /// Namespaces where creating the ExternalSecret failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_namespaces: Vec<NamespaceFailure>,
    /// Namespaces where the ExternalSecret exists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provisioned_namespaces: Vec<String>,
    /// Conditions (`Ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ClusterExternalSecretCondition>,
}

/// A namespace where the ExternalSecret could not be created, and why.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct NamespaceFailure {
    /// The namespace.
    pub namespace: String,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A condition on a ClusterExternalSecret (ESO's has no reason or time).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ClusterExternalSecretCondition {
    /// The condition type, [`CES_CONDITION_READY`].
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
