//! Forgetting deleted objects. What this process remembers per object
//! (retry counts, the last sync it wrote, first sightings, validated store
//! generations, per-ExternalSecret metric series) is keyed by uid or name,
//! and no reconcile runs for an object that is gone; so every
//! [`SWEEP_EVERY`] a sweep keeps only the entries of objects the caches
//! still hold. Under steady create/delete churn the memory stays
//! proportional to the objects that exist, not to all that ever existed.
//!
//! A deleted ExternalSecret's metric series go at once (as ESO removes
//! them), from the controller's "object not found" trigger; with shards,
//! those of objects another replica now holds go at the next sweep.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use coffer_api::ExternalSecret;
use futures::FutureExt;
use kube::ResourceExt;
use kube::runtime::reflector::Store;

use crate::context::Context;

/// How often the sweep runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What exists now, from the caches.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// ExternalSecret uids.
    pub external_secrets: HashSet<String>,
    /// ExternalSecret `(namespace, name)`.
    pub names: HashSet<(String, String)>,
    /// SecretStore and ClusterSecretStore uids.
    pub stores: HashSet<String>,
}

impl Live {
    /// Reads the caches: `external_secrets` (one per scope) and the
    /// context's store caches.
    pub(crate) fn observe(ctx: &Context, external_secrets: &[Store<ExternalSecret>]) -> Live {
        let mut live = Live::default();
        for es in external_secrets.iter().flat_map(Store::state) {
            live.external_secrets
                .insert(es.metadata.uid.clone().unwrap_or_default());
            live.names
                .insert((es.namespace().unwrap_or_default(), es.name_any()));
        }
        let uid = |m: &kube::api::ObjectMeta| m.uid.clone().unwrap_or_default();
        for store in ctx.stores.iter().flat_map(Store::state) {
            live.stores.insert(uid(&store.metadata));
        }
        for store in ctx.cluster_stores.state() {
            live.stores.insert(uid(&store.metadata));
        }
        live
    }
}

/// Drops every per-object entry of `ctx` whose object is not in `live`,
/// and resolved store configurations past their time to live.
pub(crate) fn prune(ctx: &Context, live: &Live) {
    let es = &live.external_secrets;
    ctx.seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|uid| es.contains(uid));
    ctx.last_sync
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|uid, _| es.contains(uid));
    ctx.retries.retain(|uid| es.contains(uid));
    ctx.validated
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|uid, _| live.stores.contains(uid));
    let ttl = ctx.config.store_config_ttl;
    ctx.resolved
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|_, resolved| resolved.at.elapsed() < ttl);
    ctx.resolving.retain(|_| false);
    // NB: with shards, an ExternalSecret another replica now syncs is that
    // replica's to report; its series here would go stale.
    let partition = ctx.config.partition.as_deref();
    ctx.metrics.retain(|namespace, name| {
        live.names
            .contains(&(namespace.to_owned(), name.to_owned()))
            && coffer_shard::holds(partition, namespace, name)
    });
}

/// Sweeps every [`SWEEP_EVERY`] until `shutdown` fires. The caches are
/// read at each sweep, so every scope's cache is seen once its controller
/// has started.
pub(crate) async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()>) {
    let sweeps = every(SWEEP_EVERY, || {
        let caches = ctx.external_secret_caches();
        // NB: a cache that has not listed yet would make everything look
        // deleted; no sweep until all have.
        if caches.iter().all(listed) {
            prune(&ctx, &Live::observe(&ctx, &caches));
        }
    });
    tokio::select! {
        () = sweeps => {}
        () = shutdown => {}
    }
}

/// Calls `sweep` every `period` (not at once), for ever; shared by the
/// SealedSecret controller's sweep.
pub async fn every(period: Duration, mut sweep: impl FnMut()) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        sweep();
    }
}

/// Whether `cache` has its first list (before it, an empty cache would
/// look like every object was deleted).
pub fn listed<K>(cache: &Store<K>) -> bool
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    cache.wait_until_ready().now_or_never().is_some()
}
