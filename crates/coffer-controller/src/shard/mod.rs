//! Sharding (`--shards N`): replicas split the SealedSecrets and
//! ExternalSecrets (and SecretStores and ClusterExternalSecrets) between
//! them, by [`coffer_shard::shard_of`] their namespace and name, so N
//! replicas decrypt and sync in parallel. Key generation and renewal stay
//! with the leader of the ordinary leader Lease.
//!
//! - **Membership** ([`members`]): each replica keeps a Lease of its own,
//!   `<lease-name>-member-<hash>`, renewed every third of the lease
//!   duration; the live members, sorted, are the same list in every
//!   replica once they have all read it.
//! - **Assignment**: shard `i` is wanted by member `i mod M` of the `M`
//!   live members ([`assign`]). A replica campaigns (through
//!   [`crate::lease::elect`], the same election as the leader's, with the
//!   same deadline rules) for the Lease `<lease-name>-shard-<i>` of each
//!   shard it wants, and hands over those it no longer wants.
//! - **Exclusion**: a reconcile runs under a [`coffer_shard::Ticket`] of
//!   its object's shard, issued only while that shard's Lease may be
//!   written under, and dropped at the moment it may not (lost, or the
//!   deadline passed): the writes stop before another replica can take
//!   the shard. A handover first refuses new tickets and waits for the
//!   ones held, then releases the Lease, so no object is reconciled by two
//!   replicas at once.
//! - **Takeover**: a killed replica's member Lease expires after the lease
//!   duration; the others then want its shards and take each as soon as
//!   its Lease has expired too (about one lease duration, plus a third of
//!   it to notice). A replica that stops cleanly leaves the membership
//!   first and releases its shard Leases, so the others take them at
//!   once.

mod members;

pub use members::{Group, Member};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use coffer_shard::{Partition, Ticket, shard_of};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::Shutdown;
use crate::lease::{self, Leadership, LeaseConfig, WRITER_STOP_TIMEOUT};

/// The most shards `--shards` accepts: each is a Lease renewed by its
/// holder, and more shards than replicas only adds Leases.
pub const MAX_SHARDS: u32 = 64;

/// How to shard.
#[derive(Debug, Clone)]
pub struct ShardConfig {
    /// How many shards the objects are split into (2..=[`MAX_SHARDS`]).
    pub count: u32,
    /// The leader Lease's configuration: its name prefixes the shard and
    /// member Leases; its namespace, identity and timings are theirs.
    pub lease: LeaseConfig,
}

/// Which shards this replica holds; the [`Partition`] the controllers ask.
#[derive(Debug, Clone)]
pub struct Shards {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    slots: Vec<Slot>,
    gains: watch::Sender<u64>,
}

/// One shard as this replica sees it.
#[derive(Debug, Default)]
struct Slot {
    /// The campaign's view while this replica campaigns for the shard.
    leadership: Mutex<Option<Leadership>>,
    /// Set while the shard is being handed over: no new tickets.
    leaving: AtomicBool,
    /// Tickets held on the shard.
    in_flight: AtomicUsize,
    /// Woken when the last ticket is dropped.
    idle: Notify,
}

impl Slot {
    fn leadership(&self) -> Option<Leadership> {
        self.leadership
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_leadership(&self, leadership: Option<Leadership>) {
        *self
            .leadership
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = leadership;
    }

    fn may_write(&self) -> bool {
        self.leadership().is_some_and(|l| l.may_write())
    }

    /// Waits until no ticket is held (or `give_up` resolves).
    async fn drained(&self, give_up: impl Future<Output = ()>) {
        tokio::pin!(give_up);
        loop {
            let idle = self.idle.notified();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::select! {
                () = idle => {}
                () = &mut give_up => return,
            }
        }
    }
}

/// Counts a ticket as held on its shard until dropped.
struct InFlight {
    inner: Arc<Inner>,
    shard: usize,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let slot = &self.inner.slots[self.shard];
        if slot.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            slot.idle.notify_waiters();
        }
    }
}

impl Shards {
    fn new(count: u32) -> Shards {
        Shards {
            inner: Arc::new(Inner {
                slots: (0..count).map(|_| Slot::default()).collect(),
                gains: watch::channel(0).0,
            }),
        }
    }

    /// How many shards there are.
    pub fn count(&self) -> u32 {
        u32::try_from(self.inner.slots.len()).unwrap_or(u32::MAX)
    }

    /// The shards this replica may write for now.
    pub fn held(&self) -> Vec<u32> {
        (0..self.count())
            .filter(|&i| self.inner.slots[i as usize].may_write())
            .collect()
    }

    /// Whether this replica may write for any shard now.
    pub fn any_may_write(&self) -> bool {
        self.inner.slots.iter().any(Slot::may_write)
    }
}

impl Partition for Shards {
    fn ticket(&self, namespace: &str, name: &str) -> Option<Ticket> {
        let shard = shard_of(namespace, name, self.count()) as usize;
        let slot = &self.inner.slots[shard];
        let leadership = slot.leadership()?;
        if !leadership.may_write() {
            return None;
        }
        // NB: counted before `leaving` is read, and a handover sets
        // `leaving` before reading the count (both SeqCst): either this
        // ticket sees `leaving`, or the handover sees the ticket.
        slot.in_flight.fetch_add(1, Ordering::SeqCst);
        let held = InFlight {
            inner: self.inner.clone(),
            shard,
        };
        if slot.leaving.load(Ordering::SeqCst) {
            return None;
        }
        Some(Ticket::new(
            async move {
                tokio::select! {
                    () = leadership.until_follower() => {}
                    () = leadership.until_expired() => {}
                }
            },
            held,
        ))
    }

    fn holds(&self, namespace: &str, name: &str) -> bool {
        let slot = &self.inner.slots[shard_of(namespace, name, self.count()) as usize];
        slot.may_write() && !slot.leaving.load(Ordering::SeqCst)
    }

    fn gains(&self) -> watch::Receiver<u64> {
        self.inner.gains.subscribe()
    }
}

/// The shards member `me` wants, given the live members (sorted): shard
/// `i` goes to member `i mod M`. None when `me` is not among them (its
/// own membership is not current).
pub fn assign(live: &[String], me: &str, count: u32) -> Vec<bool> {
    let position = live.iter().position(|m| m == me);
    (0..count as usize)
        .map(|i| position.is_some_and(|p| i % live.len() == p))
        .collect()
}

/// What member `me`, counting `count` shards, should hold given `group`:
/// its [`assign`]ment, or why it should hold none for now:
/// - a live member counts another number of shards (a rolling update
///   that changes `--shards`: the two counts would put one object in two
///   shards, held by two replicas);
/// - the leader Lease is held by a replica that has no member Lease, live
///   or expired (one running without sharding, which reconciles
///   everything itself; a member whose own membership lapsed is not one).
///
/// While it waits, the work waits: two replicas never reconcile one
/// object, at the cost of none reconciling until the replicas agree.
pub fn plan(group: &Group, me: &str, count: u32) -> Result<Vec<bool>, String> {
    if let Some(other) = group.members.iter().find(|m| m.shards != Some(count)) {
        return Err(format!(
            "replica {} counts {} shards and this one {count}: no shard is held until every replica runs with the same --shards",
            other.identity,
            other
                .shards
                .map_or("an unknown number of".to_owned(), |n| n.to_string())
        ));
    }
    if let Some(leader) = &group.leader
        && !group
            .known
            .iter()
            .any(|m| leader == m || leader.starts_with(&format!("{m}-")))
    {
        return Err(format!(
            "the leader Lease is held by {leader}, which runs without --shards: no shard is held until it stops"
        ));
    }
    let live: Vec<String> = group.members.iter().map(|m| m.identity.clone()).collect();
    Ok(assign(&live, me, count))
}

/// One campaign for one shard's Lease.
struct Campaign {
    stop: watch::Sender<bool>,
    election: JoinHandle<()>,
    /// Announces gains of this shard.
    announcer: JoinHandle<()>,
    leadership: Leadership,
}

impl Drop for Campaign {
    /// NB: a campaign dropped without its handover (the manager task
    /// aborted) must not go on holding the Lease from a detached task.
    fn drop(&mut self) {
        self.election.abort();
        self.announcer.abort();
    }
}

/// Starts sharding: the membership and the campaigns, on a spawned task
/// that runs until `shutdown` fires, then hands every shard over and
/// leaves the membership.
pub fn start(
    client: kube::Client,
    config: ShardConfig,
    shutdown: Shutdown,
) -> (Shards, JoinHandle<()>) {
    let shards = Shards::new(config.count);
    let task = tokio::spawn(run(client, config, shards.clone(), shutdown));
    (shards, task)
}

/// How often the membership is renewed and read: a third of the lease
/// duration, so one failed renewal does not end it.
fn period(config: &LeaseConfig) -> Duration {
    (config.duration / 3).max(Duration::from_millis(500))
}

/// How long a starting replica waits between announcing itself and first
/// reading the membership.
const SETTLE: Duration = Duration::from_secs(1);

async fn run(client: kube::Client, config: ShardConfig, shards: Shards, mut shutdown: Shutdown) {
    let membership = members::Membership::new(client.clone(), &config.lease);
    let mut campaigns: Vec<Option<Campaign>> = (0..config.count).map(|_| None).collect();
    let mut handovers: Vec<Option<JoinHandle<()>>> = (0..config.count).map(|_| None).collect();
    let mut generation = 0u64;
    // NB: replicas that start together (a rollout, a benchmark) would each
    // see only themselves and campaign for every shard, then hand most of
    // them over a period later; announcing first and reading a moment
    // later lets them see each other from the first round.
    if let Err(e) = membership.announce(config.count).await {
        tracing::warn!(error = %e, "cannot announce this replica's shard membership");
    }
    let mut stopping = tokio::select! {
        () = tokio::time::sleep(period(&config.lease).min(SETTLE)) => false,
        () = shutdown.wait() => true,
    };
    let mut waiting: Option<String> = None;
    while !stopping {
        // A campaign whose election task ended (it never does by itself)
        // is started again below.
        for (i, campaign) in campaigns.iter_mut().enumerate() {
            if campaign.as_ref().is_some_and(|c| c.election.is_finished()) {
                tracing::warn!(shard = i, "the shard's election ended; campaigning again");
                *campaign = None;
                shards.inner.slots[i].set_leadership(None);
            }
        }
        let wanted = match membership.refresh(config.count).await {
            Ok(group) => match plan(&group, membership.identity(), config.count) {
                Ok(wanted) => {
                    if waiting.take().is_some() {
                        tracing::info!("the replicas agree on sharding again");
                    }
                    Some(wanted)
                }
                Err(why) => {
                    if waiting.as_ref() != Some(&why) {
                        tracing::warn!(reason = %why, "holding no shard");
                        waiting = Some(why);
                    }
                    Some(vec![false; config.count as usize])
                }
            },
            // NB: the campaigns go on as they are: their own Leases keep
            // them safe, and a replica cut off from the API server loses
            // them at their deadlines (and, no longer renewing its
            // membership, is soon no member for the others).
            Err(e) => {
                tracing::warn!(error = %e, "cannot read or renew the shard membership");
                None
            }
        };
        for (i, want) in wanted.into_iter().flatten().enumerate() {
            if handovers[i].as_ref().is_some_and(JoinHandle::is_finished) {
                handovers[i] = None;
            }
            if want && campaigns[i].is_none() && handovers[i].is_none() {
                generation += 1;
                campaigns[i] = Some(campaign(&client, &config, &shards, i, generation));
            } else if !want && let Some(campaign) = campaigns[i].take() {
                tracing::info!(shard = i, "handing the shard over");
                handovers[i] = Some(tokio::spawn(hand_over(shards.clone(), i, campaign)));
            }
        }
        stopping = tokio::select! {
            () = tokio::time::sleep(period(&config.lease)) => false,
            () = shutdown.wait() => true,
        };
    }
    // NB: leaving first lets the others want this replica's shards at
    // their next refresh, while the handovers below release them.
    membership.leave().await;
    let mut last = Vec::new();
    for (i, campaign) in campaigns.into_iter().enumerate() {
        if let Some(campaign) = campaign {
            last.push(tokio::spawn(hand_over(shards.clone(), i, campaign)));
        }
    }
    last.extend(handovers.into_iter().flatten());
    for handover in last {
        let _ = handover.await;
    }
}

/// Starts campaigning for shard `i`.
fn campaign(
    client: &kube::Client,
    config: &ShardConfig,
    shards: &Shards,
    i: usize,
    generation: u64,
) -> Campaign {
    let lease = LeaseConfig {
        name: format!("{}-shard-{i}", config.lease.name),
        // NB: a fresh identity per campaign, as the election uses after a
        // lost term: an earlier campaign's holder may still be on the
        // Lease, and must not be mistaken for this one.
        identity: format!("{}-{generation}", config.lease.identity),
        ..config.lease.clone()
    };
    let (stop, stop_rx) = watch::channel(false);
    let (leadership, election) =
        lease::elect(client.clone(), lease, Shutdown::from_receiver(stop_rx));
    let slot = &shards.inner.slots[i];
    slot.leaving.store(false, Ordering::SeqCst);
    slot.set_leadership(Some(leadership.clone()));
    let inner = shards.inner.clone();
    let watched = leadership.clone();
    let announcer = tokio::spawn(async move {
        loop {
            watched.until_leader().await;
            tracing::info!(shard = i, "holding the shard");
            inner.gains.send_modify(|n| *n += 1);
            watched.until_follower().await;
            tracing::info!(shard = i, "no longer holding the shard");
        }
    });
    Campaign {
        stop,
        election,
        announcer,
        leadership,
    }
}

/// Hands shard `i` over: refuses new tickets, waits for the held ones
/// (at most [`WRITER_STOP_TIMEOUT`], never past the lease deadline), then
/// ends the campaign, which releases the Lease.
async fn hand_over(shards: Shards, i: usize, campaign: Campaign) {
    let slot = &shards.inner.slots[i];
    slot.leaving.store(true, Ordering::SeqCst);
    let deadline = campaign.leadership.clone();
    slot.drained(async move {
        tokio::select! {
            () = tokio::time::sleep(WRITER_STOP_TIMEOUT) => {
                tracing::warn!(shard = i, "in-flight reconciles did not finish in time");
            }
            () = deadline.until_expired() => {}
        }
    })
    .await;
    let mut campaign = campaign;
    let _ = campaign.stop.send(true);
    let _ = (&mut campaign.election).await;
    drop(campaign);
    slot.set_leadership(None);
}

/// The `coffer_shards_held` gauge and one `coffer_shard_held` series per
/// shard (1 where this replica holds it).
pub fn render(shards: &Shards) -> String {
    use std::fmt::Write as _;
    let held = shards.held();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP coffer_shards_held How many shards this replica holds\n# TYPE coffer_shards_held gauge\ncoffer_shards_held {}",
        held.len()
    );
    let _ = writeln!(
        out,
        "# HELP coffer_shard_held Whether this replica holds the shard\n# TYPE coffer_shard_held gauge"
    );
    for i in 0..shards.count() {
        let _ = writeln!(
            out,
            "coffer_shard_held{{shard=\"{i}\"}} {}",
            u8::from(held.contains(&i))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn every_shard_has_exactly_one_member_and_shares_differ_by_at_most_one() {
        for m in 1..=5usize {
            let live: Vec<String> = (0..m).map(|i| format!("r{i}")).collect();
            for count in 1..=7u32 {
                let wanted: Vec<Vec<bool>> =
                    live.iter().map(|me| assign(&live, me, count)).collect();
                for shard in 0..count as usize {
                    let owners = wanted.iter().filter(|w| w[shard]).count();
                    assert_eq!(owners, 1, "{m} members, {count} shards, shard {shard}");
                }
                let shares: Vec<usize> = wanted
                    .iter()
                    .map(|w| w.iter().filter(|x| **x).count())
                    .collect();
                let (min, max) = (shares.iter().min(), shares.iter().max());
                assert!(max.unwrap() - min.unwrap() <= 1, "{shares:?}");
            }
        }
        assert_eq!(
            assign(&members(&["a", "b"]), "c", 3),
            [false, false, false],
            "a replica whose membership is not current wants nothing"
        );
    }

    fn group(members: &[(&str, Option<u32>)], leader: Option<&str>) -> Group {
        Group {
            known: members.iter().map(|(m, _)| (*m).to_owned()).collect(),
            members: members
                .iter()
                .map(|(identity, shards)| Member {
                    identity: (*identity).to_owned(),
                    shards: *shards,
                })
                .collect(),
            leader: leader.map(str::to_owned),
        }
    }

    #[test]
    fn replicas_hold_no_shard_while_they_disagree_on_the_count_or_an_unsharded_leader_runs() {
        let agreed = group(&[("a", Some(2)), ("b", Some(2))], Some("b-3"));
        assert_eq!(plan(&agreed, "a", 2), Ok(vec![true, false]));
        assert_eq!(plan(&agreed, "b", 2), Ok(vec![false, true]));
        let unled = group(&[("a", Some(2)), ("b", Some(2))], None);
        assert_eq!(plan(&unled, "a", 2), Ok(vec![true, false]));

        let rolling = group(&[("a", Some(2)), ("b", Some(4))], Some("a"));
        let why = plan(&rolling, "a", 2).unwrap_err();
        assert!(
            why.contains("replica b counts 4 shards and this one 2"),
            "{why}"
        );
        assert!(plan(&rolling, "b", 4).is_err(), "both sides wait");
        let silent = group(&[("a", Some(2)), ("b", None)], None);
        assert!(plan(&silent, "a", 2).is_err());

        let unsharded = group(&[("a", Some(2)), ("b", Some(2))], Some("c_0011aabb"));
        let why = plan(&unsharded, "a", 2).unwrap_err();
        assert!(
            why.contains("held by c_0011aabb, which runs without --shards"),
            "{why}"
        );
        let prefix_only = group(&[("a", Some(2))], Some("ab"));
        assert!(
            plan(&prefix_only, "a", 2).is_err(),
            "a prefix is not a member"
        );
        let mut lapsed = group(&[("a", Some(2))], Some("b-2"));
        lapsed.known.push("b".to_owned());
        assert_eq!(
            plan(&lapsed, "a", 2),
            Ok(vec![true, true]),
            "a leader whose membership lapsed is still a sharded one"
        );
    }

    #[tokio::test]
    async fn tickets_are_issued_only_for_held_shards_and_a_handover_waits_for_them() {
        let shards = Shards::new(2);
        let name_in = |shard: u32| {
            (0..)
                .map(|i| format!("s-{i}"))
                .find(|n| shard_of("ns", n, 2) == shard)
                .unwrap()
        };
        let (mine, theirs) = (name_in(0), name_in(1));
        assert!(shards.ticket("ns", &mine).is_none(), "nothing held yet");

        // Hold shard 0 (a leadership without deadline stands in for a
        // won campaign).
        shards.inner.slots[0].set_leadership(Some(Leadership::always()));
        assert_eq!(shards.held(), [0]);
        assert!(shards.holds("ns", &mine) && !shards.holds("ns", &theirs));
        assert!(shards.any_may_write());
        assert!(shards.ticket("ns", &theirs).is_none());
        let ticket = shards.ticket("ns", &mine).expect("a held shard");

        // A handover refuses new tickets at once, and waits for the held.
        let (stop, _) = watch::channel(false);
        let campaign = Campaign {
            stop,
            election: tokio::spawn(async {}),
            announcer: tokio::spawn(std::future::pending()),
            leadership: Leadership::always(),
        };
        let handover = tokio::spawn(hand_over(shards.clone(), 0, campaign));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(shards.ticket("ns", &mine).is_none(), "being handed over");
        assert!(!handover.is_finished(), "a ticket is still held");
        drop(ticket);
        tokio::time::timeout(Duration::from_secs(5), handover)
            .await
            .expect("handed over once the ticket is dropped")
            .unwrap();
        assert!(shards.held().is_empty());
        let page = render(&shards);
        assert!(page.contains("coffer_shards_held 0\n"), "{page}");
        assert!(
            page.contains("coffer_shard_held{shard=\"1\"} 0\n"),
            "{page}"
        );
    }
}
