//! One environment for the whole binary, taken in turns; per test: two
//! namespaces (objects, controller keys), a fault proxy in front of each
//! provider, the stores that read through them, and helpers to wait.

use std::future::Future;
use std::time::{Duration, Instant};

use coffer_testenv::external::{self, AwsCredentials, StoreManifest, VaultLogin};
use coffer_testenv::{FaultProxy, TestEnv, TestNamespace};
use tokio::sync::{Mutex, MutexGuard, OnceCell};

/// Longest wait for a recovery (or any other condition).
pub const TIMEOUT: Duration = Duration::from_secs(180);

static ENV: OnceCell<&'static TestEnv> = OnceCell::const_new();
/// The tests restart the environment's servers: one at a time.
static TURN: Mutex<()> = Mutex::const_new(());

/// A test's share of the environment.
pub struct Fixture {
    pub env: &'static TestEnv,
    pub client: kube::Client,
    pub ns: TestNamespace,
    pub ctrl_ns: TestNamespace,
    /// In front of OpenBao: the `vault` SecretStore's server.
    pub vault_proxy: FaultProxy,
    /// In front of moto: the controller's `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
    pub aws_proxy: FaultProxy,
    /// SealedSecrets in the workload, and as many ExternalSecrets.
    pub n: usize,
    _turn: MutexGuard<'static, ()>,
}

impl Fixture {
    /// Waits for this test's turn, then sets up its namespaces, proxies and
    /// stores.
    pub async fn new(test: &str) -> Fixture {
        let turn = TURN.lock().await;
        let env = *ENV
            .get_or_init(|| async {
                let env = TestEnv::start()
                    .await
                    .unwrap_or_else(|e| panic!("fault environment: {}", chain(&e)));
                &*Box::leak(Box::new(env))
            })
            .await;
        let fixture = Fixture {
            env,
            client: env.client().await,
            ns: env.namespace(test).await,
            ctrl_ns: env.namespace(&format!("{test}-ctrl")).await,
            vault_proxy: FaultProxy::start(&env.vault.addr).await.unwrap(),
            aws_proxy: FaultProxy::start(&env.aws.endpoint).await.unwrap(),
            n: workload_size(),
            _turn: turn,
        };
        fixture.stores().await;
        fixture
    }

    /// SecretStores `vault` (token login) and `aws` (static keys), each
    /// reaching its provider through its proxy.
    async fn stores(&self) {
        let (client, ns) = (&self.client, self.ns.name());
        let secret = |name: &str, data: serde_json::Value| {
            serde_json::json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name}, "stringData": data,
            })
            .to_string()
        };
        let token = serde_json::json!({"token": self.env.vault.token});
        external::apply(client, ns, &secret("vault-token", token)).await;
        let keys = serde_json::json!({"access-key": "testing", "secret-access-key": "testing"});
        external::apply(client, ns, &secret("aws-creds", keys)).await;
        let login = VaultLogin::token("vault-token", "token");
        let vault = StoreManifest::vault("vault", &self.vault_proxy.url(), "secret", login)
            .provider("version", "v2");
        external::apply(client, ns, &vault.to_string()).await;
        let aws = StoreManifest::aws(
            "aws",
            &self.env.aws.region,
            AwsCredentials::static_keys("aws-creds"),
        );
        external::apply(client, ns, &aws.to_string()).await;
    }
}

/// `COFFER_FAULTS_N`, default 60.
pub fn workload_size() -> usize {
    std::env::var("COFFER_FAULTS_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}

/// Polls `probe` every 200 ms until it returns `Ok`, failing the test after
/// [`TIMEOUT`] with `what` and the last `Err`.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) if Instant::now() > deadline => {
                panic!("timed out after {TIMEOUT:?} waiting for {what}: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Prints the figure every fault reports, also when the test passes and
/// its output is captured.
pub fn report(fault: &str, recovered: Duration, objects: usize) {
    note(&format!(
        "fault {fault}: recovered in {:.2} s ({objects} objects)",
        recovered.as_secs_f64()
    ));
}

/// A line to stderr that the test harness does not capture (it captures
/// `eprintln!`, not writes to the stream).
pub fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}
