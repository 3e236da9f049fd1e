//! Bitnami's controller flags against a real API server, each through the
//! same `flags::Args::config` the binary uses: `--update-status=false`
//! writes no status; `--key-ttl`, `--my-cn`, `--privatekey-annotations`
//! and `--privatekey-labels` shape the generated key; keys are ordered by
//! certificate NotBefore, so a restored older key does not become the
//! sealing key; `--all-namespaces=false` and `--additional-namespaces`
//! scope the watch; `--sealed-secrets=false` makes no key and serves no
//! certificate.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use coffer_controller::flags::{Args, Environment};
use coffer_controller::{Config, Running};
use coffer_crypto::{KeyOptions, KeyPair, KeySize};
use coffer_sealed::key_secret;
use common::{World, eventually, get, secret_with_data};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};

/// The Config the binary would build from `flags`, with the controller's
/// namespace coming from `POD_NAMESPACE` (as in a pod), 2048-bit keys (for
/// speed), no leader election and local ports.
fn config_from_flags(world: &World, flags: &[&str]) -> Config {
    let mut argv = vec![
        "coffer-controller",
        "--key-size=2048",
        "--leader-elect=false",
    ];
    argv.extend_from_slice(flags);
    let args = Args::try_parse_from(argv).expect("flags parse");
    let env = Environment {
        pod_namespace: Some(world.ctrl_ns.name().to_owned()),
        service_account_namespace: "/nonexistent".into(),
    };
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    Config {
        listen_addr: Some(local),
        metrics_addr: Some(local),
        external_secrets: None,
        ..args.config(&env).expect("flags are honoured")
    }
}

fn key_secrets(world: &World) -> Api<Secret> {
    Api::namespaced(world.client.clone(), world.ctrl_ns.name())
}

/// Waits until `n` SealedSecret reconciles have finished (status writes
/// included) successfully.
async fn reconciles_done(running: &Running, n: u64) {
    let metrics = running.context.metrics.clone();
    eventually(&format!("{n} finished reconciles"), || {
        let page = metrics.render();
        async move {
            let done: u64 = page
                .lines()
                .find_map(|l| {
                    l.strip_prefix(
                        "coffer_reconcile_duration_seconds_count{controller=\"sealedsecret\",\
                         result=\"success\"} ",
                    )
                })?
                .parse()
                .ok()?;
            (done >= n).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn update_status_false_unseals_without_writing_status() {
    let world = World::new("flag-status").await;
    let mut config = config_from_flags(&world, &["--update-status=false"]);
    config.watch_namespaces = vec![world.ns.name().to_owned()];
    let running = world.start_with(config).await;
    world
        .create_sealed(&running, &world.secret("db", &[("password", "hunter2")]))
        .await;
    secret_with_data(&world, "db", &[("password", "hunter2")]).await;
    reconciles_done(&running, 1).await;
    let sealed = world.sealed_secrets().get("db").await.unwrap();
    assert!(sealed.status.is_none(), "{:?}", sealed.status);
}

#[tokio::test]
async fn generated_key_has_the_flags_ttl_common_name_annotations_and_labels() {
    let world = World::new("flag-keygen").await;
    let config = config_from_flags(
        &world,
        &[
            "--key-ttl=1h30m",
            "--my-cn=sealer.example",
            "--privatekey-annotations=backup.example/policy=daily,owner=platform",
            "--privatekey-labels=team=platform,sealedsecrets.bitnami.com/sealed-secrets-key=x",
        ],
    );
    let running = world.start_with(config).await;
    let list = key_secrets(&world)
        .list(&ListParams::default().labels(&key_secret::selector()))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    let stored = &list.items[0];
    let annotations = stored.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations["backup.example/policy"], "daily");
    assert_eq!(annotations["owner"], "platform");
    let labels = stored.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels["team"], "platform");
    assert_eq!(
        labels[key_secret::LABEL],
        "active",
        "the active-key label cannot be overridden (as Bitnami)"
    );

    let data = stored.data.as_ref().unwrap();
    let cert =
        coffer_crypto::Certificate::from_pem(std::str::from_utf8(&data["tls.crt"].0).unwrap())
            .unwrap();
    assert_eq!(cert.common_name(), Some("sealer.example"));
    let validity = cert.not_after().duration_since(cert.not_before()).unwrap();
    assert_eq!(validity, Duration::from_secs(5400));
    assert_eq!(
        running.context.keys.newest().unwrap().certificate().der(),
        cert.der()
    );
}

#[tokio::test]
async fn restored_older_key_does_not_become_the_sealing_key() {
    let world = World::new("flag-order").await;
    let older = KeyPair::generate(&KeyOptions {
        size: KeySize::Rsa2048,
        ..KeyOptions::default()
    })
    .unwrap();
    // NB: certificate times have whole seconds; the controller's key must
    // be made in a later one.
    let second = Timestamp::now().as_second();
    while Timestamp::now().as_second() <= second {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let running = world.start_with(config_from_flags(&world, &[])).await;
    let current = running.context.keys.newest().unwrap();
    // NB: and the restored Secret in a later second than the current key,
    // so that by creation time it would be the newest.
    let second = Timestamp::now().as_second();
    while Timestamp::now().as_second() <= second {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A backup of the older key is restored: its Secret is the newest.
    let metadata = ObjectMeta {
        name: Some("sealed-secrets-keyrestored".into()),
        namespace: Some(world.ctrl_ns.name().into()),
        ..ObjectMeta::default()
    };
    key_secrets(&world)
        .create(
            &PostParams::default(),
            &key_secret::build(&older, metadata).unwrap().into_secret(),
        )
        .await
        .unwrap();
    let keys = running.context.keys.clone();
    eventually("the restored key to be loaded", || {
        let keys = keys.clone();
        async move { (keys.keys().len() == 2).then_some(()) }
    })
    .await;

    assert_eq!(
        running.context.keys.newest().unwrap().pair.fingerprint(),
        current.pair.fingerprint(),
        "CertNotBefore (Bitnami's default) keeps the newer certificate sealing"
    );
    let url = format!("http://{}/v1/cert.pem", running.listen_addr.unwrap());
    let (status, pem) = get(&url).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(pem, current.certificate().to_pem());
}

#[tokio::test]
async fn all_namespaces_false_and_additional_namespaces_scope_the_watch() {
    let world = World::new("flag-scope").await;
    let extra = world.env.namespace("flag-scope-extra").await;
    let outside = world.env.namespace("flag-scope-out").await;
    let running = world
        .start_with(config_from_flags(
            &world,
            &[
                "--all-namespaces=false",
                "--additional-namespaces",
                extra.name(),
            ],
        ))
        .await;
    let key = running.context.keys.newest().unwrap();
    let seal_in = |ns: &str| {
        let mut secret = world.secret("db", &[("password", ns)]);
        secret.metadata.namespace = Some(ns.to_owned());
        coffer_sealed::seal_secret(&secret, key.certificate().public_key(), None).unwrap()
    };
    // Outside first: once the other two are unsealed, the controller has
    // had every chance to see it.
    let sealed_api =
        |ns: &str| Api::<coffer_api::SealedSecret>::namespaced(world.client.clone(), ns);
    for ns in [outside.name(), world.ctrl_ns.name(), extra.name()] {
        sealed_api(ns)
            .create(&PostParams::default(), &seal_in(ns))
            .await
            .unwrap();
    }
    for ns in [world.ctrl_ns.name(), extra.name()] {
        let secrets: Api<Secret> = Api::namespaced(world.client.clone(), ns);
        eventually(&format!("Secret db in {ns}"), || {
            let secrets = secrets.clone();
            async move { secrets.get_opt("db").await.unwrap() }
        })
        .await;
    }
    reconciles_done(&running, 2).await;
    let out: Api<Secret> = Api::namespaced(world.client.clone(), outside.name());
    assert!(out.get_opt("db").await.unwrap().is_none());
    assert!(
        sealed_api(outside.name())
            .get("db")
            .await
            .unwrap()
            .status
            .is_none()
    );
}

#[tokio::test]
async fn sealed_secrets_off_makes_no_key_and_serves_no_certificate() {
    let world = World::new("flag-sealed-off").await;
    let running = world
        .start_with(config_from_flags(&world, &["--sealed-secrets=false"]))
        .await;
    let base = format!("http://{}", running.listen_addr.unwrap());
    // No certificate, so no sealing page either.
    for (path, want) in [
        ("/healthz", 200),
        ("/readyz", 200),
        ("/v1/cert.pem", 404),
        ("/", 404),
    ] {
        let (status, _) = get(&format!("{base}{path}")).await.unwrap();
        assert_eq!(status, want, "{path}");
    }
    let client = reqwest::Client::new();
    for path in ["/v1/verify", "/v1/rotate"] {
        let status = client
            .post(format!("{base}{path}"))
            .body("{}")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 404, "{path}");
    }
    let list = key_secrets(&world)
        .list(&ListParams::default().labels(&key_secret::selector()))
        .await
        .unwrap();
    assert!(list.items.is_empty(), "no key Secret is created");
    assert!(running.context.keys.keys().is_empty());
}

#[tokio::test]
async fn condition_and_http_metrics_have_bitnamis_names_and_labels() {
    let world = World::new("flag-metrics").await;
    let mut config = config_from_flags(&world, &[]);
    config.watch_namespaces = vec![world.ns.name().to_owned()];
    let running = world.start_with(config).await;
    let mut secret = world.secret("db", &[("password", "hunter2")]);
    secret.metadata.labels =
        Some([("app.kubernetes.io/instance".to_owned(), "prod".to_owned())].into());
    let key = running.context.keys.newest().unwrap();
    let mut sealed =
        coffer_sealed::seal_secret(&secret, key.certificate().public_key(), None).unwrap();
    sealed.metadata.labels = secret.metadata.labels.clone();
    world
        .sealed_secrets()
        .create(&PostParams::default(), &sealed)
        .await
        .unwrap();
    secret_with_data(&world, "db", &[("password", "hunter2")]).await;
    reconciles_done(&running, 1).await;
    let api = format!("http://{}", running.listen_addr.unwrap());
    assert_eq!(get(&format!("{api}/v1/cert.pem")).await.unwrap().0, 200);

    let metrics = format!("http://{}/metrics", running.metrics_addr.unwrap());
    let (_, page) = get(&metrics).await.unwrap();
    let condition = format!(
        "sealed_secrets_controller_condition_info{{condition=\"Synced\",name=\"db\",namespace=\"{}\",ss_app_kubernetes_io_instance=\"prod\"}} 1\n",
        world.ns.name()
    );
    assert!(page.contains(&condition), "{page}");
    assert!(
        page.contains(
            "sealed_secrets_controller_http_requests_total{code=\"200\",method=\"get\",path=\"/v1/cert.pem\"} 1\n"
        ),
        "{page}"
    );
    assert!(
        page.contains(
            "sealed_secrets_controller_http_request_duration_seconds_count{method=\"get\",path=\"/v1/cert.pem\"} 1\n"
        ),
        "{page}"
    );

    // Deleted: its condition goes (as Bitnami's UnregisterCondition).
    world
        .sealed_secrets()
        .delete("db", &Default::default())
        .await
        .unwrap();
    eventually("the deleted SealedSecret's condition to go", || {
        let metrics = metrics.clone();
        let condition = condition.clone();
        async move {
            let (_, page) = get(&metrics).await?;
            (!page.contains(&condition)).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn metrics_omit_secret_labels_exports_no_condition_info() {
    let world = World::new("flag-omit").await;
    let mut config = config_from_flags(&world, &["--metrics-omit-secret-labels"]);
    config.watch_namespaces = vec![world.ns.name().to_owned()];
    let running = world.start_with(config).await;
    world
        .create_sealed(&running, &world.secret("db", &[("password", "hunter2")]))
        .await;
    secret_with_data(&world, "db", &[("password", "hunter2")]).await;
    reconciles_done(&running, 1).await;
    let metrics = format!("http://{}/metrics", running.metrics_addr.unwrap());
    let (_, page) = get(&metrics).await.unwrap();
    assert!(!page.contains("condition_info"), "{page}");
    assert!(
        !page.contains(world.ns.name()) || !page.contains("name=\"db\""),
        "{page}"
    );
}
