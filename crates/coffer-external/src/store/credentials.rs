//! A store's credentials and settings: the Secrets, ConfigMaps and
//! ServiceAccount tokens a SecretStore or ClusterSecretStore points at,
//! read (with ESO's namespace rules) into a provider configuration.
//!
//! A ClusterSecretStore reference without a namespace is read in the
//! namespace of the ExternalSecret using the store, so the credentials (and
//! the identity they give at the provider) can differ per namespace;
//! [`Refs`] records whether that happened, and the session cache then keeps
//! one client per namespace. Credential bytes are wiped from the Secrets
//! they were read from and live on only in [`SecretString`]s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use coffer_api::external::{
    AwsProvider, AwsService, CaProviderType, SecretKeySelector, ServiceAccountSelector,
    VaultKvVersion, VaultProvider,
};
use coffer_providers::aws::{AwsAuth, AwsConfig};
use coffer_providers::vault::{ClientCertificate, KvVersion, VaultAuth, VaultConfig};
use coffer_providers::{StaticToken, TokenSource};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use kube::Api;
use secrecy::SecretString;
use zeroize::{Zeroize, Zeroizing};

use super::aws_tags;
use super::vault_login::{self, Jwt, Login, RoleId};
use super::vault_tls::{self, CertificateRefs, TLS_CERT_KEY, TLS_KEY_KEY};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::token::{MountedToken, ServiceAccountToken, requested_lifetime};

/// The ServiceAccount annotation naming the IAM role for web identity
/// (EKS IRSA), as ESO reads it.
const IRSA_ROLE_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
/// The ServiceAccount annotation overriding the token's audience.
const IRSA_AUDIENCE_ANNOTATION: &str = "eks.amazonaws.com/audience";
/// EKS IRSA's audience, ESO's default.
const IRSA_DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

/// Resolves references from a store to Secrets, ConfigMaps and
/// ServiceAccounts.
pub(super) struct Refs<'a> {
    pub(super) ctx: &'a Context,
    pub(super) label: &'a str,
    pub(super) own_namespace: Option<&'a str>,
    pub(super) es_namespace: &'a str,
    /// The store's name.
    pub(super) store_name: &'a str,
    /// Set when a reference was resolved in `es_namespace` for want of
    /// its own: the configuration then belongs to that namespace alone.
    pub(super) used_es_namespace: AtomicBool,
}

impl Refs<'_> {
    pub(super) fn config_error(&self, reason: String) -> Error {
        Error::StoreConfig {
            store: self.label.to_owned(),
            reason,
        }
    }

    fn namespace_of(&self, given: Option<&str>) -> String {
        match (self.own_namespace, given) {
            // NB: ESO ignores the namespace of a namespaced store's
            // references, so one store cannot reach into another namespace.
            (Some(ns), _) => ns.to_owned(),
            (None, Some(ns)) => ns.to_owned(),
            // Matches ESO's resolvers: a ClusterSecretStore reference
            // without a namespace is read in the ExternalSecret's.
            (None, None) => {
                self.used_es_namespace.store(true, Ordering::Relaxed);
                self.es_namespace.to_owned()
            }
        }
    }

    /// Whether any reference was resolved in the ExternalSecret's
    /// namespace (see [`Refs::used_es_namespace`]).
    pub(super) fn depends_on_es_namespace(&self) -> bool {
        self.used_es_namespace.load(Ordering::Relaxed)
    }

    /// Where `sel` reads from, for a token source's identity (what the
    /// store's fingerprint and its session are keyed by): namespace, name
    /// and key, never the value.
    fn secret_identity(&self, field: &str, sel: &SecretKeySelector, default_key: &str) -> String {
        format!(
            "{field} Secret {}/{} key {:?}",
            self.namespace_of(sel.namespace.as_deref()),
            sel.name(),
            sel.key.as_deref().unwrap_or(default_key)
        )
    }

    /// The value at `sel` (with `default_key` when the selector has none).
    async fn secret_value(
        &self,
        field: &str,
        sel: &SecretKeySelector,
        default_key: Option<&str>,
    ) -> Result<SecretString> {
        let key = match (sel.key.as_deref(), default_key) {
            (Some(k), _) | (None, Some(k)) => k,
            (None, None) => return Err(self.config_error(format!("{field}: key is required"))),
        };
        if sel.name().is_empty() {
            return Err(self.config_error(format!("{field}: name is required")));
        }
        let namespace = self.namespace_of(sel.namespace.as_deref());
        let api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &namespace);
        let secret = api.get_opt(sel.name()).await.map_err(|e| Error::Kube {
            action: format!(
                "{}: read {field} Secret {namespace}/{}",
                self.label,
                sel.name()
            ),
            source: e,
        })?;
        let mut secret = secret.ok_or_else(|| {
            self.config_error(format!(
                "{field}: Secret {namespace}/{} not found",
                sel.name()
            ))
        })?;
        let bytes = take_value(&mut secret, key);
        wipe(&mut secret);
        let bytes = bytes.ok_or_else(|| {
            self.config_error(format!(
                "{field}: Secret {namespace}/{} has no key {key:?}",
                sel.name()
            ))
        })?;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return Err(self.config_error(format!(
                "{field}: Secret {namespace}/{} key {key:?} is not UTF-8",
                sel.name()
            )));
        };
        Ok(SecretString::from(text.trim_end_matches(['\n', '\r'])))
    }

    /// Tokens for `sa`, living `expiration_seconds` (see
    /// [`requested_lifetime`]).
    fn service_account(
        &self,
        sa: &ServiceAccountSelector,
        expiration_seconds: Option<i64>,
    ) -> Arc<ServiceAccountToken> {
        let namespace = self.namespace_of(sa.namespace.as_deref());
        Arc::new(ServiceAccountToken::new(
            self.ctx.client.clone(),
            &namespace,
            &sa.name,
            sa.audiences.clone(),
            requested_lifetime(expiration_seconds),
        ))
    }
}

pub(super) async fn aws_config(refs: &Refs<'_>, aws: &AwsProvider) -> Result<AwsConfig> {
    let auth = if let Some(secret_ref) = &aws.auth.secret_ref {
        let session_token = match &secret_ref.session_token {
            Some(sel) => Some(
                refs.secret_value("auth.secretRef.sessionTokenSecretRef", sel, None)
                    .await?,
            ),
            None => None,
        };
        AwsAuth::Static {
            access_key_id: refs
                .secret_value(
                    "auth.secretRef.accessKeyIDSecretRef",
                    &secret_ref.access_key_id,
                    None,
                )
                .await?,
            secret_access_key: refs
                .secret_value(
                    "auth.secretRef.secretAccessKeySecretRef",
                    &secret_ref.secret_access_key,
                    None,
                )
                .await?,
            session_token,
        }
    } else if let Some(sa) = aws
        .auth
        .jwt
        .as_ref()
        .and_then(|j| j.service_account_ref.as_ref())
    {
        web_identity(refs, aws, sa).await?
    } else {
        AwsAuth::DefaultChain
    };
    let kind = if refs.own_namespace.is_some() {
        "SecretStore"
    } else {
        "ClusterSecretStore"
    };
    let reader = aws_tags::Reader {
        namespace: refs.es_namespace,
        store: refs.store_name,
        kind,
    };
    let (session_tags, per_namespace) =
        aws_tags::session_tags(aws, &reader).map_err(|reason| refs.config_error(reason))?;
    if per_namespace {
        // The tags name the reading namespace: its session is its own.
        refs.used_es_namespace.store(true, Ordering::Relaxed);
    }
    Ok(AwsConfig {
        service: match aws.service {
            AwsService::SecretsManager => coffer_providers::aws::AwsService::SecretsManager,
            AwsService::ParameterStore => coffer_providers::aws::AwsService::ParameterStore,
        },
        region: aws.region.clone(),
        auth,
        role: aws.role.clone(),
        additional_roles: aws.additional_roles.clone(),
        external_id: aws.external_id.clone(),
        session_tags,
        transitive_tag_keys: aws.transitive_tag_keys.clone(),
        prefix: aws.prefix.clone(),
        endpoint: refs.ctx.config.aws_endpoints.secrets_manager.clone(),
        sts_endpoint: refs.ctx.config.aws_endpoints.sts.clone(),
        ssm_endpoint: refs.ctx.config.aws_endpoints.ssm.clone(),
    })
}

/// `auth.jwt.serviceAccountRef`, as ESO's EKS IRSA: the role assumed with
/// the token is the service account's `eks.amazonaws.com/role-arn`
/// annotation (the store's `role` is then assumed on top), and the token's
/// audiences are the `eks.amazonaws.com/audience` annotation (default
/// `sts.amazonaws.com`) followed by `serviceAccountRef.audiences`.
///
/// Without the annotation ESO refuses the store; Coffer instead assumes
/// the store's `role` with the token, when there is one.
async fn web_identity(
    refs: &Refs<'_>,
    aws: &AwsProvider,
    sa: &ServiceAccountSelector,
) -> Result<AwsAuth> {
    let namespace = refs.namespace_of(sa.namespace.as_deref());
    let api: Api<ServiceAccount> = Api::namespaced(refs.ctx.client.clone(), &namespace);
    let account = api.get_opt(&sa.name).await.map_err(|e| Error::Kube {
        action: format!(
            "{}: read auth.jwt ServiceAccount {namespace}/{}",
            refs.label, sa.name
        ),
        source: e,
    })?;
    let account = account.ok_or_else(|| {
        refs.config_error(format!(
            "auth.jwt: ServiceAccount {namespace}/{} not found",
            sa.name
        ))
    })?;
    let annotations = account.metadata.annotations.unwrap_or_default();
    let annotated_role = annotations
        .get(IRSA_ROLE_ANNOTATION)
        .filter(|r| !r.is_empty())
        .cloned();
    if annotated_role.is_none() && aws.role.is_none() {
        return Err(refs.config_error(format!(
            "auth.jwt: an IAM role must be associated with ServiceAccount {namespace}/{} (annotation {IRSA_ROLE_ANNOTATION}) or set in the store's role",
            sa.name
        )));
    }
    let audience = annotations
        .get(IRSA_AUDIENCE_ANNOTATION)
        .filter(|a| !a.is_empty())
        .cloned()
        .unwrap_or_else(|| IRSA_DEFAULT_AUDIENCE.to_owned());
    let mut sa = sa.clone();
    sa.audiences.retain(|a| *a != audience);
    sa.audiences.insert(0, audience);
    let token = refs.service_account(&sa, None);
    Ok(AwsAuth::WebIdentity {
        identity: token.identity(),
        token,
        role: annotated_role,
    })
}

pub(super) async fn vault_config(refs: &Refs<'_>, vault: &VaultProvider) -> Result<VaultConfig> {
    let auth = match vault_login::login(vault).map_err(|reason| refs.config_error(reason))? {
        Login::Token(sel) => {
            VaultAuth::Token(refs.secret_value("auth.tokenSecretRef", sel, None).await?)
        }
        Login::AppRole {
            path,
            role_id,
            secret_ref,
        } => {
            let role_id = match role_id {
                RoleId::Given(id) => id.to_owned(),
                RoleId::Ref(sel) => secrecy::ExposeSecret::expose_secret(
                    &refs.secret_value("auth.appRole.roleRef", sel, None).await?,
                )
                .to_owned(),
            };
            VaultAuth::AppRole {
                path: path.to_owned(),
                role_id,
                secret_id: refs
                    .secret_value("auth.appRole.secretRef", secret_ref, None)
                    .await?,
            }
        }
        Login::Kubernetes {
            mount_path,
            role,
            token,
        } => {
            let (token, identity) = jwt_source(refs, token).await?;
            VaultAuth::Kubernetes {
                mount_path: mount_path.to_owned(),
                role: role.to_owned(),
                token,
                identity,
            }
        }
        Login::Jwt { path, role, token } => {
            let (token, identity) = jwt_source(refs, token).await?;
            VaultAuth::Jwt {
                path: path.to_owned(),
                role: role.to_owned(),
                token,
                identity,
            }
        }
        Login::UserPass {
            path,
            username,
            password,
        } => VaultAuth::UserPass {
            path: path.to_owned(),
            username: username.to_owned(),
            password: refs
                .secret_value("auth.userPass.secretRef", password, None)
                .await?,
        },
        Login::Cert {
            path,
            role,
            certificate,
        } => VaultAuth::Cert {
            path: path.to_owned(),
            role: role.map(str::to_owned),
            certificate: match certificate {
                Some(pair) => Some(client_certificate(refs, pair).await?),
                None => None,
            },
        },
    };
    let ca_bundle = match (&vault.ca_bundle, &vault.ca_provider) {
        (Some(bundle), _) => Some(bundle.0.clone()),
        (None, Some(provider)) => Some(ca_from_provider(refs, provider).await?),
        (None, None) => None,
    };
    let client_tls = match vault_tls::client_tls(vault).map_err(|r| refs.config_error(r))? {
        Some(pair) => Some(client_certificate(refs, pair).await?),
        None => None,
    };
    Ok(VaultConfig {
        server: vault.server.clone(),
        path: vault.path.clone(),
        version: match vault.version() {
            VaultKvVersion::V1 => KvVersion::V1,
            VaultKvVersion::V2 => KvVersion::V2,
        },
        namespace: vault.namespace.clone(),
        auth_namespace: vault.auth.as_ref().and_then(|a| a.namespace.clone()),
        ca_bundle,
        headers: vault.headers.clone(),
        client_tls,
        read_your_writes: vault.read_your_writes.unwrap_or_default(),
        forward_inconsistent: vault.forward_inconsistent.unwrap_or_default(),
        auth,
    })
}

/// A certificate and its key, read from their Secrets (keys `tls.crt` and
/// `tls.key` unless the selectors name others).
async fn client_certificate(
    refs: &Refs<'_>,
    pair: CertificateRefs<'_>,
) -> Result<ClientCertificate> {
    let cert = refs
        .secret_value(pair.cert_field, pair.cert, Some(TLS_CERT_KEY))
        .await?;
    let key = refs
        .secret_value(pair.key_field, pair.key, Some(TLS_KEY_KEY))
        .await?;
    Ok(ClientCertificate {
        cert_field: pair.cert_field,
        key_field: pair.key_field,
        cert_pem: secrecy::ExposeSecret::expose_secret(&cert)
            .as_bytes()
            .to_vec(),
        key_pem: Zeroizing::new(
            secrecy::ExposeSecret::expose_secret(&key)
                .as_bytes()
                .to_vec(),
        ),
    })
}

/// The token source a login's JWT comes from, and its identity (what the
/// store's session is keyed by; never the token).
async fn jwt_source(refs: &Refs<'_>, jwt: Jwt<'_>) -> Result<(Arc<dyn TokenSource>, String)> {
    Ok(match jwt {
        Jwt::ServiceAccount {
            account,
            expiration_seconds,
        } => {
            let token = refs.service_account(&account, expiration_seconds);
            let identity = token.identity();
            (token, identity)
        }
        Jwt::Own => {
            // Unlike ESO: a namespace's SecretStore must not log in as the
            // controller (whoever may create one would read what the
            // controller's Vault role reads).
            if refs.own_namespace.is_some() {
                return Err(refs.config_error(
                    "auth.kubernetes with neither serviceAccountRef nor secretRef logs in with \
                     the controller's own token, which only a ClusterSecretStore may do; name a \
                     serviceAccountRef or a secretRef"
                        .to_owned(),
                ));
            }
            let token = MountedToken::new(&refs.ctx.config.own_token_path);
            let identity = token.identity();
            (Arc::new(token), identity)
        }
        Jwt::Secret {
            field,
            sel,
            default_key,
        } => {
            let value = refs.secret_value(field, sel, default_key).await?;
            (
                Arc::new(StaticToken(value)),
                refs.secret_identity(field, sel, default_key.unwrap_or_default()),
            )
        }
    })
}

async fn ca_from_provider(
    refs: &Refs<'_>,
    provider: &coffer_api::external::CaProvider,
) -> Result<Vec<u8>> {
    let namespace = refs.namespace_of(provider.namespace.as_deref());
    let key = provider.key.as_deref().unwrap_or("ca.crt");
    let missing = || {
        refs.config_error(format!(
            "caProvider: {:?} {namespace}/{} has no key {key:?}",
            provider.type_, provider.name
        ))
    };
    let kube_error = |e| Error::Kube {
        action: format!(
            "{}: read caProvider {namespace}/{}",
            refs.label, provider.name
        ),
        source: e,
    };
    match provider.type_ {
        CaProviderType::Secret => {
            let api: Api<Secret> = Api::namespaced(refs.ctx.client.clone(), &namespace);
            let mut s = api.get(&provider.name).await.map_err(kube_error)?;
            // NB: a certificate is public, but the Secret holding it (a TLS
            // Secret) may hold a private key beside it.
            let ca = s
                .data
                .as_mut()
                .and_then(|d| d.get_mut(key))
                .map(|b| std::mem::take(&mut b.0));
            wipe(&mut s);
            ca.ok_or_else(missing)
        }
        CaProviderType::ConfigMap => {
            let api: Api<ConfigMap> = Api::namespaced(refs.ctx.client.clone(), &namespace);
            let c = api.get(&provider.name).await.map_err(kube_error)?;
            c.data
                .and_then(|d| d.get(key).map(|s| s.clone().into_bytes()))
                .ok_or_else(missing)
        }
    }
}

/// Takes the value of `key` out of `secret` (`data`, else `stringData`).
fn take_value(secret: &mut Secret, key: &str) -> Option<Zeroizing<Vec<u8>>> {
    if let Some(b) = secret.data.as_mut().and_then(|d| d.get_mut(key)) {
        return Some(Zeroizing::new(std::mem::take(&mut b.0)));
    }
    secret
        .string_data
        .as_mut()
        .and_then(|d| d.get_mut(key))
        .map(|s| Zeroizing::new(std::mem::take(s).into_bytes()))
}

/// Wipes every value of a Secret read for a credential: the Secret may hold
/// other credentials besides the one used.
fn wipe(secret: &mut Secret) {
    for value in secret.data.iter_mut().flat_map(|d| d.values_mut()) {
        value.0.zeroize();
    }
    for value in secret.string_data.iter_mut().flat_map(|d| d.values_mut()) {
        value.zeroize();
    }
}
