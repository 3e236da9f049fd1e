//! The headers a store adds to every Vault request (`headers`, as ESO's
//! `client.AddHeader`), checked once when the client is built.
//!
//! A tenant's header must not change what the client itself says: the
//! token, the namespace and the replication-state headers are ours, and
//! the framing headers belong to the HTTP stack. Such a header is refused
//! by name rather than sent (a second `X-Vault-Token` would let a store
//! act with a token its credentials did not give). Values may be
//! credentials for a proxy in front of Vault, so they never appear in an
//! error or in `Debug`, and are marked sensitive on the wire.

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::{Error, Result};

/// At most this many headers.
pub(super) const MAX_HEADERS: usize = 32;
/// At most this many bytes of names and values together.
pub(super) const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Longest header name an error quotes.
const MAX_QUOTED_NAME: usize = 64;

/// Headers the client sets itself, or that HTTP framing owns (lowercase).
const RESERVED: &[&str] = &[
    "x-vault-token",
    "x-vault-namespace",
    "x-vault-index",
    "x-vault-inconsistent",
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
    "expect",
];

/// `headers` as a header map, or a configuration error naming the first
/// header that cannot be sent and why.
pub(super) fn custom_headers(store: &str, headers: &BTreeMap<String, String>) -> Result<HeaderMap> {
    let refuse = |reason: String| Error::Config {
        store: store.to_owned(),
        reason: format!("headers: {reason}"),
    };
    if headers.len() > MAX_HEADERS {
        return Err(refuse(format!(
            "{} headers given, at most {MAX_HEADERS} are allowed",
            headers.len()
        )));
    }
    let total: usize = headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_HEADER_BYTES {
        return Err(refuse(format!(
            "names and values exceed {MAX_HEADER_BYTES} bytes together"
        )));
    }
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let quoted = quote(name);
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| refuse(format!("{quoted} is not a valid HTTP header name")))?;
        if RESERVED.contains(&header.as_str()) {
            return Err(refuse(format!(
                "{quoted} is set by Coffer's Vault client itself and cannot be overridden"
            )));
        }
        // NB: the error names the header, never its value.
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            refuse(format!(
                "the value of {quoted} is not a valid HTTP header value"
            ))
        })?;
        value.set_sensitive(true);
        // NB: names are case-insensitive; a second spelling would
        // silently replace the first.
        if map.insert(header, value).is_some() {
            return Err(refuse(format!(
                "{quoted} is given twice (header names are case-insensitive)"
            )));
        }
    }
    Ok(map)
}

/// A header name for an error: quoted, and cut short when long.
fn quote(name: &str) -> String {
    if name.len() <= MAX_QUOTED_NAME {
        return format!("{name:?}");
    }
    let mut cut = MAX_QUOTED_NAME;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{:?}…", &name[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn refused(pairs: &[(&str, &str)]) -> String {
        custom_headers("vault", &headers(pairs))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn headers_are_sent_as_given_and_marked_sensitive() {
        let map = custom_headers(
            "vault",
            &headers(&[("X-Team", "payments"), ("Authorization", "Bearer proxy")]),
        )
        .unwrap();
        assert_eq!(map.get("x-team").unwrap(), "payments");
        assert!(map.get("authorization").unwrap().is_sensitive());
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn headers_the_client_sets_itself_are_refused_by_name() {
        for name in [
            "X-Vault-Token",
            "x-vault-namespace",
            "Host",
            "Content-Length",
            "X-Vault-Index",
            "Transfer-Encoding",
        ] {
            let err = refused(&[("X-Fine", "1"), (name, "hvs.stolen-token")]);
            assert!(err.contains(&format!("{name:?}")), "{err}");
            assert!(err.contains("cannot be overridden"), "{err}");
            assert!(!err.contains("hvs.stolen-token"), "{err}");
        }
    }

    #[test]
    fn invalid_names_and_values_are_refused_without_showing_the_value() {
        let err = refused(&[("bad header", "v")]);
        assert!(
            err.contains("\"bad header\" is not a valid HTTP header name"),
            "{err}"
        );
        let err = refused(&[("X-Key", "line\nbreak-s3cret")]);
        assert!(err.contains("the value of \"X-Key\""), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn a_name_given_twice_in_two_spellings_is_refused() {
        let err = refused(&[("X-Team", "a"), ("x-team", "b")]);
        assert!(err.contains("is given twice"), "{err}");
    }

    #[test]
    fn header_count_and_size_are_bounded() {
        let many: BTreeMap<String, String> = (0..=MAX_HEADERS)
            .map(|i| (format!("x-h{i}"), "v".into()))
            .collect();
        let err = custom_headers("vault", &many).unwrap_err().to_string();
        assert!(err.contains("at most 32"), "{err}");
        let big = "v".repeat(MAX_HEADER_BYTES);
        let err = refused(&[("X-Big", &big)]);
        assert!(err.contains("exceed 8192 bytes"), "{err}");
        assert!(!err.contains(&big), "{err}");
        let long_name = "x".repeat(500);
        let err = refused(&[(&long_name, "\n")]);
        assert!(err.len() < 200, "{err}");
    }
}
