//! The sealing page (`coffer-ui`) on the certificate port: `/`, `/seal.js`
//! and `/seal.css`, each with the page's Content-Security-Policy and
//! hardening headers. The page seals in the browser; the only thing it asks
//! this server for afterwards is `/v1/cert.pem`.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Full;

/// The page file at `path` with its headers, or `None` if `path` is not one.
pub fn response(path: &str) -> Option<Response<Full<Bytes>>> {
    let asset = coffer_ui::asset(path)?;
    let mut response = Response::new(Full::new(Bytes::from_static(asset.body)));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    for (name, value) in coffer_ui::SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(response: &'a Response<Full<Bytes>>, name: &str) -> &'a str {
        response.headers()[name].to_str().unwrap()
    }

    #[test]
    fn page_files_come_with_the_csp_and_hardening_headers() {
        for path in ["/", "/index.html", "/seal.js", "/seal.css"] {
            let r = response(path).expect(path);
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(
                header(&r, "content-security-policy"),
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                 img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            );
            assert_eq!(header(&r, "x-content-type-options"), "nosniff");
            assert_eq!(header(&r, "referrer-policy"), "no-referrer");
            assert_eq!(header(&r, "x-frame-options"), "DENY");
            assert_eq!(header(&r, "cache-control"), "no-cache");
        }
        assert_eq!(
            header(&response("/seal.js").unwrap(), "content-type"),
            "text/javascript; charset=utf-8"
        );
    }

    #[test]
    fn other_paths_are_not_page_files() {
        for path in [
            "/v1/cert.pem",
            "/healthz",
            "/seal",
            "/index.htm",
            "/%2e%2e/",
        ] {
            assert!(response(path).is_none(), "{path}");
        }
    }
}
