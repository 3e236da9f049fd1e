//! Soak: the controller process under steady create/update/delete churn of
//! SealedSecrets and ExternalSecrets (OpenBao), on the local control plane,
//! with its resident memory, open file descriptors and tokio tasks sampled
//! from its `/metrics` every second. The samples go to a table
//! (`$CARGO_TARGET_TMPDIR/soak-<namespace>.tsv`, printed at the end).
//!
//! What the controller remembers per object is bounded by count or by
//! time, never kept for the life of the process: the Event series cache
//! (4,096 entries, 6 minutes), the ExternalSecret event filter (10 minutes
//! per uid), the per-object maps (pruned by the sweep every minute). So
//! memory grows while those fill and then stays flat. A run longer than
//! [`WARM_UP`] + 2 minutes (`COFFER_SOAK_SECS=900`) is judged by the slope
//! of RSS after the warm-up: at most [`MAX_SLOPE_MIB_PER_MIN`]. The short
//! run of the README's test command cannot see past the warm-up; it fails
//! on gross growth (the last quarter's mean RSS above 1.25 × the second
//! quarter's + 8 MiB). Both fail if descriptors or tasks do not come back
//! once the churn has stopped, or if the objects left do not converge.
//!
//! Measured (on 2 busy cores): before the Event cache was bounded, 540 s
//! grew 30.9 → 45.8 MiB, about 1.7 MiB a minute; after, 900 s (19,312
//! operations) went 31.4 → 37.0 MiB, 36.9 from 540 s on, a slope of 0.07
//! MiB a minute after the warm-up.
//!
//! Bounded: at most [`LIVE`] objects of each kind exist at once, on
//! loopback, for `COFFER_SOAK_SECS` seconds of churn (default 60; the
//! README's test command runs the default, longer runs set it).

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use coffer_api::SealedSecret;
use coffer_testenv::external::{self, ExternalSecretManifest, StoreManifest, VaultLogin};
use coffer_testenv::free_port;
use common::{World, data_of, eventually, get, sample};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

/// Objects of each kind alive at once, at most.
const LIVE: usize = 12;
/// How often the controller's gauges are read.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How long the bounded caches take to fill: the Event series window (6
/// minutes) and one sweep (1 minute).
const WARM_UP: f64 = 420.0;
/// The largest RSS growth after the warm-up that counts as flat.
const MAX_SLOPE_MIB_PER_MIN: f64 = 0.25;

/// The least-squares slope of RSS over `samples`, in MiB a minute.
fn slope_mib_per_min(samples: &[Sample]) -> f64 {
    let n = samples.len() as f64;
    let (mx, my) = (mean(samples, |s| s.at), mean(samples, |s| s.rss));
    let (mut num, mut den) = (0.0, 0.0);
    for s in samples {
        num += (s.at - mx) * (s.rss - my);
        den += (s.at - mx) * (s.at - mx);
    }
    if n < 2.0 || den == 0.0 {
        return 0.0;
    }
    num / den * 60.0 / MIB
}

/// One reading of the controller's gauges.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: f64,
    rss: f64,
    fds: f64,
    tasks: f64,
    operations: usize,
}

async fn read(metrics: &str, started: Instant, operations: usize) -> Option<Sample> {
    let (_, page) = get(metrics).await?;
    Some(Sample {
        at: started.elapsed().as_secs_f64(),
        rss: sample(&page, "process_resident_memory_bytes")?,
        fds: sample(&page, "process_open_fds")?,
        tasks: sample(&page, "coffer_runtime_alive_tasks")?,
        operations,
    })
}

fn mean(samples: &[Sample], f: impl Fn(&Sample) -> f64) -> f64 {
    samples.iter().map(f).sum::<f64>() / samples.len().max(1) as f64
}

const MIB: f64 = 1024.0 * 1024.0;

/// The controller process, killed when the test ends.
struct Controller {
    _child: tokio::process::Child,
    metrics: String,
}

fn spawn_controller(world: &World) -> Controller {
    let (api, metrics) = (free_port().unwrap(), free_port().unwrap());
    let log = world
        .env
        .dir()
        .join(format!("{}-controller.log", world.ns.name()));
    let file = std::fs::File::create(&log).unwrap();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_coffer-controller"))
        .env("KUBECONFIG", world.env.kubeconfig())
        .env("RUST_LOG", "info")
        .args(["--namespace", world.ctrl_ns.name()])
        .args(["--namespaces", world.ns.name()])
        .args(["--listen-addr", &format!("127.0.0.1:{api}")])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics}")])
        .args(["--key-size", "2048"])
        .args(["--leader-elect=false"])
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .kill_on_drop(true)
        .spawn()
        .expect("spawn coffer-controller");
    Controller {
        _child: child,
        metrics: format!("http://127.0.0.1:{metrics}/metrics"),
    }
}

/// What each live object should hold now: name → value.
type Expected = BTreeMap<String, String>;

#[tokio::test]
async fn memory_descriptors_and_tasks_stay_flat_under_churn() {
    let churn = Duration::from_secs(
        std::env::var("COFFER_SOAK_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    let world = World::new("soak").await;
    let ns = world.ns.name().to_owned();
    let controller = spawn_controller(&world);

    // The store: OpenBao with the root token.
    let token = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "bao-token"},
        "stringData": {"token": world.env.vault.token},
    });
    external::apply(&world.client, &ns, &token.to_string()).await;
    let store = StoreManifest::vault(
        "bao",
        &world.env.vault.addr,
        "secret",
        VaultLogin::token("bao-token", "token"),
    )
    .provider("version", "v2");
    external::apply(&world.client, &ns, &store.to_string()).await;

    let keys = world.sealing_key().await;
    let sealed_api: Api<SealedSecret> = world.sealed_secrets();
    let es_api: Api<coffer_api::ExternalSecret> = Api::namespaced(world.client.clone(), &ns);
    let seal = |name: &str, value: &str| {
        coffer_sealed::seal_secret(
            &world.secret(name, &[("value", value)]),
            keys.certificate().public_key(),
            None,
        )
        .unwrap()
    };

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut next_sample = Instant::now();
    let (mut sealed, mut externals) = (Expected::new(), Expected::new());
    let mut operations = 0usize;
    let mut round = 0usize;
    while started.elapsed() < churn {
        // One step of churn: each slot in turn is created, updated, or
        // (every third visit) deleted.
        let slot = round % LIVE;
        let visit = round / LIVE;
        let (s_name, e_name) = (format!("sealed-{slot}"), format!("external-{slot}"));
        let value = format!("v{round}");
        if visit % 3 == 2 {
            let dp = DeleteParams::default();
            if sealed.remove(&s_name).is_some() {
                sealed_api.delete(&s_name, &dp).await.unwrap();
            }
            if externals.remove(&e_name).is_some() {
                es_api.delete(&e_name, &dp).await.unwrap();
            }
        } else {
            let object = seal(&s_name, &value);
            if sealed.contains_key(&s_name) {
                let patch =
                    serde_json::json!({"spec": {"encryptedData": object.spec.encrypted_data}});
                sealed_api
                    .patch(&s_name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .unwrap();
            } else {
                sealed_api
                    .create(&PostParams::default(), &object)
                    .await
                    .unwrap();
            }
            sealed.insert(s_name, value.clone());
            let path = format!("{ns}/{e_name}");
            world
                .env
                .vault
                .put(&path, serde_json::json!({"value": value}))
                .await;
            let es = ExternalSecretManifest::new(&e_name, "bao")
                .refresh("2s")
                .property("value", &path, "value");
            external::apply(&world.client, &ns, &es.to_string()).await;
            externals.insert(e_name, value);
        }
        operations += 2;
        round += 1;
        if Instant::now() >= next_sample {
            if let Some(s) = read(&controller.metrics, started, operations).await {
                samples.push(s);
            }
            next_sample += SAMPLE_EVERY;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // What is left converges to its last value.
    let secrets: Api<Secret> = world.secrets();
    // (A SealedSecret's Secret and an ExternalSecret's target are named
    // after their object.)
    for (name, value) in sealed.iter().chain(externals.iter()) {
        eventually(&format!("Secret {name} to hold its last value"), || {
            let secrets = secrets.clone();
            async move {
                let secret = secrets.get_opt(name).await.ok()??;
                (data_of(&secret).get("value") == Some(value)).then_some(())
            }
        })
        .await;
    }

    // Then everything goes, and the process settles.
    for name in sealed.keys() {
        sealed_api
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }
    for name in externals.keys() {
        es_api.delete(name, &DeleteParams::default()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let settled = read(&controller.metrics, started, operations)
        .await
        .expect("the controller answers after the churn");

    let table = samples.iter().fold(
        String::from("seconds\trss_mib\topen_fds\ttokio_tasks\toperations\n"),
        |mut t, s| {
            let _ = writeln!(
                t,
                "{:.1}\t{:.1}\t{}\t{}\t{}",
                s.at,
                s.rss / MIB,
                s.fds,
                s.tasks,
                s.operations
            );
            t
        },
    );
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("soak-{ns}.tsv"));
    std::fs::write(&file, &table).unwrap();

    assert!(
        samples.len() >= 8,
        "too few samples ({}) to judge; is the churn time ({churn:?}) too short?",
        samples.len()
    );
    let quarter = samples.len() / 4;
    let second = &samples[quarter..2 * quarter];
    let last = &samples[samples.len() - quarter..];
    let max_rss = samples.iter().map(|s| s.rss).fold(0.0, f64::max);
    let (rss_second, rss_last) = (mean(second, |s| s.rss), mean(last, |s| s.rss));
    let (fds_warm, tasks_warm) = (mean(second, |s| s.fds), mean(second, |s| s.tasks));
    eprintln!(
        "soak: {:.0} s of churn, {operations} operations ({LIVE} live objects of each kind at most); \
         RSS start {:.1} MiB, second quarter {:.1}, last quarter {:.1}, end {:.1}, max {:.1}; \
         open fds {:.0} -> {:.0}; tokio tasks {:.0} -> {:.0}; samples in {}",
        churn.as_secs_f64(),
        samples[0].rss / MIB,
        rss_second / MIB,
        rss_last / MIB,
        settled.rss / MIB,
        max_rss / MIB,
        fds_warm,
        settled.fds,
        tasks_warm,
        settled.tasks,
        file.display()
    );
    let warm: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.at >= WARM_UP)
        .collect();
    if warm.last().is_some_and(|s| s.at - WARM_UP >= 120.0) {
        let slope = slope_mib_per_min(&warm);
        eprintln!(
            "soak: RSS after the {WARM_UP:.0} s warm-up grows {slope:.2} MiB a minute \
             (at most {MAX_SLOPE_MIB_PER_MIN})"
        );
        assert!(
            slope <= MAX_SLOPE_MIB_PER_MIN,
            "resident memory kept growing after the warm-up: {slope:.2} MiB a minute \
             (table in {})",
            file.display()
        );
    }
    assert!(
        rss_last <= rss_second * 1.25 + 8.0 * MIB,
        "resident memory kept growing: {:.1} MiB in the second quarter, {:.1} MiB in the last (table in {})",
        rss_second / MIB,
        rss_last / MIB,
        file.display()
    );
    assert!(
        settled.fds <= fds_warm + 8.0,
        "open file descriptors did not come back: {fds_warm:.0} during the churn, {} after",
        settled.fds
    );
    assert!(
        settled.tasks <= tasks_warm + 8.0,
        "tokio tasks did not come back: {tasks_warm:.0} during the churn, {} after",
        settled.tasks
    );
}

#[test]
fn the_slope_is_growth_a_minute_and_flat_is_zero() {
    let at = |t: f64, mib: f64| Sample {
        at: t,
        rss: mib * MIB,
        fds: 0.0,
        tasks: 0.0,
        operations: 0,
    };
    let growing: Vec<Sample> = (0..120)
        .map(|t| at(t as f64, 30.0 + t as f64 / 60.0))
        .collect();
    assert!((slope_mib_per_min(&growing) - 1.0).abs() < 1e-9);
    let flat: Vec<Sample> = (0..120).map(|t| at(t as f64, 36.8)).collect();
    assert_eq!(slope_mib_per_min(&flat), 0.0);
}
