//! The proxy against a tiny keep-alive HTTP server, with one pooling client
//! (as a provider SDK has): each fault is what the client sees, at once.

use std::time::Instant;

use super::*;
use crate::recording_proxy::read_request;

/// An HTTP server answering `200 ok` to every request, keeping connections.
async fn upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                while read_request(&mut conn).await.is_some() {
                    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if conn.write_all(ok.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Sets `fault` and gives the pooling client a moment to see its idle
/// connections closed (as a long-lived client would between requests).
async fn set(proxy: &FaultProxy, fault: Fault) {
    proxy.set(fault);
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(1500))
        .build()
        .unwrap()
}

async fn get(
    client: &reqwest::Client,
    proxy: &FaultProxy,
) -> Result<(u16, String), reqwest::Error> {
    let response = client.post(proxy.url()).body("{}").send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

#[tokio::test]
async fn throttling_answers_replace_the_upstream_until_cleared_even_on_a_pooled_connection() {
    let proxy = FaultProxy::start(&upstream().await.to_string())
        .await
        .unwrap();
    let client = client();
    assert_eq!(get(&client, &proxy).await.unwrap(), (200, "ok".into()));
    assert_eq!(proxy.faulted(), 0);

    set(&proxy, Fault::Throttle(Throttling::Vault)).await;
    let (status, body) = get(&client, &proxy).await.unwrap();
    assert_eq!(status, 429);
    assert!(body.contains("rate limit quota exceeded"), "{body}");

    set(&proxy, Fault::Throttle(Throttling::Aws)).await;
    let (status, body) = get(&client, &proxy).await.unwrap();
    assert_eq!(status, 400);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["__type"], "ThrottlingException");
    assert_eq!(proxy.faulted(), 2);

    set(&proxy, Fault::None).await;
    assert_eq!(get(&client, &proxy).await.unwrap(), (200, "ok".into()));
    assert_eq!(proxy.faulted(), 2);
}

#[tokio::test]
async fn reset_and_drop_fail_the_request_and_delay_slows_it() {
    let proxy = FaultProxy::start(&upstream().await.to_string())
        .await
        .unwrap();
    let client = client();

    set(&proxy, Fault::Reset).await;
    let error = get(&client, &proxy).await.unwrap_err();
    assert!(!error.is_timeout(), "a reset is not a timeout: {error:?}");

    set(&proxy, Fault::Drop).await;
    let error = get(&client, &proxy).await.unwrap_err();
    assert!(error.is_timeout(), "a dropped request times out: {error:?}");

    set(&proxy, Fault::Delay(Duration::from_millis(400))).await;
    let started = Instant::now();
    assert_eq!(get(&client, &proxy).await.unwrap(), (200, "ok".into()));
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(proxy.faulted(), 3);

    set(&proxy, Fault::None).await;
    let started = Instant::now();
    assert_eq!(get(&client, &proxy).await.unwrap(), (200, "ok".into()));
    assert!(started.elapsed() < Duration::from_millis(400));
}
