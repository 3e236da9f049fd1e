//! Hostile templates against the real API server, with the controller
//! running both controllers in-process (on the test's single-threaded
//! runtime, so anything that blocked it would stop everything):
//!
//! - the list bomb in a SealedSecret (no `encryptedData`) and in an
//!   ExternalSecret fails at once by a size limit, with a condition and an
//!   Event naming the key and the limit;
//! - renders that run to their deadline leave `/healthz`, the Lease renewal
//!   and other ExternalSecrets untouched while they run, then fail clearly;
//! - templates written to smuggle secret bytes into their error leave the
//!   same status, Events and log lines whatever the secret is.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coffer_api::SealedSecret;
use coffer_api::external::ExternalSecretCondition;
use coffer_controller::{Config, LeaseConfig, Running};
use coffer_template::Limits;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;

use crate::common::{TIMEOUT, World, eventually, get, secret_with_data, synced};

/// The bomb: 45 doublings of a list whose halves are shared.
const BOMB: &str = "{{ $a := list 1 }}{{ range 45 }}{{ $a = list $a $a }}{{ end }}";
/// A render that only its deadline stops.
const SLOW: &str = "{{ range 1000000000000 }}{{ end }}";
/// The deadline of the slow renders: long enough for the checks made while
/// they run, however loaded the machine.
const SLOW_DEADLINE: Duration = Duration::from_secs(20);

/// Server-side applies a namespaced object given as JSON.
async fn apply(world: &World, object: serde_json::Value) {
    let api_version = object["apiVersion"]
        .as_str()
        .expect("apiVersion")
        .to_owned();
    let kind = object["kind"].as_str().expect("kind").to_owned();
    let name = object["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let plural = format!("{}s", kind.to_lowercase());
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, &kind), &plural);
    let api: Api<DynamicObject> =
        Api::namespaced_with(world.client.clone(), world.ns.name(), &resource);
    let object: DynamicObject = serde_json::from_value(object).expect("object");
    api.patch(
        &name,
        &PatchParams::apply("coffer-test").force(),
        &Patch::Apply(&object),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {kind} {name}: {e}"));
}

/// Writes KV v2 data at `secret/<path>` in OpenBao.
async fn vault_put(world: &World, path: &str, data: serde_json::Value) {
    let vault = &world.env.vault;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/secret/data/{path}", vault.addr))
        .header("X-Vault-Token", &vault.token)
        .json(&serde_json::json!({ "data": data }))
        .send()
        .await
        .expect("openbao reachable");
    assert!(response.status().is_success(), "{}", response.status());
}

/// A SecretStore `vault` on OpenBao with the root token.
async fn vault_store(world: &World) {
    let ns = world.ns.name();
    apply(
        world,
        serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": { "name": "vault-token", "namespace": ns },
            "stringData": { "token": world.env.vault.token },
        }),
    )
    .await;
    apply(
        world,
        serde_json::json!({
            "apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
            "metadata": { "name": "vault", "namespace": ns },
            "spec": { "provider": { "vault": {
                "server": world.env.vault.addr, "path": "secret", "version": "v2",
                "auth": { "tokenSecretRef": { "name": "vault-token", "key": "token" } },
            } } },
        }),
    )
    .await;
}

/// An ExternalSecret `name` extracting Vault's `path`, with `template`
/// (`target.template.data`) if given.
async fn external_secret(world: &World, name: &str, path: &str, template: Option<(&str, &str)>) {
    let mut target = serde_json::json!({});
    if let Some((key, text)) = template {
        target = serde_json::json!({ "template": { "data": { key: text } } });
    }
    apply(
        world,
        serde_json::json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": { "name": name, "namespace": world.ns.name() },
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": { "name": "vault" },
                "target": target,
                "dataFrom": [ { "extract": { "key": path } } ],
            },
        }),
    )
    .await;
}

/// A SealedSecret `name` holding `data` sealed to the controller's key,
/// with one template entry.
async fn sealed_secret(
    world: &World,
    running: &Running,
    name: &str,
    data: &[(&str, &str)],
    template: (&str, &str),
) {
    let key = running.context.keys.newest().expect("a key");
    let mut sealed = coffer_sealed::seal_secret(
        &world.secret(name, data),
        key.certificate().public_key(),
        None,
    )
    .expect("seal");
    sealed.spec.template.get_or_insert_default().data = Some(
        [(template.0.to_owned(), Some(template.1.to_owned()))]
            .into_iter()
            .collect(),
    );
    let _: SealedSecret = world
        .sealed_secrets()
        .create(&PostParams::default(), &sealed)
        .await
        .expect("create SealedSecret");
}

/// The ExternalSecret's Ready condition once `pred` holds for it.
/// Ready is False because of a template, not because the controller
/// has not seen the store yet (its cache may lag the store's creation).
fn failed_on_template(c: &ExternalSecretCondition) -> bool {
    c.status == "False" && c.message.as_deref().is_some_and(|m| m.contains("template"))
}

async fn ready(
    world: &World,
    name: &str,
    pred: impl Fn(&ExternalSecretCondition) -> bool,
) -> ExternalSecretCondition {
    let api: Api<coffer_api::ExternalSecret> =
        Api::namespaced(world.client.clone(), world.ns.name());
    eventually(&format!("ExternalSecret {name}'s Ready condition"), || {
        let api = api.clone();
        let pred = &pred;
        async move {
            let es = api.get_opt(name).await.ok().flatten()?;
            es.status?
                .conditions
                .into_iter()
                .find(|c| c.type_ == "Ready")
                .filter(|c| pred(c))
        }
    })
    .await
}

/// (reason, message) of the Warning Events on the object `name`.
async fn warnings(world: &World, name: &str) -> BTreeSet<(String, String)> {
    let api: Api<Event> = Api::namespaced(world.client.clone(), world.ns.name());
    let params = ListParams::default().fields(&format!("involvedObject.name={name}"));
    api.list(&params)
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

/// The Lease's `spec.renewTime`, as text.
async fn renew_time(world: &World, lease: &str) -> Option<String> {
    let api: Api<Lease> = Api::namespaced(world.client.clone(), world.ctrl_ns.name());
    let lease = api.get_opt(lease).await.ok()??;
    Some(format!("{:?}", lease.spec?.renew_time?.0))
}

#[tokio::test]
async fn template_bombs_fail_fast_and_slow_renders_never_stall_http_the_lease_or_other_objects() {
    let world = World::new("bombs").await;
    let ns = world.ns.name().to_owned();
    // Budgets off, so only the value size stops the bomb and only the
    // deadline the slow renders.
    let limits = Limits {
        max_steps: u64::MAX,
        max_total_bytes: usize::MAX,
        max_values: u64::MAX,
        max_duration: SLOW_DEADLINE,
        ..Limits::default()
    };
    let config = Config {
        leader_election: Some(LeaseConfig {
            duration: Duration::from_secs(6),
            grace: Duration::from_secs(3),
            ..LeaseConfig::new("bombs", world.ctrl_ns.name())
        }),
        template_limits: limits,
        external_secrets: Some(coffer_external::Config {
            namespaces: vec![ns.clone()],
            cluster_external_secrets: false,
            template_limits: limits,
            ..coffer_external::Config::default()
        }),
        ..world.config()
    };
    let running = world.start_with(config).await;
    tokio::time::timeout(TIMEOUT, running.leadership.until_leader())
        .await
        .expect("the controller leads");
    let keys = running.context.keys.clone();
    eventually("the leader's sealing key", || {
        let keys = keys.clone();
        async move { keys.newest().ok() }
    })
    .await;
    vault_put(
        &world,
        &format!("{ns}/app"),
        serde_json::json!({"token": "t-1"}),
    )
    .await;
    vault_store(&world).await;
    let path = format!("{ns}/app");

    // The bomb, next to objects that must converge as usual.
    sealed_secret(&world, &running, "bomb", &[], ("x", BOMB)).await;
    world
        .create_sealed(&running, &world.secret("good", &[("password", "pw")]))
        .await;
    external_secret(&world, "es-bomb", &path, Some(("x", BOMB))).await;
    external_secret(&world, "es-good", &path, None).await;

    let limit = "a value exceeds 4194304 bytes or elements";
    let condition = synced(&world, "bomb", "False").await;
    let message = condition.message.unwrap_or_default();
    assert_eq!(condition.reason.as_deref(), Some("ErrUnsealFailed"));
    assert!(
        message.contains("template key \"x\"") && message.contains(limit),
        "{message}"
    );
    secret_with_data(&world, "good", &[("password", "pw")]).await;
    let condition = ready(&world, "es-bomb", failed_on_template).await;
    let message = condition.message.unwrap_or_default();
    assert!(
        message.contains("template x:") && message.contains(limit),
        "{message}"
    );
    secret_with_data(&world, "es-good", &[("token", "t-1")]).await;
    for (name, reason) in [("bomb", "ErrUnsealFailed"), ("es-bomb", "UpdateFailed")] {
        let events = eventually(&format!("a {reason} Event on {name}"), || async {
            let w = warnings(&world, name).await;
            w.iter()
                .any(|(r, m)| r == reason && m.contains(limit))
                .then_some(w)
        })
        .await;
        assert!(!events.is_empty());
    }

    // Two renders that run until their deadline hold the render pool...
    sealed_secret(&world, &running, "slow", &[], ("x", SLOW)).await;
    external_secret(&world, "es-slow", &path, Some(("x", SLOW))).await;
    let renders = running.context.renders.clone();
    eventually("both slow renders to run", || {
        let renders = renders.clone();
        async move { (renders.running() == 2).then_some(()) }
    })
    .await;
    // ... while HTTP answers, the Lease is renewed and other
    // ExternalSecrets sync: none of it waits for them.
    let base = format!("http://{}", running.listen_addr.unwrap());
    let (status, _) = get(&format!("{base}/healthz")).await.expect("healthz");
    assert_eq!(status, 200);
    let (status, _) = get(&format!("http://{}/metrics", running.metrics_addr.unwrap()))
        .await
        .expect("metrics");
    assert_eq!(status, 200);
    let mut renewed = renew_time(&world, "bombs").await;
    for _ in 0..2 {
        let before = renewed.clone();
        renewed = eventually("the Lease to be renewed", || async {
            renew_time(&world, "bombs")
                .await
                .filter(|t| Some(t) != before.as_ref())
                .map(Some)
        })
        .await;
    }
    external_secret(&world, "es-meanwhile", &path, None).await;
    secret_with_data(&world, "es-meanwhile", &[("token", "t-1")]).await;
    assert_eq!(
        renders.running(),
        2,
        "the slow renders ended before the checks did: they did not run alongside them"
    );
    let slow = world.sealed_secrets().get("slow").await.unwrap();
    assert!(slow.status.is_none(), "the slow render is still running");

    // Then each fails with a condition naming the key and the deadline.
    let deadline = "rendering takes longer than 20000 ms";
    let condition = synced(&world, "slow", "False").await;
    let message = condition.message.unwrap_or_default();
    assert!(
        message.contains("template key \"x\"") && message.contains(deadline),
        "{message}"
    );
    let condition = ready(&world, "es-slow", failed_on_template).await;
    let message = condition.message.unwrap_or_default();
    assert!(
        message.contains("template x:") && message.contains(deadline),
        "{message}"
    );
}

/// Log output of this test binary, captured from the first call on
/// (through coffer-testenv, whose subscriber also feeds the leak scan).
fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    coffer_testenv::leak::captured_log()
}

/// The template error lines about `name` in the log, with `name` replaced
/// by `as_name` and the per-attempt fields dropped.
fn error_lines(log: &str, name: &str, as_name: &str) -> BTreeSet<String> {
    log.lines()
        .filter(|l| l.contains(&format!("/{name} ")) && l.contains("template"))
        .map(|l| {
            l.replace(name, as_name)
                .split(' ')
                .filter(|w| !w.starts_with("attempt=") && !w.starts_with("retry_in="))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Two secrets that differ in every way a template can measure.
const SECRETS: [[(&str, &str); 4]; 2] = [
    [
        ("password", "TOPSECRET-value-42"),
        ("pin", "4242"),
        ("json", "{\"n\": 42, \"t\": 42}"),
        ("broken", "{\"k\": 42,"),
    ],
    [
        ("password", "Another-pass-917"),
        ("pin", "917"),
        ("json", "{\"n\": 7, \"t\": true}"),
        ("broken", "{\"a\": [1,2,3], \"b\":"),
    ],
];

/// Templates that smuggle a byte, a length, a parsed number, a comparison,
/// a JSON type or a parser offset into their error.
const LEAKY: &[&str] = &[
    "{{ index (list) (index .password 0) }}",
    "{{ index (list) (len .password) }}",
    "{{ index (list) (atoi .pin) }}",
    "{{ index (list) (ternary 1 2 (lt .password \"M\")) }}",
    "{{ substr (index .password 0) 1 .password }}",
    "{{ mustFromJson .broken }}",
    "{{ (fromJson .json).t.x }}",
];

#[tokio::test]
async fn template_errors_in_status_events_and_log_are_the_same_whatever_the_secret() {
    let log = captured_log();
    let world = World::new("leaks").await;
    let ns = world.ns.name().to_owned();
    let config = Config {
        external_secrets: Some(coffer_external::Config {
            namespaces: vec![ns.clone()],
            cluster_external_secrets: false,
            ..coffer_external::Config::default()
        }),
        ..world.config()
    };
    let running = world.start_with(config).await;
    vault_store(&world).await;
    for (d, secret) in SECRETS.iter().enumerate() {
        let data: serde_json::Map<String, serde_json::Value> = secret
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        vault_put(&world, &format!("{ns}/data-{d}"), data.into()).await;
    }
    let names = |kind: &str, i: usize| [0, 1].map(|d| format!("{kind}-{i}-{d}"));
    for (i, template) in LEAKY.iter().enumerate() {
        for (d, name) in names("ss", i).iter().enumerate() {
            sealed_secret(&world, &running, name, &SECRETS[d], ("out", template)).await;
        }
        for (d, name) in names("es", i).iter().enumerate() {
            let path = format!("{ns}/data-{d}");
            external_secret(&world, name, &path, Some(("out", template))).await;
        }
    }

    for (i, template) in LEAKY.iter().enumerate() {
        let [ss_a, ss_b] = names("ss", i);
        let [es_a, es_b] = names("es", i);
        let a = synced(&world, &ss_a, "False")
            .await
            .message
            .unwrap_or_default();
        let b = synced(&world, &ss_b, "False")
            .await
            .message
            .unwrap_or_default();
        assert_eq!(
            a.replace(&ss_a, &ss_b),
            b,
            "{template}: SealedSecret status"
        );
        let a = ready(&world, &es_a, failed_on_template).await.message;
        let b = ready(&world, &es_b, failed_on_template).await.message;
        assert_eq!(a, b, "{template}: ExternalSecret status");
        for (one, two) in [(&ss_a, &ss_b), (&es_a, &es_b)] {
            let renamed = |w: BTreeSet<(String, String)>| -> BTreeSet<(String, String)> {
                w.into_iter()
                    .map(|(r, m)| (r, m.replace(one.as_str(), two)))
                    .collect()
            };
            let (wa, wb) = eventually(&format!("Warning Events on {one} and {two}"), || async {
                let (wa, wb) = (warnings(&world, one).await, warnings(&world, two).await);
                (!wa.is_empty() && !wb.is_empty()).then_some((wa, wb))
            })
            .await;
            assert_eq!(renamed(wa), wb, "{template}: Events");
        }
        for (one, two) in [(&ss_a, &ss_b), (&es_a, &es_b)] {
            // Both objects log each failure; wait until both have, then the
            // lines must match (they never would if one carried a byte).
            let deadline = tokio::time::Instant::now() + TIMEOUT;
            loop {
                let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
                let (la, lb) = (error_lines(&text, one, two), error_lines(&text, two, two));
                if !la.is_empty() && la == lb {
                    break;
                }
                if tokio::time::Instant::now() > deadline {
                    assert_eq!(la, lb, "{template}: log lines about {one} and {two}");
                    panic!("{template}: no log line about {one} and {two}");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    for secret in ["TOPSECRET", "Another-pass"] {
        assert!(!text.contains(secret), "the log shows {secret}");
    }
    drop(running);
}
