//! How go-yaml v3 presents a scalar, decided the way sops gets it: sops turns
//! every value into a `yaml.Node` with `Node.Encode`, which emits the value
//! alone and parses it back, so the style the emitter picked there (plain,
//! single-quoted, double-quoted or literal) is the style the final document
//! asks for. This module holds that first decision and the character
//! analysis go-yaml's emitter repeats for the final one
//! (`yaml_emitter_analyze_scalar`).

use crate::format::scalar::resolve_plain;
use crate::tree::Value;

/// A scalar's presentation style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// A scalar ready for the emitter: its text, the style requested and an
/// explicit tag (`!!binary`, `!!merge`) when go-yaml writes one.
pub(super) struct Scalar<'a> {
    pub text: std::borrow::Cow<'a, str>,
    pub style: Style,
    pub tag: Option<&'static str>,
}

/// What the emitter may do with a scalar's text, from its characters alone.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Analysis {
    /// It contains a line break (LF, CR, NEL, LS or PS).
    pub multiline: bool,
    pub flow_plain_allowed: bool,
    pub block_plain_allowed: bool,
    pub single_quoted_allowed: bool,
    pub block_allowed: bool,
}

/// go-yaml's `is_printable`, which works on UTF-8 lead bytes: it leaves out
/// tab, CR, NEL, the C1 controls, U+FEFF, U+FFFE/U+FFFF and every character
/// outside the Basic Multilingual Plane (so emoji are written escaped).
pub(super) fn is_printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{feff}'
}

/// go-yaml's `is_break`.
pub(super) fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_end(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || is_break(c),
    }
}

/// `yaml_emitter_analyze_scalar`: which styles can carry this text.
pub(super) fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = false;
    let mut flow_indicators = false;
    let mut line_breaks = false;
    let mut special = false;
    let mut tabs = false;
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    if value.starts_with("---") || value.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_whitespace = true;
    let mut chars = value.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let followed_by_whitespace = is_blank_or_end(next);
        let last = next.is_none();
        if first {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    block_indicators |= followed_by_whitespace;
                }
                '-' if followed_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    block_indicators |= followed_by_whitespace;
                }
                '#' if preceded_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            leading_space |= first;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= first;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank_or_end(Some(c));
        first = false;
    }
    let mut a = Analysis {
        multiline: line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break || line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if trailing_space || space_break || special {
        a.block_allowed = false;
    }
    if break_space || space_break || tabs || special {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if flow_indicators {
        a.flow_plain_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// go-yaml's `isBase60Float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
/// Such strings are quoted on output for YAML 1.1 readers.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let start = i;
        while i - start < 2 && b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        // One digit, or two with the first in 0..=5.
        match i - start {
            1 => {}
            2 if b[start] <= b'5' => {}
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// go-yaml's `isOldBool`: YAML 1.1 booleans, quoted on output.
fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// go-yaml's `stringv` followed by the emitter's choice at the root of the
/// throw-away document `Node.Encode` writes: the style sops's node asks for.
pub(super) fn string_style(s: &str) -> Style {
    // NB: deliberate difference. go-yaml writes U+2028/U+2029 raw (in single
    // quotes or a literal block, followed by indentation) and only a YAML
    // 1.1 reader gets the value back; escaped (`\L`, `\P`) every reader does.
    if s.contains(['\u{2028}', '\u{2029}']) {
        return Style::Double;
    }
    let a = analyze(s);
    if s.contains('\n') {
        return if a.block_allowed {
            Style::Literal
        } else {
            Style::Double
        };
    }
    let can_use_plain =
        matches!(resolve_plain(s), Value::Str(_)) && !is_base60_float(s) && !is_old_bool(s);
    if !can_use_plain {
        Style::Double
    } else if a.block_plain_allowed {
        Style::Plain
    } else if a.single_quoted_allowed {
        Style::Single
    } else {
        Style::Double
    }
}

/// A string value or key as sops's node holds it.
pub(super) fn string_scalar(s: &str) -> Scalar<'_> {
    let style = string_style(s);
    // A plain `<<` parses back as a merge key, so go-yaml keeps the tag.
    let tag = (style == Style::Plain && s == "<<").then_some("merge");
    Scalar {
        text: s.into(),
        style,
        tag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_styles_follow_go_yaml() {
        for (s, style) in [
            ("hello world", Style::Plain),
            ("a: b", Style::Single),
            ("a #b", Style::Single),
            ("a#b", Style::Plain),
            ("a:b", Style::Plain),
            (" x", Style::Single),
            ("x ", Style::Single),
            ("- x", Style::Single),
            ("-x", Style::Plain),
            ("it's", Style::Plain),
            ("'q'", Style::Single),
            ("a\tb", Style::Double),
            ("", Style::Double),
            ("yes", Style::Double),
            ("42", Style::Double),
            ("1:20", Style::Double),
            ("1:70", Style::Plain),
            ("2024-01-02", Style::Double),
            ("1e400", Style::Plain),
            ("<<", Style::Plain),
            ("a\nb", Style::Literal),
            ("a \nb", Style::Double),
            ("a\n b", Style::Literal),
            ("\nabc", Style::Literal),
            ("a\u{2028}b", Style::Double),
            ("a\rb", Style::Double),
            ("a😀b", Style::Double),
            ("héllo ☃", Style::Plain),
            ("---", Style::Single),
            ("...x", Style::Single),
        ] {
            assert_eq!(string_style(s), style, "{s:?}");
        }
    }

    #[test]
    fn base60_floats_are_recognised() {
        assert!(is_base60_float("1:20"));
        assert!(is_base60_float("-1_0:5:59.5"));
        assert!(!is_base60_float("1:60"));
        assert!(!is_base60_float("1:"));
        assert!(!is_base60_float("12"));
        assert!(!is_base60_float("a:1"));
    }
}
