//! High availability: replicas elect one writer through a Lease. Followers
//! serve the certificate, health and metrics but never reconcile; when the
//! leader goes away (gracefully or killed) another takes over and unseals;
//! a leader whose renewals stop landing stops writing before its lease can
//! expire.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use coffer_controller::{LeaseConfig, Running};
use common::process::ControllerProcess;
use common::{World, eventually, get, sample, secret_with_data};

/// An in-process replica with leader election on `lease`.
async fn replica(world: &World, lease: &str, duration: Duration) -> Running {
    let mut config = world.config();
    config.leader_election = Some(LeaseConfig {
        duration,
        grace: Duration::from_secs(1),
        ..LeaseConfig::new(lease, world.ctrl_ns.name())
    });
    world.start_with(config).await
}

async fn leads(running: &Running) {
    let leadership = running.leadership.clone();
    tokio::time::timeout(common::TIMEOUT, leadership.until_leader())
        .await
        .expect("replica to become leader");
}

#[tokio::test]
async fn follower_serves_cert_and_health_but_never_reconciles_until_leader_shuts_down() {
    let world = World::new("ha-inproc").await;
    let first = replica(&world, "ha-inproc", Duration::from_secs(30)).await;
    leads(&first).await;
    let second = replica(&world, "ha-inproc", Duration::from_secs(30)).await;

    // The follower answers before (and without) any reconcile, with the
    // leader's certificate once the key watch has delivered it.
    let base = format!("http://{}", second.listen_addr.unwrap());
    let (status, _) = get(&format!("{base}/healthz")).await.expect("healthz");
    assert_eq!(status, 200);
    let key = eventually("the leader's key to exist", || {
        let keys = first.context.keys.clone();
        async move { keys.newest().ok() }
    })
    .await;
    let pem = eventually("the follower to serve the leader's certificate", || {
        let url = format!("{base}/v1/cert.pem");
        async move { get(&url).await.filter(|(s, _)| *s == 200).map(|(_, b)| b) }
    })
    .await;
    assert_eq!(pem, key.certificate().to_pem());

    world
        .create_sealed(&first, &world.secret("one", &[("password", "first")]))
        .await;
    secret_with_data(&world, "one", &[("password", "first")]).await;
    assert!(!second.leadership.is_leader());
    assert_eq!(
        second.context.metrics.unseal_requests(),
        0,
        "the follower does not reconcile"
    );
    let (_, page) = get(&format!("http://{}/metrics", second.metrics_addr.unwrap()))
        .await
        .unwrap();
    assert_eq!(sample(&page, "coffer_leader"), Some(0.0), "{page}");

    // A graceful shutdown releases the Lease: the follower takes over at
    // once, well before the 30 s lease would have expired.
    let started = Instant::now();
    first.shutdown().await;
    leads(&second).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took over after {:?}: the Lease was not released",
        started.elapsed()
    );
    world
        .create_sealed(&second, &world.secret("two", &[("password", "second")]))
        .await;
    secret_with_data(&world, "two", &[("password", "second")]).await;
    assert!(second.context.metrics.decryptions() >= 1);
}

/// A controller process started from the built binary, with leader
/// election on a short lease.
struct Process(ControllerProcess);

impl std::ops::Deref for Process {
    type Target = ControllerProcess;
    fn deref(&self) -> &ControllerProcess {
        &self.0
    }
}

impl std::ops::DerefMut for Process {
    fn deref_mut(&mut self) -> &mut ControllerProcess {
        &mut self.0
    }
}

impl Process {
    fn spawn(world: &World, name: &str, lease_secs: u64) -> Process {
        let duration = format!("{lease_secs}s");
        Process(ControllerProcess::spawn(
            world,
            name,
            &["--lease-duration", &duration, "--lease-renew-grace", "1s"],
        ))
    }

    /// `coffer_leader`, or `None` while the process is not answering.
    async fn leader(&self) -> Option<bool> {
        let page = self.page().await?;
        sample(&page, "coffer_leader").map(|v| v == 1.0)
    }

    async fn sample(&self, name: &str) -> f64 {
        let page = self.page().await.expect("metrics");
        sample(&page, name).unwrap_or_else(|| panic!("no {name} in {page}"))
    }
}

#[tokio::test]
async fn killed_leader_process_is_replaced_within_the_lease_duration() {
    const LEASE_SECS: u64 = 4;
    let world = World::new("ha-failover").await;
    let mut processes = [
        Process::spawn(&world, "a", LEASE_SECS),
        Process::spawn(&world, "b", LEASE_SECS),
    ];
    let leader = eventually("exactly one leader", || {
        let probes = [processes[0].leader(), processes[1].leader()];
        async move {
            let [a, b] = probes;
            match (a.await?, b.await?) {
                (true, false) => Some(0),
                (false, true) => Some(1),
                _ => None,
            }
        }
    })
    .await;
    let follower = 1 - leader;

    // The leader made the key; seal to it (as kubeseal --fetch-cert would).
    let pair = world.sealing_key().await;
    let seal = |name: &str, value: &str| {
        coffer_sealed::seal_secret(
            &world.secret(name, &[("password", value)]),
            pair.certificate().public_key(),
            None,
        )
        .unwrap()
    };
    let api = world.sealed_secrets();
    let pp = kube::api::PostParams::default();
    api.create(&pp, &seal("before", "one")).await.unwrap();
    secret_with_data(&world, "before", &[("password", "one")]).await;
    assert!(
        processes[leader]
            .sample("coffer_unseal_decryptions_total")
            .await
            >= 1.0
    );
    assert!(
        processes[follower]
            .sample("coffer_kube_requests_total")
            .await
            >= 1.0,
        "API requests are counted"
    );
    assert_eq!(
        processes[follower]
            .sample("sealed_secrets_controller_unseal_requests_total")
            .await,
        0.0,
        "only the leader reconciles; follower log:\n{}",
        processes[follower].log()
    );

    // Kill the leader without a chance to release the Lease.
    processes[leader].child.kill().await.unwrap();
    let killed = Instant::now();
    eventually("the follower to take over", || {
        let probe = processes[follower].leader();
        async move { probe.await.filter(|l| *l) }
    })
    .await;
    let takeover = killed.elapsed();
    // NB: the follower waits out the lease (<= LEASE_SECS since the last
    // renewal), then up to 1 s of jitter; the rest is polling slack.
    assert!(
        takeover < Duration::from_secs(LEASE_SECS + 4),
        "takeover took {takeover:?}; follower log:\n{}",
        processes[follower].log()
    );
    api.create(&pp, &seal("after", "two")).await.unwrap();
    secret_with_data(&world, "after", &[("password", "two")]).await;
    assert!(
        processes[follower]
            .sample("coffer_unseal_decryptions_total")
            .await
            >= 1.0
    );
}

#[tokio::test]
async fn sigterm_stops_the_process_cleanly_and_releases_the_lease() {
    let world = World::new("ha-sigterm").await;
    let mut process = Process::spawn(&world, "only", 30);
    eventually("the process to lead", || {
        let probe = process.leader();
        async move { probe.await.filter(|l| *l) }
    })
    .await;
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(world.client.clone(), world.ctrl_ns.name());
    let holder = |lease: k8s_openapi::api::coordination::v1::Lease| {
        lease.spec.and_then(|s| s.holder_identity)
    };
    assert!(holder(leases.get("coffer-controller").await.unwrap()).is_some());

    process.terminate(Duration::from_secs(20)).await;
    assert_eq!(
        holder(leases.get("coffer-controller").await.unwrap()),
        None,
        "the Lease is released; log:\n{}",
        process.log()
    );
    assert!(process.log().contains("SIGTERM"), "{}", process.log());
}

/// What one replica's API client saw: when each of its writes (other than
/// to the Lease) was sent, and a switch that makes its Lease updates hang
/// (an API server that stops answering this replica's renewals).
#[derive(Clone, Default)]
struct Tap {
    writes: Arc<Mutex<Vec<(SystemTime, String)>>>,
    hang_lease_updates: Arc<AtomicBool>,
}

impl Tap {
    /// `client`, seen through this tap.
    fn client(&self, client: kube::Client) -> kube::Client {
        let namespace = client.default_namespace().to_owned();
        let tap = self.clone();
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            let (client, tap) = (client.clone(), tap.clone());
            async move {
                let path = request.uri().path().to_owned();
                let writes = !matches!(
                    *request.method(),
                    http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
                );
                if writes && path.contains("/leases/") {
                    if tap.hang_lease_updates.load(Ordering::SeqCst) {
                        return std::future::pending().await;
                    }
                } else if writes {
                    let line = format!("{} {path}", request.method());
                    tap.writes.lock().unwrap().push((SystemTime::now(), line));
                }
                client.send(request).await
            }
        });
        kube::Client::new(service, namespace)
    }
}

#[tokio::test]
async fn a_leader_whose_renewals_hang_writes_nothing_once_its_lease_may_expire() {
    const DURATION: Duration = Duration::from_secs(8);
    let world = World::new("ha-hang").await;
    let lease = |identity: &str| LeaseConfig {
        identity: identity.to_owned(),
        duration: DURATION,
        grace: Duration::from_secs(4),
        ..LeaseConfig::new("ha-hang", world.ctrl_ns.name())
    };
    let tap = Tap::default();
    let a = coffer_controller::start(
        tap.client(world.env.client().await),
        coffer_controller::Config {
            leader_election: Some(lease("replica-a")),
            ..world.config()
        },
    )
    .await
    .unwrap();
    leads(&a).await;
    let b = world
        .start_with(coffer_controller::Config {
            leader_election: Some(lease("replica-b")),
            ..world.config()
        })
        .await;
    let key = eventually("the leader's key", || {
        let keys = a.context.keys.clone();
        async move { keys.newest().ok() }
    })
    .await;

    // SealedSecrets keep coming, so whoever leads keeps writing.
    let created = Arc::new(AtomicUsize::new(0));
    let creator = {
        let (api, created) = (world.sealed_secrets(), created.clone());
        let ns = world.ns.name().to_owned();
        tokio::spawn(async move {
            loop {
                let i = created.load(Ordering::SeqCst);
                let secret = k8s_openapi::api::core::v1::Secret {
                    metadata: kube::api::ObjectMeta {
                        name: Some(format!("s-{i}")),
                        namespace: Some(ns.clone()),
                        ..Default::default()
                    },
                    string_data: Some([("n".to_owned(), i.to_string())].into()),
                    ..Default::default()
                };
                let sealed =
                    coffer_sealed::seal_secret(&secret, key.certificate().public_key(), None)
                        .unwrap();
                api.create(&kube::api::PostParams::default(), &sealed)
                    .await
                    .unwrap();
                created.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    secret_with_data(&world, "s-0", &[("n", "0")]).await;
    assert!(!tap.writes.lock().unwrap().is_empty(), "the leader wrote");

    // From now on the leader's renewals hang. Once any renewal already in
    // flight has landed, the Lease shows when its lease expires.
    tap.hang_lease_updates.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(world.client.clone(), world.ctrl_ns.name());
    let spec = leases.get("ha-hang").await.unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-a"));
    let expiry = SystemTime::from(spec.renew_time.unwrap().0) + DURATION;

    // The other replica takes over.
    leads(&b).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    creator.abort();
    let n = created.load(Ordering::SeqCst);
    for i in [0, n / 2, n - 1] {
        let value = i.to_string();
        secret_with_data(&world, &format!("s-{i}"), &[("n", value.as_str())]).await;
    }
    assert!(
        b.context.metrics.decryptions() >= 1,
        "the new leader unseals"
    );

    let writes = tap.writes.lock().unwrap().clone();
    let late: Vec<&String> = writes
        .iter()
        .filter(|(at, _)| *at >= expiry)
        .map(|(_, line)| line)
        .collect();
    assert!(
        late.is_empty(),
        "the old leader wrote after its lease could expire: {late:?}"
    );
    assert!(!a.leadership.is_leader(), "the old leader follows");
}
