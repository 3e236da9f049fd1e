//! A TCP proxy on a loopback port in front of a provider (OpenBao, moto)
//! that, on command, delays, drops or resets connections, or answers every
//! HTTP request with the provider's throttling error: what a flaky network
//! or a busy provider does to a controller.
//!
//! Changing the fault closes every open connection, so that pooled
//! keep-alive connections meet the new fault at once instead of carrying on
//! through the old one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::Error;

/// What the proxy does to each new connection (or request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass everything through.
    None,
    /// Hold each chunk the client sends this long before passing it on.
    Delay(Duration),
    /// Accept and read, never answer (a black hole: the client times out).
    Drop,
    /// Reset the connection (TCP RST) after the client's first bytes.
    Reset,
    /// Answer every request with the provider's throttling error.
    Throttle(Throttling),
}

/// Whose throttling error to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttling {
    /// Vault and OpenBao: HTTP 429 (a rate limit quota was exceeded).
    Vault,
    /// AWS JSON protocol: HTTP 400 with `__type` `ThrottlingException`.
    Aws,
}

impl Throttling {
    fn response(self) -> String {
        let (status, content_type, body) = match self {
            Throttling::Vault => (
                "429 Too Many Requests",
                "application/json",
                r#"{"errors":["request path \"\": rate limit quota exceeded"]}"#,
            ),
            Throttling::Aws => (
                "400 Bad Request",
                "application/x-amz-json-1.1",
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            ),
        };
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        )
    }
}

/// A running proxy; it stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    fault: watch::Sender<Fault>,
    faulted: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port forwarding to `upstream`
    /// (`host:port`, or a URL `http://host:port`), passing everything
    /// through until told otherwise. It runs on the caller's tokio runtime.
    pub async fn start(upstream: &str) -> Result<FaultProxy, Error> {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let (listener, addr) = bind_loopback().await?;
        let (fault, _) = watch::channel(Fault::None);
        let faulted = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(accept_loop(
            listener,
            upstream,
            fault.clone(),
            faulted.clone(),
        ));
        Ok(FaultProxy {
            addr,
            fault,
            faulted,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`: give this to the client instead of the
    /// provider's address.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Applies `fault` to every connection from now on, closing those open.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// Connections delayed, dropped or reset, plus requests answered with
    /// a throttling error, since the start: proof that a fault was met.
    pub fn faulted(&self) -> u64 {
        self.faulted.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A listener on a free loopback port, and its address (both proxies').
pub(crate) async fn bind_loopback() -> Result<(TcpListener, SocketAddr), Error> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|source| Error::Io {
            what: "127.0.0.1:0".into(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Io {
        what: "proxy port".into(),
        source,
    })?;
    Ok((listener, addr))
}

async fn accept_loop(
    listener: TcpListener,
    upstream: String,
    fault: watch::Sender<Fault>,
    faulted: Arc<AtomicU64>,
) {
    // The connections' tasks end with this one: a dropped proxy leaves
    // nothing running.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let mut changes = fault.subscribe();
        let now = *changes.borrow_and_update();
        let (upstream, faulted) = (upstream.clone(), faulted.clone());
        connections.spawn(async move {
            tokio::select! {
                _ = serve(client, &upstream, now, &faulted) => {}
                // Any change closes the connection (both sockets dropped).
                _ = changes.changed() => {}
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

async fn serve(mut client: TcpStream, upstream: &str, fault: Fault, faulted: &AtomicU64) {
    let count = || faulted.fetch_add(1, Ordering::SeqCst);
    match fault {
        Fault::None => forward(client, upstream, None).await,
        Fault::Delay(delay) => {
            count();
            forward(client, upstream, Some(delay)).await;
        }
        Fault::Drop => {
            count();
            let mut sink = [0u8; 4096];
            while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
        }
        Fault::Reset => {
            count();
            let mut first = [0u8; 4096];
            let _ = tokio::time::timeout(Duration::from_secs(1), client.read(&mut first)).await;
            // SO_LINGER 0: close sends RST instead of FIN.
            let _ = client.set_zero_linger();
        }
        Fault::Throttle(throttling) => {
            if crate::recording_proxy::read_request(&mut client)
                .await
                .is_some()
            {
                count();
                let _ = client.write_all(throttling.response().as_bytes()).await;
                let _ = client.shutdown().await;
            }
        }
    }
}

/// Copies both ways between `client` and `upstream`, holding each chunk
/// from the client for `delay`.
async fn forward(client: TcpStream, upstream: &str, delay: Option<Duration>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(up, down);
}

#[cfg(test)]
#[path = "fault_proxy_tests.rs"]
mod tests;
