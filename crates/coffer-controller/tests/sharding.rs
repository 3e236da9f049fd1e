//! Sharding (`--shards`): controller processes on the local control plane
//! split the SealedSecrets between them, each object reconciled by the one
//! replica that holds its shard; a killed replica's shards are taken over
//! and its objects keep converging; a scale-down and a scale-up hand shards
//! over without any Secret being written twice; ExternalSecrets and their
//! stores are split the same way.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coffer_controller::{Config, LeaseConfig, Running};
use coffer_shard::shard_of;
use coffer_testenv::external::{self, ExternalSecretManifest};
use common::process::ControllerProcess;
use common::{World, eventually, get, sample};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::runtime::{WatchStreamExt, watcher};

const SHARDS: u32 = 3;
const LEASE_SECS: u64 = 4;

/// A controller process started from the built binary with `--shards`.
struct Replica(ControllerProcess);

impl std::ops::Deref for Replica {
    type Target = ControllerProcess;
    fn deref(&self) -> &ControllerProcess {
        &self.0
    }
}

impl std::ops::DerefMut for Replica {
    fn deref_mut(&mut self) -> &mut ControllerProcess {
        &mut self.0
    }
}

impl Replica {
    fn spawn(world: &World, name: &str) -> Replica {
        Replica::spawn_with(world, name, SHARDS)
    }

    fn spawn_with(world: &World, name: &str, shards: u32) -> Replica {
        let (shards, lease) = (shards.to_string(), format!("{LEASE_SECS}s"));
        Replica(ControllerProcess::spawn(
            world,
            name,
            &[
                "--shards",
                &shards,
                "--lease-duration",
                &lease,
                "--lease-renew-grace",
                "1s",
            ],
        ))
    }

    /// The shards this replica holds, or `None` while it does not answer.
    async fn held(&self) -> Option<BTreeSet<u32>> {
        let page = self.page().await?;
        sample(&page, "coffer_shards_held")?;
        Some(
            (0..SHARDS)
                .filter(|i| {
                    sample(&page, &format!("coffer_shard_held{{shard=\"{i}\"}}")) == Some(1.0)
                })
                .collect(),
        )
    }

    /// The SealedSecrets this replica has reconciled (Bitnami's
    /// `condition_info` series, one per object a reconcile has seen).
    async fn reconciled(&self) -> BTreeSet<String> {
        let page = self.page().await.expect("metrics");
        page.lines()
            .filter(|l| l.starts_with("sealed_secrets_controller_condition_info{"))
            .filter_map(|l| {
                let rest = &l[l.find(",name=\"")? + 7..];
                Some(rest[..rest.find('"')?].to_owned())
            })
            .collect()
    }

    /// [`Replica::reconciled`], once it includes `expected` (or after
    /// [`common::TIMEOUT`]): the series trail the Secrets.
    async fn reconciled_including(&self, expected: &BTreeSet<String>) -> BTreeSet<String> {
        let deadline = Instant::now() + common::TIMEOUT;
        loop {
            let reconciled = self.reconciled().await;
            if expected.is_subset(&reconciled) || Instant::now() > deadline {
                return reconciled;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Waits until `replicas` hold every shard between them, each at least
/// one and none twice, as the final assignment has it: every shard Lease
/// held by the live member the assignment gives it to (replicas that
/// joined or left at different moments pass through other spreads on the
/// way); returns what each holds.
async fn spread(world: &World, replicas: &[&Replica]) -> Vec<BTreeSet<u32>> {
    let leases: kube::Api<Lease> =
        kube::Api::namespaced(world.client.clone(), world.ctrl_ns.name());
    loop {
        let held = spread_once(replicas).await;
        if settled(&leases, "coffer-controller", SHARDS).await {
            // NB: the metrics again, now that the Leases say it is final.
            let again = spread_once(replicas).await;
            if again == held {
                return held;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether every shard Lease is held by the live member that the
/// assignment (shard `i` to member `i mod M`, sorted) gives it to.
async fn settled(leases: &kube::Api<Lease>, lease_name: &str, shards: u32) -> bool {
    let Ok(members) = leases
        .list(&ListParams::default().labels(&format!("coffer.dev/shard-member-of={lease_name}")))
        .await
    else {
        return false;
    };
    let now = std::time::SystemTime::now();
    let live: BTreeSet<String> = members
        .items
        .into_iter()
        .filter_map(|lease| {
            let spec = lease.spec?;
            let renewed = std::time::SystemTime::from(spec.renew_time?.0);
            let duration = Duration::from_secs(u64::try_from(spec.lease_duration_seconds?).ok()?);
            (renewed + duration > now).then_some(spec.holder_identity?)
        })
        .collect();
    let live: Vec<String> = live.into_iter().collect();
    if live.is_empty() {
        return false;
    }
    for shard in 0..shards as usize {
        let Ok(lease) = leases.get(&format!("{lease_name}-shard-{shard}")).await else {
            return false;
        };
        let holder = lease
            .spec
            .and_then(|s| s.holder_identity)
            .unwrap_or_default();
        // Campaign identities are the member's plus `-<generation>`.
        if !holder.starts_with(&format!("{}-", live[shard % live.len()])) {
            return false;
        }
    }
    true
}

async fn spread_once(replicas: &[&Replica]) -> Vec<BTreeSet<u32>> {
    eventually("the shards to be spread over the replicas", || {
        let probes: Vec<_> = replicas.iter().map(|r| r.held()).collect();
        async move {
            let mut held = Vec::new();
            for probe in probes {
                held.push(probe.await?);
            }
            let all: Vec<u32> = held.iter().flatten().copied().collect();
            let distinct: BTreeSet<u32> = all.iter().copied().collect();
            let spread = held.iter().all(|h| !h.is_empty())
                && all.len() == SHARDS as usize
                && distinct.len() == SHARDS as usize;
            spread.then_some(held)
        }
    })
    .await
}

/// Seals and creates SealedSecrets `names` (one value each: the name).
async fn create(world: &World, names: &[String]) {
    let pair = world.sealing_key().await;
    let api = world.sealed_secrets();
    for name in names {
        let sealed = coffer_sealed::seal_secret(
            &world.secret(name, &[("value", name)]),
            pair.certificate().public_key(),
            None,
        )
        .unwrap();
        api.create(&Default::default(), &sealed).await.unwrap();
    }
}

/// Waits until every Secret of `names` exists with its value.
async fn converged(world: &World, names: &[String]) {
    let api = world.secrets();
    let want: BTreeSet<String> = names.iter().cloned().collect();
    eventually(&format!("{} Secrets", names.len()), || {
        let (api, want) = (api.clone(), want.clone());
        async move {
            let list = api.list(&Default::default()).await.ok()?;
            let done: BTreeSet<String> = list
                .items
                .iter()
                .filter(|s| {
                    let name = s.metadata.name.clone().unwrap_or_default();
                    common::data_of(s).get("value") == Some(&name)
                })
                .filter_map(|s| s.metadata.name.clone())
                .collect();
            want.is_subset(&done).then_some(())
        }
    })
    .await;
}

fn names(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("s-{i}")).collect()
}

/// The names among `names` whose shard is in `shards`.
fn in_shards(world: &World, names: &[String], shards: &BTreeSet<u32>) -> BTreeSet<String> {
    names
        .iter()
        .filter(|n| shards.contains(&shard_of(world.ns.name(), n, SHARDS)))
        .cloned()
        .collect()
}

#[tokio::test]
async fn replicas_split_the_sealed_secrets_and_a_killed_replicas_shard_is_taken_over() {
    let world = World::new("shards-split").await;
    let mut replicas = [
        Replica::spawn(&world, "a"),
        Replica::spawn(&world, "b"),
        Replica::spawn(&world, "c"),
    ];
    let held = spread(&world, &replicas.iter().collect::<Vec<_>>()).await;

    let first = names(0..30);
    for shard in 0..SHARDS {
        let count = in_shards(&world, &first, &BTreeSet::from([shard])).len();
        assert!(
            count > 0,
            "shard {shard} has none of the names: pick others"
        );
    }
    create(&world, &first).await;
    converged(&world, &first).await;
    for (replica, shards) in replicas.iter().zip(&held) {
        let expected = in_shards(&world, &first, shards);
        assert_eq!(
            replica.reconciled_including(&expected).await,
            expected,
            "each replica reconciles exactly the objects of its shards {shards:?}; log:\n{}",
            replica.log()
        );
    }

    // Kill one replica without a chance to release anything.
    let (victim, survivors) = (2, [0, 1]);
    replicas[victim].child.kill().await.unwrap();
    let killed = Instant::now();
    let after = spread(&world, &[&replicas[survivors[0]], &replicas[survivors[1]]]).await;
    let takeover = killed.elapsed();
    // NB: its member Lease and shard Lease expire within LEASE_SECS of
    // their last renewal; noticing takes up to a third of that, and the
    // new campaign up to 2 s of follower polling; the rest is slack for a
    // loaded machine.
    assert!(
        takeover < Duration::from_secs(LEASE_SECS + 8),
        "takeover took {takeover:?}"
    );
    let second = names(30..60);
    create(&world, &second).await;
    converged(&world, &second).await;
    let orphaned = in_shards(&world, &second, &held[victim]);
    for (survivor, shards) in survivors.iter().zip(&after) {
        let expected = in_shards(&world, &second, shards);
        let reconciled = replicas[*survivor].reconciled_including(&expected).await;
        assert!(
            expected.is_subset(&reconciled),
            "survivor with {shards:?} reconciles its objects; missing {:?}; log:\n{}",
            expected.difference(&reconciled).collect::<Vec<_>>(),
            replicas[*survivor].log()
        );
        let others: BTreeSet<u32> = (0..SHARDS).filter(|s| !shards.contains(s)).collect();
        assert!(
            in_shards(&world, &second, &others).is_disjoint(&reconciled),
            "and none of the other's"
        );
    }
    assert!(!orphaned.is_empty() && orphaned.iter().all(|n| second.contains(n)));
}

#[tokio::test]
async fn a_scale_down_and_up_hands_shards_over_without_writing_a_secret_twice() {
    let world = World::new("shards-scale").await;
    // Every version of every Secret in the namespace, from before the
    // first write to the end.
    let versions: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>> = Arc::default();
    let seen = versions.clone();
    let watch = tokio::spawn(
        watcher(world.secrets(), watcher::Config::default())
            .applied_objects()
            .for_each(move |secret: Result<Secret, _>| {
                if let Ok(secret) = secret {
                    let meta = secret.metadata;
                    seen.lock()
                        .unwrap()
                        .entry(meta.name.unwrap_or_default())
                        .or_default()
                        .insert(meta.resource_version.unwrap_or_default());
                }
                async {}
            }),
    );

    let mut a = Replica::spawn(&world, "a");
    let mut b = Replica::spawn(&world, "b");
    spread(&world, &[&a, &b]).await;
    let mut all = names(0..20);
    create(&world, &all).await;
    converged(&world, &all).await;

    // Scale down: b stops cleanly, a takes every shard at once (released,
    // not expired).
    let stopping = Instant::now();
    b.terminate(Duration::from_secs(30)).await;
    let held = spread(&world, &[&a]).await;
    assert_eq!(held[0].len(), SHARDS as usize);
    assert!(
        stopping.elapsed() < Duration::from_secs(LEASE_SECS + 8),
        "took {:?}",
        stopping.elapsed()
    );
    let more = names(20..30);
    create(&world, &more).await;
    all.extend(more);

    // Scale up while objects arrive: c joins and a hands shards over.
    let c = Replica::spawn(&world, "c");
    let during = names(30..45);
    create(&world, &during).await;
    all.extend(during);
    let held = spread(&world, &[&a, &c]).await;
    let last = names(45..60);
    create(&world, &last).await;
    all.extend(last.iter().cloned());
    converged(&world, &all).await;
    let reconciled_by_c = c
        .reconciled_including(&in_shards(&world, &last, &held[1]))
        .await;
    let not_c: BTreeSet<u32> = (0..SHARDS).filter(|s| !held[1].contains(s)).collect();
    assert!(
        in_shards(&world, &last, &held[1]).is_subset(&reconciled_by_c)
            && in_shards(&world, &all, &not_c).is_disjoint(&reconciled_by_c),
        "c reconciles only its shards {:?}",
        held[1]
    );

    // The series of objects a handed over go at its next sweep (a minute
    // after its start, then every minute).
    let not_a: BTreeSet<u32> = (0..SHARDS).filter(|s| !held[0].contains(s)).collect();
    let handed_over = in_shards(&world, &all, &not_a);
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let reconciled_by_a = a.reconciled().await;
        if reconciled_by_a.is_disjoint(&handed_over) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a still reports what it handed over: {:?}",
            reconciled_by_a
                .intersection(&handed_over)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // Let any late write land, then: every Secret was written once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    watch.abort();
    let versions = versions.lock().unwrap().clone();
    for name in &all {
        let seen = versions.get(name).map(BTreeSet::len).unwrap_or_default();
        assert_eq!(seen, 1, "Secret {name} was written {seen} times");
    }
    a.terminate(Duration::from_secs(30)).await;
}

/// Two in-process replicas with `--shards 2`, running only the
/// ExternalSecret controller, on the Lease `lease`.
async fn external_replica(world: &World, lease: &str) -> Running {
    let config = Config {
        sealed_secrets: false,
        leader_election: Some(LeaseConfig {
            duration: Duration::from_secs(LEASE_SECS),
            grace: Duration::from_secs(1),
            ..LeaseConfig::new(lease, world.ctrl_ns.name())
        }),
        shards: 2,
        external_secrets: Some(coffer_external::Config {
            namespaces: vec![world.ns.name().to_owned()],
            cluster_external_secrets: false,
            ..coffer_external::Config::default()
        }),
        ..world.config()
    };
    world.start_with(config).await
}

/// The `name` labels of the series `metric` on `running`'s `/metrics`.
async fn series_names(running: &Running, metric: &str) -> BTreeSet<String> {
    let url = format!("http://{}/metrics", running.metrics_addr.unwrap());
    let (_, page) = get(&url).await.expect("metrics");
    page.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .filter_map(|l| {
            let rest = &l[l.find("name=\"")? + 6..];
            Some(rest[..rest.find('"')?].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn external_secrets_and_stores_are_synced_by_the_replica_of_their_shard() {
    let world = World::new("shards-es").await;
    let lease = "es-shards";
    let replicas = [
        external_replica(&world, lease).await,
        external_replica(&world, lease).await,
    ];
    let leases: kube::Api<Lease> =
        kube::Api::namespaced(world.client.clone(), world.ctrl_ns.name());
    let held: Vec<Vec<u32>> = eventually("the two shards to be spread", || {
        let leases = leases.clone();
        let held: Vec<Vec<u32>> = replicas
            .iter()
            .map(|r| r.context.shards.as_ref().expect("sharded").held())
            .collect();
        async move {
            let spread = held.iter().all(|h| h.len() == 1) && held[0] != held[1];
            (spread && settled(&leases, lease, 2).await).then_some(held)
        }
    })
    .await;

    // Stores and ExternalSecrets in both shards.
    let ns = world.ns.name().to_owned();
    let path = format!("{ns}/app");
    world
        .env
        .vault
        .put(&path, serde_json::json!({"token": "t-1"}))
        .await;
    let stores: Vec<String> = (0..6).map(|i| format!("vault-{i}")).collect();
    for store in &stores {
        common::vault_store(&world, store, &world.env.vault.token).await;
    }
    let names: Vec<String> = (0..20).map(|i| format!("es-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let es = ExternalSecretManifest::new(name, &stores[i % stores.len()])
            .property("token", &path, "token");
        external::apply(&world.client, &ns, &es.to_string()).await;
    }
    for name in &names {
        common::secret_with_data(&world, name, &[("token", "t-1")]).await;
    }

    let of_shard = |objects: &[String], shard: u32| -> BTreeSet<String> {
        objects
            .iter()
            .filter(|n| shard_of(&ns, n, 2) == shard)
            .cloned()
            .collect()
    };
    for (replica, shards) in replicas.iter().zip(&held) {
        let (synced_es, validated) = (of_shard(&names, shards[0]), of_shard(&stores, shards[0]));
        assert!(
            !synced_es.is_empty() && !validated.is_empty(),
            "pick other names"
        );
        let synced = eventually("the replica's syncs on /metrics", || async {
            let synced = series_names(replica, "externalsecret_sync_calls_total").await;
            synced_es.is_subset(&synced).then_some(synced)
        })
        .await;
        assert_eq!(synced, synced_es, "ExternalSecrets of shard {shards:?}");
        let stores_seen = eventually("the replica's store validations", || async {
            let seen = series_names(replica, "secretstore_status_condition").await;
            validated.is_subset(&seen).then_some(seen)
        })
        .await;
        assert_eq!(stores_seen, validated, "SecretStores of shard {shards:?}");
    }
    for replica in replicas {
        replica.shutdown().await;
    }
}

#[tokio::test]
async fn replicas_that_disagree_on_the_shard_count_hold_nothing_until_they_agree() {
    let world = World::new("shards-disagree").await;
    let mut a = Replica::spawn(&world, "a");
    // A rolling update to another count: two counts would put one object
    // in two shards, held by two replicas.
    let mut b = Replica::spawn_with(&world, "b", SHARDS + 1);
    eventually("both replicas to say why they hold nothing", || {
        let (log_a, log_b) = (a.log(), b.log());
        async move {
            let says = |log: &str| log.contains("holding no shard") && log.contains("--shards");
            (says(&log_a) && says(&log_b)).then_some(())
        }
    })
    .await;
    // Several refreshes later, still nothing held on either side.
    tokio::time::sleep(Duration::from_secs(LEASE_SECS)).await;
    assert_eq!(a.held().await, Some(BTreeSet::new()), "log:\n{}", a.log());
    let held_b = {
        let (_, page) = get(&b.metrics).await.expect("metrics");
        sample(&page, "coffer_shards_held")
    };
    assert_eq!(held_b, Some(0.0), "log:\n{}", b.log());
    let names = names(0..6);
    create(&world, &names).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        world
            .secrets()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing is unsealed while the replicas disagree"
    );

    // The update completes: the other count is gone, and the work resumes.
    b.terminate(Duration::from_secs(30)).await;
    let held = spread(&world, &[&a]).await;
    assert_eq!(held[0].len(), SHARDS as usize);
    converged(&world, &names).await;
    a.terminate(Duration::from_secs(30)).await;
}
