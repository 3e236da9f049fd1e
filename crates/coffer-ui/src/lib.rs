//! The sealing page: a static page that seals Secret values in the browser
//! (Web Crypto, the format `coffer-crypto` writes), so plaintext never
//! crosses the network. The controller serves it on its certificate port
//! and `coffer seal --serve-ui` serves it locally; both take the files and
//! the headers from here, so the two cannot drift apart.
//!
//! The files are embedded at build time. The page refers to everything by
//! relative URL (`seal.js`, `seal.css`, `v1/cert.pem`), so it also works
//! below a prefix such as the API server's service proxy.

/// One embedded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// The file's bytes.
    pub body: &'static [u8],
    /// Its `Content-Type`.
    pub content_type: &'static str,
}

/// The Content-Security-Policy the page is served with: only its own
/// script, style and (for `v1/cert.pem`) requests; no inline script or
/// style, no forms posting anywhere, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Headers sent with every page file: the CSP and the usual hardening.
/// `no-cache` makes the browser revalidate, so an upgraded controller's
/// page is the one that runs (a loaded page keeps working offline).
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cache-control", "no-cache"),
];

const INDEX: Asset = Asset {
    body: include_bytes!("../assets/index.html"),
    content_type: "text/html; charset=utf-8",
};
const SCRIPT: Asset = Asset {
    body: include_bytes!("../assets/seal.js"),
    content_type: "text/javascript; charset=utf-8",
};
const STYLE: Asset = Asset {
    body: include_bytes!("../assets/seal.css"),
    content_type: "text/css; charset=utf-8",
};

/// The page file at request path `path` (`/`, `/index.html`, `/seal.js`,
/// `/seal.css`), or `None`.
pub fn asset(path: &str) -> Option<Asset> {
    match path {
        "/" | "/index.html" => Some(INDEX),
        "/seal.js" => Some(SCRIPT),
        "/seal.css" => Some(STYLE),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(path: &str) -> &'static str {
        std::str::from_utf8(asset(path).expect(path).body).expect("UTF-8")
    }

    #[test]
    fn the_page_and_its_two_files_are_served_with_their_types() {
        assert_eq!(asset("/"), asset("/index.html"));
        assert!(asset("/").unwrap().content_type.starts_with("text/html"));
        assert!(
            asset("/seal.js")
                .unwrap()
                .content_type
                .starts_with("text/javascript")
        );
        assert!(
            asset("/seal.css")
                .unwrap()
                .content_type
                .starts_with("text/css")
        );
        for missing in [
            "/seal.js/",
            "/../Cargo.toml",
            "/assets/seal.js",
            "",
            "/v1/cert.pem",
        ] {
            assert_eq!(asset(missing), None, "{missing}");
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_and_no_outside_url() {
        let html = text("/");
        // One script, by relative URL; no inline one (the CSP would block it).
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains(r#"<script src="seal.js" defer></script>"#));
        assert!(!html.contains("<style"));
        assert!(!html.contains(" style="));
        // Inline event handlers (onclick=…) are inline script too.
        let handler = html
            .split_whitespace()
            .find(|t| t.to_ascii_lowercase().starts_with("on") && t.contains('='));
        assert_eq!(handler, None, "inline event handler");
        for file in ["/", "/seal.js", "/seal.css"] {
            let body = text(file);
            for scheme in ["http:", "https:", "//cdn", "@import"] {
                assert!(!body.contains(scheme), "{file} mentions {scheme}");
            }
        }
        // The only request the script makes: the certificate.
        let js = text("/seal.js");
        assert_eq!(js.matches("fetch(").count(), 1);
        assert!(js.contains("fetch('v1/cert.pem'"));
        assert!(!js.contains("XMLHttpRequest") && !js.contains("sendBeacon"));
    }

    #[test]
    fn headers_carry_the_strict_policy() {
        let csp = SECURITY_HEADERS
            .iter()
            .find(|(k, _)| *k == "content-security-policy")
            .unwrap()
            .1;
        assert!(csp.starts_with("default-src 'none'; script-src 'self';"));
        assert!(!csp.contains("unsafe"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(SECURITY_HEADERS.contains(&("x-content-type-options", "nosniff")));
        assert!(SECURITY_HEADERS.contains(&("x-frame-options", "DENY")));
    }
}
