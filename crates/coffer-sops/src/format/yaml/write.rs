//! Writing the tree as YAML the way sops (go-yaml v3 with indent 4) lays it
//! out: block mappings and sequences, sequences indented under their key,
//! multi-line strings as literal blocks, comments as `#text` lines and
//! inline comments after the value they were attached to.

use std::borrow::Cow;

use base64::Engine as _;

use crate::format::scalar::{double_quoted, needs_quotes};
use crate::tree::{Branch, Comment, Key, Value};

const INDENT: usize = 4;

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn float_text(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    let s = format!("{f}");
    // Keep it a float when read back (go-yaml would write `1`).
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

fn literal_ok(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\t', '\n'])
        && !s.chars().any(|c| {
            (c.is_control() && c != '\n' && c != '\t')
                || !crate::format::scalar::is_printable(c)
                || matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}')
        })
        && !s.lines().any(|l| l.ends_with([' ', '\t']))
}

/// Writes a key or string scalar inline.
fn string_inline(s: &str, out: &mut String) {
    if needs_quotes(s) {
        double_quoted(s, out);
    } else {
        out.push_str(s);
    }
}

/// Writes a scalar that starts on the current line; block scalars continue
/// on the following lines indented at `indent`.
fn scalar(v: &Value, indent: usize, comment: &str, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&float_text(*f)),
        Value::Time(t) => out.push_str(t),
        Value::Str(s) if literal_ok(s) => {
            let body = s.trim_end_matches('\n');
            let trailing = s.len() - body.len();
            out.push('|');
            match trailing {
                0 => out.push('-'),
                1 => {}
                _ => out.push('+'),
            }
            out.push_str(comment);
            for line in s.split_inclusive('\n').map(|l| l.trim_end_matches('\n')) {
                out.push('\n');
                if !line.is_empty() {
                    pad(out, indent);
                    out.push_str(line);
                }
            }
            out.push('\n');
            return;
        }
        Value::Str(s) => string_inline(s, out),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => return scalar(&Value::Str(s.to_string()), indent, comment, out),
            Err(_) => {
                out.push_str("!!binary ");
                out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            }
        },
        Value::Comment(c) => {
            out.push('#');
            out.push_str(&c.text);
        }
        Value::Map(_) | Value::Seq(_) => unreachable!("collections are not scalars"),
    }
    out.push_str(comment);
    out.push('\n');
}

fn inline_comment(pending: &mut Vec<String>) -> String {
    let s: String = pending.iter().map(|c| format!(" #{c}")).collect();
    pending.clear();
    s
}

fn is_empty_collection(v: &Value) -> bool {
    match v {
        Value::Map(b) => b.iter().all(|i| matches!(i.key, Key::Comment(_))),
        Value::Seq(s) => s.iter().all(|i| matches!(i, Value::Comment(_))),
        _ => false,
    }
}

/// Writes a value after `key:` or `- `, which is already on the line.
fn after_marker(v: &Value, indent: usize, comment: &str, out: &mut String) {
    match v {
        Value::Map(b) if !is_empty_collection(v) => {
            out.push_str(comment);
            out.push('\n');
            branch(b, indent + INDENT, indent + INDENT, out);
        }
        Value::Seq(s) if !is_empty_collection(v) => {
            out.push_str(comment);
            out.push('\n');
            seq(s, indent + INDENT, out);
        }
        Value::Map(b) => {
            out.push_str(" {}");
            out.push_str(comment);
            out.push('\n');
            trailing_comments(
                b.iter().filter_map(|i| match &i.key {
                    Key::Comment(c) => Some(c),
                    Key::Name(_) => None,
                }),
                indent + INDENT,
                out,
            );
        }
        Value::Seq(s) => {
            out.push_str(" []");
            out.push_str(comment);
            out.push('\n');
            trailing_comments(
                s.iter().filter_map(|v| match v {
                    Value::Comment(c) => Some(c),
                    _ => None,
                }),
                indent + INDENT,
                out,
            );
        }
        _ => {
            out.push(' ');
            scalar(v, indent + INDENT, comment, out);
        }
    }
}

fn trailing_comments<'a>(
    comments: impl Iterator<Item = &'a Comment>,
    indent: usize,
    out: &mut String,
) {
    for c in comments {
        pad(out, indent);
        out.push('#');
        out.push_str(&c.text);
        out.push('\n');
    }
}

fn own_line_comment(c: &Comment, indent: usize, out: &mut String) {
    pad(out, indent);
    out.push('#');
    out.push_str(&c.text);
    out.push('\n');
}

/// Writes a block mapping whose items start at column `indent`; nested
/// collections and block scalars are indented from `base` (the mapping's own
/// column, or the `- ` column for a mapping inside a sequence, as go-yaml does).
pub fn branch(b: &Branch, indent: usize, base: usize, out: &mut String) {
    let mut pending: Vec<String> = Vec::new();
    for item in b {
        match &item.key {
            Key::Comment(c) if c.inline => pending.push(c.text.clone()),
            Key::Comment(c) => own_line_comment(c, indent, out),
            Key::Name(k) => {
                let comment = if is_empty_collection(&item.value)
                    || !matches!(item.value, Value::Map(_) | Value::Seq(_))
                {
                    inline_comment(&mut pending)
                } else {
                    // After `key:` a trailing comment would read back as the
                    // nested collection's first comment: put it above instead.
                    for c in pending.drain(..) {
                        own_line_comment(
                            &Comment {
                                text: c,
                                inline: false,
                            },
                            indent,
                            out,
                        );
                    }
                    String::new()
                };
                pad(out, indent);
                string_inline(k, out);
                out.push(':');
                after_marker(&item.value, base, &comment, out);
            }
        }
    }
    for c in pending {
        own_line_comment(
            &Comment {
                text: c,
                inline: false,
            },
            indent,
            out,
        );
    }
}

/// Writes a block sequence whose `- ` markers start at column `indent`.
pub fn seq(items: &[Value], indent: usize, out: &mut String) {
    let mut pending: Vec<String> = Vec::new();
    for v in items {
        match v {
            Value::Comment(c) if c.inline => pending.push(c.text.clone()),
            Value::Comment(c) => own_line_comment(c, indent, out),
            _ => {
                // Comments leading a nested collection go above its `- ` line.
                let lifted = lift_leading_comments(v, indent, out);
                let v = lifted.as_ref();
                let comment =
                    if is_empty_collection(v) || !matches!(v, Value::Map(_) | Value::Seq(_)) {
                        inline_comment(&mut pending)
                    } else {
                        // On a `- key:` line a trailing comment would attach to
                        // the nested entry when read back: put it above instead.
                        for c in pending.drain(..) {
                            own_line_comment(
                                &Comment {
                                    text: c,
                                    inline: false,
                                },
                                indent,
                                out,
                            );
                        }
                        String::new()
                    };
                pad(out, indent);
                out.push('-');
                match v {
                    Value::Map(b) if !is_empty_collection(v) => {
                        // The first entry shares the `- ` line.
                        let mut inner = String::new();
                        branch(b, indent + 2, indent, &mut inner);
                        let trimmed = inner.trim_start_matches(' ');
                        if !trimmed.starts_with('#') {
                            out.push(' ');
                        }
                        if trimmed.starts_with('#') {
                            // The entry starts with a comment: open it on the next line.
                            out.push_str(&comment);
                            out.push('\n');
                            out.push_str(&inner);
                        } else {
                            let (first, rest) = trimmed.split_once('\n').unwrap_or((trimmed, ""));
                            out.push_str(first);
                            out.push_str(&comment);
                            out.push('\n');
                            out.push_str(rest);
                        }
                    }
                    Value::Seq(s) if !is_empty_collection(v) => {
                        let mut inner = String::new();
                        seq(s, indent + 2, &mut inner);
                        let trimmed = inner.trim_start_matches(' ');
                        if !trimmed.starts_with('#') {
                            out.push(' ');
                        }
                        if trimmed.starts_with('#') {
                            // The entry starts with a comment: open it on the next line.
                            out.push_str(&comment);
                            out.push('\n');
                            out.push_str(&inner);
                        } else {
                            let (first, rest) = trimmed.split_once('\n').unwrap_or((trimmed, ""));
                            out.push_str(first);
                            out.push_str(&comment);
                            out.push('\n');
                            out.push_str(rest);
                        }
                    }
                    _ => after_marker(v, indent, &comment, out),
                }
            }
        }
    }
    for c in pending {
        own_line_comment(
            &Comment {
                text: c,
                inline: false,
            },
            indent,
            out,
        );
    }
}

fn lift_leading_comments<'a>(v: &'a Value, indent: usize, out: &mut String) -> Cow<'a, Value> {
    match v {
        Value::Map(b) if !is_empty_collection(v) => {
            let first = b
                .iter()
                .position(|i| matches!(i.key, Key::Name(_)))
                .unwrap_or(0);
            if first == 0 {
                return Cow::Borrowed(v);
            }
            for item in &b[..first] {
                if let Key::Comment(c) = &item.key {
                    own_line_comment(c, indent, out);
                }
            }
            Cow::Owned(Value::Map(b[first..].to_vec()))
        }
        Value::Seq(s) if !is_empty_collection(v) => {
            let first = s
                .iter()
                .position(|i| !matches!(i, Value::Comment(_)))
                .unwrap_or(0);
            for item in &s[..first] {
                if let Value::Comment(c) = item {
                    own_line_comment(c, indent, out);
                }
            }
            // The first entry shares this `- ` line too: lift its own leading comments.
            let head = lift_leading_comments(&s[first], indent, out);
            if first == 0 && matches!(head, Cow::Borrowed(_)) {
                return Cow::Borrowed(v);
            }
            let mut rest = Vec::with_capacity(s.len() - first);
            rest.push(head.into_owned());
            rest.extend_from_slice(&s[first + 1..]);
            Cow::Owned(Value::Seq(rest))
        }
        _ => Cow::Borrowed(v),
    }
}

/// Writes documents separated by `---`, as sops does.
pub fn write(docs: &[Branch]) -> String {
    let mut out = String::new();
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        if doc.iter().all(|it| matches!(it.key, Key::Comment(_))) {
            trailing_comments(
                doc.iter().filter_map(|i| match &i.key {
                    Key::Comment(c) => Some(c),
                    Key::Name(_) => None,
                }),
                0,
                &mut out,
            );
            out.push_str("{}\n");
        } else {
            branch(doc, 0, 0, &mut out);
        }
    }
    out
}
