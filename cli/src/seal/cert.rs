//! Where `coffer seal` gets the sealing certificate: `--cert` names a file,
//! an `http(s)://` URL or a `file://` URL (matches kubeseal's `OpenCert`:
//! anything without a URL scheme is a file name).

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};

/// Where a certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// A local file.
    File(PathBuf),
    /// An `http://` or `https://` URL.
    Url(String),
}

impl CertSource {
    /// Classifies `--cert`'s value. Matches kubeseal: a value without a URL
    /// scheme (or with a one-letter "scheme", a Windows drive) is a file name;
    /// `file://` URLs name a file by absolute path.
    pub fn parse(text: &str) -> Result<CertSource> {
        let Some((scheme, rest)) = text.split_once("://").filter(|(s, _)| is_scheme(s)) else {
            return Ok(CertSource::File(PathBuf::from(text)));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                // file:///abs/path or file://localhost/abs/path
                let path = rest.strip_prefix("localhost").unwrap_or(rest);
                if !path.starts_with('/') {
                    bail!(
                        "--cert {text}: a file:// URL needs an absolute path (file:///path/to/cert.pem)"
                    );
                }
                Ok(CertSource::File(PathBuf::from(percent_decode(path)?)))
            }
            "http" | "https" => Ok(CertSource::Url(text.to_owned())),
            other => bail!(
                "--cert {text}: unsupported URL scheme {other:?} (use a file name, file://, http:// or https://)"
            ),
        }
    }

    /// Reads the certificate PEM.
    pub fn read(&self) -> Result<String> {
        match self {
            CertSource::File(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the certificate {}", path.display())),
            CertSource::Url(url) => fetch_url(url),
        }
    }

    /// Where it comes from, for messages.
    pub fn describe(&self) -> String {
        match self {
            CertSource::File(path) => path.display().to_string(),
            CertSource::Url(url) => url.clone(),
        }
    }
}

fn is_scheme(s: &str) -> bool {
    // A one-letter scheme is a Windows drive letter (matches kubeseal).
    s.len() > 1
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

fn percent_decode(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| anyhow!("bad percent-escape in the file URL {text}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| anyhow!("the file URL {text} does not decode to UTF-8"))
}

fn fetch_url(url: &str) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the HTTP client")?;
    runtime.block_on(async {
        let response = reqwest::get(url)
            .await
            .with_context(|| format!("cannot fetch the certificate from {url}"))?;
        let status = response.status();
        if !status.is_success() {
            // Matches kubeseal: anything but 200 OK is an error.
            bail!("cannot fetch the certificate from {url}: HTTP {status}");
        }
        response
            .text()
            .await
            .with_context(|| format!("cannot read the certificate from {url}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_and_drive_letters_are_files() {
        assert_eq!(
            CertSource::parse("cert.pem").unwrap(),
            CertSource::File("cert.pem".into())
        );
        assert_eq!(
            CertSource::parse("c://x").unwrap(),
            CertSource::File("c://x".into())
        );
    }

    #[test]
    fn file_urls_name_absolute_paths_with_escapes_decoded() {
        assert_eq!(
            CertSource::parse("file:///tmp/my%20cert.pem").unwrap(),
            CertSource::File("/tmp/my cert.pem".into())
        );
        assert!(CertSource::parse("file://relative.pem").is_err());
    }

    #[test]
    fn http_urls_are_fetched_and_other_schemes_refused() {
        assert_eq!(
            CertSource::parse("https://example.com/v1/cert.pem").unwrap(),
            CertSource::Url("https://example.com/v1/cert.pem".into())
        );
        let err = CertSource::parse("ftp://example.com/cert.pem").unwrap_err();
        assert!(err.to_string().contains("unsupported URL scheme"), "{err}");
    }
}
