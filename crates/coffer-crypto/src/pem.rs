//! A small PEM reader and writer that keeps key bytes in zeroizing buffers.
//!
//! General-purpose PEM crates return plain `Vec<u8>`s, which would leave copies
//! of private keys in freed memory; this one decodes straight into
//! `Zeroizing` buffers. Like Go's `encoding/pem` (which Bitnami uses), text
//! around the blocks is ignored, so a `tls.key` with comments or a file that
//! holds a key and a certificate both read. Errors name the block label and
//! what is wrong, never the block's content.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// One decoded PEM block.
pub(crate) struct PemBlock {
    /// The label between `BEGIN ` and the dashes, e.g. `RSA PRIVATE KEY`.
    pub label: String,
    /// Whether RFC 1421 headers mark it as encrypted (`Proc-Type: 4,ENCRYPTED`).
    pub encrypted: bool,
    /// The decoded body.
    pub der: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PemBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemBlock")
            .field("label", &self.label)
            .field("encrypted", &self.encrypted)
            .field("der", &format_args!("<{} bytes redacted>", self.der.len()))
            .finish()
    }
}

/// Longest label we quote back in an error, so junk input stays short.
const MAX_LABEL_LEN: usize = 64;

fn parse_marker<'a>(line: &'a str, kind: &str) -> Option<&'a str> {
    line.strip_prefix("-----")?
        .strip_prefix(kind)?
        .strip_prefix(' ')?
        .strip_suffix("-----")
}

fn quoted_label(label: &str) -> String {
    label.chars().take(MAX_LABEL_LEN).collect()
}

/// Decodes every PEM block in `text`. `what` names the input for errors.
pub(crate) fn parse_blocks(text: &str, what: &'static str) -> Result<Vec<PemBlock>> {
    let malformed = |reason: String| Error::MalformedPem { what, reason };
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = parse_marker(line.trim(), "BEGIN") else {
            continue;
        };
        let label = label.to_owned();
        // Reserve the whole input up front: growing would leave copies behind.
        let mut body = Zeroizing::new(String::with_capacity(text.len()));
        let mut encrypted = false;
        let mut ended = false;
        for line in lines.by_ref() {
            let line = line.trim();
            if let Some(end) = parse_marker(line, "END") {
                if end != label {
                    return Err(malformed(format!(
                        "block {:?} is closed by END {:?}",
                        quoted_label(&label),
                        quoted_label(end)
                    )));
                }
                ended = true;
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                // RFC 1421 headers (Proc-Type, DEK-Info) precede the body.
                if name.trim() == "Proc-Type" && value.contains("ENCRYPTED") {
                    encrypted = true;
                }
                continue;
            }
            body.extend(line.chars().filter(|c| !c.is_ascii_whitespace()));
        }
        if !ended {
            return Err(malformed(format!(
                "block {:?} has no END line",
                quoted_label(&label)
            )));
        }
        let mut der = Zeroizing::new(vec![0u8; body.len() / 4 * 3 + 3]);
        let len = STANDARD
            .decode_slice(body.as_bytes(), der.as_mut_slice())
            .map_err(|_| {
                malformed(format!(
                    "the body of block {:?} is not valid base64",
                    quoted_label(&label)
                ))
            })?;
        der.truncate(len);
        blocks.push(PemBlock {
            label,
            encrypted,
            der,
        });
    }
    Ok(blocks)
}

/// Encodes `der` as one PEM block with 64-character lines.
pub(crate) fn encode(label: &str, der: &[u8]) -> Zeroizing<String> {
    let b64 = Zeroizing::new(STANDARD.encode(der));
    let mut out = Zeroizing::new(String::with_capacity(b64.len() + b64.len() / 64 + 64));
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_surrounding_text() {
        let der: Vec<u8> = (0..=255u8).collect();
        let pem = encode("TEST BLOCK", &der);
        let text = format!("comment line\n{}\ntrailing\r\n", pem.as_str());
        let blocks = parse_blocks(&text, "test").unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].label, "TEST BLOCK");
        assert_eq!(blocks[0].der.as_slice(), der.as_slice());
        assert!(!blocks[0].encrypted);
    }

    #[test]
    fn reads_crlf_line_endings() {
        let pem = encode("X", b"hello world").replace('\n', "\r\n");
        let blocks = parse_blocks(&pem, "test").unwrap();
        assert_eq!(blocks[0].der.as_slice(), b"hello world");
    }

    #[test]
    fn rejects_unterminated_and_mismatched_blocks() {
        let err = parse_blocks("-----BEGIN A-----\nAAAA\n", "test").unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed pem in the test: block \"A\" has no END line"
        );
        let err = parse_blocks("-----BEGIN A-----\nAAAA\n-----END B-----\n", "test").unwrap_err();
        assert!(err.to_string().contains("closed by END \"B\""), "{err}");
    }

    #[test]
    fn rejects_bad_base64_without_quoting_it() {
        let err =
            parse_blocks("-----BEGIN A-----\nsecret!!\n-----END A-----\n", "test").unwrap_err();
        assert!(err.to_string().contains("not valid base64"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn flags_encrypted_legacy_blocks() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
                    DEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        let blocks = parse_blocks(text, "test").unwrap();
        assert!(blocks[0].encrypted);
    }
}
