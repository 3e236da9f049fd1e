//! Typing one scalar read from YAML as sops (go-yaml v3) types it: plain
//! text through go-yaml's resolver, quoted text as a string, `!!binary`
//! decoded, other tags of the YAML namespace resolved and custom tags kept
//! as their text.

use base64::Engine as _;
use granit_parser::{ScalarStyle, Span, Tag};

use crate::Error;
use crate::Result;
use crate::format::scalar::resolve_plain;
use crate::tree::Value;

pub(super) fn err(span: &Span, reason: impl Into<String>) -> Error {
    Error::Parse {
        format: "YAML",
        location: format!("line {} column {}", span.start.line(), span.start.col() + 1),
        reason: reason.into(),
    }
}

/// go-yaml (YAML 1.1) takes U+2028 and U+2029 for line breaks, so in plain
/// and single-quoted scalars it drops the blanks around them, where this
/// YAML 1.2 parser keeps them as text. sops writes a key such as `a<LS>b`
/// as `'a<LS>    b'` and reads it back without the spaces; so do we.
fn drop_blanks_around_unicode_breaks(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['\u{2028}', '\u{2029}']) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut after_break = false;
    for c in text.chars() {
        match c {
            '\u{2028}' | '\u{2029}' => {
                out.truncate(out.trim_end_matches([' ', '\t']).len());
                out.push(c);
                after_break = true;
            }
            ' ' | '\t' if after_break => {}
            _ => {
                out.push(c);
                after_break = false;
            }
        }
    }
    out.into()
}

pub(super) fn scalar_value(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    span: &Span,
) -> Result<Value> {
    let text: &str = &match style {
        ScalarStyle::Plain | ScalarStyle::SingleQuoted => drop_blanks_around_unicode_breaks(text),
        _ => text.into(),
    };
    if let Some(tag) = tag {
        // `!!binary` and `!!merge` are YAML tags outside the 1.2 core schema.
        if let Some(name) = tag.suffix_in_namespace("tag:yaml.org,2002:") {
            return match name.as_ref() {
                // go-yaml: `!!merge <<` (as go-yaml writes the string `<<`) is text.
                "str" | "merge" => Ok(Value::Str(text.to_string())),
                "binary" => {
                    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(cleaned)
                        .map_err(|_| err(span, "!!binary value contains invalid base64 data"))?;
                    Ok(match String::from_utf8(bytes) {
                        Ok(s) => Value::Str(s),
                        Err(e) => Value::Bytes(e.into_bytes()),
                    })
                }
                _ => Ok(resolve_plain(text)),
            };
        }
        // Matches go-yaml: values with custom tags decode as their text.
        return Ok(Value::Str(text.to_string()));
    }
    Ok(match style {
        ScalarStyle::Plain => resolve_plain(text),
        _ => Value::Str(text.to_string()),
    })
}
