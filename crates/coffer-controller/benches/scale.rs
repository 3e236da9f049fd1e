//! Scale benchmark (figures, not a timed test): N SealedSecrets of three
//! keys each in one namespace of a fresh local control plane, unsealed by
//! the controller binary running as a child process; optionally next to U
//! unrelated Secrets of B random bytes each in the same namespace (what
//! Helm releases and other tools keep there), which the controller should
//! neither hold nor read.
//!
//! Prints, for a cold start and for a restart over the converged state:
//! wall time to converge, SealedSecrets decrypted, API requests the
//! controller made (`coffer_kube_requests_total`, counted by a layer on its
//! client) and the controller's peak RSS (VmHWM).
//!
//! ```text
//! COFFER_SCALE_N=2000 COFFER_SCALE_KEY_BITS=4096 \
//!     COFFER_SCALE_UNRELATED=10000 COFFER_SCALE_UNRELATED_BYTES=8192 \
//!     cargo bench -p coffer-controller --bench scale
//! ```
//!
//! `COFFER_SCALE_BIN=path` runs that controller binary instead of this
//! build's (the flags used here exist since the first release).

#![allow(clippy::print_stdout)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use coffer_crypto::{KeyOptions, KeyPair, KeySize};
use coffer_testenv::{TestEnv, free_port};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};

/// Give up on a run after this long.
const DEADLINE: Duration = Duration::from_secs(1800);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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

    let env = TestEnv::start().await.context("start the control plane")?;
    let client = env.client().await;
    let (ns, ctrl_ns) = ("scale", "scale-ctrl");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in [ns, ctrl_ns] {
        let object = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        namespaces.create(&PostParams::default(), &object).await?;
    }

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

    let cold = run(
        &env,
        &client,
        ns,
        ctrl_ns,
        (n, unrelated),
        Converged::AllSecrets,
    )
    .await?;
    let warm = run(
        &env,
        &client,
        ns,
        ctrl_ns,
        (n, unrelated),
        Converged::AllReconciled,
    )
    .await?;
    println!();
    println!("| run | converged in | decryptions | API requests | peak RSS |");
    println!("|---|---|---|---|---|");
    for (name, r) in [("cold start", cold), ("restart", warm)] {
        println!(
            "| {name} | {:.1} s | {} | {} | {:.1} MiB |",
            r.elapsed.as_secs_f64(),
            r.decryptions,
            r.requests,
            r.peak_rss_kib as f64 / 1024.0
        );
    }
    Ok(())
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
    requests: u64,
    peak_rss_kib: u64,
}

async fn run(
    env: &TestEnv,
    client: &kube::Client,
    ns: &str,
    ctrl_ns: &str,
    (n, unrelated): (usize, usize),
    converged: Converged,
) -> anyhow::Result<Figures> {
    let api_port = free_port()?;
    let metrics_port = free_port()?;
    let metrics_url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let log = std::fs::File::create(env.dir().join(format!("scale-{converged:?}.log")))?;
    let started = Instant::now();
    // COFFER_SCALE_BIN measures another build (e.g. an older commit's
    // binary, for a before/after figure) against the same workload.
    let binary = std::env::var_os("COFFER_SCALE_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_coffer-controller").into());
    let mut child = tokio::process::Command::new(binary)
        .env("KUBECONFIG", env.kubeconfig())
        .env("RUST_LOG", "warn")
        .args(["--namespace", ctrl_ns, "--namespaces", ns])
        .args(["--leader-elect=false", "--key-renew-period=0"])
        .args(["--listen-addr", &format!("127.0.0.1:{api_port}")])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().context("child pid")?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    loop {
        if started.elapsed() > DEADLINE {
            bail!("{converged:?} did not converge within {DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        let done = match converged {
            Converged::AllSecrets => count_secrets(&secrets).await? >= n + unrelated,
            Converged::AllReconciled => {
                sample(
                    &metrics_url,
                    "sealed_secrets_controller_unseal_requests_total",
                )
                .await
                    >= Some(n as f64)
            }
        };
        if done {
            break;
        }
    }
    let elapsed = started.elapsed();
    let decryptions = sample(&metrics_url, "coffer_unseal_decryptions_total")
        .await
        .unwrap_or_default() as u64;
    let requests = sample(&metrics_url, "coffer_kube_requests_total")
        .await
        .unwrap_or_default() as u64;
    let peak_rss_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_default();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    Ok(Figures {
        elapsed,
        decryptions,
        requests,
        peak_rss_kib,
    })
}

/// `count` Secrets named `unrelated-*` of `bytes` random bytes each.
async fn create_unrelated(
    client: &kube::Client,
    ns: &str,
    count: usize,
    bytes: usize,
) -> anyhow::Result<()> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    futures::stream::iter(0..count)
        .map(|i| {
            let mut value = vec![0u8; bytes];
            let api = api.clone();
            async move {
                aws_lc_rs::rand::fill(&mut value)
                    .map_err(|_| anyhow::anyhow!("no random bytes"))?;
                let secret = Secret {
                    metadata: ObjectMeta {
                        name: Some(format!("unrelated-{i:05}")),
                        ..ObjectMeta::default()
                    },
                    data: Some([("release".to_owned(), ByteString(value))].into()),
                    ..Secret::default()
                };
                api.create(&PostParams::default(), &secret).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
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

async fn sample(url: &str, name: &str) -> Option<f64> {
    let page = reqwest::get(url).await.ok()?.text().await.ok()?;
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}
