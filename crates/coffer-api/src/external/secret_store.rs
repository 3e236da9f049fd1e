//! `external-secrets.io/v1` SecretStore and ClusterSecretStore: where an
//! ExternalSecret reads from. Both kinds share [`SecretStoreSpec`], as in
//! ESO. The `aws` and `vault` providers are typed; every other ESO provider
//! is accepted as given (so its manifests apply) and reported by
//! [`SecretStoreProvider::kind`], so the controller can say it is not
//! supported.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::core::object::{HasSpec, HasStatus};
use kube::core::{ClusterResourceScope, Resource};
use kube::{CustomResource, CustomResourceExt};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::aws::AwsProvider;
use super::duration::{DurationError, parse_go_duration};
use super::meta::DNS_LABEL;
use super::vault::VaultProvider;

/// A store's `Ready` condition type.
pub const STORE_CONDITION_READY: &str = "Ready";
/// Reason: the store's configuration is invalid.
pub const REASON_INVALID_STORE: &str = "InvalidStoreConfiguration";
/// Reason: the provider's configuration is invalid.
pub const REASON_INVALID_PROVIDER_CONFIG: &str = "InvalidProviderConfig";
/// Reason: validating the store against the provider failed.
pub const REASON_VALIDATION_FAILED: &str = "ValidationFailed";
/// Reason: the store could not be validated either way.
pub const REASON_VALIDATION_UNKNOWN: &str = "ValidationUnknown";
/// Reason: the store is valid.
pub const REASON_STORE_VALID: &str = "Valid";
/// Reason: the store's provider is unmaintained.
pub const REASON_STORE_UNMAINTAINED: &str = "StoreUnmaintained";
/// Reason: the store's provider is deprecated.
pub const REASON_STORE_DEPRECATED: &str = "StoreDeprecated";

/// SecretStoreSpec defines the desired state of SecretStore (and of
/// ClusterSecretStore, which shares it).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "SecretStore",
    plural = "secretstores",
    singular = "secretstore",
    shortname = "ss",
    category = "external-secrets",
    namespaced,
    status = "SecretStoreStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "SecretStore represents a secure external location for storing secrets, which can be referenced as part of `storeRef` fields.",
    printcolumn = r#"{"jsonPath": ".metadata.creationTimestamp", "name": "AGE", "type": "date"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "name": "Status", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.capabilities", "name": "Capabilities", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "name": "Ready", "type": "string"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreSpec {
    /// Selects the controller instance (like an ingress class name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,

    /// The provider; exactly one may be set.
    pub provider: SecretStoreProvider,

    /// HTTP retries on failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_settings: Option<RetrySettings>,

    /// How often the store is validated again: an integer number of
    /// seconds (ESO's legacy form) or a Go duration (`"1h"`, `"5m"`); empty
    /// or 0 uses the controller's `--store-requeue-interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<IntOrString>,

    /// Namespaces allowed to use a ClusterSecretStore (ignored on a
    /// SecretStore). Any matching condition admits a namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ClusterSecretStoreCondition>,
}

impl SecretStoreSpec {
    /// `refreshInterval` as a duration; `None` when unset, empty or 0 (use
    /// the controller's setting); an error for a string that is not a Go
    /// duration (or a negative one).
    pub fn refresh_interval(&self) -> Result<Option<Duration>, DurationError> {
        let interval = match &self.refresh_interval {
            None => return Ok(None),
            Some(IntOrString::Int(secs)) => Duration::from_secs(u64::try_from(*secs).unwrap_or(0)),
            Some(IntOrString::String(s)) if s.is_empty() => return Ok(None),
            Some(IntOrString::String(s)) => parse_go_duration(s)?,
        };
        Ok((!interval.is_zero()).then_some(interval))
    }
}

/// The provider configuration of a store.
///
/// ESO has one optional field per provider. Coffer types the ones it
/// implements and keeps every other provider's configuration, by its ESO
/// field name, in [`other`](Self::other); the schema preserves those fields.
///
/// `Debug` shows only the names of those other providers: some carry secret
/// values inline (ESO's `fake` provider holds its data in the store).
#[derive(Serialize, Deserialize, Clone, Default, PartialEq)]
pub struct SecretStoreProvider {
    /// AWS Secrets Manager / Parameter Store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsProvider>,
    /// HashiCorp Vault / OpenBao.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<VaultProvider>,
    /// Every other provider (`gcpsm`, `azurekv`, `kubernetes`, `fake`, ...),
    /// as given in the manifest.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// Which provider a store uses, as far as Coffer is concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProviderKind<'a> {
    /// The AWS provider.
    Aws(&'a AwsProvider),
    /// The Vault provider.
    Vault(&'a VaultProvider),
    /// An ESO provider Coffer does not implement, by its field name.
    Unsupported(&'a str),
    /// No provider is set.
    None,
    /// More than one provider is set (ESO's schema forbids it).
    Many,
}

impl SecretStoreProvider {
    /// The one provider configured, or why there is not exactly one.
    pub fn kind(&self) -> ProviderKind<'_> {
        let count =
            usize::from(self.aws.is_some()) + usize::from(self.vault.is_some()) + self.other.len();
        if count > 1 {
            return ProviderKind::Many;
        }
        if let Some(aws) = &self.aws {
            return ProviderKind::Aws(aws);
        }
        if let Some(vault) = &self.vault {
            return ProviderKind::Vault(vault);
        }
        match self.other.keys().next() {
            Some(name) => ProviderKind::Unsupported(name),
            None => ProviderKind::None,
        }
    }

    /// The ESO field names of every provider set, for messages.
    pub fn names(&self) -> Vec<&str> {
        let typed = [("aws", self.aws.is_some()), ("vault", self.vault.is_some())];
        typed
            .into_iter()
            .filter(|(_, set)| *set)
            .map(|(name, _)| name)
            .chain(self.other.keys().map(String::as_str))
            .collect()
    }
}

impl std::fmt::Debug for SecretStoreProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStoreProvider")
            .field("aws", &self.aws)
            .field("vault", &self.vault)
            .field("other", &self.other.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl JsonSchema for SecretStoreProvider {
    fn schema_name() -> Cow<'static, str> {
        "SecretStoreProvider".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        // NB: a structural schema may not mix `properties` with
        // `additionalProperties`, so the untyped providers are kept with
        // x-kubernetes-preserve-unknown-fields. Matches ESO: exactly one
        // provider (min/maxProperties 1).
        json_schema!({
            "description": "Used to configure the provider. Only one provider may be set.",
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "properties": {
                "aws": generator.subschema_for::<AwsProvider>(),
                "vault": generator.subschema_for::<VaultProvider>(),
            },
            "x-kubernetes-preserve-unknown-fields": true,
        })
    }
}

/// HTTP retry settings for a store.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetrySettings {
    /// Maximum number of retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,
    /// Time between retries, as a Go duration string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<String>,
}

impl RetrySettings {
    /// `retryInterval` parsed; `None` when unset.
    pub fn retry_interval(&self) -> Result<Option<Duration>, DurationError> {
        self.retry_interval
            .as_deref()
            .map(parse_go_duration)
            .transpose()
    }
}

/// A rule admitting namespaces to a ClusterSecretStore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSecretStoreCondition {
    /// Namespaces whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Namespaces by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1, max = 63), regex(pattern = DNS_LABEL)))]
    pub namespaces: Vec<String>,
    /// Namespaces whose name matches one of these regular expressions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_regexes: Vec<String>,
}

/// The observed state of a store.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct SecretStoreStatus {
    /// Conditions (`Ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<SecretStoreCondition>,
    /// What the store can do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<SecretStoreCapabilities>,
}

/// A condition on a store: type [`STORE_CONDITION_READY`], reasons such
/// as [`REASON_STORE_VALID`].
pub type SecretStoreCondition = super::meta::Condition;

/// What a store can do.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum SecretStoreCapabilities {
    /// Read secrets only.
    ReadOnly,
    /// Write secrets only.
    WriteOnly,
    /// Read and write secrets.
    ReadWrite,
}

/// ClusterSecretStore represents a secure external location for storing
/// secrets, usable from ExternalSecrets in any namespace its `conditions`
/// admit. Cluster-scoped; its spec is a [`SecretStoreSpec`].
// NB: written by hand rather than derived, because kube's derive makes one
// kind per spec type and ESO's two store kinds share one spec.
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ClusterSecretStore {
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The store's configuration.
    pub spec: SecretStoreSpec,
    /// The observed state.
    #[serde(default)]
    pub status: Option<SecretStoreStatus>,
}

impl ClusterSecretStore {
    /// A ClusterSecretStore with this name and spec.
    pub fn new(name: &str, spec: SecretStoreSpec) -> Self {
        ClusterSecretStore {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            spec,
            status: None,
        }
    }
}

impl Serialize for ClusterSecretStore {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut obj = ser.serialize_struct("ClusterSecretStore", 5)?;
        obj.serialize_field("apiVersion", &Self::api_version(&()))?;
        obj.serialize_field("kind", &Self::kind(&()))?;
        obj.serialize_field("metadata", &self.metadata)?;
        obj.serialize_field("spec", &self.spec)?;
        if let Some(status) = &self.status {
            obj.serialize_field("status", status)?;
        }
        obj.end()
    }
}

impl Resource for ClusterSecretStore {
    type DynamicType = ();
    type Scope = ClusterResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "ClusterSecretStore".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        SecretStore::group(&())
    }
    fn version(_: &()) -> Cow<'_, str> {
        SecretStore::version(&())
    }
    fn api_version(_: &()) -> Cow<'_, str> {
        SecretStore::api_version(&())
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "clustersecretstores".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl HasSpec for ClusterSecretStore {
    type Spec = SecretStoreSpec;
    fn spec(&self) -> &SecretStoreSpec {
        &self.spec
    }
    fn spec_mut(&mut self) -> &mut SecretStoreSpec {
        &mut self.spec
    }
}

impl HasStatus for ClusterSecretStore {
    type Status = SecretStoreStatus;
    fn status(&self) -> Option<&SecretStoreStatus> {
        self.status.as_ref()
    }
    fn status_mut(&mut self) -> &mut Option<SecretStoreStatus> {
        &mut self.status
    }
}

impl CustomResourceExt for ClusterSecretStore {
    /// SecretStore's CRD, renamed and made cluster-scoped: the schema is the
    /// same, as in ESO.
    fn crd() -> CustomResourceDefinition {
        let mut crd = SecretStore::crd();
        crd.metadata.name = Some(Self::crd_name().to_owned());
        let spec = &mut crd.spec;
        spec.scope = "Cluster".to_owned();
        spec.names.kind = "ClusterSecretStore".to_owned();
        spec.names.plural = "clustersecretstores".to_owned();
        spec.names.singular = Some("clustersecretstore".to_owned());
        spec.names.short_names = Some(vec!["css".to_owned()]);
        for version in &mut spec.versions {
            if let Some(schema) = version
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.as_mut())
            {
                schema.title = Some("ClusterSecretStore".to_owned());
                schema.description = Some(
                    "ClusterSecretStore represents a secure external location for storing secrets, which can be referenced as part of `storeRef` fields.".to_owned(),
                );
            }
        }
        crd
    }

    fn crd_name() -> &'static str {
        "clustersecretstores.external-secrets.io"
    }

    fn api_resource() -> kube::core::ApiResource {
        kube::core::ApiResource::erase::<Self>(&())
    }

    fn shortnames() -> &'static [&'static str] {
        &["css"]
    }
}
