//! Parsers for flag values as Bitnami's controller reads them with Go's
//! `pflag`: durations (`time.ParseDuration`), booleans
//! (`strconv.ParseBool`), listen addresses, RFC 1123 times, key sizes and
//! `key=value` lists.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use coffer_crypto::KeySize;
use k8s_openapi::jiff::Timestamp;

use crate::sealed::key_settings::KeyOrder;

/// A duration as Go writes it (`720h0m0s`, `1h30m`, `90s`, `0`), or
/// coffer's older `30d` form (whole days).
pub fn duration(text: &str) -> Result<Duration, String> {
    if let Some(days) = text.strip_suffix('d')
        && !days.is_empty()
        && days.bytes().all(|b| b.is_ascii_digit())
    {
        let days: u64 = days
            .parse()
            .map_err(|_| format!("{text:?} is too many days"))?;
        return days
            .checked_mul(86_400)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{text:?} is too many days"));
    }
    coffer_api::external::parse_go_duration(text)
        .map_err(|e| format!("{e} (use Go's form, like 720h0m0s, 1h30m or 45s)"))
}

/// A [`duration`] longer than zero.
pub fn timeout(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        Duration::ZERO => Err(format!("{text:?}: a timeout must be longer than 0")),
        timeout => Ok(timeout),
    }
}

/// A boolean as Go's `strconv.ParseBool` reads it (what pflag and
/// Bitnami's `SEALED_SECRETS_*` variables accept).
pub fn go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("{text:?} is not a boolean (use true or false)")),
    }
}

/// `:8080` (Go style, all interfaces) or a full socket address.
pub fn addr(text: &str) -> Result<SocketAddr, String> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_owned()
    };
    full.parse()
        .map_err(|e| format!("{text:?} is not an address like :8080 or 127.0.0.1:8080: {e}"))
}

/// RFC 1123 with a numeric zone (Go's `time.RFC1123Z`, what Bitnami
/// parses), read with RFC 2822 rules, which accept exactly that form.
/// An `http://` or `https://` URL with a host (an endpoint override).
pub fn http_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| format!("{text:?} is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
        return Err(format!("{text:?} has no host"));
    }
    Ok(text.to_owned())
}

pub fn rfc1123(text: &str) -> Result<Timestamp, String> {
    k8s_openapi::jiff::fmt::rfc2822::parse(text)
        .map(|zoned| zoned.timestamp())
        .map_err(|e| {
            format!("{text:?} is not a time like \"Mon, 02 Jan 2006 15:04:05 -0700\": {e}")
        })
}

/// `2048`, `3072` or `4096`.
pub fn key_size(text: &str) -> Result<KeySize, String> {
    text.parse()
        .ok()
        .and_then(|bits| KeySize::from_bits(bits).ok())
        .ok_or_else(|| format!("{text:?} is not a key size (use 2048, 3072 or 4096)"))
}

/// `CertNotBefore` or `SecretCreationTimestamp` (Bitnami's spelling).
pub fn key_order(text: &str) -> Result<KeyOrder, String> {
    match text {
        "CertNotBefore" => Ok(KeyOrder::CertNotBefore),
        "SecretCreationTimestamp" => Ok(KeyOrder::SecretCreationTimestamp),
        _ => Err(format!(
            "{text:?} is not a key order (use CertNotBefore or SecretCreationTimestamp)"
        )),
    }
}

/// Bitnami's `--log-level`: a `log/slog` level name, any case.
pub fn log_level(text: &str) -> Result<tracing::Level, String> {
    match text.to_ascii_uppercase().as_str() {
        "DEBUG" => Ok(tracing::Level::DEBUG),
        "INFO" => Ok(tracing::Level::INFO),
        "WARN" => Ok(tracing::Level::WARN),
        "ERROR" => Ok(tracing::Level::ERROR),
        _ => Err(format!(
            "{text:?} is not a log level (use DEBUG, INFO, WARN or ERROR)"
        )),
    }
}

/// Bitnami's `--privatekey-annotations` and `--privatekey-labels`:
/// `key=value` pairs separated by commas; an empty string is none. Unlike
/// Bitnami (which panics on an entry without `=`), a malformed entry is an
/// error naming it.
pub fn key_values(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut pairs = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (key, value) = entry
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| format!("{entry:?} is not key=value"))?;
        pairs.insert(key.to_owned(), value.to_owned());
    }
    Ok(pairs)
}

/// A comma-separated namespace list as Bitnami reads it: entries trimmed,
/// empty ones and repeats dropped.
pub fn namespace_list(given: &[String]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    given
        .iter()
        .flat_map(|n| n.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty() && seen.insert(n.to_owned()))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_gos_forms_and_the_older_day_form() {
        assert_eq!(duration("720h0m0s"), Ok(Duration::from_secs(720 * 3600)));
        assert_eq!(duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("87600h"), Ok(Duration::from_secs(87_600 * 3600)));
        assert_eq!(duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "d", "5", "1x", "-1h", "1d2h"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert!(timeout("0").is_err());
    }

    #[test]
    fn booleans_read_as_go_parses_them() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(go_bool(t), Ok(true));
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(go_bool(f), Ok(false));
        }
        assert!(go_bool("yes").is_err());
    }

    #[test]
    fn key_value_lists_are_read_and_malformed_entries_named() {
        let pairs = key_values("a=1, b=x=y,,").unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs["b"], "x=y");
        assert!(key_values("").unwrap().is_empty());
        let err = key_values("a=1,oops").unwrap_err();
        assert!(err.contains("\"oops\""), "{err}");
        assert!(key_values("=v").is_err());
    }

    #[test]
    fn namespace_lists_are_trimmed_and_deduplicated() {
        let given = [" team-a, team-b ,,".to_owned(), "team-a".to_owned()];
        assert_eq!(namespace_list(&given), ["team-a", "team-b"]);
        assert!(namespace_list(&[" ".to_owned()]).is_empty());
    }

    #[test]
    fn cutoff_time_reads_bitnamis_rfc1123z_form() {
        let t = rfc1123("Mon, 02 Jan 2006 15:04:05 -0700").unwrap();
        assert_eq!(t.to_string(), "2006-01-02T22:04:05Z");
        let err = rfc1123("2006-01-02").unwrap_err();
        assert!(err.contains("\"2006-01-02\" is not a time like"), "{err}");
    }

    #[test]
    fn key_order_and_log_level_use_bitnamis_names() {
        assert_eq!(key_order("CertNotBefore"), Ok(KeyOrder::CertNotBefore));
        assert!(key_order("certnotbefore").is_err());
        assert_eq!(log_level("info"), Ok(tracing::Level::INFO));
        assert_eq!(log_level("ERROR"), Ok(tracing::Level::ERROR));
        assert!(log_level("verbose").is_err());
    }
}
