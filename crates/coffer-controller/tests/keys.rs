//! The key registry against a real API server: Bitnami-format key Secrets
//! are created, adopted at start and picked up while running; the HTTP
//! endpoints serve the newest certificate and metrics.

mod common;

use coffer_crypto::{KeyOptions, KeyPair, KeySize};
use coffer_sealed::key_secret;
use common::{World, eventually, secret_with_data};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};

fn bitnami_key_secret(namespace: &str, name: &str, pair: &KeyPair) -> Secret {
    let metadata = ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        ..ObjectMeta::default()
    };
    key_secret::build(pair, metadata).unwrap().into_secret()
}

#[tokio::test]
async fn first_start_creates_one_bitnami_format_key_secret() {
    let world = World::new("keygen").await;
    let running = world.start().await;
    let api: Api<Secret> = Api::namespaced(world.client.clone(), world.ctrl_ns.name());
    let list = api
        .list(&ListParams::default().labels(&key_secret::selector()))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    let key = &list.items[0];
    assert!(
        key.metadata
            .name
            .as_deref()
            .unwrap()
            .starts_with("sealed-secrets-key-")
    );
    assert_eq!(key.type_.as_deref(), Some("kubernetes.io/tls"));
    let data = key.data.as_ref().unwrap();
    let pem = std::str::from_utf8(&data["tls.key"].0).unwrap();
    assert!(
        pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "PKCS#1 like Bitnami"
    );
    let pair = KeyPair::from_pem(pem, std::str::from_utf8(&data["tls.crt"].0).unwrap()).unwrap();
    assert_eq!(
        pair.fingerprint(),
        running.context.keys.newest().unwrap().pair.fingerprint()
    );
}

#[tokio::test]
async fn hand_made_bitnami_key_secret_is_adopted_while_running() {
    let world = World::new("adopt").await;
    let running = world.start().await;
    let pair = KeyPair::generate(&KeyOptions {
        size: KeySize::Rsa2048,
        ..KeyOptions::default()
    })
    .unwrap();
    let api: Api<Secret> = Api::namespaced(world.client.clone(), world.ctrl_ns.name());
    api.create(
        &PostParams::default(),
        &bitnami_key_secret(world.ctrl_ns.name(), "restored-key", &pair),
    )
    .await
    .unwrap();

    let keys = running.context.keys.clone();
    let fingerprint = pair.fingerprint();
    eventually("the hand-made key to be loaded", || {
        let keys = keys.clone();
        async move {
            keys.keys()
                .iter()
                .any(|k| k.pair.fingerprint() == fingerprint)
                .then_some(())
        }
    })
    .await;
    // NB: which of the two is newest depends on creation times with
    // one-second resolution; ordering is unit-tested in sealed::keys.
    assert_eq!(
        running.context.keys.keys().len(),
        2,
        "the generated key stays"
    );

    // A value sealed to the adopted key (offline, as from a backup) unseals.
    let sealed = coffer_sealed::seal_secret(
        &world.secret("db", &[("password", "hunter2")]),
        pair.certificate().public_key(),
        None,
    )
    .unwrap();
    world
        .sealed_secrets()
        .create(&PostParams::default(), &sealed)
        .await
        .unwrap();
    secret_with_data(&world, "db", &[("password", "hunter2")]).await;
}

#[tokio::test]
async fn http_serves_certificate_verify_rotate_health_and_metrics() {
    let world = World::new("http").await;
    let running = world
        .start_with(coffer_controller::Config {
            rate_limit: None,
            ..world.config()
        })
        .await;
    let base = format!("http://{}", running.listen_addr.unwrap());
    let http = reqwest::Client::new();

    let pem = http
        .get(format!("{base}/v1/cert.pem"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let newest = running.context.keys.newest().unwrap();
    assert_eq!(pem, newest.certificate().to_pem());
    for path in ["/healthz", "/readyz"] {
        let status = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{path}");
    }

    let good = coffer_sealed::seal_secret(
        &world.secret("db", &[("password", "hunter2")]),
        newest.certificate().public_key(),
        None,
    )
    .unwrap();
    let mut bad = good.clone();
    bad.metadata.name = Some("other".into());
    let verify = |s| {
        let http = http.clone();
        let url = format!("{base}/v1/verify");
        async move { http.post(url).json(&s).send().await.unwrap().status() }
    };
    assert_eq!(verify(good.clone()).await, 200);
    assert_eq!(verify(bad).await, 409);
    // Not a decryption oracle: a template that fails only when the value
    // equals a guess gets the same answer for a right and a wrong guess
    // (the template is not rendered for a caller).
    for guess in ["wrong", "hunter2"] {
        let mut probe = good.clone();
        probe.spec.template.get_or_insert_default().data = Some(
            [(
                "probe".to_owned(),
                Some(format!(
                    "{{{{ if eq .password {guess:?} }}}}{{{{ index .password 99 }}}}{{{{ end }}}}"
                )),
            )]
            .into(),
        );
        assert_eq!(verify(probe).await, 200, "guess {guess}");
    }

    let rotated: coffer_api::SealedSecret = http
        .post(format!("{base}/v1/rotate"))
        .json(&good)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(rotated.spec.encrypted_data, good.spec.encrypted_data);
    let opened = coffer_sealed::unseal(&rotated, &running.context.keys.private_keys()).unwrap();
    assert_eq!(
        opened.secret.data.as_ref().unwrap()["password"].0,
        b"hunter2"
    );

    let metrics = http
        .get(format!("http://{}/metrics", running.metrics_addr.unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sealed_secrets_controller_unseal_requests_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains("coffer_unseal_decryptions_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn key_is_renewed_after_the_renew_period_and_old_values_still_unseal() {
    let world = World::new("renew").await;
    let mut config = world.config();
    config.key_renew_period = std::time::Duration::from_secs(2);
    let running = coffer_controller::start(world.client.clone(), config)
        .await
        .unwrap();
    let first = running.context.keys.newest().unwrap();
    let sealed = coffer_sealed::seal_secret(
        &world.secret("db", &[("password", "hunter2")]),
        first.certificate().public_key(),
        None,
    )
    .unwrap();

    let keys = running.context.keys.clone();
    eventually("a renewed key", || {
        let keys = keys.clone();
        async move { (keys.keys().len() >= 2).then_some(()) }
    })
    .await;
    let api: Api<Secret> = Api::namespaced(world.client.clone(), world.ctrl_ns.name());
    let stored = api
        .list(&ListParams::default().labels(&key_secret::selector()))
        .await
        .unwrap();
    assert!(
        stored.items.len() >= 2,
        "renewed keys are stored as key Secrets"
    );
    assert_ne!(
        running.context.keys.newest().unwrap().pair.fingerprint(),
        first.pair.fingerprint()
    );

    world
        .sealed_secrets()
        .create(&PostParams::default(), &sealed)
        .await
        .unwrap();
    secret_with_data(&world, "db", &[("password", "hunter2")]).await;
}

#[tokio::test]
async fn key_cutoff_time_after_the_newest_key_makes_a_new_key_at_start() {
    let world = World::new("cutoff").await;
    let first = world.start().await;
    let original = first.context.keys.newest().unwrap();
    drop(first);

    // A cutoff before the key was made changes nothing (Bitnami: "create a
    // new key if the latest one is older than this cutoff time").
    let mut config = world.config();
    config.key_cutoff = Some(
        original
            .created
            .checked_sub(k8s_openapi::jiff::SignedDuration::from_hours(1))
            .unwrap(),
    );
    let second = world.start_with(config.clone()).await;
    assert_eq!(second.context.keys.keys().len(), 1);
    drop(second);

    // A cutoff after it: a new key, which now seals; the old one stays.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let now = k8s_openapi::jiff::Timestamp::now();
    // Whole seconds, like the RFC 1123 flag and creation timestamps.
    config.key_cutoff = Some(k8s_openapi::jiff::Timestamp::from_second(now.as_second()).unwrap());
    let third = world.start_with(config).await;
    let keys = third.context.keys.keys();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_ne!(
        third.context.keys.newest().unwrap().pair.fingerprint(),
        original.pair.fingerprint()
    );
    let api: Api<Secret> = Api::namespaced(world.client.clone(), world.ctrl_ns.name());
    let stored = api
        .list(&ListParams::default().labels(&key_secret::selector()))
        .await
        .unwrap();
    assert_eq!(stored.items.len(), 2, "the new key is stored");
}

#[tokio::test]
async fn verify_and_rotate_are_rate_limited_with_retry_after() {
    let world = World::new("rate-limit").await;
    let limit = coffer_controller::RateLimit {
        per_second: 0.5,
        burst: 2,
    };
    let running = world
        .start_with(coffer_controller::Config {
            rate_limit: Some(limit),
            ..world.config()
        })
        .await;
    let base = format!("http://{}", running.listen_addr.unwrap());
    let http = reqwest::Client::new();
    let newest = running.context.keys.newest().unwrap();
    let sealed = coffer_sealed::seal_secret(
        &world.secret("db", &[("password", "hunter2")]),
        newest.certificate().public_key(),
        None,
    )
    .unwrap();
    let post = |path: &str| http.post(format!("{base}{path}")).json(&sealed).send();
    assert_eq!(post("/v1/verify").await.unwrap().status(), 200);
    assert_eq!(post("/v1/rotate").await.unwrap().status(), 200);
    // The burst is spent: both endpoints say when to come back.
    for path in ["/v1/verify", "/v1/rotate"] {
        let refused = post(path).await.unwrap();
        assert_eq!(refused.status(), 429, "{path}");
        assert_eq!(refused.headers()["retry-after"], "2", "{path}");
    }
    // The certificate and health endpoints are not limited.
    for path in ["/v1/cert.pem", "/healthz"] {
        let status = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{path}");
    }
}
