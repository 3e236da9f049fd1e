//! Leader election: one replica writes, the others serve HTTP and wait.
//!
//! A `coordination.k8s.io/v1` Lease in the controller's namespace (through
//! `kube-lease-manager`) elects the replica that reconciles and generates or
//! renews keys. Every replica still watches the key Secrets (so followers
//! serve the current certificate) and serves HTTP and metrics.
//!
//! [`Leadership`] is the shared answer to "may I write now?": writers are
//! run under [`while_leader`], which starts them on gaining the lease and
//! stops them on losing it or at shutdown. A failed lease renewal counts as
//! lost leadership at once (the lease may expire before the next attempt),
//! and the election starts over under a fresh identity so a stale view of
//! the lease can never make two leaders.

use std::future::Future;
use std::time::Duration;

use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Shutdown;

/// How long a writer may take to finish its in-flight work after being told
/// to stop, before it is dropped mid-way (reconciles are idempotent).
pub const WRITER_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause before starting the election over after an API error.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// How often a follower re-reads the Lease (client-go's retry period).
const FOLLOWER_POLL: Duration = Duration::from_secs(2);

/// Where and how to hold the Lease.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Name of the Lease object (`--lease-name`, default `coffer-controller`).
    pub name: String,
    /// Namespace of the Lease (the controller's namespace).
    pub namespace: String,
    /// This replica's identity, unique among replicas (see [`identity`]).
    pub identity: String,
    /// How long the lease is valid after its last renewal: the longest a
    /// dead leader blocks a takeover.
    pub duration: Duration,
    /// How long before expiry the leader renews (must be below `duration`).
    pub grace: Duration,
}

impl LeaseConfig {
    /// A Lease named `name` in `namespace` with the default timings (15 s,
    /// renewed 5 s before expiry) and a fresh [`identity`].
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> LeaseConfig {
        LeaseConfig {
            name: name.into(),
            namespace: namespace.into(),
            identity: identity(),
            duration: Duration::from_secs(15),
            grace: Duration::from_secs(5),
        }
    }
}

/// `<pod or host name>_<8 random hex digits>`: readable in `kubectl get
/// lease`, and unique even for two processes on one host.
pub fn identity() -> String {
    let host = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "coffer-controller".to_owned());
    let mut random = [0u8; 4];
    // NB: an identity needs uniqueness, not secrecy; on the (never seen)
    // failure of the OS generator the process id still separates replicas.
    if aws_lc_rs::rand::fill(&mut random).is_err() {
        random = std::process::id().to_be_bytes();
    }
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{host}_{suffix}")
}

/// Whether this replica may write now, shared by every writer.
#[derive(Debug, Clone)]
pub struct Leadership {
    rx: watch::Receiver<bool>,
}

impl Leadership {
    /// Leadership without election: always the leader (a single replica,
    /// `--leader-elect=false`, tests).
    pub fn always() -> Leadership {
        let (_, rx) = watch::channel(true);
        Leadership { rx }
    }

    /// Whether this replica leads right now.
    pub fn is_leader(&self) -> bool {
        *self.rx.borrow()
    }

    /// A receiver of every change (`true` = leading).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.rx.clone()
    }

    /// Resolves once this replica leads (at once if it does); never, once
    /// the election has ended as a follower (shutdown).
    pub async fn until_leader(&self) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|leading| *leading).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves once this replica no longer leads; never for
    /// [`Leadership::always`].
    pub async fn until_follower(&self) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|leading| !*leading).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Runs `writer` each time this replica gains leadership, until shutdown.
///
/// The writer gets a [`Shutdown`] that fires when leadership is lost or the
/// process shuts down; it should then stop taking new work and return once
/// in-flight work is done. It is dropped if that takes longer than
/// [`WRITER_STOP_TIMEOUT`]. A writer that returns by itself is restarted
/// (after a pause) while leadership lasts.
pub async fn while_leader<F, Fut>(
    name: &'static str,
    leadership: Leadership,
    mut shutdown: Shutdown,
    mut writer: F,
) where
    F: FnMut(Shutdown) -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        tokio::select! {
            () = leadership.until_leader() => {}
            () = shutdown.wait() => return,
        }
        tracing::info!(writer = name, "leading: starting");
        let (stop_tx, stop_rx) = watch::channel(false);
        let run = writer(Shutdown::from_receiver(stop_rx));
        tokio::pin!(run);
        let shutting_down = tokio::select! {
            () = &mut run => {
                tracing::warn!(writer = name, "writer ended by itself; restarting");
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            }
            () = leadership.until_follower() => false,
            () = shutdown.wait() => true,
        };
        tracing::info!(
            writer = name,
            shutting_down,
            "stopping: finishing in-flight work"
        );
        let _ = stop_tx.send(true);
        if tokio::time::timeout(WRITER_STOP_TIMEOUT, run)
            .await
            .is_err()
        {
            tracing::warn!(
                writer = name,
                "in-flight work did not finish in time; dropped"
            );
        }
        if shutting_down {
            return;
        }
    }
}

/// Starts the election on a spawned task. The task runs until `shutdown`
/// fires, then releases the Lease (if held) so another replica takes over
/// at once rather than after the lease expires.
pub fn elect(
    client: kube::Client,
    config: LeaseConfig,
    shutdown: Shutdown,
) -> (Leadership, JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(campaign(client, config, tx, shutdown));
    (Leadership { rx }, task)
}

async fn campaign(
    client: kube::Client,
    config: LeaseConfig,
    tx: watch::Sender<bool>,
    mut shutdown: Shutdown,
) {
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
        loop {
            let leading = *tx.borrow();
            tokio::select! {
                changed = manager.changed() => match changed {
                    Ok(leading) => {
                        tracing::info!(identity = %identity, leading, lease = %config.name, "leadership changed");
                        tx.send_replace(leading);
                    }
                    Err(e) => {
                        if tx.send_replace(false) {
                            tracing::warn!(error = %e, identity = %identity, "lease renewal failed; stepping down");
                        } else {
                            tracing::warn!(error = %e, "leader election failed; retrying");
                        }
                        let _ = tokio::time::timeout(RETRY_AFTER, manager.release()).await;
                        // A fresh identity: the old one may still be on the
                        // Lease, and claiming it back from a stale view could
                        // make two leaders. The old lease is released or
                        // expires.
                        errors = errors.saturating_add(1);
                        identity = format!("{}-{errors}", config.identity);
                        tokio::select! {
                            () = tokio::time::sleep(RETRY_AFTER) => break,
                            () = shutdown.wait() => return,
                        }
                    }
                },
                // NB: a kube-lease-manager follower sleeps until the lease it
                // last saw expires, so it would miss a release (a graceful
                // handover) for up to a lease duration. Re-reading the Lease
                // every FOLLOWER_POLL, as client-go's retry period does,
                // takes a released Lease at once. Same identity: the fresh
                // read is the server's truth, so no stale claim is possible.
                () = tokio::time::sleep(FOLLOWER_POLL), if !leading => break,
                () = shutdown.wait() => {
                    tx.send_replace(false);
                    match manager.release().await {
                        Ok(()) => tracing::info!(identity = %identity, "released the leader Lease"),
                        Err(e) => tracing::warn!(error = %e, "cannot release the leader Lease; it will expire"),
                    }
                    return;
                }
            }
        }
    }
}

async fn build(
    client: kube::Client,
    config: &LeaseConfig,
    identity: &str,
) -> Result<LeaseManager, kube_lease_manager::LeaseManagerError> {
    // NB: kube-lease-manager panics on a zero duration or a grace not below
    // the duration; clamp here so a bad flag cannot panic the controller.
    let duration = config.duration.as_secs().max(2);
    let grace = config.grace.as_secs().clamp(1, duration - 1);
    LeaseManagerBuilder::new(client, &config.name)
        .with_namespace(&config.namespace)
        .with_identity(identity)
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn always_leads_and_never_steps_down() {
        let leadership = Leadership::always();
        assert!(leadership.is_leader());
        leadership.until_leader().await;
        let stepped_down =
            tokio::time::timeout(Duration::from_millis(50), leadership.until_follower()).await;
        assert!(stepped_down.is_err(), "always() never becomes a follower");
    }

    #[tokio::test]
    async fn writer_runs_only_while_leading_and_is_told_to_stop() {
        let (tx, rx) = watch::channel(false);
        let leadership = Leadership { rx };
        let (stop_tx, shutdown) = Shutdown::new();
        let (runs_tx, mut runs) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
        let task = tokio::spawn(while_leader(
            "test",
            leadership,
            shutdown,
            move |mut stop| {
                let runs = runs_tx.clone();
                async move {
                    let _ = runs.send("started");
                    stop.wait().await;
                    let _ = runs.send("stopped");
                }
            },
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(runs.try_recv().is_err(), "a follower does not write");
        tx.send_replace(true);
        assert_eq!(runs.recv().await, Some("started"));
        tx.send_replace(false);
        assert_eq!(
            runs.recv().await,
            Some("stopped"),
            "losing the lease stops it"
        );
        tx.send_replace(true);
        assert_eq!(runs.recv().await, Some("started"), "regaining restarts it");
        let _ = stop_tx.send(true);
        assert_eq!(runs.recv().await, Some("stopped"), "shutdown stops it");
        task.await.unwrap();
    }

    #[test]
    fn identities_of_two_replicas_on_one_host_differ() {
        assert_ne!(identity(), identity());
    }
}
