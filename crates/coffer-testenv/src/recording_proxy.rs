//! An HTTP/1.1 proxy on a loopback port in front of a provider that
//! records the head of every request it passes on (method, path, headers),
//! so a test can show what a client put on the wire. It can also add a
//! header to every response, standing in for a server feature the
//! provider under test lacks (Vault Enterprise's `X-Vault-Index`).
//!
//! One request per connection: each answer goes back with the upstream's
//! `connection: close`, which keeps the proxy free of HTTP framing beyond
//! the request's `content-length`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Error;

/// Largest request (head and body) the proxy reads.
const MAX_REQUEST: usize = 1024 * 1024;

/// A request as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target, e.g. `/v1/secret/data/app`.
    pub path: String,
    /// Headers in order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body (a login's holds its credential: tests only).
    pub body: Vec<u8>,
    /// What the proxy added to the answer (see [`RecordingProxy::answer_with`]).
    pub answered_with: Option<(String, String)>,
}

impl RecordedRequest {
    /// The values of header `name` (any case).
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Debug, Default)]
struct State {
    requests: Vec<RecordedRequest>,
    /// A header added to every answer; `{n}` in the value becomes the
    /// request's number (1, 2, ...).
    answer_header: Option<(String, String)>,
}

/// A running proxy; it stops when dropped.
#[derive(Debug)]
pub struct RecordingProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingProxy {
    /// Starts a proxy on a free loopback port forwarding to `upstream`
    /// (`host:port` or `http://host:port`), on the caller's runtime.
    pub async fn start(upstream: &str) -> Result<RecordingProxy, Error> {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let (listener, addr) = crate::fault_proxy::bind_loopback().await?;
        let state = Arc::new(Mutex::new(State::default()));
        let task = tokio::spawn(accept_loop(listener, upstream, state.clone()));
        Ok(RecordingProxy { addr, state, task })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds `name: value` to every answer from now on; `{n}` in `value`
    /// becomes the request's number. Header `name` in requests is recorded
    /// but no longer passed on: it answers the proxy's fiction, which the
    /// upstream would not understand (OpenBao refuses an `X-Vault-Index`
    /// it did not issue).
    pub fn answer_with(&self, name: &str, value: &str) {
        self.lock().answer_header = Some((name.to_owned(), value.to_owned()));
    }

    /// Every request passed on so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: String, state: Arc<Mutex<State>>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let (upstream, state) = (upstream.clone(), state.clone());
        connections.spawn(async move { serve(client, &upstream, &state).await });
        while connections.try_join_next().is_some() {}
    }
}

async fn serve(mut client: TcpStream, upstream: &str, state: &Mutex<State>) {
    let Some((head, body)) = read_request(&mut client).await else {
        return;
    };
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let (answered_with, withheld) = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        let n = state.requests.len() + 1;
        let added = state
            .answer_header
            .as_ref()
            .map(|(name, value)| (name.clone(), value.replace("{n}", &n.to_string())));
        state.requests.push(RecordedRequest {
            method,
            path,
            headers: headers.clone(),
            body: body.clone(),
            answered_with: added.clone(),
        });
        let withheld = state
            .answer_header
            .as_ref()
            .map(|(name, _)| name.to_ascii_lowercase());
        (added, withheld)
    };
    // The same request, asking the upstream to close after answering.
    let mut forwarded = head.lines().next().unwrap_or_default().to_owned() + "\r\n";
    let passed_on = |n: &String| n != "connection" && Some(n) != withheld.as_ref();
    for (name, value) in headers.iter().filter(|(n, _)| passed_on(n)) {
        forwarded.push_str(&format!("{name}: {value}\r\n"));
    }
    forwarded.push_str("connection: close\r\n\r\n");
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    if server.write_all(forwarded.as_bytes()).await.is_err()
        || server.write_all(&body).await.is_err()
    {
        return;
    }
    let mut answer = Vec::new();
    if server.read_to_end(&mut answer).await.is_err() {
        return;
    }
    if let Some((name, value)) = answered_with
        && let Some(end) = answer.windows(2).position(|w| w == b"\r\n")
    {
        let extra = format!("\r\n{name}: {value}");
        answer.splice(end..end, extra.into_bytes());
    }
    let _ = client.write_all(&answer).await;
    let _ = client.shutdown().await;
}

/// Reads one request: its head (without the blank line) and its
/// `content-length` body, at most [`MAX_REQUEST`] of either (both
/// proxies read requests with it).
pub(crate) async fn read_request(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if data.len() > MAX_REQUEST {
            return None;
        }
        let n = client.read(&mut buf).await.ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    if length > MAX_REQUEST {
        return None;
    }
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let n = client.read(&mut buf).await.ok().filter(|n| *n > 0)?;
        body.extend_from_slice(&buf[..n]);
    }
    body.truncate(length);
    Some((head, body))
}
