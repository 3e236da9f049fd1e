//! The body of a `/v1/verify` or `/v1/rotate` request: a SealedSecret in
//! JSON, sent by anyone who can reach the controller's Service. Reading it
//! is pure so the controller and the fuzz target (`fuzz/request_body`) run
//! the same code: parse, then count the values the request would have the
//! controller decrypt (each an RSA private-key operation per key tried), so
//! an oversized request is refused before any of them runs.

use coffer_api::SealedSecret;

/// Why a request body is refused.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The body is not a SealedSecret in JSON. The body holds sealed values
    /// only and the message goes back to its sender, so serde's message
    /// (which may quote it) is kept.
    #[error("request body is not a SealedSecret in JSON: {0}")]
    NotSealedSecret(String),
    /// The SealedSecret asks for more decryptions than allowed.
    #[error(
        "the SealedSecret has {count} values; this controller decrypts at most {max} per request \
         (--max-request-values)"
    )]
    TooManyValues {
        /// Values in the request.
        count: usize,
        /// The configured maximum.
        max: usize,
    },
}

/// A parsed request: the SealedSecret and how many values it would decrypt.
#[derive(Debug)]
pub struct Request {
    /// The SealedSecret sent.
    pub sealed: SealedSecret,
    /// Its `encryptedData` entries, plus one for a non-empty whole-Secret
    /// blob (`spec.data`).
    pub values: usize,
}

/// Values a SealedSecret asks to decrypt: each `encryptedData` entry, and
/// the deprecated whole-Secret blob.
pub fn values(sealed: &SealedSecret) -> usize {
    let whole = sealed.spec.data.as_deref().is_some_and(|d| !d.is_empty());
    sealed.spec.encrypted_data.len() + usize::from(whole)
}

/// Parses `body` and refuses it when it holds more than `max_values`.
pub fn parse_request(body: &[u8], max_values: usize) -> Result<Request, RequestError> {
    let sealed: SealedSecret =
        serde_json::from_slice(body).map_err(|e| RequestError::NotSealedSecret(e.to_string()))?;
    let count = values(&sealed);
    if count > max_values {
        return Err(RequestError::TooManyValues {
            count,
            max: max_values,
        });
    }
    Ok(Request {
        sealed,
        values: count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_counted_before_anything_is_decrypted() {
        let body = br#"{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret",
            "metadata":{"name":"a","namespace":"n"},
            "spec":{"encryptedData":{"a":"AAAA","b":"AAAA","c":"AAAA"},"data":"AAAA"}}"#;
        assert_eq!(parse_request(body, 4).unwrap().values, 4);
        let err = parse_request(body, 3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the SealedSecret has 4 values; this controller decrypts at most 3 per request \
             (--max-request-values)"
        );
    }

    #[test]
    fn a_body_that_is_not_a_sealed_secret_is_named() {
        let err = parse_request(b"[1, 2]", 10).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("request body is not a SealedSecret in JSON: "),
            "{err}"
        );
    }
}
