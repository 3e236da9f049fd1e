//! The election loop: campaign for the Lease through kube-lease-manager,
//! time each term from the Lease as stored, keep its deadline current as
//! renewals land, and step down when they stop landing.
//!
//! kube-lease-manager renews a grace before expiry and reports only
//! changes of holder (and errors), not renewals, and a renewal request
//! that hangs reports nothing at all. So, while leading, the campaign reads
//! the Lease itself once each renewal is due: the `renewTime` it finds
//! (written with this process's clock) sets the deadline of
//! [`super::Leadership`]. If the deadline comes without a newer
//! `renewTime`, or another identity holds the Lease, this replica steps
//! down without waiting for kube-lease-manager.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Holder, Leadership, LeaseConfig};
use crate::Shutdown;

/// Pause before starting the election over after an API error.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// How often a follower re-reads the Lease (client-go's retry period).
const FOLLOWER_POLL: Duration = Duration::from_secs(2);

/// How often the leader re-reads the Lease while a due renewal has not
/// shown up in it yet.
const RECHECK: Duration = Duration::from_millis(250);

/// Starts the election on a spawned task. The task runs until `shutdown`
/// fires, then releases the Lease (if held) so another replica takes over
/// at once rather than after the lease expires.
pub fn elect(
    client: kube::Client,
    config: LeaseConfig,
    shutdown: Shutdown,
) -> (Leadership, JoinHandle<()>) {
    let (holder, leadership) = Holder::new();
    let task = tokio::spawn(campaign(client, config, Arc::new(holder), shutdown));
    (leadership, task)
}

/// One term as the Lease shows it.
#[derive(Debug, Clone, Copy)]
struct Term {
    /// The Lease's `renewTime`.
    renewed: SystemTime,
    /// Writes stop here: expiry minus the margin.
    valid_until: Instant,
    /// kube-lease-manager renews here: expiry minus the grace.
    renewal_due: Instant,
}

/// Reads the Lease: the term if `identity` holds it, `None` if another
/// identity (or nobody) does.
async fn read_term(
    leases: &Api<Lease>,
    config: &LeaseConfig,
    identity: &str,
) -> Result<Option<Term>, kube::Error> {
    let lease = leases.get(&config.name).await?;
    let Some(spec) = lease.spec else {
        return Ok(None);
    };
    let (Some(holder), Some(renewed)) = (spec.holder_identity, spec.renew_time) else {
        return Ok(None);
    };
    if holder != identity {
        return Ok(None);
    }
    let (default_duration, grace) = config.seconds();
    let duration = spec
        .lease_duration_seconds
        .and_then(|d| u64::try_from(d).ok())
        .unwrap_or(default_duration);
    let renewed = SystemTime::from(renewed.0);
    // NB: kube-lease-manager writes `renewTime` from this process's clock,
    // so what is left is measured without skew; other replicas measure
    // with theirs (the usual assumption of leader election: small skew).
    let left = (renewed + Duration::from_secs(duration))
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    let now = Instant::now();
    Ok(Some(Term {
        renewed,
        valid_until: now + left.saturating_sub(config.margin()),
        renewal_due: now + left.saturating_sub(Duration::from_secs(grace)),
    }))
}

/// Follows term `term` (first seen as `first`): moves the deadline at each
/// renewal, and reports on `lost` why the term ended (the deadline passed
/// without a renewal, or another identity holds the Lease).
async fn keep_term(
    leases: Api<Lease>,
    config: LeaseConfig,
    identity: String,
    holder: Arc<Holder>,
    (term, first): (u64, Term),
    lost: mpsc::UnboundedSender<(u64, &'static str)>,
) {
    const EXPIRED: &str = "the lease was not renewed before its deadline";
    let mut current = first;
    let mut next = current.renewal_due + RECHECK;
    let reason = loop {
        tokio::select! {
            () = tokio::time::sleep_until(current.valid_until) => break EXPIRED,
            () = tokio::time::sleep_until(next) => {}
        }
        let read =
            tokio::time::timeout_at(current.valid_until, read_term(&leases, &config, &identity))
                .await;
        match read {
            Err(_) => break EXPIRED,
            Ok(Ok(None)) => break "another replica holds the lease",
            Ok(Ok(Some(fresh))) if fresh.renewed > current.renewed => {
                holder.extend(term, fresh.valid_until);
                next = fresh.renewal_due + RECHECK;
                current = fresh;
            }
            Ok(Ok(Some(_))) => next = Instant::now() + RECHECK,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "cannot read the leader Lease; retrying");
                next = Instant::now() + RECHECK;
            }
        }
    };
    let _ = lost.send((term, reason));
}

/// Aborts the task it holds when dropped or replaced.
#[derive(Default)]
struct TermTask(Option<JoinHandle<()>>);

impl TermTask {
    fn set(&mut self, task: JoinHandle<()>) {
        self.clear();
        self.0 = Some(task);
    }

    fn clear(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

impl Drop for TermTask {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Why one manager (one identity) is given up.
enum Ending {
    /// A follower's periodic re-read: the same identity goes on.
    Poll,
    /// kube-lease-manager failed (a renewal, or setting up a term).
    Failed(String),
    /// The current term ended under kube-lease-manager's feet.
    Lost(&'static str),
}

async fn campaign(
    client: kube::Client,
    config: LeaseConfig,
    holder: Arc<Holder>,
    mut shutdown: Shutdown,
) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), &config.namespace);
    let (lost_tx, mut lost_rx) = mpsc::unbounded_channel();
    let mut term_task = TermTask::default();
    let mut identity = config.identity.clone();
    let mut errors: u32 = 0;
    loop {
        let manager = tokio::select! {
            built = build(client.clone(), &config, &identity) => built,
            () = shutdown.wait() => return,
        };
        let manager = match manager {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, lease = %config.name, "cannot set up the leader Lease; retrying");
                tokio::select! {
                    () = tokio::time::sleep(RETRY_AFTER) => continue,
                    () = shutdown.wait() => return,
                }
            }
        };
        let ending = loop {
            let leading = holder.is_leading();
            tokio::select! {
                changed = manager.changed() => match changed {
                    Ok(true) => {
                        let read = tokio::time::timeout(
                            RETRY_AFTER,
                            read_term(&leases, &config, &identity),
                        )
                        .await;
                        let Ok(Ok(Some(first))) = read else {
                            break Ending::Failed("cannot confirm the new term from the Lease".to_owned());
                        };
                        let term = holder.lead(first.valid_until);
                        tracing::info!(identity = %identity, lease = %config.name, "leading");
                        term_task.set(tokio::spawn(keep_term(
                            leases.clone(),
                            config.clone(),
                            identity.clone(),
                            holder.clone(),
                            (term, first),
                            lost_tx.clone(),
                        )));
                    }
                    Ok(false) => {
                        term_task.clear();
                        holder.step_down();
                        tracing::info!(identity = %identity, lease = %config.name, "following");
                    }
                    Err(e) => break Ending::Failed(e.to_string()),
                },
                Some((term, reason)) = lost_rx.recv() => {
                    if term == holder.current_term() && holder.is_leading() {
                        break Ending::Lost(reason);
                    }
                }
                // NB: a kube-lease-manager follower sleeps until the lease it
                // last saw expires, so it would miss a release (a graceful
                // handover) for up to a lease duration. Re-reading the Lease
                // every FOLLOWER_POLL, as client-go's retry period does,
                // takes a released Lease at once. Same identity: the fresh
                // read is the server's truth, so no stale claim is possible.
                () = tokio::time::sleep(FOLLOWER_POLL), if !leading => break Ending::Poll,
                () = shutdown.wait() => {
                    term_task.clear();
                    holder.step_down();
                    match manager.release().await {
                        Ok(()) => tracing::info!(identity = %identity, "released the leader Lease"),
                        Err(e) => tracing::warn!(error = %e, "cannot release the leader Lease; it will expire"),
                    }
                    return;
                }
            }
        };
        term_task.clear();
        let was_leading = holder.step_down();
        match ending {
            Ending::Poll => continue,
            Ending::Failed(error) => {
                if was_leading {
                    tracing::warn!(%error, identity = %identity, "lease renewal failed; stepping down");
                } else {
                    tracing::warn!(%error, "leader election failed; retrying");
                }
                let _ = tokio::time::timeout(RETRY_AFTER, manager.release()).await;
            }
            Ending::Lost(reason) => {
                // NB: no release: kube-lease-manager's requests may be the
                // ones hanging, and its view of the Lease is stale; the
                // lease expires by itself.
                tracing::warn!(reason, identity = %identity, "stepping down");
            }
        }
        // A fresh identity: the old one may still be on the Lease, and
        // claiming it back from a stale view could make two leaders.
        drop(manager);
        errors = errors.saturating_add(1);
        identity = format!("{}-{errors}", config.identity);
        tokio::select! {
            () = tokio::time::sleep(RETRY_AFTER) => {}
            () = shutdown.wait() => return,
        }
    }
}

async fn build(
    client: kube::Client,
    config: &LeaseConfig,
    identity: &str,
) -> Result<LeaseManager, kube_lease_manager::LeaseManagerError> {
    let (duration, grace) = config.seconds();
    LeaseManagerBuilder::new(client, &config.name)
        .with_namespace(&config.namespace)
        .with_identity(identity)
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
}
