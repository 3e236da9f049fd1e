//! The tree turned into go-yaml nodes the way sops's YAML store does it
//! (`appendTreeBranch`, `appendSequence`, `treeValueToNode`): comments before
//! the first entry become the collection's head comment, comments before a
//! later entry the head comment of its key (or item), inline comments the
//! line comment of the value, and comments after the last entry the foot
//! comment of the last key (or item). Each comment is `#` plus its text, and
//! several are joined by line breaks.

use std::borrow::Cow;

use base64::Engine as _;

use crate::format::yaml::style::{self, Scalar, Style};
use crate::tree::{Branch, Key, Value};

/// A node with its three comment slots (empty when absent).
pub(super) struct Node<'a> {
    pub kind: Kind<'a>,
    pub head: String,
    pub line: String,
    pub foot: String,
}

pub(super) enum Kind<'a> {
    /// Key and value nodes, in order.
    Map(Vec<(Node<'a>, Node<'a>)>),
    Seq(Vec<Node<'a>>),
    Scalar(Scalar<'a>),
}

impl<'a> Node<'a> {
    fn new(kind: Kind<'a>) -> Self {
        Node {
            kind,
            head: String::new(),
            line: String::new(),
            foot: String::new(),
        }
    }
}

/// `#a\n#b` for the comment texts `a` and `b`.
fn joined(texts: &[&str]) -> String {
    let mut s = String::new();
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push('#');
        s.push_str(t);
    }
    s
}

/// sops's `addCommentsHead`: new comments go before the ones already there.
fn add_head(slot: &mut String, texts: &mut Vec<&str>) {
    if texts.is_empty() {
        return;
    }
    let mut c = joined(texts);
    if !slot.is_empty() {
        c.push('\n');
        c.push_str(slot);
    }
    *slot = c;
    texts.clear();
}

/// sops's `addCommentsLine` and `addCommentsFoot`: new comments go after.
fn add_tail(slot: &mut String, texts: &mut Vec<&str>) {
    if texts.is_empty() {
        return;
    }
    if !slot.is_empty() {
        slot.push('\n');
    }
    slot.push_str(&joined(texts));
    texts.clear();
}

fn scalar(s: Scalar<'_>) -> Node<'_> {
    Node::new(Kind::Scalar(s))
}

fn plain(text: String) -> Node<'static> {
    scalar(Scalar {
        text: Cow::Owned(text),
        style: Style::Plain,
        tag: None,
    })
}

/// `treeValueToNode`: a value as the node `Node.Encode` makes of it.
pub(super) fn value(v: &Value) -> Node<'_> {
    match v {
        Value::Map(b) => mapping(b),
        Value::Seq(items) => sequence(items),
        Value::Null => plain("null".into()),
        Value::Bool(b) => plain(b.to_string()),
        Value::Int(i) => plain(i.to_string()),
        Value::Float(f) => plain(float_text(*f)),
        Value::Time(t) => scalar(Scalar {
            text: Cow::Borrowed(t),
            style: Style::Plain,
            tag: None,
        }),
        Value::Str(s) => scalar(style::string_scalar(s)),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => scalar(style::string_scalar(s)),
            Err(_) => scalar(binary_scalar(b)),
        },
        // A comment standing alone as a value is written as its text.
        Value::Comment(c) => scalar(style::string_scalar(&c.text)),
    }
}

/// `appendTreeBranch` into a new mapping node.
pub(super) fn mapping(b: &Branch) -> Node<'_> {
    let mut node = Node::new(Kind::Map(Vec::new()));
    let mut heads: Vec<&str> = Vec::new();
    let mut inlines: Vec<&str> = Vec::new();
    let mut entries: Vec<(Node<'_>, Node<'_>)> = Vec::with_capacity(b.len());
    for item in b {
        match &item.key {
            Key::Comment(c) if c.inline => inlines.push(&c.text),
            Key::Comment(c) => heads.push(&c.text),
            Key::Name(k) => {
                if entries.is_empty() {
                    add_head(&mut node.head, &mut heads);
                }
                let mut key = scalar(style::string_scalar(k));
                add_head(&mut key.head, &mut heads);
                let mut val = value(&item.value);
                add_tail(&mut val.line, &mut inlines);
                entries.push((key, val));
            }
        }
    }
    heads.append(&mut inlines);
    match entries.last_mut() {
        Some((key, _)) => add_tail(&mut key.foot, &mut heads),
        None => add_head(&mut node.head, &mut heads),
    }
    node.kind = Kind::Map(entries);
    node
}

/// `appendSequence` into a new sequence node.
fn sequence(items: &[Value]) -> Node<'_> {
    let mut node = Node::new(Kind::Seq(Vec::new()));
    let mut heads: Vec<&str> = Vec::new();
    let mut inlines: Vec<&str> = Vec::new();
    let mut out: Vec<Node<'_>> = Vec::with_capacity(items.len());
    for v in items {
        match v {
            Value::Comment(c) if c.inline => inlines.push(&c.text),
            Value::Comment(c) => heads.push(&c.text),
            _ => {
                if out.is_empty() {
                    add_head(&mut node.head, &mut heads);
                }
                let mut n = value(v);
                add_head(&mut n.head, &mut heads);
                add_tail(&mut n.line, &mut inlines);
                out.push(n);
            }
        }
    }
    heads.append(&mut inlines);
    match out.last_mut() {
        Some(last) => add_tail(&mut last.foot, &mut heads),
        None => add_head(&mut node.head, &mut heads),
    }
    node.kind = Kind::Seq(out);
    node
}

/// Bytes that are not UTF-8: go-yaml writes them as `!!binary`, base64 in
/// lines of 70 characters (each ending in a line break once there is more
/// than one, so the scalar becomes a literal block).
pub(super) fn binary_scalar(bytes: &[u8]) -> Scalar<'static> {
    const LINE: usize = 70;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let text = if encoded.len() / LINE + 1 > 1 {
        let mut t = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
        for chunk in encoded.as_bytes().chunks(LINE) {
            // base64 output is ASCII.
            t.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            t.push('\n');
        }
        t
    } else {
        encoded
    };
    let style = if text.contains('\n') {
        Style::Literal
    } else {
        Style::Plain
    };
    Scalar {
        text: text.into(),
        style,
        tag: Some("binary"),
    }
}

/// A float as go-yaml writes it: `strconv.FormatFloat(f, 'g', -1, 64)` with
/// `.inf`, `-.inf` and `.nan`. Integral values below 1e6 come out without a
/// decimal point (`1`), as in sops's output.
pub(super) fn float_text(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, as Go's -1 precision does.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_formatted_as_go_g() {
        for (f, s) in [
            (1.0, "1"),
            (0.0, "0"),
            (-0.0, "-0"),
            (1.5e10, "1.5e+10"),
            (1e-6, "1e-06"),
            (1234567.0, "1.234567e+06"),
            (123456.0, "123456"),
            (0.0001234, "0.0001234"),
            (0.25, "0.25"),
            (-2.5, "-2.5"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (f64::INFINITY, ".inf"),
            (f64::NEG_INFINITY, "-.inf"),
            (f64::NAN, ".nan"),
        ] {
            assert_eq!(float_text(f), s, "{f:e}");
        }
    }

    #[test]
    fn binary_is_base64_in_lines_of_70() {
        let short = binary_scalar(&[0xff, 0xfe]);
        assert_eq!((short.text.as_ref(), short.style), ("//4=", Style::Plain));
        let long = binary_scalar(&[0xff; 60]);
        assert_eq!(long.style, Style::Literal);
        let lines: Vec<&str> = long.text.split_terminator('\n').collect();
        assert_eq!(lines.iter().map(|l| l.len()).collect::<Vec<_>>(), [70, 10]);
        assert!(long.text.ends_with('\n'));
    }
}
