//! Bitnami's Helm chart runs our binary: the container arguments the chart
//! renders at v0.40.0 (`tests/data/bitnami-chart-v0.40.0.yaml`) start
//! `coffer-controller` against the local control plane, which makes its key
//! in its own namespace (from `POD_NAMESPACE`, as a pod's service account
//! gives it), serves the certificate and unseals. And `SEALED_SECRETS_*`
//! variables are read as flags, a refused one naming its flag.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use coffer_crypto::{Certificate, Scope};
use coffer_sealed::key_secret;
use coffer_testenv::{TestEnv, free_port};
use common::{eventually, get};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};

#[derive(Debug, serde::Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Debug, serde::Deserialize)]
struct Case {
    name: String,
    values: serde_json::Value,
    args: Vec<String>,
    env: Vec<BTreeMap<String, String>>,
}

/// The chart's release namespace in these tests.
const RELEASE_NAMESPACE: &str = "sealed-secrets";

fn fixture() -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bitnami-chart-v0.40.0.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

async fn ensure_namespace(client: &kube::Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    if api.get_opt(name).await.unwrap().is_none() {
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        api.create(&PostParams::default(), &ns).await.unwrap();
    }
}

/// The value after `flag` in `args`.
fn arg_after<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

/// Runs `case` until a SealedSecret in `namespace` is unsealed.
async fn run_case(env: &'static TestEnv, client: &kube::Client, case: &Case) {
    let namespace = arg_after(&case.args, "--additional-namespaces")
        .and_then(|list| list.split(',').next())
        .unwrap_or(RELEASE_NAMESPACE)
        .to_owned();
    let (api_port, metrics_port) = (free_port().unwrap(), free_port().unwrap());
    let log = env.dir().join(format!("bitnami-chart-{}.log", case.name));
    let file = std::fs::File::create(&log).unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_coffer-controller"));
    command
        .args(&case.args)
        // NB: the only change to the chart's arguments: ports this test
        // may bind (the chart's :8080 and :8081 are asserted above); as
        // with pflag, the last occurrence of a flag wins.
        .args(["--listen-addr", &format!("127.0.0.1:{api_port}")])
        .args([
            "--listen-metrics-addr",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .env("KUBECONFIG", env.kubeconfig())
        .env("POD_NAMESPACE", RELEASE_NAMESPACE)
        .env_remove("RUST_LOG")
        .env_remove("COFFER_NAMESPACE")
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .kill_on_drop(true);
    for var in &case.env {
        command.env(&var["name"], &var["value"]);
    }
    let mut child = command.spawn().expect("spawn coffer-controller");

    let url = format!("http://127.0.0.1:{api_port}/v1/cert.pem");
    let pem = eventually(&format!("{}: the certificate", case.name), || {
        let url = url.clone();
        async move { get(&url).await.filter(|(s, _)| *s == 200).map(|(_, b)| b) }
    })
    .await;
    let cert = Certificate::from_pem(&pem).unwrap();
    let keys: Api<Secret> = Api::namespaced(client.clone(), RELEASE_NAMESPACE);
    let stored = keys
        .list(&ListParams::default().labels(&key_secret::selector()))
        .await
        .unwrap();
    assert!(
        stored.items.iter().any(|s| {
            let crt = &s.data.as_ref().unwrap()["tls.crt"].0;
            Certificate::from_pem(std::str::from_utf8(crt).unwrap())
                .unwrap()
                .der()
                == cert.der()
        }),
        "{}: the key lives in the pod's namespace",
        case.name
    );

    let name = format!("chart-{}", case.name);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        },
        data: Some([("password".to_owned(), ByteString(b"hunter2".to_vec()))].into()),
        ..Secret::default()
    };
    let sealed = coffer_sealed::seal_secret(&secret, cert.public_key(), None::<Scope>).unwrap();
    Api::<coffer_api::SealedSecret>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &sealed)
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let unsealed = eventually(&format!("{}: Secret {namespace}/{name}", case.name), || {
        let secrets = secrets.clone();
        let name = name.clone();
        async move { secrets.get_opt(&name).await.unwrap() }
    })
    .await;
    assert_eq!(unsealed.data.unwrap()["password"].0, b"hunter2");

    // SIGTERM, as the kubelet stops a pod: the Lease is released.
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{}: {status}", case.name);
    let text = std::fs::read_to_string(&log).unwrap();
    if arg_after(&case.args, "--log-format") == Some("json") {
        for line in text.lines().filter(|l| !l.is_empty()) {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", case.name));
        }
    }
    if arg_after(&case.args, "--log-level") == Some("ERROR") {
        assert!(
            !text.contains("INFO"),
            "{}: only errors are logged",
            case.name
        );
    }
}

/// The controller container's `args` and `env` in `helm template` of
/// Bitnami's chart (v0.40.0, from the Go module kubeseal is built from)
/// with `values`.
fn helm_rendered(values: &serde_json::Value) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let chart = coffer_testenv::reference_tool("sealed-secrets");
    let scratch = tempfile::tempdir().unwrap();
    let values_file = scratch.path().join("values.json");
    std::fs::write(&values_file, values.to_string()).unwrap();
    let out = std::process::Command::new(coffer_testenv::reference_tool("helm"))
        .args(["template", "sealed-secrets"])
        .arg(&chart)
        .args(["--namespace", RELEASE_NAMESPACE, "--values"])
        .arg(&values_file)
        // helm keeps no state of ours: caches and config in the scratch dir.
        .env("HELM_CACHE_HOME", scratch.path().join("cache"))
        .env("HELM_CONFIG_HOME", scratch.path().join("config"))
        .env("HELM_DATA_HOME", scratch.path().join("data"))
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("the chart renders a Deployment");
    let container = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "controller"))
        .expect("a container named controller");
    let args = serde_json::from_value(container["args"].clone()).unwrap();
    let env = match &container["env"] {
        serde_json::Value::Null => Vec::new(),
        env => serde_json::from_value(env.clone()).unwrap(),
    };
    (args, env)
}

#[test]
fn the_fixture_is_what_helm_renders_from_bitnamis_chart() {
    for case in fixture().cases {
        let (args, env) = helm_rendered(&case.values);
        assert_eq!(args, case.args, "{}: args", case.name);
        assert_eq!(env, case.env, "{}: env", case.name);
    }
}

#[tokio::test]
async fn bitnami_chart_arguments_start_the_controller_and_it_unseals() {
    let fixture = fixture();
    assert_eq!(fixture.cases.len(), 2);
    for case in &fixture.cases {
        assert_eq!(arg_after(&case.args, "--listen-addr"), Some(":8080"));
        assert_eq!(
            arg_after(&case.args, "--listen-metrics-addr"),
            Some(":8081")
        );
    }
    let env = TestEnv::shared().await;
    let client = env.client().await;
    ensure_namespace(&client, RELEASE_NAMESPACE).await;
    for ns in ["chart-team-a", "chart-team-b"] {
        ensure_namespace(&client, ns).await;
    }
    // One after the other, as a `helm upgrade` would: both would watch
    // the same namespaces. The second adopts the first's key.
    for case in &fixture.cases {
        run_case(env, &client, case).await;
    }
}

/// Runs the binary with `vars` and `args` and no cluster (so it fails at
/// the latest when it looks for one); returns its stderr.
fn refused_with(vars: &[(&str, &str)], args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_coffer-controller"))
        .envs(vars.iter().copied())
        .args(args)
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .unwrap();
    assert!(!output.status.success(), "{vars:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn sealed_secrets_variables_are_read_as_bitnamis_flags() {
    let gc = [("SEALED_SECRETS_OLD_GC_BEHAVIOR", "true")];
    let err = refused_with(&gc, &[]);
    assert!(
        err.contains("--old-gc-behavior=true: not supported"),
        "{err}"
    );
    // The command line wins over the variable (Bitnami's flagenv).
    let err = refused_with(&gc, &["--old-gc-behavior=false"]);
    assert!(
        !err.contains("old-gc-behavior") && err.contains("Kubernetes API"),
        "{err}"
    );
    let err = refused_with(&[("SEALED_SECRETS_KEY_ORDER_PRIORITY", "Newest")], &[]);
    assert!(
        err.contains("--key-order-priority") && err.contains("\"Newest\""),
        "{err}"
    );
    let err = refused_with(&[("SEALED_SECRETS_KEY_TTL", "10 years")], &[]);
    assert!(err.contains("--key-ttl"), "{err}");
}

#[tokio::test]
async fn sigusr1_makes_a_new_sealing_key() {
    let env = TestEnv::shared().await;
    let client = env.client().await;
    let ns = env.namespace("sigusr1").await;
    let api_port = free_port().unwrap();
    let log = env.dir().join("bitnami-sigusr1.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_coffer-controller"))
        .env("KUBECONFIG", env.kubeconfig())
        .env("POD_NAMESPACE", ns.name())
        .args([
            "--key-size=2048",
            "--leader-elect=false",
            "--external-secrets=false",
        ])
        .args(["--namespaces", ns.name()])
        .args(["--listen-addr", &format!("127.0.0.1:{api_port}")])
        .args([
            "--listen-metrics-addr",
            &format!("127.0.0.1:{}", free_port().unwrap()),
        ])
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{api_port}/v1/cert.pem");
    let first = eventually("the first certificate", || {
        let url = url.clone();
        async move { get(&url).await.filter(|(s, _)| *s == 200).map(|(_, b)| b) }
    })
    .await;

    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-USR1", &pid])
        .status()
        .unwrap();
    let keys: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    eventually("a second key Secret", || {
        let keys = keys.clone();
        async move {
            let list = keys
                .list(&ListParams::default().labels(&key_secret::selector()))
                .await
                .unwrap();
            (list.items.len() == 2).then_some(())
        }
    })
    .await;
    // NB: the new key seals once its certificate's second is later.
    let _ = eventually("the new certificate to be served", || {
        let url = url.clone();
        let first = first.clone();
        async move {
            get(&url)
                .await
                .filter(|(s, b)| *s == 200 && *b != first)
                .map(|_| ())
        }
    })
    .await;
    child.start_kill().unwrap();
}
