//! ExternalSecret scale benchmark, side by side with External Secrets
//! Operator (figures, not a timed test): N ExternalSecrets over M distinct
//! remote keys, half in moto (AWS Secrets Manager) and half in OpenBao
//! (Vault KV v2), refresh interval 1 minute, synced by a controller running
//! as a child process out of cluster, as a ServiceAccount bound to
//! `cluster-admin` (its own kubeconfig). Three rows, each on a fresh
//! environment of its own (`coffer_testenv::TestEnv`: ESO's rows get ESO's
//! CRDs, Coffer's row ours, both defining
//! `externalsecrets.external-secrets.io`):
//!
//! - ESO v0.16.2 with its defaults (`--concurrent=1`, client QPS 50, burst
//!   100), no webhook, no cert-controller, no leader election;
//! - ESO tuned: `--concurrent=5 --client-qps=500 --client-burst=1000`;
//! - Coffer (this build's coffer-controller), with its defaults;
//! - Coffer with `--refresh-time-slack=10m` (`status.refreshTime` may lag
//!   by up to 10 minutes, saving the status writes of refreshes that
//!   change nothing else).
//!
//! Both watch only the workload's namespace (`--namespace` for ESO,
//! `--namespaces` for Coffer) and reach moto through the same
//! `AWS_SECRETSMANAGER_ENDPOINT`, a counting proxy. Each row: the time
//! until every Secret exists (first sync); then, after
//! `COFFER_SCALE_WARMUP` refresh intervals (default 1) and over the
//! following `COFFER_SCALE_CYCLES` (default 2), provider calls per
//! interval by action (moto: the proxy, by `X-Amz-Target`; OpenBao: its
//! audit log) and API-server requests per interval; the API requests of
//! the first sync; and the peak RSS (VmHWM). API requests are counted by
//! the API server's audit log for the controller's ServiceAccount, the same
//! way for both. The table's `×` columns are the ratio to the tuned ESO.
//!
//! ```text
//! cargo bench -p coffer-controller --bench external_scale
//! ```
//!
//! `COFFER_SCALE_N` (default 1000) and `COFFER_SCALE_M` (200) size the
//! workload; `COFFER_SCALE_PEERS=0` runs Coffer alone, `=tuned` leaves
//! out ESO with its defaults (slow at large N); `COFFER_SCALE_UNRELATED`
//! adds that many unrelated Secrets of 8 KiB to the workload's namespace
//! (which neither controller should hold);
//! `COFFER_SCALE_COFFER_ARGS` adds flags to Coffer's rows (experiments). ESO is the `eso`
//! reference tool, which `tests/reference-tools/build.sh eso` builds (the
//! bench runs it when the tool is missing: a large Go build, once).

#![allow(clippy::print_stdout)]

mod support;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use coffer_testenv::{InCluster, Options, TestEnv, free_port, service_account_user};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams};
use support::{Counts, diff, env_or, metric_sum, peak_rss_kib, total};

const DEADLINE: Duration = Duration::from_secs(1800);
const REFRESH: Duration = Duration::from_secs(60);
/// The workload's namespace, and the controller's (its ServiceAccount).
const NS: &str = "scale";
const CTRL_NS: &str = "scale-ctrl";
/// Size of each unrelated Secret (`COFFER_SCALE_UNRELATED`), as a Helm
/// release's.
const UNRELATED_BYTES: usize = 8192;
const ACCOUNT: &str = "controller";

/// Which controller a row runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum System {
    EsoDefaults,
    EsoTuned,
    Coffer,
    CofferSlack,
}

impl System {
    fn label(self) -> &'static str {
        match self {
            System::EsoDefaults => "ESO v0.16.2, defaults",
            System::EsoTuned => "ESO v0.16.2, --concurrent=5 --client-qps=500 --client-burst=1000",
            System::Coffer => "Coffer",
            System::CofferSlack => "Coffer, --refresh-time-slack=10m",
        }
    }
}

/// What one row measured.
#[derive(Debug)]
struct Figures {
    first_sync: Duration,
    /// Provider calls and API requests of the first sync.
    first_aws: Counts,
    first_vault: Counts,
    first_api: Counts,
    /// Per refresh interval, averaged over the measured cycles.
    cycle_aws: Counts,
    cycle_vault: Counts,
    cycle_api: Counts,
    peak_rss_kib: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = env_or("COFFER_SCALE_N", 1000);
    let m: usize = env_or("COFFER_SCALE_M", 200).max(2);
    let cycles: u32 = env_or("COFFER_SCALE_CYCLES", 2).max(1);
    let warmup: u32 = env_or("COFFER_SCALE_WARMUP", 1);
    let unrelated: usize = env_or("COFFER_SCALE_UNRELATED", 0);
    let mut systems = vec![System::Coffer, System::CofferSlack];
    let mut eso = None;
    let peers = std::env::var("COFFER_SCALE_PEERS").unwrap_or_default();
    if peers != "0" {
        let binary = coffer_testenv::optional_reference_tool("eso").context(
            "ESO, the `eso` reference tool: run `tests/reference-tools/build.sh eso` to see why \
             it could not be built (or COFFER_SCALE_PEERS=0 to run Coffer alone)",
        )?;
        let crds = binary.with_file_name("eso-crds");
        eso = Some((binary, crds));
        systems = vec![
            System::EsoDefaults,
            System::EsoTuned,
            System::Coffer,
            System::CofferSlack,
        ];
        if peers == "tuned" {
            // ESO with its defaults syncs about 10 ExternalSecrets a
            // second: at large N its row alone takes many minutes.
            systems.remove(0);
        }
    }
    println!(
        "{n} ExternalSecrets over {m} remote keys ({} in moto, {} in OpenBao), refresh {}s, \
         {cycles} refresh cycles measured after {warmup} of warm-up",
        m / 2,
        m - m / 2,
        REFRESH.as_secs()
    );
    let mut rows = Vec::new();
    for system in systems {
        let figures = run(system, eso.as_ref(), n, m, (warmup, cycles), unrelated)
            .await
            .with_context(|| system.label())?;
        print_details(system, &figures);
        rows.push((system, figures));
    }
    print_table(&rows, n);
    Ok(())
}

/// One row: a fresh environment, the workload, the controller, its figures.
async fn run(
    system: System,
    eso: Option<&(PathBuf, PathBuf)>,
    n: usize,
    m: usize,
    (warmup, cycles): (u32, u32),
    unrelated: usize,
) -> anyhow::Result<Figures> {
    let crds = match system {
        System::Coffer | System::CofferSlack => None,
        System::EsoDefaults | System::EsoTuned => {
            Some(eso.context("ESO rows without the ESO binary")?.1.clone())
        }
    };
    let user = service_account_user(CTRL_NS, ACCOUNT);
    let env = TestEnv::start_with(&Options {
        crds,
        audited_users: vec![user.clone()],
    })
    .await
    .context("start the environment")?;
    let client = env.client().await;
    support::create_namespaces(&client, &[NS, CTRL_NS]).await?;
    let account = InCluster::service_account(
        &client,
        env.kubeconfig(),
        env.dir(),
        CTRL_NS,
        ACCOUNT,
        "cluster-admin",
    )
    .await?;
    create_workload(&env, &client, n, m).await?;
    if unrelated > 0 {
        support::create_unrelated(&client, NS, unrelated, UNRELATED_BYTES).await?;
    }

    // Providers: a counting proxy in front of moto, OpenBao's audit log
    // (which also holds the bench's own writes: counted from here on).
    let aws: Arc<Mutex<Counts>> = Arc::default();
    let proxy = counting_proxy(env.aws.endpoint.clone(), aws.clone()).await?;
    let vault_counts = || audit_counts(&env.vault.audit_log);
    let vault_setup = vault_counts();
    let metrics_addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let log = std::fs::File::create(env.dir().join(format!("bench-{system:?}.log")))?;
    let mut command = match (system, eso) {
        (System::Coffer | System::CofferSlack, _) => {
            let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_coffer-controller"));
            let listen_addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
            command
                .env("RUST_LOG", "warn")
                .args(["--namespace", CTRL_NS, "--namespaces", NS])
                .args(["--leader-elect=false", "--sealed-secrets=false"])
                .arg(format!("--listen-addr={listen_addr}"))
                .arg(format!("--metrics-addr={metrics_addr}"));
            if system == System::CofferSlack {
                command.arg("--refresh-time-slack=10m");
            }
            if let Ok(extra) = std::env::var("COFFER_SCALE_COFFER_ARGS") {
                command.args(extra.split_whitespace());
            }
            command
        }
        (_, Some((binary, _))) => {
            let mut command = tokio::process::Command::new(binary);
            command
                .args(["--namespace", NS, "--loglevel=error"])
                .arg(format!("--metrics-addr={metrics_addr}"));
            if system == System::EsoTuned {
                command.args(["--concurrent=5", "--client-qps=500", "--client-burst=1000"]);
            }
            command
        }
        (_, None) => bail!("ESO rows without the ESO binary"),
    };
    let started = Instant::now();
    let mut child = command
        .env("KUBECONFIG", account.kubeconfig()?)
        .env("AWS_SECRETSMANAGER_ENDPOINT", format!("http://{proxy}"))
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", system.label()))?;
    let pid = child.id().unwrap_or_default();

    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    loop {
        let list = secrets
            .list_metadata(
                &ListParams::default().labels("reconcile.external-secrets.io/managed=true"),
            )
            .await?;
        if list.items.len() >= n {
            break;
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "{} exited ({status}); see its log in {}",
                system.label(),
                env.dir().display()
            );
        }
        if started.elapsed() > DEADLINE {
            bail!(
                "only {} of {n} Secrets after {DEADLINE:?}",
                list.items.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let first_sync = started.elapsed();
    let first_aws = aws.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let first_vault = vault_counts();
    let first_api = env.api_requests(&user)?;
    let metrics_url = format!("http://{metrics_addr}/metrics");
    let calls_metric = "externalsecret_provider_api_calls_count";
    // The first sync's last status writes, and the refreshes it spread,
    // settle during one warm-up interval before the cycles are counted.
    tokio::time::sleep(REFRESH * warmup).await;
    let warm_aws = aws.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let warm_vault = vault_counts();
    let warm_api = env.api_requests(&user)?;
    let first_metric = metric_sum(&metrics_url, calls_metric).await;

    tokio::time::sleep(REFRESH * cycles).await;
    let per_cycle = |after: &Counts, before: &Counts| -> Counts {
        diff(after, before)
            .into_iter()
            .map(|(k, v)| (k, (v as f64 / f64::from(cycles)).round() as u64))
            .collect()
    };
    let figures = Figures {
        first_sync,
        cycle_aws: per_cycle(
            &aws.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            &warm_aws,
        ),
        cycle_vault: per_cycle(&vault_counts(), &warm_vault),
        cycle_api: per_cycle(&env.api_requests(&user)?, &warm_api),
        first_vault: diff(&first_vault, &vault_setup),
        first_aws,
        first_api,
        peak_rss_kib: peak_rss_kib(pid),
    };
    // The controller's own count of its provider calls, beside the proxy's
    // and the audit log's (both controllers export ESO's metric).
    if let (Some(before), Some(after)) =
        (first_metric, metric_sum(&metrics_url, calls_metric).await)
    {
        println!(
            "  {}: {calls_metric} per cycle: {:.0}",
            system.label(),
            (after - before) / f64::from(cycles)
        );
    }
    let _ = child.kill().await;
    env.shut_down()?;
    Ok(figures)
}

/// The secrets in moto and OpenBao, the credentials, the two stores and
/// the N ExternalSecrets (ExternalSecret i reads key (i/2) mod (M/2) of
/// moto when i is even, of OpenBao when odd).
async fn create_workload(
    env: &TestEnv,
    client: &kube::Client,
    n: usize,
    m: usize,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let aws_keys = m / 2;
    let vault_keys = m - aws_keys;
    let sdk = {
        let credentials = aws_sdk_secretsmanager::config::Credentials::new(
            "testing", "testing", None, None, "bench",
        );
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .endpoint_url(&env.aws.endpoint)
            .region(aws_config::Region::new(env.aws.region.clone()))
            .credentials_provider(credentials)
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    };
    for k in 0..aws_keys {
        sdk.create_secret()
            .name(format!("scale/key-{k}"))
            .secret_string(format!(r#"{{"value":"aws-{k}"}}"#))
            .send()
            .await?;
    }
    for k in 0..vault_keys {
        http.post(format!("{}/v1/secret/data/scale/key-{k}", env.vault.addr))
            .header("X-Vault-Token", &env.vault.token)
            .json(&serde_json::json!({"data": {"value": format!("vault-{k}")}}))
            .send()
            .await?
            .error_for_status()?;
    }

    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    let creds = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "creds", "namespace": NS},
        "stringData": {"access-key": "testing", "secret-access-key": "testing", "token": env.vault.token},
    });
    secrets
        .patch("creds", &PatchParams::apply("bench"), &Patch::Apply(creds))
        .await?;
    let dynamic = |kind: &str, plural: &str| {
        let gvk = kube::core::GroupVersionKind::gvk("external-secrets.io", "v1", kind);
        let resource = kube::discovery::ApiResource::from_gvk_with_plural(&gvk, plural);
        Api::<kube::api::DynamicObject>::namespaced_with(client.clone(), NS, &resource)
    };
    let stores = dynamic("SecretStore", "secretstores");
    for store in [
        serde_json::json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
            "metadata": {"name": "aws", "namespace": NS},
            "spec": {"provider": {"aws": {"service": "SecretsManager", "region": env.aws.region,
                "auth": {"secretRef": {
                    "accessKeyIDSecretRef": {"name": "creds", "key": "access-key"},
                    "secretAccessKeySecretRef": {"name": "creds", "key": "secret-access-key"}}}}}}}),
        serde_json::json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
            "metadata": {"name": "vault", "namespace": NS},
            "spec": {"provider": {"vault": {"server": env.vault.addr, "path": "secret", "version": "v2",
                "auth": {"tokenSecretRef": {"name": "creds", "key": "token"}}}}}}),
    ] {
        let name = store["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let obj: kube::api::DynamicObject = serde_json::from_value(store)?;
        stores
            .patch(&name, &PatchParams::apply("bench"), &Patch::Apply(&obj))
            .await?;
    }
    let externals = dynamic("ExternalSecret", "externalsecrets");
    for i in 0..n {
        let (store, key) = if i % 2 == 0 {
            ("aws", format!("scale/key-{}", (i / 2) % aws_keys.max(1)))
        } else {
            (
                "vault",
                format!("scale/key-{}", (i / 2) % vault_keys.max(1)),
            )
        };
        let es = serde_json::json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": format!("es-{i}"), "namespace": NS},
            "spec": {"refreshInterval": "1m", "secretStoreRef": {"name": store},
                "data": [{"secretKey": "value", "remoteRef": {"key": key, "property": "value"}}]}});
        let obj: kube::api::DynamicObject = serde_json::from_value(es)?;
        externals
            .patch(
                &format!("es-{i}"),
                &PatchParams::apply("bench"),
                &Patch::Apply(&obj),
            )
            .await?;
    }
    Ok(())
}

/// Each row's breakdown, printed as soon as it is measured.
fn print_details(system: System, f: &Figures) {
    println!("{}:", system.label());
    println!("  first sync: {:.1} s", f.first_sync.as_secs_f64());
    println!("  first sync: moto {:?}", f.first_aws);
    println!("  first sync: OpenBao {:?}", f.first_vault);
    println!("  first sync: API requests {:?}", f.first_api);
    println!("  per refresh cycle: moto {:?}", f.cycle_aws);
    println!("  per refresh cycle: OpenBao {:?}", f.cycle_vault);
    println!("  per refresh cycle: API requests {:?}", f.cycle_api);
    println!("  peak RSS: {:.1} MiB", f.peak_rss_kib as f64 / 1024.0);
}

/// The side-by-side table, with each figure's ratio to the tuned ESO.
fn print_table(rows: &[(System, Figures)], n: usize) {
    let tuned = rows
        .iter()
        .find(|(s, _)| *s == System::EsoTuned)
        .map(|(_, f)| f);
    let ratio = |value: f64, of: &dyn Fn(&Figures) -> f64| {
        tuned.map_or(String::new(), |t| format!("{:.2}×", value / of(t)))
    };
    let time = |f: &Figures| f.first_sync.as_secs_f64();
    let calls = |f: &Figures| (total(&f.cycle_aws) + total(&f.cycle_vault)) as f64;
    let rss = |f: &Figures| f.peak_rss_kib as f64 / 1024.0;
    println!();
    println!(
        "| {n} ExternalSecrets | first sync | × | provider calls per cycle (moto + OpenBao) | × \
         | API requests: first sync, per cycle | peak RSS | × |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (system, f) in rows {
        println!(
            "| {} | {:.1} s | {} | {} + {} | {} | {}, {} | {:.1} MiB | {} |",
            system.label(),
            time(f),
            ratio(time(f), &time),
            total(&f.cycle_aws),
            total(&f.cycle_vault),
            ratio(calls(f), &calls),
            total(&f.first_api),
            total(&f.cycle_api),
            rss(f),
            ratio(rss(f), &rss),
        );
    }
}

/// A reverse proxy in front of moto that counts requests by action.
async fn counting_proxy(
    upstream: String,
    counts: Arc<Mutex<Counts>>,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let http = reqwest::Client::new();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (http, upstream, counts) = (http.clone(), upstream.clone(), counts.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let (http, upstream, counts) = (http.clone(), upstream.clone(), counts.clone());
                    async move { Ok::<_, Infallible>(forward(&http, &upstream, &counts, req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn forward(
    http: &reqwest::Client,
    upstream: &str,
    counts: &Mutex<Counts>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let action = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned())
        .unwrap_or_else(|| "other".to_owned());
    *counts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(action)
        .or_default() += 1;
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let url = format!(
        "{upstream}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut out = http.request(parts.method, url).body(body);
    for (name, value) in &parts.headers {
        if name != "host" {
            out = out.header(name, value);
        }
    }
    match out.send().await {
        Ok(resp) => {
            let mut builder = Response::builder().status(resp.status());
            for (name, value) in resp.headers() {
                builder = builder.header(name, value);
            }
            let bytes = resp.bytes().await.unwrap_or_default();
            builder
                .body(Full::new(bytes))
                .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
        }
        Err(_) => Response::builder()
            .status(502)
            .body(Full::new(Bytes::new()))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))),
    }
}

/// Counts OpenBao audit-log responses by (operation, path; every KV v2
/// read as `secret/data/*`).
fn audit_counts(path: &Path) -> Counts {
    let mut counts = BTreeMap::new();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    for line in text.lines() {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if entry["type"] != "response" {
            continue;
        }
        let op = entry["request"]["operation"].as_str().unwrap_or("?");
        let path = entry["request"]["path"].as_str().unwrap_or("?");
        let kind = if path.starts_with("secret/data/") {
            "secret/data/*".to_owned()
        } else {
            path.to_owned()
        };
        *counts.entry(format!("{op} {kind}")).or_default() += 1;
    }
    counts
}
