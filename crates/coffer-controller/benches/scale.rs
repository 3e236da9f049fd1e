//! Scale benchmark (figures, not a timed test): N SealedSecrets of three
//! keys each in one namespace of a fresh local control plane, unsealed by
//! the controller binary running as a child process; optionally next to U
//! unrelated Secrets of B random bytes each in the same namespace (what
//! Helm releases and other tools keep there), which the controller should
//! neither hold nor read.
//!
//! Prints, for a cold start and for a restart over the converged state:
//! wall time to converge, SealedSecrets decrypted, API requests the
//! controller made and the controller's peak RSS (VmHWM); the same for
//! Bitnami's controller (v0.40.0, from `tests/reference-tools`, run as in a
//! Pod with the same key and arguments) with its default client rate limit
//! (QPS 5, burst 10) and with it out of the way (QPS and burst 100000), on
//! the same SealedSecrets, its Secrets deleted before each cold start; each
//! row's ratio to coffer's; and the floor: the RSA private operations the
//! workload needs at this machine's rate on every core, with coffer's cold
//! start as a multiple of it. Both controllers run as the same
//! ServiceAccount (bound to `cluster-admin`; coffer through a kubeconfig
//! for it), whose requests the API server's audit log records: a run's API
//! requests are those it made from its start until none came for 2 s after
//! convergence (status and Events trail the Secrets), by verb and resource
//! (printed per row, refused ones by status code). Bitnami's decryptions
//! are its unseal requests.
//!
//! `COFFER_SCALE_PEERS=0` runs coffer alone; `COFFER_SCALE_PEERS=fast`
//! only adds Bitnami with its rate limit off (its default-QPS rows take
//! about 20 minutes each at N = 2000).
//!
//! ```text
//! COFFER_SCALE_N=2000 COFFER_SCALE_KEY_BITS=4096 \
//!     COFFER_SCALE_UNRELATED=10000 COFFER_SCALE_UNRELATED_BYTES=8192 \
//!     cargo bench -p coffer-controller --bench scale
//! ```
//!
//! `COFFER_SCALE_BIN=path` runs that controller binary instead of this
//! build's (the flags used here exist since the first release).
//!
//! `COFFER_SCALE_REPLICAS=1,2` adds cold starts of coffer as that many
//! replicas with `--shards` set to it, leader election on, each process
//! pinned to a core of its own (`taskset -c i`), so that sharding's
//! scaling shows on a machine with few cores:
//!
//! ```text
//! COFFER_SCALE_PEERS=0 COFFER_SCALE_REPLICAS=1,2 \
//!     cargo bench -p coffer-controller --bench scale
//! ```

#![allow(clippy::print_stdout)]

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use coffer_crypto::{KeyOptions, KeyPair, KeySize};
use coffer_testenv::{InCluster, Options, TestEnv, free_port, reference_tool};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use support::{
    Counts, cpu_seconds, cpu_seconds_of, create_unrelated, diff, env_or, metric_sum as sample,
    peak_rss_kib, total,
};

/// Give up on a run after this long.
const DEADLINE: Duration = Duration::from_secs(1800);

/// The ServiceAccount both controllers run as (Bitnami's chart's name).
const ACCOUNT: &str = "sealed-secrets-controller";

/// A run's requests are counted until none came for this long.
const QUIET: Duration = Duration::from_secs(2);

/// Which peers run beside coffer (`COFFER_SCALE_PEERS`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Peers {
    /// `0`: coffer alone.
    None,
    /// `fast`: Bitnami with its rate limit off.
    Fast,
    /// Anything else (the default): Bitnami with its rate limit off and
    /// with its defaults.
    All,
}

impl Peers {
    fn from_env() -> Peers {
        match std::env::var("COFFER_SCALE_PEERS").as_deref() {
            Ok("0") => Peers::None,
            Ok("fast") => Peers::Fast,
            _ => Peers::All,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; a number argument overrides N.
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or_else(|| env_or("COFFER_SCALE_N", 2000));
    let bits: usize = env_or("COFFER_SCALE_KEY_BITS", 4096);
    let unrelated: usize = env_or("COFFER_SCALE_UNRELATED", 0);
    let unrelated_bytes: usize = env_or("COFFER_SCALE_UNRELATED_BYTES", 8192);
    let key_size = KeySize::from_bits(bits).context("COFFER_SCALE_KEY_BITS")?;
    let peers = Peers::from_env();

    let (ns, ctrl_ns) = ("scale", "scale-ctrl");
    let user = coffer_testenv::service_account_user(ctrl_ns, ACCOUNT);
    let env = TestEnv::start_with(&Options {
        crds: None,
        audited_users: vec![user.clone()],
    })
    .await
    .context("start the control plane")?;
    let client = env.client().await;
    support::create_namespaces(&client, &[ns, ctrl_ns]).await?;
    let account = InCluster::service_account(
        &client,
        env.kubeconfig(),
        env.dir(),
        ctrl_ns,
        ACCOUNT,
        "cluster-admin",
    )
    .await?;

    // The sealing key, stored the Bitnami way so the controller adopts it.
    let pair = KeyPair::generate(&KeyOptions {
        size: key_size,
        ..KeyOptions::default()
    })?;
    let key_secret = coffer_sealed::key_secret::build(
        &pair,
        ObjectMeta {
            name: Some("sealed-secrets-key-scale".to_owned()),
            ..ObjectMeta::default()
        },
    )?;
    Api::<Secret>::namespaced(client.clone(), ctrl_ns)
        .create(&PostParams::default(), &*key_secret)
        .await?;

    if unrelated > 0 {
        let started = Instant::now();
        create_unrelated(&client, ns, unrelated, unrelated_bytes).await?;
        println!(
            "created {unrelated} unrelated Secrets of {unrelated_bytes} bytes in {:.1?}",
            started.elapsed()
        );
    }

    let started = Instant::now();
    let sealed_api: Api<coffer_api::SealedSecret> = Api::namespaced(client.clone(), ns);
    futures::stream::iter(0..n)
        .map(|i| {
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(format!("app-{i:05}")),
                    namespace: Some(ns.to_owned()),
                    ..ObjectMeta::default()
                },
                data: Some(
                    ["username", "password", "url"]
                        .iter()
                        .map(|k| (k.to_string(), ByteString(format!("{k}-{i}").into_bytes())))
                        .collect(),
                ),
                ..Secret::default()
            };
            let sealed = coffer_sealed::seal_secret(&secret, pair.certificate().public_key(), None);
            let api = sealed_api.clone();
            async move {
                api.create(&PostParams::default(), &sealed?).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await?;
    println!(
        "created {n} SealedSecrets (3 keys each, RSA-{bits}) in {:.1?}",
        started.elapsed()
    );

    let work = Workload {
        env: &env,
        client: &client,
        account: &account,
        user: &user,
        ns,
        ctrl_ns,
        n,
        unrelated,
    };
    let mut rows = vec![
        (
            "coffer".to_owned(),
            "cold start",
            work.run(&Controller::Coffer, Converged::AllSecrets).await?,
        ),
        (
            "coffer".to_owned(),
            "restart",
            work.run(&Controller::Coffer, Converged::AllReconciled)
                .await?,
        ),
    ];
    let replicas = std::env::var("COFFER_SCALE_REPLICAS").unwrap_or_default();
    for count in replicas
        .split(',')
        .filter_map(|r| r.trim().parse::<usize>().ok())
    {
        work.delete_unsealed().await?;
        let figures = work
            .run(
                &Controller::CofferPinned { replicas: count },
                Converged::AllSecrets,
            )
            .await?;
        rows.push((
            format!("coffer, {count} replica(s) --shards={count}, one core each"),
            "cold start",
            figures,
        ));
    }
    if peers != Peers::None {
        let program = reference_tool("bitnami-controller");
        let mut bitnami_rows = vec![("Bitnami, rate limit off", Some(100_000))];
        if peers == Peers::All {
            bitnami_rows.push(("Bitnami, defaults", None));
        }
        for (name, qps) in bitnami_rows {
            let bitnami = Controller::Bitnami {
                program: &program,
                qps,
            };
            work.delete_unsealed().await?;
            rows.push((
                name.to_owned(),
                "cold start",
                work.run(&bitnami, Converged::AllSecrets).await?,
            ));
            rows.push((
                name.to_owned(),
                "restart",
                work.run(&bitnami, Converged::AllReconciled).await?,
            ));
        }
    }
    let floor = rsa_floor(&pair, 3 * n)?;

    println!();
    for (controller, run, r) in &rows {
        println!("{controller}, {run}: API requests {:?}", r.requests);
    }
    println!();
    println!(
        "| controller | run | converged in | ratio to coffer | decryptions | API requests | peak RSS | controller CPU | API server + etcd CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let coffer_time = |run: &str| {
        rows.iter()
            .find(|(c, r, _)| *c == "coffer" && *r == run)
            .map(|(_, _, f)| f.elapsed.as_secs_f64())
    };
    for (controller, run, r) in &rows {
        let ratio = coffer_time(run).map_or(f64::NAN, |c| c / r.elapsed.as_secs_f64());
        println!(
            "| {controller} | {run} | {:.1} s | {ratio:.2}× | {} | {} | {:.1} MiB | {:.1} s | {:.1} s |",
            r.elapsed.as_secs_f64(),
            r.decryptions,
            r.requests.values().sum::<u64>(),
            r.peak_rss_kib as f64 / 1024.0,
            r.controller_cpu,
            r.control_plane_cpu
        );
    }
    println!(
        "| floor: {} RSA-{bits} private operations at {:.0}/s on {} cores | | {:.1} s | | | | | | |",
        3 * n,
        floor.rate,
        floor.threads,
        floor.seconds
    );
    if let Some(cold) = coffer_time("cold start") {
        println!(
            "\ncoffer's cold start: {:.2}× the floor",
            cold / floor.seconds
        );
    }
    // Sharding's scaling: each pinned row against the one-replica row.
    let pinned: Vec<&(String, &str, Figures)> = rows
        .iter()
        .filter(|(c, _, _)| c.contains("one core each"))
        .collect();
    if let Some((_, _, one)) = pinned.first() {
        for (controller, _, r) in &pinned[1..] {
            println!(
                "{controller}: {:.2}× the time of one pinned replica",
                r.elapsed.as_secs_f64() / one.elapsed.as_secs_f64()
            );
        }
    }
    Ok(())
}

/// The RSA floor of a cold start: `operations` private-key operations at
/// the rate this machine does them on every core.
struct Floor {
    rate: f64,
    threads: usize,
    seconds: f64,
}

fn rsa_floor(pair: &KeyPair, operations: usize) -> anyhow::Result<Floor> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let sealed = coffer_crypto::seal(
        pair.certificate().public_key(),
        b"floor",
        b"a value of the workload",
    )?;
    let keys = std::slice::from_ref(pair.private_key());
    let measure_for = Duration::from_secs(3);
    let started = Instant::now();
    let done: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut count = 0;
                    while started.elapsed() < measure_for {
                        if coffer_crypto::unseal(keys, b"floor", &sealed).is_ok() {
                            count += 1;
                        }
                    }
                    count
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    let rate = done as f64 / started.elapsed().as_secs_f64();
    Ok(Floor {
        rate,
        threads,
        seconds: operations as f64 / rate,
    })
}

/// The SealedSecrets, their namespaces and the environment they live in.
struct Workload<'a> {
    env: &'a TestEnv,
    client: &'a kube::Client,
    /// The ServiceAccount the controllers run as, and its audit user name.
    account: &'a InCluster,
    user: &'a str,
    ns: &'a str,
    ctrl_ns: &'a str,
    n: usize,
    unrelated: usize,
}

/// Which controller a run starts.
enum Controller<'a> {
    /// This build's coffer-controller (or `COFFER_SCALE_BIN`).
    Coffer,
    /// That many replicas of it, sharded, each pinned to one core.
    CofferPinned { replicas: usize },
    /// Bitnami's controller as in a Pod; `qps` sets its client's QPS and
    /// burst (None: its defaults).
    Bitnami {
        program: &'a std::path::Path,
        qps: Option<u32>,
    },
}

impl Workload<'_> {
    async fn run(
        &self,
        controller: &Controller<'_>,
        converged: Converged,
    ) -> anyhow::Result<Figures> {
        run(self, controller, converged).await
    }

    /// Deletes the Secrets unsealed from the SealedSecrets (`app-*`), so the
    /// next run starts cold.
    async fn delete_unsealed(&self) -> anyhow::Result<()> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), self.ns);
        let names: Vec<String> = api
            .list_metadata(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter_map(|s| s.metadata.name)
            .filter(|name| name.starts_with("app-"))
            .collect();
        futures::stream::iter(names)
            .map(|name| {
                let api = api.clone();
                async move {
                    api.delete(&name, &kube::api::DeleteParams::default())
                        .await?;
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(32)
            .try_collect::<Vec<()>>()
            .await?;
        while count_secrets(&api).await? > self.unrelated {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Converged {
    /// Every SealedSecret has its Secret.
    AllSecrets,
    /// Every SealedSecret has been reconciled (the restart decrypts none).
    AllReconciled,
}

#[derive(Debug)]
struct Figures {
    elapsed: Duration,
    decryptions: u64,
    /// API requests from the start until the controller was quiet.
    requests: Counts,
    peak_rss_kib: u64,
    /// CPU seconds the controller process(es) used until convergence.
    controller_cpu: f64,
    /// CPU seconds the API server and etcd used meanwhile: on a small
    /// machine they share the cores the controllers unseal on.
    control_plane_cpu: f64,
}

/// The local control plane's processes, by command name.
const CONTROL_PLANE: &[&str] = &["kube-apiserver", "etcd"];

async fn run(
    work: &Workload<'_>,
    controller: &Controller<'_>,
    converged: Converged,
) -> anyhow::Result<Figures> {
    let (env, ns) = (work.env, work.ns);
    let label = match controller {
        Controller::Coffer => "coffer".to_owned(),
        Controller::CofferPinned { replicas } => format!("coffer-{replicas}-pinned"),
        Controller::Bitnami { qps, .. } => format!("bitnami-{}", qps.map_or(0, |q| q)),
    };
    let processes = match controller {
        Controller::CofferPinned { replicas } => *replicas,
        _ => 1,
    };
    let requests_before = env.api_requests(work.user)?;
    let control_plane_before = cpu_seconds_of(CONTROL_PLANE);
    let started = Instant::now();
    let mut children = Vec::new();
    for index in 0..processes {
        let metrics_addr = format!("127.0.0.1:{}", free_port()?);
        let api_addr = format!("127.0.0.1:{}", free_port()?);
        let log = std::fs::File::create(
            env.dir()
                .join(format!("scale-{label}-{index}-{converged:?}.log")),
        )?;
        let mut command = command(work, controller, index, &metrics_addr)?;
        let child = command
            .args(["--key-renew-period=0", "--listen-addr", &api_addr])
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().context("child pid")?;
        children.push((child, pid, format!("http://{metrics_addr}/metrics")));
    }
    let secrets: Api<Secret> = Api::namespaced(work.client.clone(), ns);
    let unseals = "sealed_secrets_controller_unseal_requests_total";
    let sum = |name: &'static str| {
        let urls: Vec<String> = children.iter().map(|(_, _, url)| url.clone()).collect();
        async move {
            let mut total = 0.0;
            for url in urls {
                total += sample(&url, name).await.unwrap_or_default();
            }
            total
        }
    };
    // When each process last decrypted something (how evenly replicas
    // shared the work).
    let mut progress: Vec<(f64, Duration)> = vec![(0.0, Duration::ZERO); children.len()];
    loop {
        if started.elapsed() > DEADLINE {
            bail!("{label} {converged:?} did not converge within {DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        for (i, (_, _, url)) in children.iter().enumerate() {
            let now = sample(url, "coffer_unseal_decryptions_total")
                .await
                .unwrap_or_default();
            if now > progress[i].0 {
                progress[i] = (now, started.elapsed());
            }
        }
        let done = match converged {
            Converged::AllSecrets => count_secrets(&secrets).await? >= work.n + work.unrelated,
            Converged::AllReconciled => sum(unseals).await >= work.n as f64,
        };
        if done {
            break;
        }
    }
    let elapsed = started.elapsed();
    let control_plane_cpu = cpu_seconds_of(CONTROL_PLANE) - control_plane_before;
    let controller_cpu = children.iter().map(|(_, pid, _)| cpu_seconds(*pid)).sum();
    if children.len() > 1 {
        for (i, (decrypted, last)) in progress.iter().enumerate() {
            println!(
                "{label} process {i}: {decrypted} decryptions, the last at {:.1} s",
                last.as_secs_f64()
            );
        }
    }
    let decryptions = match controller {
        // Bitnami's controller decrypts on every unseal request.
        Controller::Bitnami { .. } => sum(unseals).await,
        _ => sum("coffer_unseal_decryptions_total").await,
    } as u64;
    let requests = diff(&quiet_requests(env, work.user).await?, &requests_before);
    // NB: replicas together: the memory the set of processes holds.
    let peak_rss_kib = children.iter().map(|(_, pid, _)| peak_rss_kib(*pid)).sum();
    for (mut child, pid, _) in children {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    }
    Ok(Figures {
        elapsed,
        decryptions,
        requests,
        peak_rss_kib,
        controller_cpu,
        control_plane_cpu,
    })
}

/// The command that starts process `index` of `controller`, serving
/// metrics on `metrics_addr`.
fn command(
    work: &Workload<'_>,
    controller: &Controller<'_>,
    index: usize,
    metrics_addr: &str,
) -> anyhow::Result<tokio::process::Command> {
    let (ns, ctrl_ns) = (work.ns, work.ctrl_ns);
    // COFFER_SCALE_BIN measures another build (e.g. an older commit's
    // binary, for a before/after figure) against the same workload.
    let binary = std::env::var_os("COFFER_SCALE_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_coffer-controller").into());
    Ok(match controller {
        Controller::Coffer => {
            let mut command = tokio::process::Command::new(binary);
            command
                .env("KUBECONFIG", work.account.kubeconfig()?)
                .env("RUST_LOG", "warn")
                .args(["--namespace", ctrl_ns, "--namespaces", ns])
                .args(["--leader-elect=false"])
                .args(["--metrics-addr", metrics_addr]);
            command
        }
        Controller::CofferPinned { replicas } => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let mut command = tokio::process::Command::new("taskset");
            command
                .args(["-c", &(index % cores).to_string()])
                .arg(binary)
                .env("KUBECONFIG", work.account.kubeconfig()?)
                .env("RUST_LOG", "warn")
                .args(["--namespace", ctrl_ns, "--namespaces", ns])
                .args(["--shards", &replicas.to_string()])
                .args(["--metrics-addr", metrics_addr]);
            command
        }
        Controller::Bitnami { program, qps } => {
            // Its key namespace is its service account's (ctrl_ns).
            let mut command = work.account.command(program);
            command
                .args(["--all-namespaces=false", "--additional-namespaces", ns])
                .args(["--listen-metrics-addr", metrics_addr]);
            if let Some(qps) = qps {
                command.args([
                    format!("--kubeclient-qps={qps}"),
                    format!("--kubeclient-burst={qps}"),
                ]);
            }
            command
        }
    })
}

/// The audit log's count of `user`'s requests once it has not grown for
/// [`QUIET`] (at most a minute): the status writes and Events that trail a
/// converged run are counted with it.
async fn quiet_requests(env: &TestEnv, user: &str) -> anyhow::Result<Counts> {
    let mut last = env.api_requests(user)?;
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        tokio::time::sleep(QUIET).await;
        let now = env.api_requests(user)?;
        if total(&now) == total(&last) {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

/// Secrets in the namespace (metadata only, in pages).
async fn count_secrets(api: &Api<Secret>) -> anyhow::Result<usize> {
    let mut count = 0;
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api.list_metadata(&params).await?;
        count += page.items.len();
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(count),
        }
    }
}
