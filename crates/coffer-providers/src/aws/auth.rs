//! Credentials for one store's client, as ESO builds them
//! (`providers/v1/aws/auth`): a base (static keys, the SDK's default chain,
//! or AssumeRoleWithWebIdentity with a service-account token), then each of
//! `additionalRoles` assumed in order, then `role` (with `externalID`).
//!
//! Every link is an STS client whose identity cache holds the previous
//! link's credentials until they expire, and the Secrets Manager client
//! caches the last link's, so STS is called once per expiry, never per read.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sts::types::Tag;
use secrecy::ExposeSecret;

use super::errors::{Failure, classify};
use super::{AwsAuth, AwsConfig};
use crate::{Error, Result, TokenSource};

/// The session name on assumed roles (visible in CloudTrail).
const SESSION_NAME: &str = "coffer-provider-aws";

/// The credentials provider for `config`: the base, then the role chain.
pub(crate) fn chain(
    store: &str,
    config: &AwsConfig,
    sdk: &SdkConfig,
) -> Result<SharedCredentialsProvider> {
    let mut role_taken = false;
    let mut provider = match &config.auth {
        AwsAuth::Static {
            access_key_id,
            secret_access_key,
            session_token,
        } => SharedCredentialsProvider::new(Credentials::new(
            access_key_id.expose_secret(),
            secret_access_key.expose_secret(),
            session_token.as_ref().map(|t| t.expose_secret().to_owned()),
            None,
            "coffer-secret-ref",
        )),
        AwsAuth::DefaultChain => sdk.credentials_provider().ok_or_else(|| Error::Config {
            store: store.to_owned(),
            reason: "the AWS SDK found no credentials provider".into(),
        })?,
        AwsAuth::WebIdentity { token, role, .. } => {
            // ESO assumes the service account's role with the token and then
            // `role` on top; without a role of its own the token is used on
            // `role`, which is then not assumed a second time.
            let role = match role {
                Some(role) => role.clone(),
                None => {
                    role_taken = true;
                    config.role.clone().ok_or_else(|| Error::Config {
                        store: store.to_owned(),
                        reason: "web identity auth needs a role to assume".into(),
                    })?
                }
            };
            SharedCredentialsProvider::new(WebIdentity {
                sts: sts_client(sdk, config, None),
                role,
                token: token.clone(),
            })
        }
    };
    // Matches ESO: additionalRoles first, in order, then `role` with the
    // external id.
    for role in &config.additional_roles {
        provider = assume(sdk, config, provider, role, false);
    }
    match config.role.as_ref() {
        Some(role) if !role_taken => provider = assume(sdk, config, provider, role, true),
        // AssumeRoleWithWebIdentity takes its session tags from the token,
        // not from the request.
        _ if !config.session_tags.is_empty() => {
            return Err(Error::Config {
                store: store.to_owned(),
                reason: "sessionTags (or sessionTagsPolicy) need a role assumed with credentials: \
                         set `role`, or annotate the service account with its own role"
                    .into(),
            });
        }
        _ => {}
    }
    Ok(provider)
}

/// An STS client for `config`'s endpoint, signing with `credentials` (none:
/// AssumeRoleWithWebIdentity is unsigned).
pub(crate) fn sts_client(
    sdk: &SdkConfig,
    config: &AwsConfig,
    credentials: Option<SharedCredentialsProvider>,
) -> aws_sdk_sts::Client {
    let mut builder = aws_sdk_sts::config::Builder::from(sdk);
    builder.set_credentials_provider(credentials);
    if let Some(endpoint) = &config.sts_endpoint {
        builder.set_endpoint_url(Some(endpoint.clone()));
    }
    aws_sdk_sts::Client::from_conf(builder.build())
}

/// AssumeRole of `role` with `source`; the store's `role` (`last`) gets
/// the external id and the session tags, the additional roles neither.
fn assume(
    sdk: &SdkConfig,
    config: &AwsConfig,
    source: SharedCredentialsProvider,
    role: &str,
    last: bool,
) -> SharedCredentialsProvider {
    let tags: Vec<Tag> = if last {
        config
            .session_tags
            .iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect()
    } else {
        Vec::new()
    };
    let transitive = if tags.is_empty() {
        Vec::new()
    } else {
        config.transitive_tag_keys.clone()
    };
    SharedCredentialsProvider::new(AssumeRole {
        sts: sts_client(sdk, config, Some(source)),
        role: role.to_owned(),
        external_id: if last {
            config.external_id.clone()
        } else {
            None
        },
        tags,
        transitive,
    })
}

/// AssumeRole with the previous link's credentials.
struct AssumeRole {
    sts: aws_sdk_sts::Client,
    role: String,
    external_id: Option<String>,
    tags: Vec<Tag>,
    transitive: Vec<String>,
}

impl fmt::Debug for AssumeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRole")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl ProvideCredentials for AssumeRole {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            let out = self
                .sts
                .assume_role()
                .role_arn(&self.role)
                .set_external_id(self.external_id.clone())
                .set_tags((!self.tags.is_empty()).then(|| self.tags.clone()))
                .set_transitive_tag_keys(
                    (!self.transitive.is_empty()).then(|| self.transitive.clone()),
                )
                .role_session_name(SESSION_NAME)
                .send()
                .await
                .map_err(|e| CredentialsError::provider_error(in_role(&self.role, classify(&e))))?;
            credentials(out.credentials, "coffer-assume-role")
        })
    }
}

/// AssumeRoleWithWebIdentity with a fresh token from the token source.
struct WebIdentity {
    sts: aws_sdk_sts::Client,
    role: String,
    token: Arc<dyn TokenSource>,
}

impl fmt::Debug for WebIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebIdentity")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl ProvideCredentials for WebIdentity {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            let token = self
                .token
                .token()
                .await
                .map_err(|e| CredentialsError::provider_error(Failure::Resolved(e)))?;
            let out = self
                .sts
                .assume_role_with_web_identity()
                .role_arn(&self.role)
                .role_session_name(SESSION_NAME)
                .web_identity_token(token.expose_secret())
                .send()
                .await
                .map_err(|e| CredentialsError::provider_error(in_role(&self.role, classify(&e))))?;
            credentials(out.credentials, "coffer-web-identity")
        })
    }
}

/// Names the role in a failure's reason, so a broken link of a chain can be
/// found.
fn in_role(role: &str, failure: Failure) -> Failure {
    match failure {
        Failure::Denied { code, reason } => Failure::Denied {
            code,
            reason: format!("assuming role {role}: {reason}"),
        },
        Failure::Unavailable(reason) => Failure::Unavailable(format!("STS ({role}): {reason}")),
        Failure::Invalid(reason) | Failure::Unsupported(reason) => Failure::Denied {
            code: String::new(),
            reason: format!("assuming role {role}: {reason}"),
        },
        other => other,
    }
}

fn credentials(
    sts: Option<aws_sdk_sts::types::Credentials>,
    provider_name: &'static str,
) -> provider::Result {
    let sts = sts.ok_or_else(|| {
        CredentialsError::provider_error(Failure::Unavailable("STS returned no credentials".into()))
    })?;
    let expires = SystemTime::try_from(sts.expiration).ok();
    Ok(Credentials::new(
        sts.access_key_id,
        sts.secret_access_key,
        Some(sts.session_token),
        expires,
        provider_name,
    ))
}
