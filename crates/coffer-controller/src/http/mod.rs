//! The controller's HTTP endpoints, on hyper directly (kube already brings
//! it in): `/v1/cert.pem` (the newest sealing certificate, what kubeseal
//! `--fetch-cert` reads), `/v1/verify` and `/v1/rotate` (POST a SealedSecret
//! as JSON), `/healthz` and `/readyz`; and, on its own port, `/metrics`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use coffer_api::SealedSecret;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::rate_limit::{Limiter, RateLimit};

/// Largest request body accepted (a SealedSecret of a full 1 MiB Secret is
/// about 1.4 MiB of base64).
const MAX_BODY: usize = 4 << 20;

/// Which endpoints a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    /// Certificate, verify, rotate, health and readiness.
    Api,
    /// Prometheus metrics.
    Metrics,
}

/// Binds `addr` and serves `endpoints` on a spawned task, `/v1/verify` and
/// `/v1/rotate` within `limit` when given. Returns the bound address
/// (useful with port 0) and the task.
pub async fn serve(
    addr: SocketAddr,
    endpoints: Endpoints,
    ctx: Arc<Context>,
    limit: Option<RateLimit>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let limiter = Arc::new(limit.map(Limiter::new));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| Error::Listen { addr, source })?;
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            };
            let ctx = ctx.clone();
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let service =
                    service_fn(move |req| handle(req, endpoints, ctx.clone(), limiter.clone()));
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
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

async fn handle(
    req: Request<Incoming>,
    endpoints: Endpoints,
    ctx: Arc<Context>,
    limiter: Arc<Option<Limiter>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    if req.method() == Method::POST
        && matches!(path.as_str(), "/v1/verify" | "/v1/rotate")
        && let Some(limiter) = limiter.as_ref()
        && let Err(wait) = limiter.take(std::time::Instant::now())
    {
        return Ok(too_many_requests(wait));
    }
    let response = match (endpoints, req.method().clone(), path.as_str()) {
        (Endpoints::Metrics, Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            {
                let mut text = ctx.metrics.render();
                ctx.external_metrics.render(&mut text);
                text + &crate::metrics::render_leader(ctx.leadership.is_leader())
            },
        ),
        (Endpoints::Api, Method::GET, "/healthz") => text(StatusCode::OK, "ok"),
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
        (Endpoints::Api, Method::POST, "/v1/verify") => match read_sealed(req).await {
            // NB: `verify`, not `unseal`: the template is never rendered for
            // a caller (see `coffer_sealed::verify`).
            Ok(sealed) => match coffer_sealed::verify(&sealed, &ctx.keys.private_keys()) {
                Ok(_) => text(StatusCode::OK, "ok"),
                Err(e) => text(StatusCode::CONFLICT, e.to_string()),
            },
            Err(response) => response,
        },
        (Endpoints::Api, Method::POST, "/v1/rotate") => match read_sealed(req).await {
            Ok(sealed) => rotate(&sealed, &ctx),
            Err(response) => response,
        },
        _ => text(StatusCode::NOT_FOUND, format!("no endpoint {path}")),
    };
    Ok(response)
}

/// 429 with `Retry-After` in whole seconds (at least 1).
fn too_many_requests(wait: std::time::Duration) -> Response<Full<Bytes>> {
    let mut response = text(
        StatusCode::TOO_MANY_REQUESTS,
        "too many requests: /v1/verify and /v1/rotate are rate-limited (--rate-limit)",
    );
    let seconds = wait.as_secs_f64().ceil().max(1.0);
    if let Ok(value) = format!("{seconds}").parse() {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, value);
    }
    response
}

fn rotate(sealed: &SealedSecret, ctx: &Context) -> Response<Full<Bytes>> {
    let newest = match ctx.keys.newest() {
        Ok(k) => k,
        Err(e) => return text(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let keys = ctx.keys.private_keys();
    match coffer_sealed::reencrypt(sealed, &keys, newest.certificate().public_key()) {
        Ok(rotated) => match serde_json::to_vec(&rotated) {
            Ok(json) => reply(StatusCode::OK, "application/json", json),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        Err(e) => text(StatusCode::CONFLICT, e.to_string()),
    }
}

async fn read_sealed(req: Request<Incoming>) -> Result<SealedSecret, Response<Full<Bytes>>> {
    let body = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            text(
                StatusCode::BAD_REQUEST,
                format!("cannot read request body: {e}"),
            )
        })?
        .to_bytes();
    // The body holds sealed values only, so serde's message is safe to show.
    serde_json::from_slice(&body).map_err(|e| {
        text(
            StatusCode::BAD_REQUEST,
            format!("request body is not a SealedSecret in JSON: {e}"),
        )
    })
}
