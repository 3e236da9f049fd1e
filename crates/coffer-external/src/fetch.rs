//! Reading an ExternalSecret's data from its stores, in ESO's order:
//! `dataFrom[]` first (later entries win), then `data[]` (overwriting
//! `dataFrom` on key collisions). `data[]` reads against one store go out
//! together, so the AWS client can batch them.
//!
//! A remote secret that does not exist is skipped (with an Event) unless
//! `deletionPolicy` is `Retain`, in which case it fails the sync and the
//! Secret is kept as it is, as ESO does.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use coffer_api::ExternalSecret;
use coffer_api::external::{DeletionPolicy, ExternalSecretDataFromRemoteRef, RemoteRef};
use coffer_providers::{Find, MetadataPolicy, ReadOptions, RemoteRef as ProviderRef};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::store::{self, ResolvedStore};
use crate::transform::{self, Rewrite, SecretData};

/// What was read.
#[derive(Debug)]
pub struct Gathered {
    /// Key → value, after decoding, conversion and rewrites.
    pub data: SecretData,
    /// When the oldest value used was fetched from its provider.
    pub oldest_fetch: Instant,
    /// Fields skipped because their remote secret does not exist (for
    /// Events): `spec.data[0] (key=db)`.
    pub missing: Vec<String>,
}

/// Reads everything `es` asks for. `max_age` lets reads reuse results of
/// identical reads made that recently by other ExternalSecrets.
pub async fn gather(
    ctx: &Context,
    es: &ExternalSecret,
    max_age: Duration,
) -> Result<Option<Gathered>> {
    let namespace = es.metadata.namespace.as_deref().unwrap_or_default();
    let spec = &es.spec;
    let retain = spec.target.deletion_policy() == DeletionPolicy::Retain;
    let opts = ReadOptions { max_age };
    let mut stores = BTreeMap::new();
    let mut data = SecretData::new();
    let mut oldest = Instant::now();
    let mut missing = Vec::new();

    for (i, from) in spec.data_from.iter().enumerate() {
        // Accepted by ESO's schema, not implemented: refused before any
        // provider call, never silently skipped.
        if let Some(j) = from.rewrite.iter().position(|r| r.merge.is_some()) {
            return Err(Error::Unsupported {
                field: format!("spec.dataFrom[{i}].rewrite[{j}].merge"),
                reason: "merge rewrites are not supported by Coffer (use regexp or transform \
                         rewrites, or a template)"
                    .to_owned(),
            });
        }
        let store_ref = match &from.source_ref {
            Some(source) if source.generator_ref.is_some() => {
                return Err(Error::Unsupported {
                    field: format!("spec.dataFrom[{i}].sourceRef.generatorRef"),
                    reason: "generators are not supported by Coffer".to_owned(),
                });
            }
            Some(source) => source.store_ref.as_ref().unwrap_or(&spec.secret_store_ref),
            None => &spec.secret_store_ref,
        };
        let Some(store) = store_for(ctx, &mut stores, namespace, store_ref).await? else {
            return Ok(None);
        };
        let (field, read) = match (&from.extract, &from.find) {
            (Some(r), None) => {
                let field = format!("spec.dataFrom[{i}].extract");
                (field, store.client.get_map(&provider_ref(r), opts).await)
            }
            (None, Some(f)) => {
                let field = format!("spec.dataFrom[{i}].find");
                let find = Find {
                    name_regexp: f.name.as_ref().and_then(|n| n.regexp.clone()),
                    tags: f.tags.clone(),
                    path: f.path.clone(),
                };
                (field, store.client.find(&find, opts).await)
            }
            _ => {
                return Err(Error::InvalidSpec(format!(
                    "spec.dataFrom[{i}]: exactly one of extract or find must be set"
                )));
            }
        };
        let fetched = match read {
            Ok(f) => f,
            Err(e) if e.is_not_found() && !retain => {
                missing.push(format!("spec.dataFrom[{i}]"));
                continue;
            }
            Err(source) => return Err(Error::Provider { field, source }),
        };
        oldest = oldest.min(fetched.fetched_at);
        let entry = shape_map(from, fetched.value).map_err(|source| Error::Transform {
            field: format!("spec.dataFrom[{i}]"),
            source,
        })?;
        data.extend(entry);
    }

    // data[]: one batch per store, results placed in spec order.
    let mut by_store: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, item) in spec.data.iter().enumerate() {
        let store_ref = match &item.source_ref {
            Some(source) if source.generator_ref.is_some() => {
                return Err(Error::Unsupported {
                    field: format!("spec.data[{i}].sourceRef.generatorRef"),
                    reason: "generators are not supported by Coffer".to_owned(),
                });
            }
            Some(source) => &source.store_ref,
            None => &spec.secret_store_ref,
        };
        if store_for(ctx, &mut stores, namespace, store_ref)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        by_store.entry(store_key(store_ref)).or_default().push(i);
    }
    let mut values = BTreeMap::new();
    for (key, indices) in &by_store {
        let store = &stores[key];
        let refs: Vec<ProviderRef> = indices
            .iter()
            .map(|&i| provider_ref(&spec.data[i].remote_ref))
            .collect();
        let results = store.client.get_many(&refs, opts).await;
        for (&i, result) in indices.iter().zip(results) {
            values.insert(i, result);
        }
    }
    for (i, result) in values {
        let item = &spec.data[i];
        let field = format!("spec.data[{i}] (key: {})", item.remote_ref.key);
        let fetched = match result {
            Ok(f) => f,
            Err(e) if e.is_not_found() && !retain => {
                missing.push(format!("spec.data[{i}] (key={})", item.remote_ref.key));
                continue;
            }
            Err(source) => return Err(Error::Provider { field, source }),
        };
        oldest = oldest.min(fetched.fetched_at);
        let value = transform::decode(
            &item.secret_key,
            fetched.value,
            item.remote_ref.decoding_strategy(),
        )
        .map_err(|source| Error::Transform { field, source })?;
        data.insert(item.secret_key.clone(), value);
    }
    Ok(Some(Gathered {
        data,
        oldest_fetch: oldest,
        missing,
    }))
}

/// The store `r` names, resolved once per reconcile.
async fn store_for<'a>(
    ctx: &Context,
    stores: &'a mut BTreeMap<(String, String), ResolvedStore>,
    namespace: &str,
    r: &coffer_api::external::SecretStoreRef,
) -> Result<Option<&'a ResolvedStore>> {
    let key = store_key(r);
    if !stores.contains_key(&key) {
        match store::resolve(ctx, namespace, r).await? {
            Some(resolved) => {
                stores.insert(key.clone(), resolved);
            }
            None => return Ok(None),
        }
    }
    Ok(stores.get(&key))
}

fn store_key(r: &coffer_api::external::SecretStoreRef) -> (String, String) {
    (format!("{:?}", r.kind()), r.name().to_owned())
}

/// ESO's `remoteRef` as the provider crate takes it.
pub fn provider_ref(r: &RemoteRef) -> ProviderRef {
    ProviderRef {
        key: r.key.clone(),
        property: r.property.clone().filter(|p| !p.is_empty()),
        version: r.version.clone().filter(|v| !v.is_empty()),
        metadata_policy: match r.metadata_policy() {
            coffer_api::external::MetadataPolicy::None => MetadataPolicy::None,
            coffer_api::external::MetadataPolicy::Fetch => MetadataPolicy::Fetch,
        },
    }
}

/// ESO's steps for one `dataFrom` result: rewrites (or, when there are
/// none, key conversion), key validation, then decoding.
fn shape_map(
    from: &ExternalSecretDataFromRemoteRef,
    map: SecretData,
) -> Result<SecretData, transform::TransformError> {
    let (conversion, decoding) = match (&from.extract, &from.find) {
        (Some(r), _) => (r.conversion_strategy(), r.decoding_strategy()),
        (_, Some(f)) => (
            f.conversion_strategy.unwrap_or_default(),
            f.decoding_strategy.unwrap_or_default(),
        ),
        _ => Default::default(),
    };
    let mut rewrites = Vec::with_capacity(from.rewrite.len());
    for r in &from.rewrite {
        if let Some(re) = &r.regexp {
            rewrites.push(Rewrite::regexp(&re.source, &re.target)?);
        } else if let Some(t) = &r.transform {
            rewrites.push(Rewrite::transform(&t.template)?);
        }
    }
    let map = if rewrites.is_empty() {
        transform::convert_keys(map, conversion)?
    } else {
        transform::rewrite_keys(map, &rewrites)?
    };
    let mut out = SecretData::new();
    for (key, value) in map {
        if key.is_empty() {
            continue;
        }
        if !transform::is_valid_secret_key(&key) {
            return Err(transform::TransformError::InvalidKey {
                from: key.clone(),
                to: key,
            });
        }
        let value = transform::decode(&key, value, decoding)?;
        out.insert(key, value);
    }
    Ok(out)
}
