//! `/v1/verify` and `/v1/rotate`: the endpoints that cost RSA work, each
//! step bounded before the next one starts.
//!
//! 1. The rate limit must hold at least one token, else 429 before the body
//!    is read ([`crate::rate_limit`]).
//! 2. A declared `Content-Length` over [`MAX_BODY`] is refused (413) before
//!    the body is read; a streamed body is cut off at [`MAX_BODY`]. The body
//!    must arrive within the read timeout (else 408), and all bodies being
//!    read at once share [`BODY_BUDGET`] bytes, so a flood of large bodies
//!    waits instead of filling memory.
//! 3. On the blocking pool, at most [`RSA_WORKERS`] at once: parse, count
//!    the values (more than `--max-request-values` is refused, 413), take
//!    their tokens (429 if the bucket lacks them), decrypt, and charge what
//!    the RSA work really cost. A body read but refused as malformed or too
//!    large still costs one token.
//!
//! Neither endpoint renders `spec.template.data` (see
//! `coffer_sealed::verify`), and neither holds plaintext here: the bodies
//! and the answers carry sealed values only, and what `coffer_sealed`
//! opens on the way stays in its zeroizing buffers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_api::SealedSecret;
use coffer_sealed::request::RequestError;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::{Shared, retry_after, text};
use crate::rate_limit::{Limiter, RateLimit};

/// Largest request body (a SealedSecret of a full 1 MiB Secret is about
/// 1.4 MiB of base64).
pub const MAX_BODY: usize = 4 << 20;

/// Bytes of request bodies held at once, over all connections: eight
/// bodies of the largest size.
pub const BODY_BUDGET: usize = 8 * MAX_BODY;

/// Blocking threads parsing and decrypting at once, whatever the load:
/// the rest of the process (reconciles, the Lease, health) keeps a core.
pub const RSA_WORKERS: usize = 2;

/// The two endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    /// Can the controller open every value?
    Verify,
    /// The same SealedSecret sealed to the newest key.
    Rotate,
}

/// The shared limits of both endpoints.
pub(super) struct Gate {
    limiter: Option<Limiter>,
    /// Bytes of bodies being held ([`BODY_BUDGET`] permits).
    budget: Semaphore,
    /// Blocking threads at work ([`RSA_WORKERS`] permits).
    workers: Semaphore,
}

impl Gate {
    pub(super) fn new(rate: Option<RateLimit>) -> Gate {
        Gate {
            limiter: rate.map(Limiter::new),
            budget: Semaphore::new(BODY_BUDGET),
            workers: Semaphore::new(RSA_WORKERS),
        }
    }
}

/// 429 with `Retry-After`.
fn too_many_requests(wait: Duration) -> Response<Full<Bytes>> {
    retry_after(
        text(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests: /v1/verify and /v1/rotate are rate-limited by the RSA work they \
             cost (--rate-limit)",
        ),
        wait,
    )
}

/// Serves one request (see the module comment for the steps).
pub(super) async fn serve(
    req: Request<Incoming>,
    operation: Operation,
    shared: &Arc<Shared>,
) -> Response<Full<Bytes>> {
    let gate = &shared.decrypt;
    if let Some(limiter) = &gate.limiter
        && let Err(wait) = limiter.check(Instant::now())
    {
        return too_many_requests(wait);
    }
    let declared = req.body().size_hint().lower();
    if declared > MAX_BODY as u64 {
        return too_large();
    }
    let deadline = tokio::time::Instant::now() + shared.limits.read_timeout;
    let (body, held) = match read_body(req.into_body(), &gate.budget, deadline).await {
        Ok(read) => read,
        Err(refusal) => return refusal.response(shared.limits.read_timeout),
    };
    let worker = match gate.workers.acquire().await {
        Ok(worker) => worker,
        Err(_) => return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    };
    let shared_for_work = shared.clone();
    let done = tokio::task::spawn_blocking(move || work(&body, operation, &shared_for_work)).await;
    drop((worker, held));
    done.unwrap_or_else(|_| {
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request failed unexpectedly",
        )
    })
}

fn too_large() -> Response<Full<Bytes>> {
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body is larger than {} MiB", MAX_BODY >> 20),
    )
}

/// Why a body was not read.
enum Refusal {
    TooLarge,
    TimedOut,
    /// The body budget stayed exhausted until the deadline.
    Busy,
    Broken(String),
}

impl Refusal {
    fn response(self, read_timeout: Duration) -> Response<Full<Bytes>> {
        match self {
            Refusal::TooLarge => too_large(),
            Refusal::TimedOut => text(
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive within {read_timeout:?} (--read-timeout)"),
            ),
            Refusal::Busy => retry_after(
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many request bodies are being read; retry shortly",
                ),
                Duration::from_secs(1),
            ),
            Refusal::Broken(reason) => text(
                StatusCode::BAD_REQUEST,
                format!("cannot read request body: {reason}"),
            ),
        }
    }
}

/// Reads the body by `deadline`, at most [`MAX_BODY`] bytes, holding one
/// budget permit per byte until the request is done.
async fn read_body(
    mut body: Incoming,
    budget: &Semaphore,
    deadline: tokio::time::Instant,
) -> Result<(Vec<u8>, Option<SemaphorePermit<'_>>), Refusal> {
    let mut buf = Vec::new();
    let mut held: Option<SemaphorePermit<'_>> = None;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(Refusal::TimedOut),
            Ok(None) => return Ok((buf, held)),
            Ok(Some(Err(e))) => return Err(Refusal::Broken(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if buf.len() + data.len() > MAX_BODY {
            return Err(Refusal::TooLarge);
        }
        // NB: data.len() <= MAX_BODY, far below u32::MAX.
        let n = u32::try_from(data.len()).map_err(|_| Refusal::TooLarge)?;
        let permit = match tokio::time::timeout_at(deadline, budget.acquire_many(n)).await {
            Err(_) => return Err(Refusal::Busy),
            Ok(Err(_)) => return Err(Refusal::Broken("shutting down".to_owned())),
            Ok(Ok(permit)) => permit,
        };
        match &mut held {
            Some(held) => held.merge(permit),
            None => held = Some(permit),
        }
        buf.extend_from_slice(&data);
    }
}

/// The blocking part: parse, weigh, decrypt, charge.
fn work(body: &[u8], operation: Operation, shared: &Shared) -> Response<Full<Bytes>> {
    let limiter = shared.decrypt.limiter.as_ref();
    let refused = |response| {
        // A body was read and parsed for nothing: one token, like any
        // request, so refusals cannot be sent for free.
        if let Some(limiter) = limiter {
            limiter.charge_one(Instant::now());
        }
        response
    };
    let (sealed, count) =
        match coffer_sealed::request::parse_request(body, shared.limits.max_values) {
            Ok(request) => (request.sealed, request.values),
            Err(e) => {
                let status = match e {
                    RequestError::NotSealedSecret(_) => StatusCode::BAD_REQUEST,
                    RequestError::TooManyValues { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                };
                return refused(text(status, e.to_string()));
            }
        };
    let charge = match limiter.map(|l| l.admit(Instant::now(), count as u64)) {
        Some(Err(wait)) => return too_many_requests(wait),
        Some(Ok(charge)) => Some(charge),
        None => None,
    };
    let before = coffer_crypto::private_key_operations();
    let response = match operation {
        // NB: `verify`, not `unseal`: the template is never rendered for a
        // caller (see `coffer_sealed::verify`).
        Operation::Verify => {
            match coffer_sealed::verify(&sealed, &shared.ctx.keys.private_keys()) {
                Ok(_) => text(StatusCode::OK, "ok"),
                Err(e) => text(StatusCode::CONFLICT, e.to_string()),
            }
        }
        Operation::Rotate => rotate(&sealed, shared),
    };
    let operations = coffer_crypto::private_key_operations().wrapping_sub(before);
    if let (Some(limiter), Some(charge)) = (limiter, charge) {
        limiter.settle(Instant::now(), charge, operations);
    }
    response
}

fn rotate(sealed: &SealedSecret, shared: &Shared) -> Response<Full<Bytes>> {
    let keys = &shared.ctx.keys;
    let newest = match keys.newest() {
        Ok(k) => k,
        Err(e) => return text(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let private = keys.private_keys();
    match coffer_sealed::reencrypt(sealed, &private, newest.certificate().public_key()) {
        Ok(rotated) => match serde_json::to_vec(&rotated) {
            Ok(json) => super::reply(StatusCode::OK, "application/json", json),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        Err(e) => text(StatusCode::CONFLICT, e.to_string()),
    }
}
