//! `external-secrets.io/v1` ExternalSecret, field for field as External
//! Secrets Operator (ESO) defines it, so that ESO manifests apply unchanged.
//! Defaults ESO's CRD sets are set in our schema too (the API server fills
//! them in), and the accessors return them when a field is absent (e.g. an
//! object built in code).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::{DurationError, parse_go_duration};
use super::meta::{DNS_SUBDOMAIN, LocalObjectReference, SECRET_KEY};

/// ExternalSecret's `Ready` condition type.
pub const CONDITION_READY: &str = "Ready";
/// ExternalSecret's `Deleted` condition type.
pub const CONDITION_DELETED: &str = "Deleted";
/// Reason: the Secret was synced.
pub const REASON_SECRET_SYNCED: &str = "SecretSynced";
/// Reason: syncing the Secret failed.
pub const REASON_SECRET_SYNCED_ERROR: &str = "SecretSyncedError";
/// Reason: the Secret was deleted.
pub const REASON_SECRET_DELETED: &str = "SecretDeleted";
/// Reason: the Secret is missing.
pub const REASON_SECRET_MISSING: &str = "SecretMissing";
/// Event reason: updating the Secret failed.
pub const REASON_UPDATE_FAILED: &str = "UpdateFailed";
/// Event reason: a deprecated parameter is in use.
pub const REASON_DEPRECATED: &str = "ParameterDeprecated";
/// Event reason: the Secret was created.
pub const REASON_CREATED: &str = "Created";
/// Event reason: the Secret was updated.
pub const REASON_UPDATED: &str = "Updated";
/// Event reason: the Secret was deleted.
pub const REASON_DELETED: &str = "Deleted";
/// Event reason: a secret is missing in the provider.
pub const REASON_MISSING_PROVIDER_SECRET: &str = "MissingProviderSecret";

/// Annotation on every managed Secret: the hash of its data.
pub const ANNOTATION_DATA_HASH: &str = "reconcile.external-secrets.io/data-hash";
/// Annotation a ClusterExternalSecret mirrors onto its ExternalSecrets.
pub const ANNOTATION_FORCE_SYNC: &str = "external-secrets.io/force-sync";
/// Label on every managed Secret, with value [`LABEL_MANAGED_VALUE`].
pub const LABEL_MANAGED: &str = "reconcile.external-secrets.io/managed";
/// The value of [`LABEL_MANAGED`].
pub const LABEL_MANAGED_VALUE: &str = "true";
/// Label naming the owning ExternalSecret when `creationPolicy` is `Owner`.
pub const LABEL_OWNER: &str = "reconcile.external-secrets.io/created-by";

/// The refresh interval when `spec.refreshInterval` is absent (ESO: `1h`).
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(3600);

/// ExternalSecretSpec defines the desired state of ExternalSecret.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "ExternalSecret",
    plural = "externalsecrets",
    singular = "externalsecret",
    shortname = "es",
    category = "external-secrets",
    namespaced,
    status = "ExternalSecretStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "ExternalSecret is the Schema for the external-secrets API.",
    printcolumn = r#"{"jsonPath": ".spec.secretStoreRef.kind", "name": "StoreType", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".spec.secretStoreRef.name", "name": "Store", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".spec.refreshInterval", "name": "Refresh Interval", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "name": "Status", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "name": "Ready", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.refreshTime", "name": "Last Sync", "type": "date"}"#,
    selectable = ".spec.secretStoreRef.name",
    selectable = ".spec.secretStoreRef.kind",
    selectable = ".spec.target.name",
    selectable = ".spec.refreshInterval"
)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretSpec {
    /// The SecretStore or ClusterSecretStore to read from.
    #[serde(default, skip_serializing_if = "is_default")]
    pub secret_store_ref: SecretStoreRef,

    /// The Secret to create or update.
    #[serde(default, skip_serializing_if = "is_default")]
    #[schemars(extend("default" = { "creationPolicy": "Owner", "deletionPolicy": "Retain" }))]
    pub target: ExternalSecretTarget,

    /// How the ExternalSecret is refreshed: `CreatedOnce`, `Periodic` (every
    /// `refreshInterval`; never if it is 0) or `OnChange` (when the
    /// ExternalSecret's metadata or spec changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_policy: Option<RefreshPolicy>,

    /// The time before values are read again from the provider, as a Go
    /// duration string ("1h", "2h30m", "10s"). "0" fetches once. Defaults to 1h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "1h"))]
    pub refresh_interval: Option<String>,

    /// The Secret's keys, each read from one provider value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<ExternalSecretData>,

    /// Provider values whose properties all become keys; merged in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_from: Vec<ExternalSecretDataFromRemoteRef>,

    /// When periodic refreshes may run (ESO's cron windows); not supported
    /// by Coffer: an ExternalSecret that sets it is refused by condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_windows: Option<SyncWindows>,
}

impl ExternalSecretSpec {
    /// `refreshInterval` parsed, or [`DEFAULT_REFRESH_INTERVAL`] when absent.
    /// Zero means "do not refresh periodically".
    pub fn refresh_interval(&self) -> Result<Duration, DurationError> {
        match &self.refresh_interval {
            Some(s) => parse_go_duration(s),
            None => Ok(DEFAULT_REFRESH_INTERVAL),
        }
    }

    /// `refreshPolicy`, or `Periodic` when absent (ESO's behaviour).
    pub fn refresh_policy(&self) -> RefreshPolicy {
        self.refresh_policy.unwrap_or_default()
    }
}

/// Which SecretStore to read the ExternalSecret's data from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreRef {
    /// Name of the SecretStore resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: Option<String>,

    /// Kind of the SecretStore resource (SecretStore or ClusterSecretStore).
    /// Defaults to `SecretStore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<StoreKind>,
}

impl SecretStoreRef {
    /// The store's name, or `""` when unset.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }

    /// The store's kind, `SecretStore` when unset.
    pub fn kind(&self) -> StoreKind {
        self.kind.unwrap_or_default()
    }
}

/// The kind of store a [`SecretStoreRef`] points at.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum StoreKind {
    /// A namespaced SecretStore in the ExternalSecret's namespace.
    #[default]
    SecretStore,
    /// A cluster-wide ClusterSecretStore.
    ClusterSecretStore,
}

/// How the ExternalSecret is refreshed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum RefreshPolicy {
    /// Create the Secret only if it does not exist; never update it.
    CreatedOnce,
    /// Sync every `refreshInterval` (never when it is 0).
    #[default]
    Periodic,
    /// Sync only when the ExternalSecret's metadata or spec changes.
    OnChange,
}

/// The Kubernetes Secret to be created. There is one target per ExternalSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretTarget {
    /// The name of the Secret to manage. Defaults to the ExternalSecret's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: Option<String>,

    /// How the Secret is created. Defaults to `Owner`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Owner"))]
    pub creation_policy: Option<CreationPolicy>,

    /// What happens to the Secret when the provider's secrets are deleted.
    /// Defaults to `Retain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Retain"))]
    pub deletion_policy: Option<DeletionPolicy>,

    /// A blueprint for the created Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ExternalSecretTemplate>,

    /// Whether the Secret is immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

impl ExternalSecretTarget {
    /// `creationPolicy`, `Owner` when absent.
    pub fn creation_policy(&self) -> CreationPolicy {
        self.creation_policy.unwrap_or_default()
    }

    /// `deletionPolicy`, `Retain` when absent.
    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.deletion_policy.unwrap_or_default()
    }

    /// The Secret's name: `target.name`, else the ExternalSecret's name.
    pub fn secret_name<'a>(&'a self, external_secret_name: &'a str) -> &'a str {
        self.name.as_deref().unwrap_or(external_secret_name)
    }
}

/// How the resulting Secret is created.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum CreationPolicy {
    /// Create the Secret, owned by the ExternalSecret.
    #[default]
    Owner,
    /// Create the Secret without an owner reference.
    Orphan,
    /// Do not create the Secret; merge data into an existing one.
    Merge,
    /// Do not create a Secret.
    None,
    /// Create the Secret (without an owner reference) if it is missing;
    /// merge data into it (keeping others' keys) if it exists.
    CreateOrMerge,
}

impl CreationPolicy {
    /// Whether writes keep the keys others own in an existing Secret
    /// (`Merge`, `CreateOrMerge`).
    pub fn merges(self) -> bool {
        matches!(self, CreationPolicy::Merge | CreationPolicy::CreateOrMerge)
    }
}

/// What happens to the Secret when the provider's secrets are deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the Secret once all provider secrets are gone.
    Delete,
    /// Remove the keys, keep the Secret.
    Merge,
    /// Keep the Secret; a missing provider secret is a sync error.
    #[default]
    Retain,
}

/// A blueprint for the created Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretTemplate {
    /// The Secret's type (e.g. `kubernetes.io/dockerconfigjson`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,

    /// The template engine version for `data` and `templateFrom`. Only `v2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "v2"))]
    pub engine_version: Option<TemplateEngineVersion>,

    /// Labels, annotations and finalizers for the Secret.
    #[serde(default, skip_serializing_if = "is_default")]
    pub metadata: TemplateMetadata,

    /// Whether templated data replaces or merges with fetched data.
    /// Defaults to `Replace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Replace"))]
    pub merge_policy: Option<TemplateMergePolicy>,

    /// Secret keys rendered from templates over the fetched values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,

    /// Templates read from ConfigMaps, Secrets or literals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub template_from: Vec<TemplateFrom>,
}

impl ExternalSecretTemplate {
    /// `mergePolicy`, `Replace` when absent.
    pub fn merge_policy(&self) -> TemplateMergePolicy {
        self.merge_policy.unwrap_or_default()
    }
}

/// Metadata for the created Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct TemplateMetadata {
    /// Annotations for the Secret.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Labels for the Secret.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Finalizers for the Secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

/// The template engine version.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum TemplateEngineVersion {
    /// ESO's v2 engine: Go templates with sprig functions.
    #[default]
    #[serde(rename = "v2")]
    V2,
}

/// Whether templated data replaces or merges with fetched data.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum TemplateMergePolicy {
    /// Only the templated keys end up in the Secret.
    #[default]
    Replace,
    /// Templated keys are added to the fetched keys.
    Merge,
}

/// One source of templates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateFrom {
    /// Templates from keys of a ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<TemplateRef>,
    /// Templates from keys of a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<TemplateRef>,
    /// Where the rendered output goes: `Data`, `Annotations` or `Labels`
    /// (any case). A free string, as in ESO, whose other values are paths
    /// into a custom resource (`spec.target.manifest`), which Coffer
    /// refuses by condition. Defaults to `Data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Data"))]
    pub target: Option<String>,
    /// A template given inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<String>,
    /// How each rendered value is decoded before it is stored. Defaults to
    /// `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_decoding_strategy: Option<DecodingStrategy>,
}

impl TemplateFrom {
    /// `target` (case-insensitive, `Data` when absent or empty), or `None`
    /// for a value that is not one of the Secret's fields.
    pub fn target(&self) -> Option<TemplateTarget> {
        match self
            .target
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") | Some("data") => Some(TemplateTarget::Data),
            Some("annotations") => Some(TemplateTarget::Annotations),
            Some("labels") => Some(TemplateTarget::Labels),
            Some(_) => None,
        }
    }

    /// `valuesDecodingStrategy`, `None` when absent.
    pub fn values_decoding_strategy(&self) -> DecodingStrategy {
        self.values_decoding_strategy.unwrap_or_default()
    }
}

/// Where a template's output goes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum TemplateTarget {
    /// The Secret's data.
    #[default]
    Data,
    /// The Secret's annotations.
    Annotations,
    /// The Secret's labels.
    Labels,
}

/// A ConfigMap or Secret holding templates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct TemplateRef {
    /// The name of the ConfigMap/Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: String,
    /// The keys to use as templates.
    pub items: Vec<TemplateRefItem>,
}

/// One key of a [`TemplateRef`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRefItem {
    /// A key in the ConfigMap/Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY))]
    pub key: String,
    /// Whether the key's value templates values only, or whole keys and
    /// values. Defaults to `Values`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Values"))]
    pub template_as: Option<TemplateScope>,
}

impl TemplateRefItem {
    /// `templateAs`, `Values` when absent.
    pub fn template_as(&self) -> TemplateScope {
        self.template_as.unwrap_or_default()
    }
}

/// What a template in a [`TemplateRefItem`] produces.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum TemplateScope {
    /// The template renders the value of the key it is stored under.
    #[default]
    Values,
    /// The template renders YAML holding keys and values.
    KeysAndValues,
}

/// One Secret key and the provider value it is read from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretData {
    /// The key in the Kubernetes Secret to store the value.
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY))]
    pub secret_key: String,
    /// Which provider value (and version/property) to fetch.
    pub remote_ref: RemoteRef,
    /// Overrides the store the value is read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<StoreSourceRef>,
}

/// Where a value lives in the provider (ESO's `ExternalSecretDataRemoteRef`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoteRef {
    /// The key used in the provider.
    pub key: String,
    /// Whether to fetch the secret's tags/labels too. Defaults to `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "None"))]
    pub metadata_policy: Option<MetadataPolicy>,
    /// A property of the value (if it is a map), if supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// A version of the value, if supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Key conversion, decoding and the NUL-byte check.
    #[serde(flatten)]
    pub shaping: ValueShaping,
}

impl RemoteRef {
    /// `metadataPolicy`, `None` when absent.
    pub fn metadata_policy(&self) -> MetadataPolicy {
        self.metadata_policy.unwrap_or_default()
    }
}

/// How fetched values are shaped: ESO's `conversionStrategy`,
/// `decodingStrategy` and `nullBytePolicy`, which `data[].remoteRef`,
/// `dataFrom[].extract` and `dataFrom[].find` share.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValueShaping {
    /// How keys are converted. Defaults to `Default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Default"))]
    pub conversion_strategy: Option<ConversionStrategy>,
    /// How values are decoded. Defaults to `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "None"))]
    pub decoding_strategy: Option<DecodingStrategy>,
    /// What to do with values containing NUL bytes (after decoding);
    /// `Ignore` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_byte_policy: Option<NullBytePolicy>,
}

impl ValueShaping {
    /// `conversionStrategy`, `Default` when absent.
    pub fn conversion_strategy(&self) -> ConversionStrategy {
        self.conversion_strategy.unwrap_or_default()
    }
    /// `decodingStrategy`, `None` when absent.
    pub fn decoding_strategy(&self) -> DecodingStrategy {
        self.decoding_strategy.unwrap_or_default()
    }
    /// `nullBytePolicy`, `Ignore` when absent.
    pub fn null_byte_policy(&self) -> NullBytePolicy {
        self.null_byte_policy.unwrap_or_default()
    }
}

/// Whether to fetch a provider secret's tags/labels.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum MetadataPolicy {
    /// Fetch the value only.
    #[default]
    None,
    /// Fetch the tags/labels as well.
    Fetch,
}

/// How provider keys are converted into Secret keys.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum ConversionStrategy {
    /// Keep keys as they are.
    #[default]
    Default,
    /// Replace characters invalid in Secret keys with `_UXXXX_`.
    Unicode,
}

/// ESO's `spec.syncWindows`: cron windows that allow or deny refreshes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct SyncWindows {
    /// `allow` (refresh only inside a window) or `deny` (never inside one).
    pub kind: SyncWindowKind,
    /// The windows.
    #[schemars(length(min = 1))]
    pub windows: Vec<SyncWindow>,
}

/// Whether [`SyncWindows`] allow or deny.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncWindowKind {
    /// Refresh only while a window is open.
    #[default]
    Allow,
    /// Never refresh while a window is open.
    Deny,
}

/// One window: when it opens (cron, UTC) and for how long.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct SyncWindow {
    /// A 5-field cron expression or a shorthand such as `@daily`.
    #[schemars(length(min = 1))]
    pub schedule: String,
    /// How long the window stays open, a Go duration such as `8h`.
    pub duration: String,
}

/// How provider values are decoded.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum DecodingStrategy {
    /// Decode base64 or base64url if the value is valid as either.
    Auto,
    /// Decode standard base64.
    Base64,
    /// Decode URL-safe base64.
    #[serde(rename = "Base64URL")]
    Base64Url,
    /// Take values as they are.
    #[default]
    None,
}

/// What to do with a provider value that contains NUL bytes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum NullBytePolicy {
    /// Keep the value as it is.
    #[default]
    Ignore,
    /// Fail the sync.
    Fail,
}

/// Values read in bulk from the provider.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretDataFromRemoteRef {
    /// Extracts every key/value pair of one provider secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<RemoteRef>,
    /// Finds provider secrets by name or tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find: Option<ExternalSecretFind>,
    /// Rewrites keys after fetching, applied first to last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrite: Vec<ExternalSecretRewrite>,
    /// Overrides the store (or names a generator) the values come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<StoreGeneratorSourceRef>,
}

/// Finds provider secrets by name or tags.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretFind {
    /// A root path to start from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Finds secrets by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<FindName>,
    /// Finds secrets by tags (all must match).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Key conversion, decoding and the NUL-byte check.
    #[serde(flatten)]
    pub shaping: ValueShaping,
}

/// Finds secrets by name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct FindName {
    /// A regular expression the name must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<String>,
}

/// One key rewrite; exactly one of the fields is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct ExternalSecretRewrite {
    /// ESO's merge rewrite: not implemented by Coffer; an ExternalSecret
    /// that sets it is refused with `Ready=False` naming the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::meta::open_object")]
    pub merge: Option<serde_json::Value>,
    /// Rewrites keys with a regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<RewriteRegexp>,
    /// Rewrites keys with a template (`.value` is the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<RewriteTransform>,
}

/// A regexp ReplaceAll over keys.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct RewriteRegexp {
    /// The regular expression.
    pub source: String,
    /// The replacement pattern.
    pub target: String,
}

/// A template applied to keys.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct RewriteTransform {
    /// The template; `.value` is the key.
    pub template: String,
}

/// Overrides the store a `data[]` entry is read from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct StoreSourceRef {
    /// The store to read from.
    #[serde(default, skip_serializing_if = "is_default")]
    pub store_ref: SecretStoreRef,
    /// Deprecated in ESO (not implemented for `data[]`); accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_ref: Option<GeneratorRef>,
}

/// Overrides the store, or names a generator, for a `dataFrom[]` entry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct StoreGeneratorSourceRef {
    /// The store to read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_ref: Option<SecretStoreRef>,
    /// A generator producing the values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_ref: Option<GeneratorRef>,
}

/// A reference to an ESO generator resource. Coffer accepts these so that
/// manifests apply; it does not run generators.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorRef {
    /// The generator's apiVersion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "generators.external-secrets.io/v1alpha1"))]
    pub api_version: Option<String>,
    /// The generator's kind (`Password`, `UUID`, ...).
    pub kind: String,
    /// The generator's name.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: String,
}

/// The observed state of an ExternalSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretStatus {
    /// When the values were last fetched and the Secret updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<Time>,
    /// The last synced version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_resource_version: Option<String>,
    /// Conditions (`Ready`, `Deleted`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ExternalSecretCondition>,
    /// A servicebinding.io Provisioned Service reference to the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<LocalObjectReference>,
}

/// A condition on an ExternalSecret: type [`CONDITION_READY`] (or
/// `Deleted`), reasons such as [`REASON_SECRET_SYNCED`].
pub type ExternalSecretCondition = super::meta::Condition;

pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
