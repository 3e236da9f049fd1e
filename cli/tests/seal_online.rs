//! `coffer seal --fetch-cert`, `--validate`, `--re-encrypt` and `coffer
//! reseal` against the real local control plane and a real controller
//! (coffer-controller, run in-process), reached the way kubeseal reaches it:
//! through the API server's service proxy.
//!
//! The API server proxies only to Pods' addresses off loopback, so the
//! controller listens on this machine's routable address and
//! [`coffer_testenv::expose`] puts a Service, a stand-in Pod and Endpoints
//! in front of it.

mod seal_harness;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coffer_api::SealedSecret;
use coffer_controller::{Config, RateLimit, Running};
use coffer_crypto::KeySize;
use coffer_testenv::{TestEnv, TestNamespace};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Endpoints, Secret, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use seal_harness::{PASSWORD, Sandbox, b64, fail, json_docs, ok};

/// The controller's Service, and the name of its port (kubeseal proxies to
/// `http:<service>:<port name>`).
const SERVICE: &str = "sealer";
const PORT_NAME: &str = "http";
const TIMEOUT: Duration = Duration::from_secs(60);

/// A running controller in its own namespace (keys, Service, and the
/// SealedSecrets it unseals), exposed through the API server.
struct Controller {
    env: &'static TestEnv,
    client: kube::Client,
    ns: TestNamespace,
    running: Running,
}

impl Controller {
    async fn start(test: &str) -> Controller {
        Controller::start_with(test, |_| {}).await
    }

    /// With `limit` on /v1/verify and /v1/rotate (the default is Bitnami's).
    async fn start_limited(test: &str, limit: Option<RateLimit>) -> Controller {
        Controller::start_with(test, |config| config.rate_limit = limit).await
    }

    /// With the configuration `adjust` makes of the default one.
    async fn start_with(test: &str, adjust: impl FnOnce(&mut Config)) -> Controller {
        let env = TestEnv::shared().await;
        let client = env.client().await;
        let ns = env.namespace(test).await;
        let ip = coffer_testenv::routable_ip();
        let mut config = Config {
            controller_namespace: ns.name().to_owned(),
            key_size: KeySize::Rsa2048,
            watch_namespaces: vec![ns.name().to_owned()],
            listen_addr: Some(SocketAddr::new(ip, 0)),
            metrics_addr: None,
            rate_limit: Some(RateLimit::default()),
            ..Config::default()
        };
        adjust(&mut config);
        let running = coffer_controller::start(env.client().await, config)
            .await
            .expect("controller starts");
        let addr = running.listen_addr.expect("the API listener is bound");
        let controller = Controller {
            env,
            client,
            ns,
            running,
        };
        controller.expose(addr).await;
        controller
    }

    /// The Service, the stand-in Pod and the Endpoints that let the API
    /// server proxy to `addr`.
    async fn expose(&self, addr: SocketAddr) {
        coffer_testenv::expose(&self.client, self.ns.name(), SERVICE, PORT_NAME, addr)
            .await
            .expect("expose the controller through a Service");
    }

    /// The flags that point `coffer` at this controller.
    fn flags(&self) -> Vec<String> {
        controller_flags(self.env, self.ns.name())
    }

    /// PEM of the newest key's certificate.
    fn newest_cert(&self) -> String {
        let key = self.running.context.keys.newest().expect("a key");
        key.certificate().to_pem()
    }

    /// PKCS#1 PEM of the newest private key.
    fn newest_key(&self) -> String {
        let key = self.running.context.keys.newest().expect("a key");
        key.pair.private_key().to_pkcs1_pem().unwrap().to_string()
    }

    /// Adds a key newer than every existing one, as the controller's key
    /// renewal does, and returns its certificate.
    async fn rotate_key(&self) -> String {
        let old = self.running.context.keys.newest().expect("a key");
        // Keys are ordered by creation time, in whole seconds: wait for the
        // next second so the new key is strictly newer.
        let next = old.created.as_second() + 1;
        while Timestamp::now().as_second() < next {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), self.ns.name());
        let new = self
            .running
            .context
            .keys
            .create_key(&secrets, KeySize::Rsa2048)
            .await
            .expect("create a new key");
        assert_eq!(
            self.running.context.keys.newest().unwrap().name,
            new.name,
            "the new key is the newest"
        );
        new.certificate().to_pem()
    }

    /// Waits for the Secret the controller unseals.
    async fn unsealed_secret(&self, name: &str) -> Secret {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), self.ns.name());
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if let Some(secret) = secrets.get_opt(name).await.expect("get Secret") {
                return secret;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {TIMEOUT:?} waiting for Secret {name}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn create_service(client: &kube::Client, ns: &str) {
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let service = Service {
        metadata: ObjectMeta {
            name: Some(SERVICE.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            // No selector: the test writes the Endpoints itself.
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_owned()),
                port: 8080,
                target_port: Some(IntOrString::Int(8080)),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    services
        .create(&PostParams::default(), &service)
        .await
        .expect("create the Service");
}

fn controller_flags(env: &TestEnv, ns: &str) -> Vec<String> {
    vec![
        "--kubeconfig".to_owned(),
        env.kubeconfig().display().to_string(),
        "--controller-namespace".to_owned(),
        ns.to_owned(),
        "--controller-name".to_owned(),
        SERVICE.to_owned(),
    ]
}

/// Runs `coffer` with `args` then `flags`. The controller runs on this
/// test's runtime, so the blocking wait must leave it a worker.
fn coffer(sb: &Sandbox, args: &[&str], flags: &[String], stdin: Option<&[u8]>) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(flags.iter().map(String::as_str));
    tokio::task::block_in_place(|| sb.coffer(&all, stdin))
}

/// A Secret named `name` in `ns` holding PASSWORD.
fn secret_yaml(name: &str, ns: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\nstringData: {{password: {PASSWORD}}}\n"
    )
}

/// Seals `name` offline to `cert` (PEM) into `file`.
fn seal_to(sb: &Sandbox, cert: &str, name: &str, ns: &str, file: &str) {
    sb.write("seal-cert.pem", cert);
    sb.write("secret.yaml", secret_yaml(name, ns));
    ok(tokio::task::block_in_place(|| {
        sb.coffer(
            &[
                "seal",
                "--cert",
                "seal-cert.pem",
                "-f",
                "secret.yaml",
                "-w",
                file,
            ],
            None,
        )
    }));
}

/// The password in `file`, opened offline with the private key `key`
/// (PEM), or None when the key does not open it.
fn password_with(sb: &Sandbox, key: &str, file: &str) -> Option<String> {
    sb.write("open-key.pem", key);
    let out = tokio::task::block_in_place(|| {
        sb.coffer(
            &[
                "seal",
                "--recovery-unseal",
                "--recovery-private-key",
                "open-key.pem",
                "-f",
                file,
            ],
            None,
        )
    });
    out.status.success().then(|| {
        let secret = &json_docs(&String::from_utf8(out.stdout).unwrap())[0];
        b64(secret["data"]["password"].as_str().unwrap())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_cert_and_sealing_without_cert_use_the_running_controller() {
    let ctl = Controller::start("online-fetch-cert").await;
    let sb = Sandbox::new();
    let flags = ctl.flags();

    let pem = ok(coffer(&sb, &["seal", "--fetch-cert"], &flags, None));
    assert_eq!(
        pem,
        ctl.newest_cert(),
        "the controller's newest certificate"
    );

    // Sealing without --cert fetches it the same way; the controller then
    // unseals what coffer sealed.
    let ns = ctl.ns.name();
    let input = secret_yaml("db", ns);
    let sealed = ok(coffer(&sb, &["seal"], &flags, Some(input.as_bytes())));
    assert!(!sealed.contains(PASSWORD));
    let sealed: SealedSecret = serde_json::from_str(&sealed).unwrap();
    Api::<SealedSecret>::namespaced(ctl.client.clone(), ns)
        .create(&PostParams::default(), &sealed)
        .await
        .expect("create the SealedSecret");
    let secret = ctl.unsealed_secret("db").await;
    let value = &secret.data.unwrap()["password"].0;
    assert_eq!(String::from_utf8_lossy(value), PASSWORD);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_asks_the_controller_and_names_each_document_it_cannot_open() {
    let ctl = Controller::start("online-validate").await;
    let sb = Sandbox::new();
    let flags = ctl.flags();
    let ns = ctl.ns.name();
    seal_to(&sb, &ctl.newest_cert(), "db", ns, "good.yaml");
    // Sealed to a key the controller does not hold.
    let stranger = Sandbox::with_key();
    seal_to(&sb, &stranger.read("cert.pem"), "api", ns, "foreign.yaml");

    let out = ok(coffer(
        &sb,
        &["seal", "--validate", "-f", "good.yaml"],
        &flags,
        None,
    ));
    assert!(out.is_empty(), "validation prints nothing: {out}");

    let both = format!("{}{}", sb.read("good.yaml"), sb.read("foreign.yaml"));
    sb.write("both.yaml", &both);
    let out = coffer(
        &sb,
        &["seal", "--validate", "-f", "both.yaml"],
        &flags,
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = fail(out);
    assert!(
        err.contains("1 of 2 SealedSecret(s) in both.yaml cannot be decrypted")
            && err.contains(&format!("the controller {ns}/{SERVICE}"))
            && err.contains("document 2 of both.yaml"),
        "{err}"
    );
    assert!(
        !err.contains("document 1 of"),
        "the valid document is not reported: {err}"
    );
    assert!(!err.contains(PASSWORD));

    // From stdin, as kubeseal reads it.
    let foreign = sb.read("foreign.yaml");
    let err = fail(coffer(
        &sb,
        &["seal", "--validate"],
        &flags,
        Some(foreign.as_bytes()),
    ));
    assert!(err.contains("document 1 of standard input"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_encrypt_through_the_controller_moves_values_to_its_newest_key() {
    let ctl = Controller::start("online-re-encrypt").await;
    let sb = Sandbox::new();
    let flags = ctl.flags();
    let ns = ctl.ns.name();
    let old_key = ctl.newest_key();
    seal_to(&sb, &ctl.newest_cert(), "db", ns, "sealed.yaml");
    ctl.rotate_key().await;
    let new_key = ctl.newest_key();

    // In place when only -f is given (matches kubeseal #405); YAML kept.
    let out = ok(coffer(
        &sb,
        &["seal", "--re-encrypt", "-f", "sealed.yaml"],
        &flags,
        None,
    ));
    assert!(out.is_empty(), "{out}");
    let text = sb.read("sealed.yaml");
    assert!(text.starts_with("---\n"), "{text}");
    assert!(
        !text.contains("creationTimestamp") && !text.contains("status"),
        "{text}"
    );
    assert_eq!(password_with(&sb, &old_key, "sealed.yaml"), None);
    assert_eq!(
        password_with(&sb, &new_key, "sealed.yaml").as_deref(),
        Some(PASSWORD)
    );

    // To stdout as JSON when reading stdin.
    let out = ok(coffer(
        &sb,
        &["seal", "--re-encrypt"],
        &flags,
        Some(text.as_bytes()),
    ));
    assert_eq!(json_docs(&out)[0]["kind"], "SealedSecret");

    // What the controller cannot open is an error naming the document; the
    // file is left as it was.
    let stranger = Sandbox::with_key();
    seal_to(&sb, &stranger.read("cert.pem"), "api", ns, "foreign.yaml");
    let before = sb.read("foreign.yaml");
    let err = fail(coffer(
        &sb,
        &["seal", "--re-encrypt", "-f", "foreign.yaml"],
        &flags,
        None,
    ));
    assert!(
        err.contains("document 1 of foreign.yaml")
            && err.contains(&format!("the controller {ns}/{SERVICE} cannot decrypt it")),
        "{err}"
    );
    assert_eq!(sb.read("foreign.yaml"), before);

    // --cert does not apply when the controller re-encrypts.
    sb.write("new.pem", ctl.newest_cert());
    let err = fail(coffer(
        &sb,
        &[
            "seal",
            "--re-encrypt",
            "--cert",
            "new.pem",
            "-f",
            "sealed.yaml",
        ],
        &flags,
        None,
    ));
    assert!(err.contains("--recovery-private-key"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reseal_through_the_controller_rewrites_sealed_secrets_and_keeps_other_documents() {
    let ctl = Controller::start("online-reseal").await;
    let sb = Sandbox::new();
    let flags = ctl.flags();
    let ns = ctl.ns.name();
    let old_key = ctl.newest_key();
    let old_cert = ctl.newest_cert();
    std::fs::create_dir_all(sb.path("deploy")).unwrap();
    seal_to(&sb, &old_cert, "db", ns, "deploy/db.json");
    seal_to(&sb, &old_cert, "api", ns, "sealed.yaml");
    let config_map =
        "# settings\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {mode: fast}\n";
    sb.write(
        "deploy/app.yaml",
        format!("{config_map}{}", sb.read("sealed.yaml")),
    );
    ctl.rotate_key().await;
    let new_key = ctl.newest_key();

    let out = coffer(&sb, &["reseal", "deploy"], &flags, None);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("re-encrypted 2 SealedSecret(s) in 2 file(s); 0 file(s) failed"),
        "{err}"
    );
    let app = sb.read("deploy/app.yaml");
    assert!(app.starts_with(config_map), "{app}");
    sb.write("app-sealed.yaml", &app[config_map.len()..]);
    for file in ["deploy/db.json", "app-sealed.yaml"] {
        assert_eq!(password_with(&sb, &old_key, file), None, "{file}");
        assert_eq!(
            password_with(&sb, &new_key, file).as_deref(),
            Some(PASSWORD),
            "{file}"
        );
    }

    // Offline keys, the new certificate fetched from the controller.
    seal_to(&sb, &old_cert, "db", ns, "offline.yaml");
    sb.write("old-key.pem", &old_key);
    ok(coffer(
        &sb,
        &[
            "reseal",
            "--recovery-private-key",
            "old-key.pem",
            "offline.yaml",
        ],
        &flags,
        None,
    ));
    assert_eq!(
        password_with(&sb, &new_key, "offline.yaml").as_deref(),
        Some(PASSWORD)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reseal_waits_out_a_rate_limited_controller_instead_of_failing() {
    // One request a second, one at a time: most of the six rotations get
    // 429 first (as from a Bitnami v0.39+ controller).
    let limit = RateLimit {
        per_second: 1.0,
        burst: 1,
    };
    let ctl = Controller::start_limited("online-throttled", Some(limit)).await;
    let sb = Sandbox::new();
    let ns = ctl.ns.name();
    let old_cert = ctl.newest_cert();
    std::fs::create_dir_all(sb.path("deploy")).unwrap();
    for i in 0..6 {
        seal_to(
            &sb,
            &old_cert,
            &format!("db-{i}"),
            ns,
            &format!("deploy/db-{i}.yaml"),
        );
    }
    ctl.rotate_key().await;
    let new_key = ctl.newest_key();

    let out = coffer(&sb, &["reseal", "deploy"], &ctl.flags(), None);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("limits its request rate (429)"), "{err}");
    assert!(
        err.contains("re-encrypted 6 SealedSecret(s) in 6 file(s); 0 file(s) failed"),
        "{err}"
    );
    for i in 0..6 {
        let file = format!("deploy/db-{i}.yaml");
        assert_eq!(
            password_with(&sb, &new_key, &file).as_deref(),
            Some(PASSWORD),
            "{file}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_controller_is_named_with_the_api_servers_reason() {
    let env = TestEnv::shared().await;
    let client = env.client().await;
    let ns = env.namespace("online-unreachable").await;
    let sb = Sandbox::new();
    let flags = controller_flags(env, ns.name());
    let stranger = Sandbox::with_key();
    seal_to(
        &sb,
        &stranger.read("cert.pem"),
        "db",
        ns.name(),
        "sealed.yaml",
    );

    // No Service at all: the flags that fix it are named.
    let err = fail(coffer(
        &sb,
        &["seal", "--validate", "-f", "sealed.yaml"],
        &flags,
        None,
    ));
    assert!(
        err.contains(&format!(
            "cannot reach the controller {}/{SERVICE} to validate",
            ns.name()
        )) && err.contains("--controller-namespace")
            && err.contains("--recovery-private-key"),
        "{err}"
    );

    // A Service without ready endpoints: the API server's own answer is
    // shown.
    create_service(&client, ns.name()).await;
    let empty = Endpoints {
        metadata: ObjectMeta {
            name: Some(SERVICE.to_owned()),
            ..ObjectMeta::default()
        },
        subsets: None,
    };
    Api::<Endpoints>::namespaced(client.clone(), ns.name())
        .create(&PostParams::default(), &empty)
        .await
        .expect("create Endpoints");
    let err = fail(coffer(
        &sb,
        &["seal", "--validate", "-f", "sealed.yaml"],
        &flags,
        None,
    ));
    assert!(
        err.contains("503 Service Unavailable") && err.contains("no endpoints available"),
        "{err}"
    );
    assert!(err.contains("document 1 of sealed.yaml"), "{err}");
}

/// One flooding client: its own connection, `body` posted to /v1/verify
/// every `pause` (Retry-After ignored). Counts the answers by status.
async fn flood(
    url: String,
    body: Vec<u8>,
    pause: Duration,
    answers: Arc<Mutex<BTreeMap<u16, u64>>>,
) {
    let http = reqwest::Client::new();
    loop {
        let sent = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await;
        if let Ok(response) = sent {
            *answers
                .lock()
                .unwrap()
                .entry(response.status().as_u16())
                .or_default() += 1;
        }
        tokio::time::sleep(pause).await;
    }
}

/// A SealedSecret named `name` of `values` values sealed to `key`, as JSON.
fn sealed_json(name: &str, ns: &str, values: usize, key: &coffer_crypto::PublicKey) -> Vec<u8> {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(ns.to_owned()),
            ..ObjectMeta::default()
        },
        string_data: Some(
            (0..values)
                .map(|i| (format!("k{i}"), format!("v{i}")))
                .collect(),
        ),
        ..Secret::default()
    };
    let sealed = coffer_sealed::seal_secret(&secret, key, None).unwrap();
    serde_json::to_vec(&sealed).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_verify_requests_leaves_health_the_lease_and_validate_working() {
    const LEASE: &str = "flooded";
    let ctl = Controller::start_with("online-flood", |config| {
        config.leader_election = Some(coffer_controller::LeaseConfig {
            duration: Duration::from_secs(10),
            grace: Duration::from_secs(4),
            ..coffer_controller::LeaseConfig::new(LEASE, config.controller_namespace.clone())
        });
    })
    .await;
    let leadership = ctl.running.leadership.clone();
    tokio::time::timeout(TIMEOUT, leadership.until_leader())
        .await
        .expect("the controller leads");
    let key = loop {
        if let Ok(key) = ctl.running.context.keys.newest() {
            break key;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let sb = Sandbox::new();
    let ns = ctl.ns.name();
    seal_to(&sb, &key.certificate().to_pem(), "db", ns, "good.yaml");

    // 16 connections posting SealedSecrets of 128 values (the most one
    // request may hold), 4 posting 4000 values (1.5 MB, within the body
    // limit: hours of RSA work a minute if each were decrypted).
    let public = key.certificate().public_key();
    let (large, huge) = (
        sealed_json("large", ns, 128, public),
        sealed_json("huge", ns, 4000, public),
    );
    let base = format!("http://{}", ctl.running.listen_addr.unwrap());
    let answers = Arc::new(Mutex::new(BTreeMap::new()));
    let flooders: Vec<_> = (0..20)
        .map(|i| {
            let (body, pause) = if i < 16 {
                (large.clone(), Duration::from_millis(100))
            } else {
                (huge.clone(), Duration::from_millis(250))
            };
            tokio::spawn(flood(
                format!("{base}/v1/verify"),
                body,
                pause,
                answers.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Health and the certificate answer promptly (a generous bound: the
    // machine is shared) while the flood goes on.
    let http = reqwest::Client::new();
    for path in ["/healthz", "/v1/cert.pem", "/healthz", "/v1/cert.pem"] {
        let response = tokio::time::timeout(
            Duration::from_secs(5),
            http.get(format!("{base}{path}")).send(),
        )
        .await
        .unwrap_or_else(|_| panic!("{path} did not answer within 5 s during the flood"))
        .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }

    // `coffer seal --validate` gets through, waiting out the 429s.
    let flags = ctl.flags();
    let out = coffer(
        &sb,
        &["seal", "--validate", "-f", "good.yaml"],
        &flags,
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");

    // The Lease kept being renewed through all of it.
    let leases: Api<Lease> = Api::namespaced(ctl.client.clone(), ns);
    let renewed = || async {
        let lease = leases.get(LEASE).await.unwrap();
        lease.spec.and_then(|s| s.renew_time).map(|t| t.0)
    };
    let first = renewed().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let mut seen = vec![first];
    while seen.len() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Lease was not renewed during the flood: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = renewed().await;
        if now != *seen.last().unwrap() {
            seen.push(now);
        }
    }
    assert!(leadership.is_leader(), "still the leader");

    for flooder in flooders {
        flooder.abort();
    }
    let answers = answers.lock().unwrap().clone();
    for status in [200, 413, 429] {
        assert!(
            answers.get(&status).copied().unwrap_or(0) > 0,
            "{answers:?}"
        );
    }
}

/// A ServiceAccount in `ns` allowed only what kubeseal needs (read the
/// controller's Service and go through its proxy), and a token for it from
/// the TokenRequest API.
async fn token_only_identity(client: &kube::Client, ns: &str) -> String {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
    let pp = PostParams::default();
    let meta = || ObjectMeta {
        name: Some("sealer-user".to_owned()),
        ..ObjectMeta::default()
    };
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    accounts
        .create(
            &pp,
            &ServiceAccount {
                metadata: meta(),
                ..ServiceAccount::default()
            },
        )
        .await
        .unwrap();
    Api::<Role>::namespaced(client.clone(), ns)
        .create(
            &pp,
            &Role {
                metadata: meta(),
                rules: Some(vec![PolicyRule {
                    api_groups: Some(vec![String::new()]),
                    resources: Some(vec!["services".to_owned(), "services/proxy".to_owned()]),
                    verbs: vec!["get".to_owned(), "create".to_owned()],
                    ..PolicyRule::default()
                }]),
            },
        )
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(
            &pp,
            &RoleBinding {
                metadata: meta(),
                role_ref: RoleRef {
                    api_group: Some("rbac.authorization.k8s.io".to_owned()),
                    kind: "Role".to_owned(),
                    name: "sealer-user".to_owned(),
                },
                subjects: Some(vec![Subject {
                    kind: "ServiceAccount".to_owned(),
                    name: "sealer-user".to_owned(),
                    namespace: Some(ns.to_owned()),
                    ..Subject::default()
                }]),
            },
        )
        .await
        .unwrap();
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let answer: TokenRequest = accounts
        .create_subresource("token", "sealer-user", &pp, &request)
        .await
        .unwrap();
    answer.status.unwrap().token.unwrap()
}

/// The API server's URL and CA (PEM) from the test environment's
/// kubeconfig.
fn server_and_ca(env: &TestEnv) -> (String, String) {
    let kubeconfig = kube::config::Kubeconfig::read_from(env.kubeconfig()).unwrap();
    let cluster = kubeconfig.clusters[0].cluster.clone().unwrap();
    let ca = match (
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    ) {
        (Some(data), _) => b64(data),
        (None, Some(path)) => std::fs::read_to_string(path).unwrap(),
        (None, None) => panic!("the test kubeconfig names no CA"),
    };
    (cluster.server.unwrap(), ca)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeseals_connection_flags_reach_the_controller_with_a_token_and_no_kubeconfig() {
    let ctl = Controller::start("online-token").await;
    let ns = ctl.ns.name();
    let token = token_only_identity(&ctl.client, ns).await;
    let (server, ca) = server_and_ca(ctl.env);
    let sb = Sandbox::new();
    sb.write("ca.crt", &ca);
    // NB: the sandbox has no kubeconfig and no KUBECONFIG.
    let target = [
        "--controller-namespace".to_owned(),
        ns.to_owned(),
        "--controller-name".to_owned(),
        SERVICE.to_owned(),
    ];
    let mut flags = target.to_vec();
    flags.extend(
        [
            "--server",
            &server,
            "--token",
            &token,
            "--certificate-authority",
            "ca.crt",
            "--request-timeout",
            "30s",
        ]
        .map(str::to_owned),
    );
    let pem = ok(coffer(&sb, &["seal", "--fetch-cert"], &flags, None));
    assert_eq!(pem, ctl.newest_cert());

    // The same through kubeseal's variables, and `-s`.
    let mut args = vec!["seal", "--fetch-cert", "-s", &server];
    args.extend(target.iter().map(String::as_str));
    let out = tokio::task::block_in_place(|| {
        sb.coffer_env(
            &args,
            &[
                ("SEALED_SECRETS_TOKEN", &token),
                ("SEALED_SECRETS_CERTIFICATE_AUTHORITY", "ca.crt"),
            ],
            None,
        )
    });
    assert_eq!(ok(out), ctl.newest_cert());

    // `coffer reseal` asks the controller through the same flags.
    seal_to(&sb, &ctl.newest_cert(), "db", ns, "db.json");
    let mut reseal = vec!["reseal", "db.json"];
    reseal.extend(flags.iter().map(String::as_str));
    ok(tokio::task::block_in_place(|| sb.coffer(&reseal, None)));
    assert_eq!(
        password_with(&sb, &ctl.newest_key(), "db.json").as_deref(),
        Some(PASSWORD)
    );

    // The token is what authenticates: a wrong one is refused, and
    // impersonation needs a right this identity lacks.
    let mut wrong = target.to_vec();
    wrong.extend(
        [
            "--server",
            &server,
            "--token",
            "not-a-token",
            "--certificate-authority",
            "ca.crt",
        ]
        .map(str::to_owned),
    );
    let err = fail(coffer(&sb, &["seal", "--fetch-cert"], &wrong, None));
    assert!(err.contains("Unauthorized") || err.contains("401"), "{err}");
    let mut impersonating = flags.clone();
    impersonating.extend(["--as", "someone-else"].map(str::to_owned));
    let err = fail(coffer(&sb, &["seal", "--fetch-cert"], &impersonating, None));
    assert!(err.contains("impersonate"), "{err}");
    assert!(!err.contains(&token), "the token is never printed");
}

/// The sealing page through the API server's service proxy (the README's
/// `kubectl proxy` URL): served with its Content-Security-Policy intact, and
/// its files and certificate found by the relative URLs it uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sealing_page_is_reachable_through_the_service_proxy() {
    use http_body_util::BodyExt as _;
    let ctl = Controller::start("online-page").await;
    let base = format!(
        "/api/v1/namespaces/{}/services/http:{SERVICE}:{PORT_NAME}/proxy/",
        ctl.ns.name()
    );
    let get = |path: String| {
        let client = ctl.client.clone();
        async move {
            let request = http::Request::get(path)
                .body(kube::client::Body::empty())
                .unwrap();
            let response = client.send(request).await.expect("proxied GET");
            let (parts, body) = response.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            (parts, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let (page, html) = get(base.clone()).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.headers["content-security-policy"],
        coffer_ui_csp(),
        "the CSP survives the proxy"
    );
    // NB: the proxy re-serializes HTML (rewriting absolute links; the page
    // has only relative ones), so `defer` arrives as `defer=""`.
    assert!(html.contains(r#"<script src="seal.js" defer"#), "{html}");
    let (script, js) = get(format!("{base}seal.js")).await;
    assert_eq!(script.status, 200);
    assert!(js.contains("RSA-OAEP"));
    let (_, pem) = get(format!("{base}v1/cert.pem")).await;
    assert_eq!(pem, ctl.newest_cert());
}

fn coffer_ui_csp() -> &'static str {
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}
