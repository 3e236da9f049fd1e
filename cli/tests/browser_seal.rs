//! The sealing page in a real browser: headless Chromium (Debian's), driven
//! by Playwright for Python (`tests/browser/seal_page.py`), against a real
//! controller (in-process, on the local control plane) and against `coffer
//! seal --serve-ui`. What the page seals is applied and must become the
//! Secret the user typed; it must also open with `coffer seal
//! --recovery-unseal`; and no request the page makes may carry a value.
//!
//! Screenshots (empty, filled, result) go to each test's temporary
//! directory; with `COFFER_UPDATE_SCREENSHOT=1` the strict test copies its
//! result to `docs/seal-page.png` (the README's).

mod seal_harness;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coffer_api::SealedSecret;
use coffer_controller::{Config, Running};
use coffer_crypto::{KeySize, Scope};
use coffer_testenv::{TestEnv, TestNamespace};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use seal_harness::{Sandbox, fail, ok};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Paths the page may request: itself, its two files, the certificate, and
/// the icon Chromium asks for on its own.
const PAGE_PATHS: [&str; 5] = ["/", "/seal.css", "/seal.js", "/v1/cert.pem", "/favicon.ico"];

/// A controller serving the page on loopback, watching its own namespace.
struct World {
    client: kube::Client,
    ns: TestNamespace,
    _ctrl_ns: TestNamespace,
    running: Running,
}

impl World {
    async fn start(test: &str) -> World {
        let env = TestEnv::shared().await;
        let ns = env.namespace(test).await;
        let ctrl_ns = env.namespace(&format!("{test}-ctrl")).await;
        let config = Config {
            controller_namespace: ctrl_ns.name().to_owned(),
            key_size: KeySize::Rsa2048,
            watch_namespaces: vec![ns.name().to_owned()],
            listen_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            metrics_addr: None,
            ..Config::default()
        };
        let running = coffer_controller::start(env.client().await, config)
            .await
            .expect("controller starts");
        World {
            client: env.client().await,
            ns,
            _ctrl_ns: ctrl_ns,
            running,
        }
    }

    fn url(&self) -> String {
        format!(
            "http://{}/",
            self.running.listen_addr.expect("API listener")
        )
    }

    fn key_pem(&self) -> String {
        let key = self.running.context.keys.newest().expect("a key");
        key.pair.private_key().to_pkcs1_pem().unwrap().to_string()
    }

    fn fingerprint(&self) -> String {
        let key = self.running.context.keys.newest().expect("a key");
        key.certificate().fingerprint().to_string()
    }

    /// Creates `sealed` in the test namespace, under `name`.
    async fn apply(&self, mut sealed: SealedSecret, name: &str) {
        sealed.metadata.name = Some(name.to_owned());
        sealed.metadata.namespace = Some(self.ns.name().to_owned());
        Api::<SealedSecret>::namespaced(self.client.clone(), self.ns.name())
            .create(&PostParams::default(), &sealed)
            .await
            .expect("create the SealedSecret the page wrote");
    }

    /// Waits for Secret `name` with exactly `want`, and returns it.
    async fn secret(&self, name: &str, want: &BTreeMap<String, Vec<u8>>) -> Secret {
        let api = Api::<Secret>::namespaced(self.client.clone(), self.ns.name());
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if let Some(s) = api.get_opt(name).await.expect("read Secret") {
                let data: BTreeMap<String, Vec<u8>> = s
                    .data
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.0.clone()))
                    .collect();
                if &data == want {
                    return s;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for Secret {name} with the sealed values"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn workspace_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    Path::new(&manifest)
        .ancestors()
        .find(|d| d.join("tests/setup.sh").is_file())
        .expect("the workspace root")
        .to_path_buf()
}

/// Runs the Playwright driver with `job` (plus the browser and URL) and
/// returns its report.
async fn drive(url: &str, mut job: Value) -> Value {
    let python = coffer_testenv::locate("COFFER_TOOLS_BIN", "python")
        .expect("the Python tools (tests/setup.sh python)")
        .join("python");
    let chromium = coffer_testenv::locate("COFFER_CHROMIUM", "debian")
        .expect("Chromium (tests/setup.sh debian)");
    job["url"] = json!(url);
    job["chromium"] = json!(chromium);
    let script = workspace_root().join("tests/browser/seal_page.py");
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the browser driver");
        serde_json::to_writer(child.stdin.take().unwrap(), &job).unwrap();
        child.wait_with_output().expect("browser driver")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the browser driver failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the driver's JSON report")
}

/// Every request the page made: a GET of one of its own files, without a
/// body, with no plaintext (nor its base64) in the URL or any header.
fn assert_no_plaintext_left(report: &Value, plaintexts: &[&[u8]]) {
    let requests = report["requests"].as_array().expect("request log");
    assert!(
        requests
            .iter()
            .any(|r| r["url"].as_str().unwrap().ends_with("/v1/cert.pem")),
        "the page fetched its certificate: {requests:?}"
    );
    for r in requests {
        let url = r["url"].as_str().unwrap();
        let path = url.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap();
        assert!(
            PAGE_PATHS.contains(&path.as_str()),
            "unexpected request {url}"
        );
        assert_eq!(r["method"], "GET", "{url}");
        assert!(r["body"].is_null(), "{url} had a body");
        let mut seen = url.as_bytes().to_vec();
        for (k, v) in r["headers"].as_object().unwrap() {
            seen.extend_from_slice(format!("\n{k}: {}", v.as_str().unwrap()).as_bytes());
        }
        for p in plaintexts {
            let b64 = STANDARD.encode(p);
            assert!(
                !contains(&seen, p) && !contains(&seen, b64.as_bytes()),
                "{url} carried a value"
            );
        }
    }
    let console = report["console"].as_array().unwrap();
    for line in console {
        let line = line.as_str().unwrap();
        // Only the missing icon may show up (a 404), never a CSP violation or an error.
        assert!(line.contains("404"), "console: {line}");
    }
}

/// The Secret `coffer seal --recovery-unseal` opens from the page's JSON
/// output, with the private key in the sandbox's `key.pem`.
fn open_offline(sb: &Sandbox, report: &Value) -> Secret {
    sb.write("sealed.json", report["json"].as_str().unwrap());
    let out = ok(sb.coffer(
        &[
            "seal",
            "--recovery-unseal",
            "--recovery-private-key",
            "key.pem",
            "-f",
            "sealed.json",
        ],
        None,
    ));
    serde_json::from_str(&out).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The SealedSecret the page printed, checking that its YAML, its JSON and
/// the downloaded file are the same object.
fn sealed_of(report: &Value) -> SealedSecret {
    assert_eq!(report["error"], "", "the page refused: {}", report["error"]);
    let json_text = report["json"].as_str().expect("JSON output");
    let from_json: SealedSecret = serde_json::from_str(json_text).expect("JSON output parses");
    let yaml = report["yaml"].as_str().expect("YAML output");
    let yaml = yaml.strip_prefix("---\n").expect("YAML starts a document");
    let from_yaml: SealedSecret = serde_saphyr::from_str(yaml).expect("YAML output parses");
    assert_eq!(
        serde_json::to_value(&from_json).unwrap(),
        serde_json::to_value(&from_yaml).unwrap(),
        "YAML and JSON outputs are the same object"
    );
    assert_eq!(
        report["download"].as_str(),
        Some(json_text),
        "download = JSON shown"
    );
    from_json
}

/// A Secret as `kubectl create secret` writes it.
fn secret(name: &str, ns: Option<&str>, type_: Option<&str>, data: &[(&str, &[u8])]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: ns.map(str::to_owned),
            ..ObjectMeta::default()
        },
        type_: type_.map(str::to_owned),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}

/// The page wrote the SealedSecret `coffer seal` writes (coffer-sealed's
/// `seal_secret`) for `secret` under `scope`: same metadata, annotations,
/// template and keys; only the sealed bytes differ (fresh session keys).
fn assert_shaped_like_coffer_seal(
    world: &World,
    page: &SealedSecret,
    secret: &Secret,
    scope: Scope,
) {
    let key = world.running.context.keys.newest().expect("a key");
    let reference =
        coffer_sealed::seal_secret(secret, key.certificate().public_key(), Some(scope)).unwrap();
    let blank = |s: &SealedSecret| {
        let mut v = serde_json::to_value(s).unwrap();
        for value in v["spec"]["encryptedData"]
            .as_object_mut()
            .unwrap()
            .values_mut()
        {
            *value = json!("<sealed>");
        }
        v
    };
    assert_eq!(blank(page), blank(&reference), "page vs coffer seal");
}

fn values(pairs: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect()
}

/// A value that is not UTF-8 and contains every byte.
fn binary_value() -> Vec<u8> {
    (0..=255u8).rev().chain(0..=255u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_values_and_a_binary_file_sealed_offline_become_the_secret() {
    let world = World::start("browser-strict").await;
    let sb = Sandbox::new();
    let binary = binary_value();
    let file = sb.write("client.p12", &binary);
    let shots = sb.path("shots");
    std::fs::create_dir(&shots).unwrap();
    let password = "correct horse battery staple";

    let report = drive(
        &world.url(),
        json!({
            "screenshots": shots,
            "offline": true,
            "name": "db",
            "namespace": world.ns.name(),
            "scope": "strict",
            "type": "Opaque",
            "pairs": [{"key": "password", "value": password}, {"key": "client.p12", "file": file}],
        }),
    )
    .await;
    assert_eq!(report["fingerprint"], world.fingerprint());
    assert_no_plaintext_left(&report, &[password.as_bytes(), &binary]);
    for shot in ["empty.png", "filled.png", "result.png"] {
        assert!(shots.join(shot).metadata().unwrap().len() > 1000, "{shot}");
    }
    if std::env::var_os("COFFER_UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(
            shots.join("result.png"),
            workspace_root().join("docs/seal-page.png"),
        )
        .unwrap();
    }

    let sealed = sealed_of(&report);
    assert_eq!(
        sealed.metadata.annotations, None,
        "strict has no scope annotation"
    );
    assert_eq!(report["download_name"], "db-sealed.json");
    let ns = world.ns.name();
    let reference = secret(
        "db",
        Some(ns),
        Some("Opaque"),
        &[("password", password.as_bytes()), ("client.p12", &binary)],
    );
    assert_shaped_like_coffer_seal(&world, &sealed, &reference, Scope::Strict);
    let want = values(&[("password", password.as_bytes()), ("client.p12", &binary)]);

    // The same bytes open offline, with the controller's private key.
    sb.write("key.pem", world.key_pem());
    let unsealed = open_offline(&sb, &report);
    let opened: BTreeMap<String, Vec<u8>> = unsealed
        .data
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    assert_eq!(opened, want);

    world.apply(sealed, "db").await;
    let secret = world.secret("db", &want).await;
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_wide_and_cluster_wide_open_under_other_names() {
    let world = World::start("browser-scopes").await;
    let token = "tok-7c1f0e";

    // Namespace-wide: any name in the namespace.
    let report = drive(
        &world.url(),
        json!({
            "name": "sealed-as", "namespace": world.ns.name(), "scope": "namespace-wide",
            "pairs": [{"key": "token", "value": token}],
        }),
    )
    .await;
    assert_no_plaintext_left(&report, &[token.as_bytes()]);
    let sealed = sealed_of(&report);
    let annotations = sealed.metadata.annotations.clone().unwrap();
    assert_eq!(
        annotations["sealedsecrets.bitnami.com/namespace-wide"],
        "true"
    );
    let reference = secret(
        "sealed-as",
        Some(world.ns.name()),
        Some("Opaque"),
        &[("token", token.as_bytes())],
    );
    assert_shaped_like_coffer_seal(&world, &sealed, &reference, Scope::NamespaceWide);
    world.apply(sealed, "renamed").await;
    world
        .secret("renamed", &values(&[("token", token.as_bytes())]))
        .await;

    // Cluster-wide: no namespace needed; opens in any namespace, any name.
    let report = drive(
        &world.url(),
        json!({
            "name": "anywhere", "namespace": "", "scope": "cluster-wide", "type": "",
            "pairs": [{"key": "token", "value": token}],
        }),
    )
    .await;
    assert_no_plaintext_left(&report, &[token.as_bytes()]);
    let sealed = sealed_of(&report);
    assert_eq!(sealed.metadata.namespace, None);
    let template = sealed.spec.template.clone().unwrap();
    assert_eq!(
        template.metadata.unwrap().annotations.unwrap()["sealedsecrets.bitnami.com/cluster-wide"],
        "true"
    );
    assert_eq!(template.type_, None, "an empty type is left out");
    let reference = secret("anywhere", None, None, &[("token", token.as_bytes())]);
    assert_shaped_like_coffer_seal(&world, &sealed, &reference, Scope::ClusterWide);
    world.apply(sealed, "elsewhere").await;
    world
        .secret("elsewhere", &values(&[("token", token.as_bytes())]))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_manifest_keeps_its_type_labels_and_both_data_fields() {
    let world = World::start("browser-manifest").await;
    let ns = world.ns.name();
    let manifest = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: login\n  \
         namespace: {ns}\n  labels:\n    app: shop\ntype: kubernetes.io/basic-auth\ndata:\n  \
         username: YWRtaW4=\nstringData:\n  password: |-\n    pa55 word\n    line two\n"
    );
    let report = drive(&world.url(), json!({"manifest": manifest, "type": ""})).await;
    assert_no_plaintext_left(&report, &[b"pa55 word", b"admin"]);
    let sealed = sealed_of(&report);
    let mut reference = secret(
        "login",
        Some(ns),
        Some("kubernetes.io/basic-auth"),
        &[("username", b"admin")],
    );
    reference.metadata.labels = Some([("app".to_owned(), "shop".to_owned())].into());
    reference.string_data =
        Some([("password".to_owned(), "pa55 word\nline two".to_owned())].into());
    assert_shaped_like_coffer_seal(&world, &sealed, &reference, Scope::Strict);
    world.apply(sealed, "login").await;
    let secret = world
        .secret(
            "login",
            &values(&[("username", b"admin"), ("password", b"pa55 word\nline two")]),
        )
        .await;
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert_eq!(secret.metadata.labels.unwrap()["app"], "shop");

    // A field the page does not handle is named, not dropped.
    let bad = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  generateName: x-\n";
    let report = drive(&world.url(), json!({"manifest": bad, "namespace": ns})).await;
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("metadata.generateName"), "{error}");

    // A broken manifest is refused without quoting its values.
    for (broken, want) in [
        (r#"{"stringData": {"p": "leak-me-1"}"#, "not valid JSON"),
        ("stringData:\n  p: \"leak-me-1\n", "line 2: unterminated"),
    ] {
        let report = drive(
            &world.url(),
            json!({"manifest": broken, "name": "x", "namespace": ns}),
        )
        .await;
        let error = report["error"].as_str().unwrap();
        assert!(
            error.contains(want) && !error.contains("leak-me"),
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_refused_by_the_page_and_by_serve_ui() {
    let world = World::start("browser-expired").await;
    let expired =
        std::fs::read_to_string(workspace_root().join("cli/tests/data/seal/expired-cert.pem"))
            .unwrap();
    let report = drive(&world.url(), json!({"paste_cert": expired})).await;
    assert_eq!(report["seal_enabled"], false);
    let status = report["cert_status"].as_str().unwrap();
    assert!(
        status.contains("expired at 2021-01-01")
            && status.contains("fetch the controller's current certificate"),
        "{status}"
    );

    let sb = Sandbox::new();
    sb.write("expired.pem", &expired);
    let err = fail(sb.coffer(
        &["seal", "--serve-ui", "127.0.0.1:0", "--cert", "expired.pem"],
        None,
    ));
    assert!(err.contains("expired at 2021-01-01"), "{err}");
    // The page computed the fingerprint coffer prints.
    assert!(
        err.contains(report["fingerprint"].as_str().unwrap()),
        "{err}"
    );
}

/// The page asks for scope, name and values itself: `--serve-ui` refuses
/// the flags it would otherwise ignore, by name.
#[test]
fn serve_ui_refuses_sealing_flags() {
    let sb = Sandbox::with_key();
    for flag in [
        &["--scope", "cluster-wide"][..],
        &["-f", "secret.yaml"],
        &["--raw"],
    ] {
        let mut args = vec!["seal", "--serve-ui", "--cert", "cert.pem"];
        args.extend_from_slice(flag);
        let err = fail(sb.coffer(&args, None));
        assert!(
            err.contains("cannot be used with") && err.contains(flag[0]),
            "{err}"
        );
    }
}

/// `coffer seal --serve-ui` serves the same page with `--cert`'s certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ui_seals_to_the_given_certificate() {
    let sb = Sandbox::with_key();
    let mut child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["seal", "--serve-ui", "127.0.0.1:0", "--cert", "cert.pem"])
        .current_dir(sb.dir.path())
        .env("HOME", sb.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start coffer seal --serve-ui");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();

    let secret = "s3rve-ui-value";
    let report = drive(
        &url,
        json!({"name": "local", "namespace": "dev", "pairs": [{"key": "v", "value": secret}]}),
    )
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.contains(report["fingerprint"].as_str().unwrap()),
        "{line}"
    );
    assert_no_plaintext_left(&report, &[secret.as_bytes()]);
    sealed_of(&report);
    let unsealed = open_offline(&sb, &report);
    assert_eq!(unsealed.data.unwrap()["v"].0, secret.as_bytes());
}
