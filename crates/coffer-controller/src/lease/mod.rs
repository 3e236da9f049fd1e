//! Leader election: one replica writes, the others serve HTTP and wait.
//!
//! A `coordination.k8s.io/v1` Lease in the controller's namespace (through
//! `kube-lease-manager`, [`elect`]) elects the replica that reconciles and
//! generates or renews keys. Every replica still watches the key Secrets
//! (so followers serve the current certificate) and serves HTTP and
//! metrics.
//!
//! [`Leadership`] is the shared answer to "may I write now?". Leading is
//! not enough: a replica may write only until a deadline derived from the
//! Lease as stored (its `renewTime` plus its duration, minus a margin of
//! half the renew grace), so its writes stop before any other replica can
//! see the lease expire, even when a renewal hangs or fails late. Each
//! successful renewal moves the deadline. Three things enforce it:
//! - writers are run under [`while_leader`], which starts them on gaining
//!   the lease, tells them to stop on losing it, and drops them at the
//!   deadline at the latest;
//! - every request of the writers' client ([`guarded_client`]) that changes
//!   something is refused once this replica has stepped down or its
//!   deadline has passed;
//! - the election steps down when the deadline passes without a renewal,
//!   and starts over under a fresh identity so a stale view of the lease
//!   can never make two leaders.

mod campaign;
mod guard;
mod writers;

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

pub use campaign::elect;
pub use guard::guarded_client;
pub use writers::{WRITER_STOP_TIMEOUT, while_leader};

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
    /// How long before expiry the leader renews (must be below `duration`);
    /// writes stop half of it before expiry when the renewal has not
    /// succeeded by then.
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

    /// The duration and grace in whole seconds as the Lease holds them.
    /// NB: kube-lease-manager panics on a zero duration or a grace not
    /// below the duration; clamping here means a bad flag cannot panic the
    /// controller.
    fn seconds(&self) -> (u64, u64) {
        let duration = self.duration.as_secs().max(2);
        let grace = self.grace.as_secs().clamp(1, duration - 1);
        (duration, grace)
    }

    /// How long before the lease expires writes stop: half the grace, so
    /// a renewal (due a whole grace before expiry) has the other half to
    /// succeed, and a write sent just before the deadline still has this
    /// long to reach the API server before anyone may take over.
    fn margin(&self) -> Duration {
        Duration::from_secs(self.seconds().1) / 2
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

/// What the election says: leading or not, and until when the current
/// term allows writing (`None`: no end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    leading: bool,
    valid_until: Option<Instant>,
    /// Counts terms, so a late renewal of an old term cannot move the
    /// deadline of a new one.
    term: u64,
}

impl State {
    fn may_write(&self, now: Instant) -> bool {
        self.leading && self.valid_until.is_none_or(|until| now < until)
    }
}

/// Whether this replica may write now, shared by every writer.
#[derive(Debug, Clone)]
pub struct Leadership {
    rx: watch::Receiver<State>,
}

/// The election's side of a [`Leadership`].
#[derive(Debug)]
struct Holder {
    tx: watch::Sender<State>,
}

impl Holder {
    /// A follower, with no right to write.
    fn new() -> (Holder, Leadership) {
        let (tx, rx) = watch::channel(State {
            leading: false,
            valid_until: Some(Instant::now()),
            term: 0,
        });
        (Holder { tx }, Leadership { rx })
    }

    fn is_leading(&self) -> bool {
        self.tx.borrow().leading
    }

    fn current_term(&self) -> u64 {
        self.tx.borrow().term
    }

    #[cfg(test)]
    fn valid_until(&self) -> Instant {
        self.tx.borrow().valid_until.unwrap_or_else(Instant::now)
    }

    /// Writes of `term` may go on until `until` (a renewal succeeded);
    /// nothing changes once that term is over.
    fn extend(&self, term: u64, until: Instant) {
        self.tx.send_if_modified(|state| {
            let current = state.leading && state.term == term;
            if current {
                state.valid_until = Some(until);
            }
            current
        });
    }

    /// Leads from now until `until`: the deadline is set in the same step
    /// that tells writers to start. Returns the new term.
    fn lead(&self, until: Instant) -> u64 {
        let mut term = 0;
        self.tx.send_modify(|state| {
            state.term += 1;
            term = state.term;
            state.leading = true;
            state.valid_until = Some(until);
        });
        term
    }

    /// Stops leading; returns whether it was leading.
    fn step_down(&self) -> bool {
        let mut was = false;
        self.tx.send_if_modified(|state| {
            was = state.leading;
            state.leading = false;
            was
        });
        was
    }
}

impl Leadership {
    /// Leadership without election: always the leader, without deadline
    /// (a single replica, `--leader-elect=false`, tests).
    pub fn always() -> Leadership {
        let (_, rx) = watch::channel(State {
            leading: true,
            valid_until: None,
            term: 0,
        });
        Leadership { rx }
    }

    /// Whether this replica leads right now.
    pub fn is_leader(&self) -> bool {
        self.rx.borrow().leading
    }

    /// Until when the current term allows writing (`None`: no end).
    pub fn valid_until(&self) -> Option<Instant> {
        self.rx.borrow().valid_until
    }

    /// Whether a write may be sent now: leading, and before the deadline.
    pub fn may_write(&self) -> bool {
        self.rx.borrow().may_write(Instant::now())
    }

    /// Resolves once this replica leads with time left to write (at once if
    /// it does); never, once the election has ended as a follower
    /// (shutdown).
    pub async fn until_leader(&self) {
        let mut rx = self.rx.clone();
        if rx
            .wait_for(|state| state.may_write(Instant::now()))
            .await
            .is_err()
        {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves once this replica no longer leads; never for
    /// [`Leadership::always`].
    pub async fn until_follower(&self) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|state| !state.leading).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves once the deadline has passed (following it as renewals
    /// move it); never for [`Leadership::always`].
    pub async fn until_expired(&self) {
        let mut rx = self.rx.clone();
        loop {
            let Some(until) = rx.borrow_and_update().valid_until else {
                return std::future::pending().await;
            };
            if Instant::now() >= until {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                changed = rx.changed() => {
                    if changed.is_err() {
                        // The election is gone: the deadline is final.
                        tokio::time::sleep_until(until).await;
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn always_leads_and_never_steps_down() {
        let leadership = Leadership::always();
        assert!(leadership.is_leader() && leadership.may_write());
        leadership.until_leader().await;
        let stepped_down =
            tokio::time::timeout(Duration::from_millis(50), leadership.until_follower()).await;
        assert!(stepped_down.is_err(), "always() never becomes a follower");
        let expired =
            tokio::time::timeout(Duration::from_millis(50), leadership.until_expired()).await;
        assert!(expired.is_err(), "always() has no deadline");
    }

    #[tokio::test]
    async fn writes_are_allowed_only_while_leading_and_before_the_deadline() {
        let (holder, leadership) = Holder::new();
        assert!(!leadership.may_write(), "a follower does not write");
        let term = holder.lead(Instant::now() + Duration::from_secs(3600));
        assert!(leadership.may_write());
        // A renewal moves the deadline; a late one of an old term does not.
        let far = Instant::now() + Duration::from_secs(7200);
        holder.extend(term - 1, far);
        assert!(leadership.valid_until() < Some(far));
        holder.extend(term, Instant::now() + Duration::from_millis(100));
        assert!(leadership.may_write(), "renewed");
        tokio::time::timeout(Duration::from_secs(5), leadership.until_expired())
            .await
            .expect("the deadline passes");
        assert!(
            leadership.is_leader() && !leadership.may_write(),
            "deadline passed while still leading"
        );
        assert!(holder.step_down());
        assert!(!holder.step_down(), "already a follower");
        assert!(!leadership.may_write(), "stepped down");
    }

    #[test]
    fn margin_is_half_the_grace_as_the_lease_holds_it() {
        let mut config = LeaseConfig::new("l", "ns");
        assert_eq!(config.seconds(), (15, 5));
        assert_eq!(config.margin(), Duration::from_millis(2500));
        config.duration = Duration::from_secs(3);
        config.grace = Duration::from_secs(9);
        assert_eq!(config.seconds(), (3, 2), "clamped below the duration");
        config.grace = Duration::ZERO;
        assert_eq!(config.margin(), Duration::from_millis(500));
    }

    #[test]
    fn identities_of_two_replicas_on_one_host_differ() {
        assert_ne!(identity(), identity());
    }
}
