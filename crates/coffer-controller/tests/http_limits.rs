//! The HTTP endpoints cannot be used to exhaust the controller: slow
//! clients are cut off by the read timeout, oversized requests are refused
//! before their body is read, connections are capped, one request cannot
//! ask for more than `--max-request-values` decryptions, and the rate limit
//! weighs requests by the RSA operations they cost. Real sockets, the
//! controller in-process against the real API server.

mod common;

use std::time::Duration;

use coffer_controller::{Config, HttpLimits, RateLimit, Running};
use coffer_crypto::KeySize;
use common::World;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous: the read timeout in these tests is 1 s.
const CUT_OFF_WITHIN: Duration = Duration::from_secs(30);

fn limits(read_timeout_secs: u64) -> HttpLimits {
    HttpLimits {
        read_timeout: Duration::from_secs(read_timeout_secs),
        ..HttpLimits::default()
    }
}

async fn start(world: &World, http_limits: HttpLimits, rate: Option<RateLimit>) -> Running {
    world
        .start_with(Config {
            rate_limit: rate,
            http_limits,
            metrics_addr: None,
            ..world.config()
        })
        .await
}

/// Reads what the server sends until it closes the connection, or fails
/// the test after [`CUT_OFF_WITHIN`].
async fn read_until_closed(stream: &mut TcpStream, what: &str) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(CUT_OFF_WITHIN, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "{what}: still open after {CUT_OFF_WITHIN:?}");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Sends `bytes` one at a time, 100 ms apart, until the server closes the
/// connection; returns what it answered.
async fn trickle(mut stream: TcpStream, head: &str, bytes: usize, what: &str) -> String {
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        for _ in 0..bytes {
            if writer.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(CUT_OFF_WITHIN, reader.read_to_end(&mut answer)).await;
    sender.abort();
    assert!(read.is_ok(), "{what}: still open after {CUT_OFF_WITHIN:?}");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_are_cut_off_by_the_read_timeout() {
    let world = World::new("http-slow").await;
    let running = start(&world, limits(1), None).await;
    let addr = running.listen_addr.unwrap();

    // Headers that never end (a byte every 100 ms for 100 s).
    let stream = TcpStream::connect(addr).await.unwrap();
    trickle(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: c\r\nX-Slow: ",
        1000,
        "slow headers",
    )
    .await;

    // A body that never ends: 408, well before it would have arrived.
    let stream = TcpStream::connect(addr).await.unwrap();
    let answer = trickle(
        stream,
        "POST /v1/verify HTTP/1.1\r\nHost: c\r\nContent-Length: 1000\r\n\r\n",
        1000,
        "slow body",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("--read-timeout"), "{answer}");

    // A connection that never sends anything is closed too.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_until_closed(&mut idle, "idle connection").await, "");
}

#[tokio::test]
async fn oversized_requests_are_refused_without_reading_their_body() {
    let world = World::new("http-large").await;
    // A long read timeout: an answer can only come from the size check.
    let running = start(&world, limits(600), None).await;
    let addr = running.listen_addr.unwrap();

    // A declared 100 MiB body, of which nothing is sent.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "POST /v1/verify HTTP/1.1\r\nHost: c\r\nContent-Length: 104857600\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(CUT_OFF_WITHIN, stream.read(&mut answer))
        .await
        .expect("answered before any of the body was sent")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than 4 MiB"), "{answer}");

    // A streamed (chunked) body is cut off once it passes the cap.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "POST /v1/rotate HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
        let mut sent = 0usize;
        while writer.write_all(chunk.as_bytes()).await.is_ok() {
            sent += 0x10000;
            if sent > 64 << 20 {
                break;
            }
        }
        sent
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(CUT_OFF_WITHIN, reader.read_to_end(&mut answer)).await;
    let sent = sender.await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(sent < 64 << 20, "the server read on until {sent} bytes");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_idle_ones_are_closed() {
    let world = World::new("http-conns").await;
    let running = start(
        &world,
        HttpLimits {
            max_connections: 2,
            ..limits(1)
        },
        None,
    )
    .await;
    let addr = running.listen_addr.unwrap();
    let mut idle = [
        TcpStream::connect(addr).await.unwrap(),
        TcpStream::connect(addr).await.unwrap(),
    ];
    // The third connection waits in the backlog, then is served once the
    // idle ones are closed by the read timeout.
    let mut third = TcpStream::connect(addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut third, "the third connection").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    for (i, stream) in idle.iter_mut().enumerate() {
        assert_eq!(
            read_until_closed(stream, &format!("idle connection {i}")).await,
            ""
        );
    }
}

/// A SealedSecret named `name` of `values` values, sealed to `key`.
fn sealed_with(
    world: &World,
    name: &str,
    values: usize,
    key: &coffer_crypto::PublicKey,
) -> coffer_api::SealedSecret {
    let data: Vec<(String, String)> = (0..values)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    let refs: Vec<(&str, &str)> = data.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    coffer_sealed::seal_secret(&world.secret(name, &refs), key, None).unwrap()
}

#[tokio::test]
async fn a_request_for_more_values_than_the_cap_is_refused_naming_the_limit() {
    let world = World::new("http-values").await;
    let running = start(
        &world,
        HttpLimits {
            max_values: 4,
            ..HttpLimits::default()
        },
        None,
    )
    .await;
    let url = format!("http://{}/v1/verify", running.listen_addr.unwrap());
    let key = running.context.keys.newest().unwrap();
    let http = reqwest::Client::new();
    let post = |sealed: coffer_api::SealedSecret| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let response = http.post(url).json(&sealed).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let public = key.certificate().public_key();
    let (status, _) = post(sealed_with(&world, "four", 4, public)).await;
    assert_eq!(status, 200);
    let (status, body) = post(sealed_with(&world, "five", 5, public)).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body.contains("has 5 values")
            && body.contains("at most 4")
            && body.contains("--max-request-values"),
        "{body}"
    );
}

#[tokio::test]
async fn the_rate_limit_charges_rsa_operations_not_requests() {
    let world = World::new("http-weigh").await;
    let running = start(
        &world,
        HttpLimits::default(),
        Some(RateLimit {
            per_second: 1.0,
            burst: 1,
        }),
    )
    .await;
    let url = format!("http://{}/v1/verify", running.listen_addr.unwrap());
    let old = running.context.keys.newest().unwrap();
    // Values sealed to the older of two keys cost two RSA operations each
    // (the newer key is tried first): 15 values are 30 operations, three
    // requests' worth at ten operations a request.
    let old_sealed = sealed_with(&world, "old", 15, old.certificate().public_key());
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), world.ctrl_ns.name());
    while k8s_openapi::jiff::Timestamp::now().as_second() <= old.created.as_second() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running
        .context
        .keys
        .create_key(&secrets, KeySize::Rsa2048)
        .await
        .unwrap();
    assert_ne!(running.context.keys.newest().unwrap().name, old.name);

    let http = reqwest::Client::new();
    let first = http.post(&url).json(&old_sealed).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let newest = running.context.keys.newest().unwrap();
    let small = sealed_with(&world, "small", 1, newest.certificate().public_key());
    let second = http.post(&url).json(&small).send().await.unwrap();
    assert_eq!(second.status(), 429);
    let retry_after: u64 = second.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // Two tokens of debt at one a second: the next request waits about 3 s
    // (one request's worth would have been 1 s).
    assert!(retry_after >= 2, "Retry-After: {retry_after}");
    let body = second.text().await.unwrap();
    assert!(body.contains("--rate-limit"), "{body}");
}
