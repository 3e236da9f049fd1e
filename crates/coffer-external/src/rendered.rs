//! Checks on what templates rendered into Secret keys, labels and
//! annotations, before the API server sees them: its validation errors
//! quote the offending key or value (`Invalid value: "..."`), and that
//! error would reach the ExternalSecret's status, where whoever wrote the
//! template reads it. A rendered key or value can be secret data, so these
//! errors name only what the spec itself wrote (a key given in the spec),
//! never what was rendered.

use crate::transform::is_valid_secret_key;

/// Kubernetes' label value rule: at most 63 characters, alphanumerics,
/// `-`, `_` and `.`, starting and ending with an alphanumeric (or empty).
pub fn is_valid_label_value(v: &str) -> bool {
    v.is_empty() || is_valid_name_part(v)
}

/// Kubernetes' qualified name (label and annotation keys): an optional DNS
/// subdomain prefix and `/`, then a name part as for label values (not
/// empty).
pub fn is_valid_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    });
    prefix_ok && is_valid_name_part(name)
}

fn is_valid_name_part(v: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_alphanumeric();
    let bytes = v.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.first().copied().is_some_and(alnum)
        && bytes.last().copied().is_some_and(alnum)
        && bytes
            .iter()
            .all(|&b| alnum(b) || matches!(b, b'-' | b'_' | b'.'))
}

/// Where a rendered entry goes, and whether its key was rendered too
/// (`templateAs: KeysAndValues`) or written in the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The key is written in the spec: it may be named in errors.
    SpecKey,
    /// The key came out of a template: it may be secret.
    RenderedKey,
}

/// Why a rendered entry cannot go into the Secret; `key` is named only for
/// [`Origin::SpecKey`].
pub fn check_data_key(key: &str, origin: Origin) -> Result<(), String> {
    if origin == Origin::RenderedKey && !is_valid_secret_key(key) {
        return Err(
            "a key rendered by templateAs: KeysAndValues is not a valid Secret data key (\
                    alphanumerics, '-', '_' or '.')"
                .to_owned(),
        );
    }
    Ok(())
}

/// Why a rendered label cannot go on the Secret.
pub fn check_label(key: &str, value: &str, origin: Origin) -> Result<(), String> {
    let what = match origin {
        Origin::SpecKey => format!("label {key:?}"),
        Origin::RenderedKey => "a label rendered by templateAs: KeysAndValues".to_owned(),
    };
    if !is_valid_qualified_name(key) {
        return Err(format!("{what}: the key is not a valid label key"));
    }
    if !is_valid_label_value(value) {
        return Err(format!(
            "{what}: the rendered value is not a valid label value (at most 63 alphanumerics, \
             '-', '_' or '.', starting and ending with an alphanumeric)"
        ));
    }
    Ok(())
}

/// Why a rendered annotation cannot go on the Secret (any value is valid).
pub fn check_annotation(key: &str, origin: Origin) -> Result<(), String> {
    if !is_valid_qualified_name(key) {
        return Err(match origin {
            Origin::SpecKey => format!("annotation {key:?}: the key is not a valid annotation key"),
            Origin::RenderedKey => "an annotation key rendered by templateAs: KeysAndValues is \
                                    not a valid annotation key"
                .to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_name_rules() {
        for ok in ["", "a", "a-b_c.d", "A1", &"x".repeat(63)] {
            assert!(is_valid_label_value(ok), "{ok}");
        }
        for bad in ["-a", "a-", "a b", "a/b", "hunter2!", &"x".repeat(64)] {
            assert!(!is_valid_label_value(bad), "{bad}");
        }
        for ok in ["app", "example.com/app", "a.b-c/x_y"] {
            assert!(is_valid_qualified_name(ok), "{ok}");
        }
        for bad in ["", "/x", "Example.com/x", "a//b", "x/", "-x", "a b"] {
            assert!(!is_valid_qualified_name(bad), "{bad}");
        }
    }

    #[test]
    fn errors_name_spec_keys_but_never_rendered_keys_or_values() {
        let e = check_label("team", "hunter2!!", Origin::SpecKey).unwrap_err();
        assert!(e.contains("\"team\"") && !e.contains("hunter2"), "{e}");
        let e = check_label("hunter2!!", "x", Origin::RenderedKey).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        let e = check_data_key("hunter2!!", Origin::RenderedKey).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        let e = check_annotation("hunter2!!", Origin::RenderedKey).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
