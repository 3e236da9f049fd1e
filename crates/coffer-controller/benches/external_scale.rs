//! Scale benchmark for the ExternalSecret controller (figures, not a timed
//! test): N ExternalSecrets over M distinct remote keys, half in moto (AWS
//! Secrets Manager) and half in OpenBao (Vault KV v2), refresh interval 1
//! minute, synced by the controller binary running as a child process.
//!
//! Prints the time until every Secret is first synced, then, over one
//! further refresh cycle: provider calls by API action (counted by a small
//! counting proxy in front of moto, and from OpenBao's audit log), the
//! API-server requests the controller made (`coffer_kube_requests_total`)
//! and the controller's peak RSS (VmHWM).
//!
//! ```text
//! COFFER_SCALE_N=1000 COFFER_SCALE_M=200 \
//!     cargo bench -p coffer-controller --bench external_scale
//! ```

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use coffer_testenv::{TestEnv, free_port};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams};

const DEADLINE: Duration = Duration::from_secs(1800);
const REFRESH: Duration = Duration::from_secs(60);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Calls seen by the proxy, by `X-Amz-Target` action.
type Counts = Arc<Mutex<BTreeMap<String, u64>>>;

/// A reverse proxy in front of moto that counts requests by action.
async fn counting_proxy(upstream: String, counts: Counts) -> anyhow::Result<SocketAddr> {
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
    counts: &Counts,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let action = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned())
        .unwrap_or_else(|| "other".to_owned());
    *counts.lock().unwrap().entry(action).or_default() += 1;
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
            .unwrap(),
    }
}

/// Counts OpenBao audit-log responses by (operation, first path segments).
fn audit_counts(path: &std::path::Path) -> BTreeMap<String, u64> {
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

fn diff(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.saturating_sub(before.get(k).copied().unwrap_or(0)),
            )
        })
        .filter(|(_, v)| *v > 0)
        .collect()
}

async fn metric(client: &reqwest::Client, addr: SocketAddr, name: &str) -> f64 {
    let text = match client.get(format!("http://{addr}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => return 0.0,
    };
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `externalsecret_provider_api_calls_count` series, by their labels.
async fn provider_calls(client: &reqwest::Client, addr: SocketAddr) -> BTreeMap<String, u64> {
    let text = match client.get(format!("http://{addr}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => return BTreeMap::new(),
    };
    text.lines()
        .filter_map(|l| l.strip_prefix("externalsecret_provider_api_calls_count{"))
        .filter_map(|l| {
            let (labels, value) = l.split_once("} ")?;
            Some((labels.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = env_or("COFFER_SCALE_N", 1000);
    let m: usize = env_or("COFFER_SCALE_M", 200).max(2);
    let env = TestEnv::start().await.context("start the environment")?;
    let client = env.client().await;
    let http = reqwest::Client::new();
    let ns = "scale";
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in [ns, "scale-ctrl"] {
        let object = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        namespaces.create(&PostParams::default(), &object).await?;
    }

    // Providers: a counting proxy in front of moto, OpenBao's audit log.
    let counts: Counts = Arc::default();
    let proxy = counting_proxy(env.aws.endpoint.clone(), counts.clone()).await?;
    let audit = env.vault.audit_log.clone();
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

    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let creds = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "creds", "namespace": ns},
        "stringData": {"access-key": "testing", "secret-access-key": "testing", "token": env.vault.token},
    });
    secrets
        .patch("creds", &PatchParams::apply("bench"), &Patch::Apply(creds))
        .await?;
    let dynamic = |kind: &str, plural: &str| {
        let gvk = kube::core::GroupVersionKind::gvk("external-secrets.io", "v1", kind);
        let resource = kube::discovery::ApiResource::from_gvk_with_plural(&gvk, plural);
        Api::<kube::api::DynamicObject>::namespaced_with(client.clone(), ns, &resource)
    };
    let stores = dynamic("SecretStore", "secretstores");
    for store in [
        serde_json::json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
            "metadata": {"name": "aws", "namespace": ns},
            "spec": {"provider": {"aws": {"service": "SecretsManager", "region": env.aws.region,
                "auth": {"secretRef": {
                    "accessKeyIDSecretRef": {"name": "creds", "key": "access-key"},
                    "secretAccessKeySecretRef": {"name": "creds", "key": "secret-access-key"}}}}}}}),
        serde_json::json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
            "metadata": {"name": "vault", "namespace": ns},
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
            "metadata": {"name": format!("es-{i}"), "namespace": ns},
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
    println!(
        "created {n} ExternalSecrets over {m} remote keys ({aws_keys} in moto, {vault_keys} in OpenBao)"
    );

    let metrics_addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let listen_addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    // The bench's own writes to OpenBao are in the audit log too.
    let setup_vault = audit_counts(&audit);
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_coffer-controller"))
        .env("KUBECONFIG", env.kubeconfig())
        .env(
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            format!("http://{proxy}"),
        )
        .env("RUST_LOG", "warn")
        .args([
            "--namespace",
            "scale-ctrl",
            "--namespaces",
            ns,
            "--leader-elect=false",
            "--sealed-secrets=false",
        ])
        .arg(format!("--listen-addr={listen_addr}"))
        .arg(format!("--metrics-addr={metrics_addr}"))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("start coffer-controller")?;
    let pid = child.id().unwrap_or_default();

    loop {
        let list = secrets
            .list_metadata(
                &ListParams::default().labels("reconcile.external-secrets.io/managed=true"),
            )
            .await?;
        if list.items.len() >= n {
            break;
        }
        if started.elapsed() > DEADLINE {
            bail!(
                "only {} of {n} Secrets after {DEADLINE:?}",
                list.items.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let converged = started.elapsed();
    let first_aws = counts.lock().unwrap().clone();
    let first_vault = diff(&audit_counts(&audit), &setup_vault);
    let first_kube = metric(&http, metrics_addr, "coffer_kube_requests_total").await;
    println!("first sync of all {n}: {:.2} s", converged.as_secs_f64());
    println!("  moto calls: {first_aws:?}");
    println!("  OpenBao calls: {first_vault:?}");
    println!("  API requests by the controller: {first_kube}");
    let first_calls = provider_calls(&http, metrics_addr).await;
    println!("  provider calls (controller metric): {first_calls:?}");

    // One further refresh cycle (plus the restart jitter margin).
    tokio::time::sleep(REFRESH + Duration::from_secs(10)).await;
    let cycle_aws = diff(&counts.lock().unwrap().clone(), &first_aws);
    let cycle_vault = diff(&diff(&audit_counts(&audit), &setup_vault), &first_vault);
    let cycle_kube = metric(&http, metrics_addr, "coffer_kube_requests_total").await - first_kube;
    println!("one refresh cycle ({}s):", REFRESH.as_secs() + 10);
    println!("  moto calls: {cycle_aws:?}");
    println!("  OpenBao calls: {cycle_vault:?}");
    println!("  API requests by the controller: {cycle_kube}");
    println!(
        "  provider calls (controller metric): {:?}",
        diff(&provider_calls(&http, metrics_addr).await, &first_calls)
    );
    println!("controller peak RSS: {} MiB", vm_hwm_kib(pid) / 1024);
    let _ = child.kill().await;
    Ok(())
}
