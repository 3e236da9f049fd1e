//! Reading an ExternalSecret's data from its stores, in ESO's order:
//! `dataFrom[]` first (later entries win), then `data[]` (overwriting
//! `dataFrom` on key collisions). `data[]` reads against one store go out
//! together, so the AWS client can batch them.
//!
//! A remote secret that does not exist is skipped (with an Event) unless
//! `deletionPolicy` is `Retain`, in which case it fails the sync and the
//! Secret is kept as it is, as ESO does.
//!
//! The decisions are in [`plan`]; this module makes the reads.

mod plan;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use coffer_api::ExternalSecret;
use coffer_api::external::{DeletionPolicy, ExternalSecretDataFromRemoteRef, RemoteRef};
use coffer_providers::{MetadataPolicy, ReadOptions, RemoteRef as ProviderRef};

use crate::context::Context;
use crate::error::Result;
use crate::store::{self, ResolvedStore};
use crate::transform::{self, Rewrite, SecretData};
use plan::{Collected, FromRead, StoreKey};

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

/// Reads everything `es` asks for (see [`plan`]). `max_age` lets reads
/// reuse results of identical reads made that recently by other
/// ExternalSecrets. `None` when a store belongs to another controller
/// class.
pub async fn gather(
    ctx: &Context,
    es: &ExternalSecret,
    max_age: Duration,
) -> Result<Option<Gathered>> {
    let namespace = es.metadata.namespace.as_deref().unwrap_or_default();
    let spec = &es.spec;
    let reads = plan::reads(spec)?;
    let retain = spec.target.deletion_policy() == DeletionPolicy::Retain;
    let mut collected = Collected::new(retain, Instant::now());
    let opts = ReadOptions { max_age };
    let mut stores = BTreeMap::new();

    for from in &reads.data_from {
        let Some(store) = store_for(ctx, &mut stores, namespace, from.store).await? else {
            return Ok(None);
        };
        let answer = match &from.read {
            FromRead::Extract(r) => store.client.get_map(r, opts).await,
            FromRead::Find(f) => store.client.find(f, opts).await,
        };
        collected.data_from(from.index, &spec.data_from[from.index], answer)?;
    }

    for store_ref in &reads.data_stores {
        if store_for(ctx, &mut stores, namespace, store_ref)
            .await?
            .is_none()
        {
            return Ok(None);
        }
    }
    // One batch per store, answers taken in spec order.
    let mut answers = BTreeMap::new();
    for (key, (_, indices)) in &reads.data {
        let store = &stores[key];
        let refs: Vec<ProviderRef> = indices
            .iter()
            .map(|&i| provider_ref(&spec.data[i].remote_ref))
            .collect();
        let results = store.client.get_many(&refs, opts).await;
        answers.extend(indices.iter().copied().zip(results));
    }
    for (i, answer) in answers {
        collected.data(i, &spec.data[i], answer)?;
    }
    Ok(Some(Gathered {
        data: collected.data,
        oldest_fetch: collected.oldest,
        missing: collected.missing,
    }))
}

/// The store `r` names, resolved once per reconcile.
async fn store_for<'a>(
    ctx: &Context,
    stores: &'a mut BTreeMap<StoreKey, ResolvedStore>,
    namespace: &str,
    r: &coffer_api::external::SecretStoreRef,
) -> Result<Option<&'a ResolvedStore>> {
    let key = plan::store_key(r);
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
/// none, key conversion), key validation, then decoding and the
/// `nullBytePolicy` check.
fn shape_map(
    from: &ExternalSecretDataFromRemoteRef,
    map: SecretData,
) -> Result<SecretData, transform::TransformError> {
    let shaping = match (&from.extract, &from.find) {
        (Some(r), _) => r.shaping,
        (_, Some(f)) => f.shaping,
        _ => Default::default(),
    };
    let (conversion, decoding, null_bytes) = (
        shaping.conversion_strategy(),
        shaping.decoding_strategy(),
        shaping.null_byte_policy(),
    );
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
        transform::check_null_bytes(&key, &value, null_bytes)?;
        out.insert(key, value);
    }
    Ok(out)
}
