//! Switching controllers both ways on a live cluster: Bitnami's controller
//! (v0.40.0, built from its Go module by `tests/reference-tools/build.sh`)
//! runs first, makes its key and unseals what kubeseal sealed; it stops,
//! and coffer-controller starts with the same arguments (the chart's
//! defaults), adopts the key, takes the Secrets over without decrypting or
//! writing them, unseals new SealedSecrets, and after a key renewal
//! (SIGUSR1) kubeseal's `--fetch-cert` gets its new certificate. Then
//! Bitnami's controller takes the cluster back.
//!
//! Both run as in a Pod: in-cluster configuration only (a ServiceAccount
//! token, the CA and the namespace under
//! `/var/run/secrets/kubernetes.io/serviceaccount`, see
//! [`coffer_testenv::InCluster`]), so the key namespace comes from the
//! service account's namespace file, and kubeseal reaches each through the
//! API server's service proxy, as on a real cluster.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use coffer_api::SealedSecret;
use coffer_crypto::Certificate;
use coffer_sealed::key_secret;
use coffer_testenv::{InCluster, TestEnv, expose, free_port, reference_tool, routable_ip};
use common::{eventually, get};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use tokio::io::AsyncWriteExt;

/// The chart's names: the Service kubeseal looks for by default, and the
/// ServiceAccount both controllers run as.
const SERVICE: &str = "sealed-secrets-controller";

/// SealedSecrets sealed while Bitnami's controller runs.
const FIRST: usize = 3;

/// Bitnami's chart arguments with default values (see
/// `tests/data/bitnami-chart-v0.40.0.yaml`), watching only the controller's
/// own namespace (`--all-namespaces=false`: other tests share this API
/// server), on addresses this test may bind.
fn chart_args(api: SocketAddr, metrics: SocketAddr) -> Vec<String> {
    [
        "--update-status",
        "--key-prefix",
        "sealed-secrets-key",
        "--all-namespaces=false",
        "--listen-addr",
        &api.to_string(),
        "--listen-metrics-addr",
        &metrics.to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// One controller process, run as in a Pod.
struct Running {
    child: tokio::process::Child,
    log: PathBuf,
}

impl Running {
    fn start(pod: &InCluster, program: &Path, args: &[String], log: PathBuf) -> Running {
        let file = std::fs::File::create(&log).unwrap();
        let child = pod
            .command(program)
            .args(args)
            .env_remove("POD_NAMESPACE")
            .env_remove("RUST_LOG")
            .env_remove("COFFER_NAMESPACE")
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        Running { child, log }
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM, as the kubelet stops a Pod, and the exit status.
    async fn stop(mut self) -> ExitStatus {
        // NB: the signal reaches the program itself: `unshare` and `sh`
        // exec it.
        self.signal("TERM");
        tokio::time::timeout(common::TIMEOUT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not stop", self.log.display()))
            .unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Runs kubeseal with `args` (and `stdin`) against the test cluster.
async fn kubeseal(args: &[&str], stdin: Option<&[u8]>) -> Result<String, String> {
    let env = TestEnv::shared().await;
    let mut child = tokio::process::Command::new(reference_tool("kubeseal"))
        .args(args)
        .env("KUBECONFIG", env.kubeconfig())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubeseal");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).await.unwrap();
    }
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `kubeseal --fetch-cert` through the service proxy, once it answers
/// with something other than `previous`.
async fn fetch_cert(ns: &str, previous: Option<&str>, running: &Running) -> String {
    let mut last;
    let deadline = tokio::time::Instant::now() + common::TIMEOUT;
    loop {
        let args = [
            "--fetch-cert",
            "--controller-namespace",
            ns,
            "--controller-name",
            SERVICE,
        ];
        match kubeseal(&args, None).await {
            Ok(pem) if Some(pem.as_str()) != previous && pem.contains("CERTIFICATE") => return pem,
            Ok(_) => last = "the previous certificate".to_owned(),
            Err(e) => last = e,
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "kubeseal --fetch-cert: {last}\ncontroller log:\n{}",
            running.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// Seals Secret `name` (one value, derived from the name) with kubeseal
/// to `cert` and creates the SealedSecret.
async fn seal_and_apply(client: &kube::Client, dir: &Path, ns: &str, name: &str, cert: &str) {
    let cert_file = dir.join(format!("{name}-cert.pem"));
    std::fs::write(&cert_file, cert).unwrap();
    let secret = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "stringData": {"password": value_of(name)},
    });
    let sealed = kubeseal(
        &["--cert", cert_file.to_str().unwrap(), "-o", "json"],
        Some(secret.to_string().as_bytes()),
    )
    .await
    .unwrap_or_else(|e| panic!("kubeseal {name}: {e}"));
    let sealed: SealedSecret = serde_json::from_str(&sealed).unwrap();
    Api::<SealedSecret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &sealed)
        .await
        .unwrap();
}

fn value_of(name: &str) -> String {
    format!("migration-{name}-s3cret")
}

/// Waits until every SealedSecret in `names` has its Secret with the right
/// value, and returns each Secret's resourceVersion.
async fn unsealed(
    client: &kube::Client,
    ns: &str,
    names: &[String],
    running: &Running,
) -> BTreeMap<String, String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut versions = BTreeMap::new();
    for name in names {
        let deadline = tokio::time::Instant::now() + common::TIMEOUT;
        let secret = loop {
            if let Some(s) = secrets.get_opt(name).await.unwrap() {
                break s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Secret {ns}/{name} was not unsealed\ncontroller log:\n{}",
                running.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        let data = secret.data.clone().unwrap_or_default();
        assert_eq!(
            data.get("password").map(|v| v.0.as_slice()),
            Some(value_of(name).as_bytes()),
            "Secret {ns}/{name} holds what was sealed"
        );
        versions.insert(name.clone(), secret.resource_version().unwrap());
    }
    versions
}

/// Waits until Bitnami's controller recorded every SealedSecret in `names`
/// as unsealed at its current generation (`--update-status`).
async fn synced(client: &kube::Client, ns: &str, names: &[String]) {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    for name in names {
        eventually(&format!("status of SealedSecret {ns}/{name}"), || {
            let api = api.clone();
            async move {
                let s = api.get(name).await.unwrap();
                let status = s.status.as_ref()?;
                let current = status.observed_generation == s.metadata.generation;
                let ok = status
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Synced" && c.status == "True");
                (current && ok).then_some(())
            }
        })
        .await;
    }
}

/// The certificates of the key Secrets in `ns`.
async fn key_certificates(client: &kube::Client, ns: &str) -> Vec<Vec<u8>> {
    let keys: Api<Secret> = Api::namespaced(client.clone(), ns);
    let list = keys
        .list(&ListParams::default().labels(&key_secret::selector()))
        .await
        .unwrap();
    list.items
        .iter()
        .map(|s| {
            let crt = &s.data.as_ref().unwrap()["tls.crt"].0;
            Certificate::from_pem(std::str::from_utf8(crt).unwrap())
                .unwrap()
                .der()
                .to_vec()
        })
        .collect()
}

fn der(pem: &str) -> Vec<u8> {
    Certificate::from_pem(pem).unwrap().der().to_vec()
}

/// A sample of the Prometheus page at `url` whose name and labels start
/// with `prefix`, summed over the matching lines.
async fn metric(url: &str, prefix: &str) -> f64 {
    let (_, page) = get(url).await.expect("the metrics page");
    page.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// The metric names Bitnami's chart queries: its Grafana dashboard and the
/// default alert rule in its values.
fn bitnami_dashboard_metrics() -> BTreeSet<String> {
    let chart = reference_tool("sealed-secrets");
    let mut text = String::new();
    for file in ["dashboards/sealed-secrets-controller.json", "values.yaml"] {
        text += &std::fs::read_to_string(chart.join(file)).unwrap();
    }
    let prefix = "sealed_secrets_controller_";
    let names: BTreeSet<String> = text
        .match_indices(prefix)
        .map(|(at, _)| {
            text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect();
    assert!(names.len() >= 3, "the chart names its metrics: {names:?}");
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitnami_and_coffer_take_over_from_each_other_without_rewriting_secrets() {
    let env = TestEnv::shared().await;
    let client = env.client().await;
    let ns = env.namespace("migration").await;
    let ns = ns.name();
    let bitnami = reference_tool("bitnami-controller");
    let coffer = PathBuf::from(env!("CARGO_BIN_EXE_coffer-controller"));
    let pod = InCluster::service_account(
        &client,
        env.kubeconfig(),
        env.dir(),
        ns,
        SERVICE,
        "cluster-admin",
    )
    .await
    .unwrap();
    // One address for whichever controller runs, behind the Service.
    let api = SocketAddr::new(routable_ip(), free_port().unwrap());
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port().unwrap()));
    let metrics_url = format!("http://{metrics}/metrics");
    expose(&client, ns, SERVICE, "http", api).await.unwrap();
    let args = chart_args(api, metrics);
    let log = |name: &str| env.dir().join(format!("migration-{name}.log"));

    // 1. Bitnami's controller makes its key and unseals.
    let running = Running::start(&pod, &bitnami, &args, log("bitnami-1"));
    let bitnami_cert = fetch_cert(ns, None, &running).await;
    let first: Vec<String> = (0..FIRST).map(|i| format!("first-{i}")).collect();
    for name in &first {
        seal_and_apply(&client, env.dir(), ns, name, &bitnami_cert).await;
    }
    let versions = unsealed(&client, ns, &first, &running).await;
    synced(&client, ns, &first).await;
    let status = running.stop().await;
    assert!(
        status.success() || status.code().is_none(),
        "Bitnami's controller: {status}"
    );
    assert_eq!(
        key_certificates(&client, ns).await,
        vec![der(&bitnami_cert)]
    );

    // 2. coffer-controller, with the same arguments: the same key, the
    // same Secrets untouched, new ones unsealed.
    let running = Running::start(&pod, &coffer, &args, log("coffer"));
    let adopted = fetch_cert(ns, None, &running).await;
    assert_eq!(
        der(&adopted),
        der(&bitnami_cert),
        "coffer serves Bitnami's key"
    );
    let second = vec!["second-0".to_owned()];
    seal_and_apply(&client, env.dir(), ns, &second[0], &adopted).await;
    unsealed(&client, ns, &second, &running).await;
    // Every SealedSecret has been reconciled once the count covers them all.
    let reconciles = "coffer_reconcile_duration_seconds_count{controller=\"sealedsecret\"";
    eventually("a reconcile of every SealedSecret", || {
        let url = metrics_url.clone();
        async move { (metric(&url, reconciles).await >= (FIRST + 1) as f64).then_some(()) }
    })
    .await;
    assert_eq!(
        metric(&metrics_url, "coffer_unseal_decryptions_total").await,
        1.0,
        "only the new SealedSecret was decrypted\n{}",
        running.log()
    );
    assert_eq!(
        unsealed(&client, ns, &first, &running).await,
        versions,
        "the Secrets Bitnami wrote were not rewritten"
    );
    // Bitnami's dashboard and alert rule (in its chart) find their series.
    let (_, page) = get(&metrics_url).await.unwrap();
    for name in bitnami_dashboard_metrics() {
        assert!(
            page.contains(&format!("# TYPE {name} ")),
            "{name}, which Bitnami's dashboard or alert reads, is exported"
        );
    }
    // Key renewal: SIGUSR1, as with Bitnami; kubeseal then gets the new key.
    running.signal("USR1");
    let renewed = fetch_cert(ns, Some(&adopted), &running).await;
    let keys = key_certificates(&client, ns).await;
    assert_eq!(keys.len(), 2, "one new key Secret");
    assert!(keys.contains(&der(&renewed)));
    let third = vec!["third-0".to_owned()];
    seal_and_apply(&client, env.dir(), ns, &third[0], &renewed).await;
    unsealed(&client, ns, &third, &running).await;
    let status = running.stop().await;
    assert!(status.success(), "coffer-controller: {status}");

    // 3. Bitnami's controller takes the cluster back: it seals to the key
    // coffer made, and opens everything either of them sealed.
    let running = Running::start(&pod, &bitnami, &args, log("bitnami-2"));
    let served = fetch_cert(ns, None, &running).await;
    assert_eq!(der(&served), der(&renewed), "Bitnami serves the newest key");
    let fourth = vec!["fourth-0".to_owned()];
    seal_and_apply(&client, env.dir(), ns, &fourth[0], &served).await;
    let all: Vec<String> = [first, second, third, fourth].concat();
    unsealed(&client, ns, &all, &running).await;
    synced(&client, ns, &all).await;
    assert_eq!(
        key_certificates(&client, ns).await.len(),
        2,
        "no key lost or added"
    );
    running.stop().await;
}
