//! `bitnami.com/v1alpha1` SealedSecret, schema-compatible with Bitnami
//! sealed-secrets so that a cluster can switch controllers and keep its
//! manifests.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// SealedSecret is a Secret whose values are encrypted with the controller's
/// public key. Only the controller in the target cluster can open them.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "bitnami.com",
    version = "v1alpha1",
    kind = "SealedSecret",
    plural = "sealedsecrets",
    singular = "sealedsecret",
    namespaced,
    status = "SealedSecretStatus",
    doc = "SealedSecret is the K8s representation of a \"sealed Secret\" - a regular k8s Secret that has been sealed (encrypted) using the controller's key.",
    printcolumn = r#"{"jsonPath": ".status.conditions[0].message", "name": "Status", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[0].status", "name": "Synced", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretSpec {
    /// Per-key sealed values: base64 of the hybrid-encrypted bytes.
    // NB: Bitnami's schema also preserves unknown fields here; kept for
    // manifest compatibility.
    #[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
    pub encrypted_data: BTreeMap<String, String>,

    /// Template for the Secret that is created from this SealedSecret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<SecretTemplateSpec>,

    /// Data is deprecated and will be removed eventually. Use per-value
    /// EncryptedData instead. One sealed blob holding the whole Secret as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "byte_string")]
    pub data: Option<String>,
}

/// Template defines the structure of the Secret that will be created from
/// this sealed secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretTemplateSpec {
    /// Standard object's metadata for the Secret: labels, annotations, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "open_object")]
    pub metadata: Option<ObjectMeta>,

    /// Used to facilitate programmatic handling of secret data.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,

    /// Immutable, if set to true, ensures that data stored in the Secret
    /// cannot be updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,

    /// Keys that should be templated using decrypted data. Set a key with
    /// the same name as in `encryptedData` to `null` to omit the unsealed
    /// value from the final Secret (Bitnami v0.40).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "nullable_string_map")]
    pub data: Option<BTreeMap<String, Option<String>>>,
}

/// SealedSecretStatus is the most recently observed status of the
/// SealedSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretStatus {
    /// ObservedGeneration reflects the generation most recently observed by
    /// the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Represents the latest available observations of a sealed secret's
    /// current state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<SealedSecretCondition>,
}

/// SealedSecretCondition describes the state of a sealed secret at a certain
/// point.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretCondition {
    /// Type of condition for a sealed secret. Valid value: "Synced".
    #[serde(rename = "type")]
    pub type_: String,
    /// Status of the condition: "True", "False", or "Unknown".
    pub status: String,
    /// The last time this condition was updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
    /// Last time the condition transitioned from one status to another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// The reason for the condition's last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A human readable message indicating details about the transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn byte_string(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "format": "byte" })
}

fn open_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

fn nullable_string_map(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "nullable": true,
        // NB: Bitnami's CRD leaves the values non-nullable, so the API
        // server refuses the `null` entries its own controller documents;
        // ours accepts them.
        "additionalProperties": { "type": "string", "nullable": true }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest as kubeseal writes it parses, and keeps every field.
    #[test]
    fn kubeseal_manifest_round_trips() {
        let yaml = r#"
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: mysecret
  namespace: prod
  annotations:
    sealedsecrets.bitnami.com/namespace-wide: "true"
spec:
  encryptedData:
    password: AgBy3i4OJSWK+PiTySYZZA==
  template:
    metadata:
      name: mysecret
      namespace: prod
      labels: {app: web}
    type: kubernetes.io/basic-auth
    immutable: true
    data:
      url: "https://{{ index . \"password\" }}@host"
"#;
        let sealed: SealedSecret = serde_saphyr::from_str(yaml).expect("parses");
        assert_eq!(
            sealed.spec.encrypted_data["password"],
            "AgBy3i4OJSWK+PiTySYZZA=="
        );
        let template = sealed.spec.template.as_ref().expect("template");
        assert_eq!(template.type_.as_deref(), Some("kubernetes.io/basic-auth"));
        assert_eq!(template.immutable, Some(true));
        assert_eq!(
            template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.as_ref())
                .map(|l| l["app"].as_str()),
            Some("web")
        );
        let back = serde_json::to_value(&sealed).expect("serializes");
        assert_eq!(back["spec"]["template"]["type"], "kubernetes.io/basic-auth");
        assert!(
            back["spec"].get("data").is_none(),
            "absent deprecated data stays absent"
        );
    }
}
