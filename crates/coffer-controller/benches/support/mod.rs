//! What both scale benchmarks measure their controllers with: knobs from
//! the environment, the peak RSS of a process, a metric from a Prometheus
//! page; and the namespaces and unrelated Secrets they set up.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};

/// The environment variable `name` parsed, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set size (VmHWM) of process `pid`, in KiB; 0 when it
/// cannot be read (the process is gone).
pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds (user and system) process `pid` has used so far; 0 when it
/// is gone.
#[allow(dead_code)] // benches/scale.rs only
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // NB: fields after the command name, which is in parentheses and may
    // hold spaces; utime and stime are fields 14 and 15, in clock ticks
    // (100 a second on Linux).
    let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// CPU seconds used so far by every process whose command name is one of
/// `names` (e.g. the local control plane's `kube-apiserver` and `etcd`).
#[allow(dead_code)] // benches/scale.rs only
pub fn cpu_seconds_of(names: &[&str]) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            names.contains(&comm.trim())
        })
        .map(cpu_seconds)
        .sum()
}

/// The sum of every series of metric `name` on the Prometheus page at
/// `url` (`http://host:port/metrics`); `None` when the page cannot be read
/// or has no such series.
pub async fn metric_sum(url: &str, name: &str) -> Option<f64> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .ok()?;
    let page = client.get(url).send().await.ok()?.text().await.ok()?;
    page.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            // `name 3` or `name{labels} 3`, not `name_created 3`.
            if !rest.starts_with([' ', '{']) {
                return None;
            }
            rest.rsplit(' ').next()?.parse::<f64>().ok()
        })
        .reduce(|a, b| a + b)
}

/// Creates each of `names` as a namespace.
pub async fn create_namespaces(client: &kube::Client, names: &[&str]) -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, ObjectMeta, PostParams};
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in names {
        let object = Namespace {
            metadata: ObjectMeta {
                name: Some((*name).to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        namespaces.create(&PostParams::default(), &object).await?;
    }
    Ok(())
}

/// `count` Secrets named `unrelated-*` of `bytes` random bytes each.
pub async fn create_unrelated(
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

/// Requests or calls by `verb resource` (API server) or by action
/// (provider).
pub type Counts = BTreeMap<String, u64>;

/// All counted, whatever the key.
pub fn total(counts: &Counts) -> u64 {
    counts.values().sum()
}

/// What `after` counts beyond `before`.
pub fn diff(after: &Counts, before: &Counts) -> Counts {
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
