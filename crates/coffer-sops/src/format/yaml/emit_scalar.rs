//! Writing one scalar as go-yaml v3's emitter does: the final style choice
//! in context (`yaml_emitter_select_scalar_style`: a key may not be a block
//! scalar, plain falls back to single quotes and single quotes to double
//! quotes when the text needs it), the tag, and the four writers sops's
//! output can use. Lines are never folded (go-yaml's default width is
//! unlimited), escapes use uppercase hex, and a value that starts with a
//! byte order mark has every character escaped, as go-yaml's `is_bom` check
//! looks at the start of the value rather than at the current character.

use crate::format::yaml::emit::{BEST_INDENT, Emitter};
use crate::format::yaml::style::{Scalar, Style, is_break, is_printable};

impl Emitter<'_> {
    /// `yaml_emitter_emit_scalar`.
    pub(super) fn emit_scalar(&mut self, s: &Scalar<'_>) {
        let style = self.select_style(s);
        if let Some(suffix) = s.tag {
            // The `!!` handle, then the suffix (`binary`, `merge`).
            if !self.whitespace {
                self.put(' ');
            }
            self.put('!');
            self.put('!');
            for c in suffix.chars() {
                self.put(c);
            }
            self.whitespace = false;
            self.indention = false;
        }
        self.increase_indent(true, false);
        match style {
            Style::Plain => self.write_plain(&s.text),
            Style::Single => self.write_single_quoted(&s.text),
            Style::Double => self.write_double_quoted(&s.text),
            Style::Literal => self.write_literal(&s.text),
        }
        self.pop_indent();
    }

    fn select_style(&self, s: &Scalar<'_>) -> Style {
        let a = &self.analysis;
        let mut style = s.style;
        if self.ctx.simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            let allowed = if self.flow_level > 0 {
                a.flow_plain_allowed
            } else {
                a.block_plain_allowed
            };
            if !allowed || (s.text.is_empty() && (self.flow_level > 0 || self.ctx.simple_key)) {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal
            && (!a.block_allowed || self.flow_level > 0 || self.ctx.simple_key)
        {
            style = Style::Double;
        }
        style
    }

    fn write_plain(&mut self, value: &str) {
        if !value.is_empty() && !self.whitespace {
            self.put(' ');
        }
        // The analysis never allows plain style for text with line breaks,
        // and lines are never folded, so the text is copied as it is.
        for c in value.chars() {
            self.put(c);
        }
        if !value.is_empty() {
            self.whitespace = false;
        }
        self.indention = false;
    }

    fn write_single_quoted(&mut self, value: &str) {
        self.write_indicator("'", true, false, false);
        // Single quotes are only chosen for text without line breaks
        // (`\n` makes a literal block; CR, NEL, LS and PS double quotes).
        for c in value.chars() {
            if c == '\'' {
                self.put('\'');
            }
            self.put(c);
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, value: &str) {
        self.write_indicator("\"", true, false, false);
        let bom_first = value.starts_with('\u{feff}');
        for c in value.chars() {
            let escape = !is_printable(c) || bom_first || is_break(c) || c == '"' || c == '\\';
            if !escape {
                self.put(c);
                continue;
            }
            self.put('\\');
            let short = match c {
                '\0' => Some('0'),
                '\u{7}' => Some('a'),
                '\u{8}' => Some('b'),
                '\t' => Some('t'),
                '\n' => Some('n'),
                '\u{b}' => Some('v'),
                '\u{c}' => Some('f'),
                '\r' => Some('r'),
                '\u{1b}' => Some('e'),
                '"' => Some('"'),
                '\\' => Some('\\'),
                '\u{85}' => Some('N'),
                '\u{a0}' => Some('_'),
                '\u{2028}' => Some('L'),
                '\u{2029}' => Some('P'),
                _ => None,
            };
            match short {
                Some(e) => self.put(e),
                None => {
                    let v = c as u32;
                    let (marker, width) = match v {
                        0..=0xff => ('x', 2),
                        0x100..=0xffff => ('u', 4),
                        _ => ('U', 8),
                    };
                    self.put(marker);
                    for k in (0..width).rev() {
                        let digit = (v >> (4 * k)) & 0xf;
                        self.put(
                            char::from_digit(digit, 16).map_or('0', |d| d.to_ascii_uppercase()),
                        );
                    }
                }
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    /// `|` with go-yaml's hints: an indentation digit when the text starts
    /// with a space or a break, `-` when it does not end in a break, `+` when
    /// it ends in more than one (or is a single break).
    ///
    /// NB: deliberate difference. go-yaml always writes the digit 4, but a
    /// reader measures it from the enclosing collection's indentation, and
    /// go-yaml indents the text 2 past a `- ` or 2 past the keys of a
    /// mapping inside a sequence: there sops writes YAML that no parser
    /// (sops included) reads back. The digit written here is the distance
    /// the text is really indented, which is 4 wherever go-yaml's is right.
    fn write_literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        let mut chars = value.chars();
        if chars
            .clone()
            .next()
            .is_some_and(|c| c == ' ' || is_break(c))
        {
            let parent = self.parent_indent().max(0);
            let hint = u32::try_from(self.indent - parent).unwrap_or(BEST_INDENT as u32);
            let digit = char::from_digit(hint, 10).unwrap_or('4');
            self.write_indicator(&digit.to_string(), false, false, false);
        }
        let last = chars.next_back();
        let before_last = chars.next_back();
        let chomp = match (last, before_last) {
            (None, _) => Some("-"),
            (Some(l), _) if !is_break(l) => Some("-"),
            (Some(_), None) => Some("+"),
            (Some(_), Some(b)) if is_break(b) => Some("+"),
            _ => None,
        };
        if let Some(ch) = chomp {
            self.write_indicator(ch, false, false, false);
        }
        self.process_line_comment(true);
        self.whitespace = true;
        let mut breaks = true;
        for c in value.chars() {
            if is_break(c) {
                self.write_break(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}
