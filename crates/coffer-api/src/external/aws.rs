//! The `aws` provider of a SecretStore: AWS Secrets Manager or Parameter
//! Store, as ESO configures it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meta::{SecretKeySelector, ServiceAccountSelector};

/// Configures a store to sync secrets with AWS.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsProvider {
    /// Which AWS service to read secrets from.
    pub service: AwsService,

    /// How to authenticate; when empty, the AWS SDK's default credential
    /// chain is used.
    #[serde(default, skip_serializing_if = "super::external_secret::is_default")]
    pub auth: AwsAuth,

    /// A role ARN to assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,

    /// The AWS region.
    pub region: String,

    /// Role ARNs assumed in order before `role`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_roles: Vec<String>,

    /// The external ID set on assumed roles.
    #[serde(
        default,
        rename = "externalID",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<String>,

    /// STS session tags for assumed roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_tags: Vec<AwsTag>,

    /// Secrets Manager behaviour on delete (PushSecret only in ESO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_manager: Option<SecretsManagerSettings>,

    /// Transitive STS session tag keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitive_tag_keys: Vec<String>,

    /// Whether STS session tags are added automatically (`None`, `Simple`,
    /// `Custom`). Defaults to `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "None"))]
    pub session_tags_policy: Option<SessionTagsPolicy>,

    /// Extra session tags when `sessionTagsPolicy` is `Custom`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_session_tags: BTreeMap<String, String>,

    /// A prefix added to every key read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// The AWS service a store reads from.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum AwsService {
    /// AWS Secrets Manager.
    #[default]
    SecretsManager,
    /// AWS Systems Manager Parameter Store.
    ParameterStore,
}

/// How to authenticate with AWS: at most one of `secretRef` or `jwt`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsAuth {
    /// Static credentials from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<AwsAuthSecretRef>,
    /// Web identity from a ServiceAccount token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<AwsJwtAuth>,
}

/// Secret keys holding static AWS credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct AwsAuthSecretRef {
    /// The access key ID.
    #[serde(
        default,
        rename = "accessKeyIDSecretRef",
        skip_serializing_if = "super::external_secret::is_default"
    )]
    pub access_key_id: SecretKeySelector,
    /// The secret access key.
    #[serde(
        default,
        rename = "secretAccessKeySecretRef",
        skip_serializing_if = "super::external_secret::is_default"
    )]
    pub secret_access_key: SecretKeySelector,
    /// The session token, for temporary credentials.
    #[serde(
        default,
        rename = "sessionTokenSecretRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_token: Option<SecretKeySelector>,
}

/// Authenticates with a ServiceAccount's token (IRSA-style web identity).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsJwtAuth {
    /// The ServiceAccount whose token is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
}

/// An STS session tag.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct AwsTag {
    /// The tag's key.
    pub key: String,
    /// The tag's value.
    pub value: String,
}

/// Secrets Manager delete settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretsManagerSettings {
    /// Delete without a recovery window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_delete_without_recovery: Option<bool>,
    /// Days (7 to 30) before a deleted secret is gone for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_window_in_days: Option<i64>,
}

/// How STS session tags are added when assuming roles.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum SessionTagsPolicy {
    /// No session tags.
    #[default]
    None,
    /// `esoNamespace`, `esoStoreName` and `esoStoreKind` tags.
    Simple,
    /// The simple tags plus `customSessionTags`.
    Custom,
}
