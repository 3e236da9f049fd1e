//! The SealedSecret controller: the key registry, the Secret it builds, the
//! reconcile that keeps the two in step (its decisions in `plan`, its I/O
//! in [`reconcile`]), the Secret watches that wake it and what they keep:
//! the cache of Secrets it wrote and the hashed names of the others;
//! [`lead`] is what the leader runs.

pub mod key_settings;
pub mod keys;
mod listing;
pub mod others;
mod plan;
pub mod reconcile;
pub mod secret;
pub mod state;
#[cfg(test)]
mod test_keys;
pub mod watches;
pub mod written;

use std::sync::Arc;
use std::time::Duration;

use crate::{Config, Context, Shutdown};

/// Pause before retrying key creation after an API error.
const KEY_RETRY: Duration = Duration::from_secs(5);

/// The SealedSecret writer, run while this replica leads: makes sure a
/// sealing key exists (and honours the key cutoff time), then renews keys,
/// makes one whenever asked ([`crate::Running::request_new_key`]) and runs
/// the SealedSecret controller (one per watched namespace) until `stop`
/// fires; in-flight reconciles finish first.
pub async fn lead(ctx: Arc<Context>, config: Arc<Config>, stop: Shutdown) {
    // NB: both end when `stop` fires; the controllers first finish their
    // in-flight reconciles. They start once a key exists.
    let (ready, key_exists) = tokio::sync::oneshot::channel();
    tokio::join!(
        keep_keys(
            ctx.clone(),
            ctx.client.clone(),
            config.clone(),
            stop.clone(),
            Some(ready),
        ),
        async move {
            if key_exists.await.is_ok() {
                run_controllers(ctx, config, stop).await;
            }
        },
    );
}

/// The key writer alone (what the leader runs when replicas share the
/// SealedSecrets in shards): makes sure a sealing key exists, renews keys
/// and makes one whenever asked, until `stop` fires, writing with
/// `client`. `ready` hears once a key exists.
pub async fn keep_keys(
    ctx: Arc<Context>,
    client: kube::Client,
    config: Arc<Config>,
    mut stop: Shutdown,
    ready: Option<tokio::sync::oneshot::Sender<()>>,
) {
    // NB: without election, `start` already applied the cutoff; applying it
    // twice would renew twice for a cutoff in the future.
    let cutoff = config.leader_election.as_ref().and(config.key_cutoff);
    loop {
        let ensured = tokio::select! {
            r = ctx.keys.ensure_key(client.clone(), config.key_size, cutoff) => r,
            () = stop.wait() => return,
        };
        match ensured {
            Ok(()) => {
                if let Some(ready) = ready {
                    let _ = ready.send(());
                }
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot create a sealing key; retrying");
                tokio::select! {
                    () = tokio::time::sleep(KEY_RETRY) => {}
                    () = stop.wait() => return,
                }
            }
        }
    }
    let renew = async {
        if config.key_renew_period.is_zero() {
            std::future::pending::<()>().await;
        }
        ctx.keys
            .clone()
            .renew(client.clone(), config.key_renew_period, config.key_size)
            .await;
    };
    let on_request = async {
        use std::sync::atomic::Ordering;
        // NB: compared with what was handled, not "changed since", so a
        // request made while this writer was starting is not lost.
        let mut requests = ctx.sealed.key_requests.subscribe();
        loop {
            let handled = ctx.sealed.key_requests_handled.load(Ordering::Relaxed);
            let Ok(wanted) = requests.wait_for(|n| *n > handled).await.map(|n| *n) else {
                break;
            };
            let api = kube::Api::namespaced(client.clone(), ctx.keys.namespace());
            match ctx.keys.create_key(&api, config.key_size).await {
                Ok(key) => tracing::info!(key = %key.name, "made a new key as asked"),
                Err(e) => tracing::warn!(error = %e, "cannot make the new key asked for"),
            }
            ctx.sealed
                .key_requests_handled
                .store(wanted, Ordering::Relaxed);
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = renew => {}
        () = on_request => {}
        () = stop.wait() => {}
    }
}

/// The SealedSecret controllers (one per watched namespace), until `stop`
/// fires; in-flight reconciles finish first. With shards, each replica runs
/// them, and reconciles the SealedSecrets of the shards it holds.
pub async fn run_controllers(ctx: Arc<Context>, config: Arc<Config>, stop: Shutdown) {
    let namespaces: Vec<Option<String>> = if config.watch_namespaces.is_empty() {
        vec![None]
    } else {
        // One controller per namespace: kube's Controller watches one Api.
        let unique: std::collections::BTreeSet<&String> = config.watch_namespaces.iter().collect();
        unique.into_iter().cloned().map(Some).collect()
    };
    futures::future::join_all(
        namespaces
            .into_iter()
            .map(|ns| reconcile::run(ctx.clone(), ns, config.label_selector.clone(), stop.clone())),
    )
    .await;
}
