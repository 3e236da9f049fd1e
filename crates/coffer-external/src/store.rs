//! From a `secretStoreRef` to a provider client: find the store (from the
//! watch cache, no API call), check that the namespace may use it, read the
//! credentials it points at, and ask the session cache for its client.
//!
//! The resolved configuration is reused for [`Config::store_config_ttl`]
//! while the store object is unchanged, so a steady state costs no API
//! calls per reconcile; the session cache keeps the client (and its Vault
//! token or AWS credentials) for as long as the configuration's fingerprint
//! is the same. A ClusterSecretStore whose credentials are read in the
//! ExternalSecret's namespace gets one client per such namespace, so one
//! namespace never reads with another's login (see `build_config`).
//!
//! [`Config::store_config_ttl`]: crate::Config::store_config_ttl

mod aws_tags;
mod credentials;
mod vault_login;
mod vault_tls;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use coffer_api::external::{
    ClusterSecretStoreCondition, ProviderKind, STORE_CONDITION_READY, SecretStoreRef, StoreKind,
};
use coffer_api::{ClusterSecretStore, SecretStore, SecretStoreSpec};
use coffer_providers::{Client, StoreConfig};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::runtime::reflector::ObjectRef;
use regex::Regex;

use self::credentials::{Refs, aws_config, vault_config};
use crate::context::{Context, Resolved};
use crate::error::{Error, Result};

/// A store ready for reads.
#[derive(Debug, Clone)]
pub struct ResolvedStore {
    /// Its provider client.
    pub client: Arc<Client>,
}

/// A store object of either kind.
enum StoreObject {
    Namespaced(Arc<SecretStore>),
    Cluster(Arc<ClusterSecretStore>),
}

impl StoreObject {
    fn spec(&self) -> &SecretStoreSpec {
        match self {
            StoreObject::Namespaced(s) => &s.spec,
            StoreObject::Cluster(s) => &s.spec,
        }
    }

    fn name(&self) -> &str {
        let meta = match self {
            StoreObject::Namespaced(s) => &s.metadata,
            StoreObject::Cluster(s) => &s.metadata,
        };
        meta.name.as_deref().unwrap_or_default()
    }

    /// Whether the store's `Ready` condition is `True` (ESO's flood gate:
    /// no condition yet counts as not ready).
    fn ready(&self) -> bool {
        let status = match self {
            StoreObject::Namespaced(s) => s.status.as_ref(),
            StoreObject::Cluster(s) => s.status.as_ref(),
        };
        status.is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == STORE_CONDITION_READY && c.status == "True")
        })
    }

    fn resource_version(&self) -> String {
        let meta = match self {
            StoreObject::Namespaced(s) => &s.metadata,
            StoreObject::Cluster(s) => &s.metadata,
        };
        meta.resource_version.clone().unwrap_or_default()
    }
}

/// The store `r` names, for an ExternalSecret in `namespace`; `Ok(None)`
/// when the store belongs to another controller class (the ExternalSecret
/// is then left alone, as ESO does).
pub async fn resolve(
    ctx: &Context,
    namespace: &str,
    r: &SecretStoreRef,
) -> Result<Option<ResolvedStore>> {
    let (object, label) = match r.kind() {
        StoreKind::SecretStore => {
            let key = ObjectRef::new(r.name()).within(namespace);
            let store = ctx.stores.iter().find_map(|s| s.get(&key)).ok_or_else(|| {
                Error::StoreNotFound {
                    kind: "SecretStore",
                    name: r.name().to_owned(),
                }
            })?;
            (
                StoreObject::Namespaced(store),
                format!("SecretStore {namespace}/{}", r.name()),
            )
        }
        StoreKind::ClusterSecretStore => {
            let store = ctx
                .cluster_stores
                .get(&ObjectRef::new(r.name()))
                .ok_or_else(|| Error::StoreNotFound {
                    kind: "ClusterSecretStore",
                    name: r.name().to_owned(),
                })?;
            if !namespace_allowed(ctx, &store.spec.conditions, namespace).await? {
                return Err(Error::StoreNotAllowed {
                    store: r.name().to_owned(),
                    namespace: namespace.to_owned(),
                });
            }
            (
                StoreObject::Cluster(store),
                format!("ClusterSecretStore {}", r.name()),
            )
        }
    };
    let class = object.spec().controller.as_deref().unwrap_or_default();
    if !class.is_empty() && class != ctx.config.controller_class {
        return Ok(None);
    }
    if ctx.config.flood_gate && !object.ready() {
        return Err(Error::StoreNotReady { store: label });
    }
    let (config, scope) = store_config(ctx, &object, &label, namespace).await?;
    let client = ctx
        .sessions
        .client(&label, scope.as_deref(), &config)
        .await
        .map_err(|e| Error::StoreConfig {
            store: label.clone(),
            reason: e.to_string(),
        })?;
    Ok(Some(ResolvedStore { client }))
}

/// The store's configuration and its session scope (see [`build_config`]),
/// from the cache while fresh.
async fn store_config(
    ctx: &Context,
    object: &StoreObject,
    label: &str,
    namespace: &str,
) -> Result<(StoreConfig, Option<String>)> {
    let version = object.resource_version();
    // A ClusterSecretStore's credentials can depend on the ExternalSecret's
    // namespace (a secretRef without a namespace), so they are cached per
    // namespace.
    let cache_key = format!("{label}@{namespace}");
    let cached = || {
        let cache = ctx.resolved.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(&cache_key)
            .filter(|r| {
                r.resource_version == version && r.at.elapsed() < ctx.config.store_config_ttl
            })
            .map(|r| (r.config.clone(), r.scope.clone()))
    };
    if let Some(hit) = cached() {
        return Ok(hit);
    }
    let _resolving = ctx.resolving.enter(&cache_key).await;
    // Resolved by another reconcile while this one waited.
    if let Some(hit) = cached() {
        return Ok(hit);
    }
    let credentials_namespace = match object {
        StoreObject::Namespaced(_) => Some(namespace),
        StoreObject::Cluster(_) => None,
    };
    let (config, scope) = build_config(
        ctx,
        object.spec(),
        label,
        object.name(),
        credentials_namespace,
        namespace,
    )
    .await?;
    ctx.resolved
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            cache_key,
            Resolved {
                resource_version: version,
                at: Instant::now(),
                config: config.clone(),
                scope: scope.clone(),
            },
        );
    Ok((config, scope))
}

/// Builds the provider configuration. `own_namespace` is the store's
/// namespace for a SecretStore (references may not leave it) and `None` for
/// a ClusterSecretStore (references name their namespace, defaulting to the
/// ExternalSecret's, `es_namespace`).
///
/// Also returns the configuration's session scope: `Some(es_namespace)`
/// when a reference was read in `es_namespace` for want of its own, so that
/// the client (its login, its identity at the provider, its cached reads)
/// serves that namespace alone; `None` when the configuration is the same
/// for every namespace.
pub(crate) async fn build_config(
    ctx: &Context,
    spec: &SecretStoreSpec,
    label: &str,
    store_name: &str,
    own_namespace: Option<&str>,
    es_namespace: &str,
) -> Result<(StoreConfig, Option<String>)> {
    let refs = Refs {
        ctx,
        label,
        own_namespace,
        es_namespace,
        store_name,
        used_es_namespace: AtomicBool::new(false),
    };
    if spec.retry_settings.is_some() {
        // Accepted by the schema (ESO's) but not honoured: refused rather
        // than ignored. The clients' own retries are fixed and bounded.
        return Err(refs.config_error(
            "spec.retrySettings is not supported by Coffer: its provider clients retry with a fixed, bounded backoff".to_owned(),
        ));
    }
    let config = match spec.provider.kind() {
        ProviderKind::Aws(aws) => aws_config(&refs, aws).await.map(StoreConfig::Aws),
        ProviderKind::Vault(vault) => vault_config(&refs, vault).await.map(StoreConfig::Vault),
        ProviderKind::Unsupported(name) => Err(refs.config_error(format!(
            "provider {name:?} is not supported by Coffer (supported: aws, vault)"
        ))),
        ProviderKind::None => Err(refs.config_error("no provider is configured".to_owned())),
        ProviderKind::Many => Err(refs.config_error(format!(
            "exactly one provider must be configured, found {:?}",
            spec.provider.names()
        ))),
    }?;
    let scope = refs
        .depends_on_es_namespace()
        .then(|| es_namespace.to_owned());
    Ok((config, scope))
}

/// Whether a ClusterSecretStore's `conditions` let `namespace` use it: no
/// conditions allow every namespace; otherwise any one condition must match
/// (by name, unanchored regexp as Go's `MatchString`, or label selector).
async fn namespace_allowed(
    ctx: &Context,
    conditions: &[ClusterSecretStoreCondition],
    namespace: &str,
) -> Result<bool> {
    if conditions.is_empty() {
        return Ok(true);
    }
    let mut labels = None;
    for condition in conditions {
        if condition.namespaces.iter().any(|n| n == namespace) {
            return Ok(true);
        }
        if condition
            .namespace_regexes
            .iter()
            .any(|re| Regex::new(re).is_ok_and(|re| re.is_match(namespace)))
        {
            return Ok(true);
        }
        if let Some(selector) = &condition.namespace_selector {
            if labels.is_none() {
                let api: Api<Namespace> = Api::all(ctx.client.clone());
                let ns = api.get(namespace).await.map_err(|e| Error::Kube {
                    action: format!("read namespace {namespace}"),
                    source: e,
                })?;
                labels = Some(ns.metadata.labels.unwrap_or_default());
            }
            if crate::selector::matches(selector, labels.as_ref().unwrap_or(&Default::default())) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
