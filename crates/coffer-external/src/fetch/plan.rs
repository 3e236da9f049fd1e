//! What to read for an ExternalSecret and what the answers make of it,
//! without any provider call: [`reads`] checks the spec and lists the reads
//! by store, and [`Collected`] takes the answers in ESO's order, deciding
//! which failures are a missing remote secret (skipped, so the Secret may
//! lose keys or be deleted) and which fail the sync (the Secret is kept).

use std::collections::BTreeMap;
use std::time::Instant;

use coffer_api::external::{
    ExternalSecretData, ExternalSecretDataFromRemoteRef, ExternalSecretSpec, SecretStoreRef,
};
use coffer_providers::{Error as ProviderError, Fetched, Find, SecretValue};

use super::{provider_ref, shape_map};
use crate::error::{Error, Result};
use crate::transform::{self, SecretData};

/// A store as a map key: its kind and name.
pub(super) type StoreKey = (String, String);

pub(super) fn store_key(r: &SecretStoreRef) -> StoreKey {
    (format!("{:?}", r.kind()), r.name().to_owned())
}

/// How one `dataFrom` entry reads.
pub(super) enum FromRead {
    /// `extract`: one remote secret as a map.
    Extract(coffer_providers::RemoteRef),
    /// `find`: the remote secrets matching.
    Find(Find),
}

/// One `dataFrom` entry's read.
pub(super) struct DataFrom<'a> {
    pub(super) index: usize,
    pub(super) store: &'a SecretStoreRef,
    pub(super) read: FromRead,
}

/// The reads an ExternalSecret asks for.
pub(super) struct Reads<'a> {
    /// `dataFrom[]`, in spec order (later entries win).
    pub(super) data_from: Vec<DataFrom<'a>>,
    /// `data[]` indices by store (each store's reads go out together, so
    /// the AWS client can batch them), in spec order within a store.
    pub(super) data: BTreeMap<StoreKey, (&'a SecretStoreRef, Vec<usize>)>,
    /// The store of each `data[]` entry, in spec order (the order stores
    /// are looked up in, so a missing one is reported as ESO would).
    pub(super) data_stores: Vec<&'a SecretStoreRef>,
}

/// Lists the reads of `spec`, refusing what Coffer does not do before any
/// store is looked up or read: accepted by ESO's schema, never silently
/// skipped.
pub(super) fn reads(spec: &ExternalSecretSpec) -> Result<Reads<'_>> {
    crate::build::check_spec(spec)?;
    let mut data_from = Vec::with_capacity(spec.data_from.len());
    for (i, from) in spec.data_from.iter().enumerate() {
        if let Some(j) = from.rewrite.iter().position(|r| r.merge.is_some()) {
            return Err(Error::Unsupported {
                field: format!("spec.dataFrom[{i}].rewrite[{j}].merge"),
                reason: "merge rewrites are not supported by Coffer (use regexp or transform \
                         rewrites, or a template)"
                    .to_owned(),
            });
        }
        let store = match &from.source_ref {
            Some(source) if source.generator_ref.is_some() => {
                return Err(generators_unsupported(format!(
                    "spec.dataFrom[{i}].sourceRef.generatorRef"
                )));
            }
            Some(source) => source.store_ref.as_ref().unwrap_or(&spec.secret_store_ref),
            None => &spec.secret_store_ref,
        };
        let read = match (&from.extract, &from.find) {
            (Some(r), None) => FromRead::Extract(provider_ref(r)),
            (None, Some(f)) => FromRead::Find(Find {
                name_regexp: f.name.as_ref().and_then(|n| n.regexp.clone()),
                tags: f.tags.clone(),
                path: f.path.clone(),
            }),
            _ => {
                return Err(Error::InvalidSpec(format!(
                    "spec.dataFrom[{i}]: exactly one of extract or find must be set"
                )));
            }
        };
        data_from.push(DataFrom {
            index: i,
            store,
            read,
        });
    }
    let mut data: BTreeMap<StoreKey, (&SecretStoreRef, Vec<usize>)> = BTreeMap::new();
    let mut data_stores = Vec::with_capacity(spec.data.len());
    for (i, item) in spec.data.iter().enumerate() {
        let store = match &item.source_ref {
            Some(source) if source.generator_ref.is_some() => {
                return Err(generators_unsupported(format!(
                    "spec.data[{i}].sourceRef.generatorRef"
                )));
            }
            Some(source) => &source.store_ref,
            None => &spec.secret_store_ref,
        };
        data_stores.push(store);
        data.entry(store_key(store))
            .or_insert_with(|| (store, Vec::new()))
            .1
            .push(i);
    }
    Ok(Reads {
        data_from,
        data,
        data_stores,
    })
}

fn generators_unsupported(field: String) -> Error {
    Error::Unsupported {
        field,
        reason: "generators are not supported by Coffer".to_owned(),
    }
}

/// The answers, collected in ESO's order: `dataFrom[]` first, then
/// `data[]`, which overwrites `dataFrom` on key collisions. (No `Debug`:
/// it holds values.)
pub(super) struct Collected {
    /// `deletionPolicy: Retain`: a missing remote secret fails the sync.
    retain: bool,
    pub(super) data: SecretData,
    /// When the oldest value used was fetched.
    pub(super) oldest: Instant,
    /// Fields skipped because their remote secret is gone.
    pub(super) missing: Vec<String>,
}

impl Collected {
    pub(super) fn new(retain: bool, now: Instant) -> Self {
        Collected {
            retain,
            data: SecretData::new(),
            oldest: now,
            missing: Vec::new(),
        }
    }

    /// Whether a failed read is a missing remote secret to skip: only when
    /// the provider confirmed it is gone (never an unconfirmed 404, which
    /// could otherwise empty or delete a Secret), and not under `Retain`,
    /// where ESO keeps the Secret and reports the error.
    fn skips(&self, error: &ProviderError) -> bool {
        error.is_not_found() && !self.retain
    }

    /// Takes the answer for `dataFrom[i]`.
    pub(super) fn data_from(
        &mut self,
        i: usize,
        from: &ExternalSecretDataFromRemoteRef,
        answer: coffer_providers::Result<Fetched<SecretData>>,
    ) -> Result<()> {
        let fetched = match answer {
            Ok(f) => f,
            Err(e) if self.skips(&e) => {
                self.missing.push(format!("spec.dataFrom[{i}]"));
                return Ok(());
            }
            Err(source) => {
                let how = if from.extract.is_some() {
                    "extract"
                } else {
                    "find"
                };
                return Err(Error::Provider {
                    field: format!("spec.dataFrom[{i}].{how}"),
                    source,
                });
            }
        };
        self.oldest = self.oldest.min(fetched.fetched_at);
        let entry = shape_map(from, fetched.value).map_err(|source| Error::Transform {
            field: format!("spec.dataFrom[{i}]"),
            source,
        })?;
        self.data.extend(entry);
        Ok(())
    }

    /// Takes the answer for `data[i]`.
    pub(super) fn data(
        &mut self,
        i: usize,
        item: &ExternalSecretData,
        answer: coffer_providers::Result<Fetched<SecretValue>>,
    ) -> Result<()> {
        let key = &item.remote_ref.key;
        let field = format!("spec.data[{i}] (key: {key})");
        let fetched = match answer {
            Ok(f) => f,
            Err(e) if self.skips(&e) => {
                self.missing.push(format!("spec.data[{i}] (key={key})"));
                return Ok(());
            }
            Err(source) => return Err(Error::Provider { field, source }),
        };
        self.oldest = self.oldest.min(fetched.fetched_at);
        let value = transform::decode(
            &item.secret_key,
            fetched.value,
            item.remote_ref.shaping.decoding_strategy(),
        )
        .and_then(|value| {
            let policy = item.remote_ref.shaping.null_byte_policy();
            transform::check_null_bytes(&item.secret_key, &value, policy)?;
            Ok(value)
        })
        .map_err(|source| Error::Transform { field, source })?;
        self.data.insert(item.secret_key.clone(), value);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
