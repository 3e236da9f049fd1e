//! `coffer seal --serve-ui [ADDR]`: serves the sealing page (`coffer-ui`,
//! the same files and headers the controller serves) on this machine, with
//! the certificate from `--cert` (or the controller's) at `/v1/cert.pem`.
//! The page seals in the browser; this server only hands out files.
//!
//! Bounded as the controller's listener is: headers within a timeout,
//! small buffers, a fixed number of connections at once.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Where `--serve-ui` listens without an address: loopback only, a secure
/// context for Web Crypto.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_BUF: usize = 64 << 10;
const MAX_CONNECTIONS: usize = 64;

/// The answer to one request: a page file, the certificate, or an error.
/// Pure, so the routing is tested without a socket.
pub fn route(method: &Method, path: &str, cert_pem: &Bytes) -> Response<Full<Bytes>> {
    let (status, content_type, body) = if method != Method::GET {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"only GET\n"),
        )
    } else if let Some(asset) = coffer_ui::asset(path) {
        (
            StatusCode::OK,
            asset.content_type,
            Bytes::from_static(asset.body),
        )
    } else if path == "/v1/cert.pem" {
        (StatusCode::OK, "application/x-pem-file", cert_pem.clone())
    } else {
        (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            Bytes::from(format!("no page {path}\n")),
        )
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    for (name, value) in coffer_ui::SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

/// Serves the page on `addr` until interrupted (Ctrl-C). Prints the URL to
/// stderr once listening (with the bound port when `addr` asks for port 0).
pub fn serve(addr: &str, cert_pem: String, fingerprint: &str) -> Result<u8> {
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("--serve-ui {addr}: not an address such as {DEFAULT_ADDR}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the HTTP server")?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("--serve-ui: cannot listen on {addr}"))?;
        let bound = listener.local_addr().context("--serve-ui: no local address")?;
        eprintln!("Serving the sealing page at http://{bound}/ (certificate public key {fingerprint}); Ctrl-C stops it");
        if !bound.ip().is_loopback() {
            eprintln!(
                "note: browsers offer Web Crypto only on HTTPS or localhost; reach this address \
                 through a tunnel to localhost, or the page cannot seal"
            );
        }
        let cert = Bytes::from(cert_pem);
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let accept = async {
            loop {
                // The semaphore is never closed: this loop ends with Ctrl-C.
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (stream, _) = match listener.accept().await {
                    Ok(conn) => conn,
                    Err(e) => {
                        eprintln!("--serve-ui: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let cert = cert.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    let service = service_fn(move |req: Request<Incoming>| {
                        let answer = route(req.method(), req.uri().path(), &cert);
                        async move { Ok::<_, Infallible>(answer) }
                    });
                    // A failed connection concerns only its client.
                    let _ = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .max_buf_size(MAX_BUF)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        };
        tokio::select! {
            () = accept => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        anyhow::Ok(())
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(r: &'a Response<Full<Bytes>>, name: &str) -> &'a str {
        r.headers()[name].to_str().unwrap()
    }

    #[test]
    fn serves_the_page_and_the_given_certificate_with_the_page_headers() {
        let pem = Bytes::from_static(b"-----BEGIN CERTIFICATE-----\n...");
        let page = route(&Method::GET, "/", &pem);
        assert_eq!(page.status(), StatusCode::OK);
        assert!(header(&page, "content-type").starts_with("text/html"));
        assert_eq!(
            header(&page, "content-security-policy"),
            coffer_ui::CONTENT_SECURITY_POLICY
        );
        assert_eq!(header(&page, "x-frame-options"), "DENY");
        let cert = route(&Method::GET, "/v1/cert.pem", &pem);
        assert_eq!(cert.status(), StatusCode::OK);
        assert_eq!(header(&cert, "content-type"), "application/x-pem-file");
        assert_eq!(
            route(&Method::GET, "/seal.js", &pem).status(),
            StatusCode::OK
        );
    }

    #[test]
    fn unknown_paths_and_other_methods_are_refused() {
        let pem = Bytes::new();
        assert_eq!(
            route(&Method::GET, "/v1/verify", &pem).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            route(&Method::POST, "/", &pem).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
