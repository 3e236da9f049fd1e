//! What ESO does to values and keys between the provider and the template:
//! `decodingStrategy` on values, `conversionStrategy` and `rewrite` on the
//! keys of `dataFrom` results.
//!
//! Errors name the key and what failed, never the value.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
pub use coffer_api::external::{
    ConversionStrategy as Conversion, DecodingStrategy as Decoding, NullBytePolicy,
};
use coffer_providers::SecretValue;
use regex::Regex;

/// Secret data on its way to the Secret: key → value.
pub type SecretData = BTreeMap<String, SecretValue>;

/// A transformation that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// A value is not valid base64 of the kind asked for.
    #[error("key {key:?}: value is not valid {kind}")]
    Decode {
        /// The key whose value failed.
        key: String,
        /// `base64` or `base64url`.
        kind: &'static str,
    },
    /// `nullBytePolicy: Fail` and a value holds a NUL byte (ESO's words).
    #[error(
        "fetched secret value for key {key:?} contains null bytes; use a text-safe format such as PEM/base64 or leave nullBytePolicy unset for intentional binary data"
    )]
    NullBytes {
        /// The key whose value holds one.
        key: String,
    },
    /// A rewrite regexp does not compile.
    #[error("rewrite regexp {source_regex:?}: {reason}")]
    Regexp {
        /// The regexp as written.
        source_regex: String,
        /// Why it does not compile.
        reason: String,
    },
    /// A rewrite template failed.
    #[error("rewrite template for key {key:?}: {reason}")]
    Template {
        /// The key being rewritten.
        key: String,
        /// Why the template failed.
        reason: String,
    },
    /// Two keys became the same key.
    #[error("key collision: more than one key becomes {key:?}")]
    Collision {
        /// The key they share.
        key: String,
    },
    /// A rewrite left a key empty or not allowed in a Secret.
    #[error("key {from:?} was rewritten to {to:?}, which is not a valid Secret key")]
    InvalidKey {
        /// The key before the rewrite.
        from: String,
        /// The key after it.
        to: String,
    },
}

/// Applies `decoding` (ESO's `decodingStrategy`) to the value of `key`:
/// `Auto` tries standard then URL-safe base64 and keeps the value as it is
/// when neither fits; the others fail on invalid input.
pub fn decode(
    key: &str,
    value: SecretValue,
    decoding: Decoding,
) -> Result<SecretValue, TransformError> {
    let bytes = value.expose();
    let trimmed = trim_ascii(bytes);
    let decoded = match decoding {
        Decoding::None => return Ok(value),
        Decoding::Base64 => STANDARD
            .decode(trimmed)
            .map_err(|_| TransformError::Decode {
                key: key.to_owned(),
                kind: "base64",
            })?,
        Decoding::Base64Url => decode_url(trimmed).ok_or_else(|| TransformError::Decode {
            key: key.to_owned(),
            kind: "base64url",
        })?,
        Decoding::Auto => match STANDARD
            .decode(trimmed)
            .ok()
            .or_else(|| decode_url(trimmed))
        {
            Some(decoded) => decoded,
            None => return Ok(value),
        },
    };
    Ok(SecretValue::new(decoded))
}

/// ESO's `nullBytePolicy`: under `Fail`, a value holding a NUL byte (after
/// decoding) fails the sync, naming its key.
pub fn check_null_bytes(
    key: &str,
    value: &SecretValue,
    policy: NullBytePolicy,
) -> Result<(), TransformError> {
    if policy == NullBytePolicy::Fail && value.expose().contains(&0) {
        return Err(TransformError::NullBytes {
            key: key.to_owned(),
        });
    }
    Ok(())
}

fn decode_url(input: &[u8]) -> Option<Vec<u8>> {
    URL_SAFE
        .decode(input)
        .ok()
        .or_else(|| URL_SAFE_NO_PAD.decode(input).ok())
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// Applies `conversion` (ESO's `conversionStrategy`: `Default` turns every
/// character a Secret key may not hold into `_`, `Unicode` into `_UXXXX_`)
/// to every key of a `dataFrom` result (matches ESO:
/// skipped when the entry has rewrites). Two keys that convert to the same
/// name are an error.
pub fn convert_keys(
    data: SecretData,
    conversion: Conversion,
) -> Result<SecretData, TransformError> {
    let mut out = SecretData::new();
    for (key, value) in data {
        let converted = convert_key(&key, conversion);
        if out.insert(converted.clone(), value).is_some() {
            return Err(TransformError::Collision { key: converted });
        }
    }
    Ok(out)
}

/// Applies `conversion` to one key.
pub fn convert_key(key: &str, conversion: Conversion) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        if is_key_char(c) {
            out.push(c);
        } else {
            match conversion {
                Conversion::Default => out.push('_'),
                Conversion::Unicode => out.push_str(&format!("_U{:04x}_", u32::from(c))),
            }
        }
    }
    out
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '.' | '_')
}

/// One `rewrite` step.
#[derive(Debug, Clone)]
pub enum Rewrite {
    /// `regexp {source, target}`: Go's `ReplaceAllString` on every key
    /// (`$1` and `${name}` expand capture groups).
    Regexp {
        /// The compiled source pattern.
        source: Regex,
        /// The replacement.
        target: String,
    },
    /// `transform {template}`: the key becomes the template's output, with
    /// `.value` the key.
    Transform(coffer_template::Template),
}

impl Rewrite {
    /// Compiles a `regexp` rewrite.
    pub fn regexp(source: &str, target: &str) -> Result<Self, TransformError> {
        let re = Regex::new(source).map_err(|e| TransformError::Regexp {
            source_regex: source.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Rewrite::Regexp {
            source: re,
            // The regex crate expands `$1`, `${1}` and `$name` as Go's
            // Regexp.Expand does (`$1x` names the group `1x` in both).
            target: target.to_owned(),
        })
    }

    /// Parses a `transform` rewrite.
    pub fn transform(template: &str) -> Result<Self, TransformError> {
        coffer_template::Template::parse("rewrite", template)
            .map(Rewrite::Transform)
            .map_err(|e| TransformError::Template {
                key: String::new(),
                reason: e.to_string(),
            })
    }

    fn apply(&self, key: &str) -> Result<String, TransformError> {
        match self {
            Rewrite::Regexp { source, target } => {
                Ok(source.replace_all(key, target.as_str()).into_owned())
            }
            Rewrite::Transform(template) => {
                let data: coffer_template::Data = [("value", key)].into_iter().collect();
                let out = template
                    .render(&data, &coffer_template::Options::eso())
                    .map_err(|e| TransformError::Template {
                        key: key.to_owned(),
                        reason: e.to_string(),
                    })?;
                Ok(String::from_utf8_lossy(&out).into_owned())
            }
        }
    }
}

/// Applies `rewrites` in order to every key of `data`. A key that becomes
/// empty or invalid is an error naming both spellings.
pub fn rewrite_keys(data: SecretData, rewrites: &[Rewrite]) -> Result<SecretData, TransformError> {
    if rewrites.is_empty() {
        return Ok(data);
    }
    let mut out = SecretData::new();
    for (key, value) in data {
        let mut new_key = key.clone();
        for rewrite in rewrites {
            new_key = rewrite.apply(&new_key)?;
        }
        if new_key.is_empty() {
            // Matches ESO's ValidateKeys: empty keys are dropped.
            continue;
        }
        if !is_valid_secret_key(&new_key) {
            return Err(TransformError::InvalidKey {
                from: key,
                to: new_key,
            });
        }
        out.insert(new_key, value);
    }
    Ok(out)
}

/// Kubernetes' rule for Secret data keys: `[-._a-zA-Z0-9]+`, at most 253
/// characters, not `.` or `..`.
pub fn is_valid_secret_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> SecretValue {
        SecretValue::new(s.as_bytes().to_vec())
    }

    #[test]
    fn decoding_follows_each_strategy() {
        assert_eq!(
            decode("k", v("aGVsbG8="), Decoding::Base64).unwrap(),
            v("hello")
        );
        assert_eq!(
            decode("k", v("aGVsbG8="), Decoding::None).unwrap(),
            v("aGVsbG8=")
        );
        assert_eq!(
            decode("k", v("_-8"), Decoding::Base64Url).unwrap().expose(),
            &[0xff, 0xef]
        );
        assert_eq!(
            decode("k", v("aGVsbG8"), Decoding::Auto).unwrap(),
            v("hello")
        );
        assert_eq!(
            decode("k", v("not base64!"), Decoding::Auto).unwrap(),
            v("not base64!")
        );
    }

    #[test]
    fn null_bytes_fail_only_under_fail_naming_the_key() {
        let binary = SecretValue::new(b"a\0b".to_vec());
        assert!(check_null_bytes("k", &binary, NullBytePolicy::Ignore).is_ok());
        assert!(check_null_bytes("k", &v("text"), NullBytePolicy::Fail).is_ok());
        let err = check_null_bytes("k", &binary, NullBytePolicy::Fail).unwrap_err();
        assert!(
            err.to_string().contains("key \"k\" contains null bytes"),
            "{err}"
        );
    }

    #[test]
    fn invalid_base64_names_the_key_not_the_value() {
        let err = decode("db-password", v("s3cr3t!!"), Decoding::Base64).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("db-password"), "{msg}");
        assert!(!msg.contains("s3cr3t"), "{msg}");
    }

    #[test]
    fn conversion_replaces_characters_a_secret_key_cannot_hold() {
        assert_eq!(
            convert_key("app/db/pass", Conversion::Default),
            "app_db_pass"
        );
        assert_eq!(
            convert_key("app/db pass", Conversion::Unicode),
            "app_U002f_db_U0020_pass"
        );
        assert_eq!(convert_key("ok-key_1.x", Conversion::Unicode), "ok-key_1.x");
    }

    #[test]
    fn keys_that_convert_to_the_same_name_are_an_error() {
        let data: SecretData = [("a/b".to_owned(), v("1")), ("a_b".to_owned(), v("2"))]
            .into_iter()
            .collect();
        let err = convert_keys(data, Conversion::Default).unwrap_err();
        assert_eq!(err, TransformError::Collision { key: "a_b".into() });
    }

    #[test]
    fn regexp_rewrites_apply_in_order_with_capture_groups() {
        let data: SecretData = [("app/db/password".to_owned(), v("x"))]
            .into_iter()
            .collect();
        let rewrites = [
            Rewrite::regexp("^app/", "").unwrap(),
            Rewrite::regexp("(\\w+)/(\\w+)", "${1}_$2").unwrap(),
        ];
        let out = rewrite_keys(data, &rewrites).unwrap();
        assert_eq!(out.keys().collect::<Vec<_>>(), ["db_password"]);
    }

    #[test]
    fn transform_rewrite_renders_the_key_as_value() {
        let data: SecretData = [("password".to_owned(), v("x"))].into_iter().collect();
        let rewrites = [Rewrite::transform("{{ .value | upper }}").unwrap()];
        let out = rewrite_keys(data, &rewrites).unwrap();
        assert_eq!(out.keys().collect::<Vec<_>>(), ["PASSWORD"]);
    }

    #[test]
    fn a_rewrite_that_leaves_an_invalid_key_is_an_error() {
        let data: SecretData = [("a/b".to_owned(), v("x"))].into_iter().collect();
        let err = rewrite_keys(data, &[Rewrite::regexp("^a", "c").unwrap()]).unwrap_err();
        assert!(
            matches!(err, TransformError::InvalidKey { ref to, .. } if to == "c/b"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_regexp_is_reported() {
        assert!(matches!(
            Rewrite::regexp("(", "x"),
            Err(TransformError::Regexp { .. })
        ));
    }
}
