//! The controller's HTTP endpoints, on hyper directly (kube already brings
//! it in): `/v1/cert.pem` (the newest sealing certificate, what kubeseal
//! `--fetch-cert` reads), `/v1/verify` and `/v1/rotate` (POST a SealedSecret
//! as JSON, see [`decrypt`]), `/healthz` and `/readyz`; and, on its own
//! port, `/metrics`.
//!
//! Anyone who reaches the Service reaches these, so no caller can hold the
//! listeners hostage (see [`HttpLimits`]): headers must arrive within the
//! read timeout, which also closes idle keep-alive connections; bodies too;
//! a listener serves a bounded number of connections at once (more wait in
//! the kernel's backlog) with bounded buffers; and the RSA work of verify
//! and rotate runs on the blocking pool, weighed by the rate limit, so the
//! async runtime that answers `/healthz` and renews the Lease is never the
//! one decrypting.

mod decrypt;
mod page;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::rate_limit::RateLimit;

/// Largest read buffer of a connection: request headers beyond it are
/// refused (431). Legitimate requests, also through the API server's
/// proxy, carry a few KiB of headers; hyper's default (~400 KiB) would let
/// each idle connection pin that much.
const MAX_BUF: usize = 64 << 10;

/// Pause after a failed `accept` (e.g. out of file descriptors), so the
/// loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// What a caller can make a listener spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Longest wait for a request's headers (also for the next request on
    /// an idle keep-alive connection, which is then closed), and again for
    /// its body (Bitnami's `--read-timeout`, whose default is 2 minutes).
    pub read_timeout: Duration,
    /// Longest a request may take from the end of its headers to the end
    /// of the answer; past it the connection is closed without an answer
    /// (Bitnami's `--write-timeout`, Go's `http.Server.WriteTimeout`).
    pub write_timeout: Duration,
    /// Connections served at once by each listener; further ones wait in
    /// the listen backlog until one closes.
    pub max_connections: usize,
    /// Values one `/v1/verify` or `/v1/rotate` request may ask to decrypt
    /// (each costs at least one RSA private-key operation).
    pub max_values: usize,
}

impl Default for HttpLimits {
    /// 30 s to read, 2 minutes to answer (Bitnami's), 512 connections,
    /// 128 values: a slow client is cut off in
    /// seconds rather than minutes, 512 connections bound descriptors and
    /// buffers (512 × 64 KiB at most), and Bitnami's SealedSecrets have a
    /// handful of values (128 opened by a 4096-bit key take about a second
    /// of CPU).
    fn default() -> Self {
        HttpLimits {
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(120),
            max_connections: 512,
            max_values: 128,
        }
    }
}

/// Which endpoints a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    /// Certificate, verify, rotate, health, readiness and the sealing page.
    Api,
    /// Health and readiness only: the SealedSecret controller is off, so
    /// there is no certificate to serve (and no key to be ready with).
    Health,
    /// Prometheus metrics.
    Metrics,
}

/// What every connection of one listener shares.
struct Shared {
    endpoints: Endpoints,
    ctx: Arc<Context>,
    limits: HttpLimits,
    decrypt: decrypt::Gate,
}

/// Binds `addr` and serves `endpoints` on a spawned task within `limits`,
/// `/v1/verify` and `/v1/rotate` within `rate` when given. Returns the
/// bound address (useful with port 0) and the task.
pub async fn serve(
    addr: SocketAddr,
    endpoints: Endpoints,
    ctx: Arc<Context>,
    rate: Option<RateLimit>,
    limits: HttpLimits,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| Error::Listen { addr, source })?;
    let shared = Arc::new(Shared {
        endpoints,
        ctx,
        limits,
        decrypt: decrypt::Gate::new(rate),
    });
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let task = tokio::spawn(async move {
        loop {
            // NB: a slot first, then accept: at the cap, new connections
            // wait in the backlog instead of being taken and starved.
            let Ok(slot) = connections.clone().acquire_owned().await else {
                return;
            };
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let read_timeout = shared.limits.read_timeout;
                let write_timeout = shared.limits.write_timeout;
                // NB: an error from the service makes hyper drop the
                // connection, which is what Go does past WriteTimeout.
                let service = service_fn(move |req: Request<Incoming>| {
                    let (path, method) = (req.uri().path().to_owned(), req.method().clone());
                    let shared = shared.clone();
                    async move {
                        let started = std::time::Instant::now();
                        let answer =
                            tokio::time::timeout(write_timeout, handle(req, shared.clone()))
                                .await
                                .unwrap_or(Err(WriteTimedOut))?;
                        shared.ctx.metrics.bitnami.observe_request(
                            &path,
                            method.as_str(),
                            answer.status().as_u16(),
                            started.elapsed(),
                        );
                        Ok::<_, WriteTimedOut>(answer)
                    }
                });
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(read_timeout)
                    .max_buf_size(MAX_BUF)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                if let Err(e) = connection {
                    tracing::debug!(error = %e, "HTTP connection ended with an error");
                }
            });
        }
    });
    Ok((bound, task))
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<Full<Bytes>> {
    let mut body = body.into();
    body.push('\n');
    reply(status, "text/plain; charset=utf-8", body)
}

/// `status` with `Retry-After` in whole seconds (at least 1).
fn retry_after(mut response: Response<Full<Bytes>>, wait: Duration) -> Response<Full<Bytes>> {
    let seconds = wait.as_secs_f64().ceil().max(1.0);
    if let Ok(value) = format!("{seconds}").parse() {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, value);
    }
    response
}

/// A request that took longer than the write timeout to answer.
#[derive(Debug)]
struct WriteTimedOut;

impl std::fmt::Display for WriteTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request not answered within the write timeout")
    }
}

impl std::error::Error for WriteTimedOut {}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, WriteTimedOut> {
    let path = req.uri().path().to_owned();
    let ctx = &shared.ctx;
    if shared.endpoints == Endpoints::Api
        && req.method() == Method::GET
        && let Some(page) = page::response(&path)
    {
        return Ok(page);
    }
    let response = match (shared.endpoints, req.method().clone(), path.as_str()) {
        (Endpoints::Metrics, Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            {
                let mut text = ctx.metrics.render();
                ctx.external_metrics.render(&mut text);
                let text = text + &crate::metrics::render_leader(ctx.leadership.is_leader());
                match &ctx.shards {
                    Some(shards) => text + &crate::shard::render(shards),
                    None => text,
                }
            },
        ),
        (Endpoints::Api | Endpoints::Health, Method::GET, "/healthz") => text(StatusCode::OK, "ok"),
        (Endpoints::Health, Method::GET, "/readyz") => text(StatusCode::OK, "ok"),
        (Endpoints::Api, Method::GET, "/readyz") => match ctx.keys.newest() {
            Ok(_) => text(StatusCode::OK, "ok"),
            Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        },
        (Endpoints::Api, Method::GET, "/v1/cert.pem") => match ctx.keys.newest() {
            Ok(key) => reply(
                StatusCode::OK,
                "application/x-pem-file",
                key.certificate().to_pem(),
            ),
            Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        },
        (Endpoints::Api, Method::POST, "/v1/verify") => {
            decrypt::serve(req, decrypt::Operation::Verify, &shared).await
        }
        (Endpoints::Api, Method::POST, "/v1/rotate") => {
            decrypt::serve(req, decrypt::Operation::Rotate, &shared).await
        }
        _ => text(StatusCode::NOT_FOUND, format!("no endpoint {path}")),
    };
    Ok(response)
}
