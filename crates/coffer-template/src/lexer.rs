//! Splits template text into tokens: text runs and the items inside
//! `{{ ... }}` actions, applying trim markers and dropping comments.
//!
//! Follows the rules of Go's `text/template/parse` lexer: a trim marker is
//! `{{- ` / ` -}}` (the space is required, so `{{-3}}` is the number -3), a
//! comment is `{{/* ... */}}` right against the delimiters, and `.a.b` is two
//! field tokens that the parser chains.

use crate::error::Located;

type LexResult<T> = Result<T, Located>;

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: usize,
}

/// The kinds of token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Text outside actions, already trimmed.
    Text(String),
    LeftDelim,
    RightDelim,
    Space,
    /// A function name or keyword.
    Ident(String),
    /// `.name`
    Field(String),
    /// `$` or `$name` (with the `$`).
    Var(String),
    /// A lone `.`.
    Dot,
    /// A quoted or raw string, unquoted (Go strings are bytes).
    Str(Vec<u8>),
    /// A character constant `'a'`, as its code point.
    Char(u32),
    /// Number text as written; the parser interprets it.
    Number(String),
    Bool(bool),
    Nil,
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
    Eof,
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Lexes a whole template.
pub(crate) fn lex(text: &str) -> LexResult<Vec<Token>> {
    let mut lx = Lexer {
        text,
        pos: 0,
        toks: Vec::new(),
    };
    lx.run()?;
    Ok(lx.toks)
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    toks: Vec<Token>,
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn push(&mut self, tok: Tok, pos: usize) {
        self.toks.push(Token { tok, pos });
    }

    fn run(&mut self) -> LexResult<()> {
        let mut trim_left = false;
        loop {
            let start = self.pos;
            let Some(found) = self.rest().find(LEFT) else {
                self.push_text(start, self.text.len(), trim_left, false);
                self.pos = self.text.len();
                self.push(Tok::Eof, self.pos);
                return Ok(());
            };
            let delim = start + found;
            let after = &self.text.as_bytes()[delim + LEFT.len()..];
            let trim_right = after.len() >= 2 && after[0] == b'-' && is_space(after[1]);
            self.push_text(start, delim, trim_left, trim_right);
            self.pos = delim + LEFT.len() + if trim_right { 2 } else { 0 };
            if self.rest().starts_with("/*") {
                trim_left = self.comment(delim)?;
            } else {
                self.push(Tok::LeftDelim, delim);
                trim_left = self.action()?;
            }
        }
    }

    fn push_text(&mut self, from: usize, to: usize, trim_left: bool, trim_right: bool) {
        let mut s = &self.text[from..to];
        if trim_left {
            s = s.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        if trim_right {
            s = s.trim_end_matches([' ', '\t', '\r', '\n']);
        }
        if !s.is_empty() {
            self.push(Tok::Text(s.to_owned()), from);
        }
    }

    /// At a right delimiter? Returns the delimiter's length and whether it
    /// trims the following text.
    fn at_right_delim(&self) -> Option<(usize, bool)> {
        let r = self.rest().as_bytes();
        if r.starts_with(RIGHT.as_bytes()) {
            return Some((RIGHT.len(), false));
        }
        if r.len() >= 2 + RIGHT.len()
            && is_space(r[0])
            && r[1] == b'-'
            && r[2..].starts_with(RIGHT.as_bytes())
        {
            return Some((2 + RIGHT.len(), true));
        }
        None
    }

    fn comment(&mut self, delim: usize) -> LexResult<bool> {
        let Some(end) = self.rest().find("*/") else {
            return Err(Located::syntax(delim, "unclosed comment"));
        };
        self.pos += end + 2;
        match self.at_right_delim() {
            Some((len, trim)) => {
                self.pos += len;
                Ok(trim)
            }
            None => Err(Located::syntax(
                delim,
                "comment ends before closing delimiter",
            )),
        }
    }

    /// Lexes the inside of an action up to and including its right
    /// delimiter; returns whether that delimiter trims.
    fn action(&mut self) -> LexResult<bool> {
        let mut parens = 0usize;
        loop {
            if let Some((len, trim)) = self.at_right_delim() {
                if parens > 0 {
                    return Err(Located::syntax(self.pos, "unclosed left paren"));
                }
                self.push(Tok::RightDelim, self.pos);
                self.pos += len;
                return Ok(trim);
            }
            let start = self.pos;
            let Some(c) = self.rest().chars().next() else {
                return Err(Located::syntax(start, "unclosed action"));
            };
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    while self.at_right_delim().is_none()
                        && self.rest().as_bytes().first().is_some_and(|&b| is_space(b))
                    {
                        self.pos += 1;
                    }
                    self.push(Tok::Space, start);
                }
                '"' => {
                    let s = self.quoted()?;
                    self.push(Tok::Str(s), start);
                }
                '`' => {
                    let Some(end) = self.rest()[1..].find('`') else {
                        return Err(Located::syntax(start, "unterminated raw quoted string"));
                    };
                    // matches Go's strconv.Unquote: carriage returns are dropped
                    let raw: Vec<u8> = self.rest()[1..1 + end]
                        .bytes()
                        .filter(|&b| b != b'\r')
                        .collect();
                    self.pos += end + 2;
                    self.push(Tok::Str(raw), start);
                }
                '\'' => {
                    let ch = self.char_constant()?;
                    self.push(Tok::Char(ch), start);
                }
                '$' => {
                    self.pos += 1;
                    let n = self.word_len();
                    let name = self.text[start..self.pos + n].to_owned();
                    self.pos += n;
                    self.push(Tok::Var(name), start);
                }
                '.' => {
                    let next = self.rest()[1..].chars().next();
                    if next.is_some_and(|n| n.is_ascii_digit()) {
                        self.number()?;
                    } else if next.is_some_and(is_alnum) {
                        self.pos += 1;
                        let n = self.word_len();
                        let name = self.rest()[..n].to_owned();
                        self.pos += n;
                        self.push(Tok::Field(name), start);
                    } else {
                        self.pos += 1;
                        self.push(Tok::Dot, start);
                    }
                }
                '+' | '-' | '0'..='9' => self.number()?,
                '(' => {
                    parens += 1;
                    self.single(Tok::LParen);
                }
                ')' => {
                    if parens == 0 {
                        return Err(Located::syntax(start, "unexpected right paren"));
                    }
                    parens -= 1;
                    self.single(Tok::RParen);
                }
                '|' => self.single(Tok::Pipe),
                ',' => self.single(Tok::Comma),
                '=' => self.single(Tok::Assign),
                ':' => {
                    if !self.rest().starts_with(":=") {
                        return Err(Located::syntax(start, "expected :="));
                    }
                    self.pos += 2;
                    self.push(Tok::Declare, start);
                }
                c if is_alnum(c) => self.identifier()?,
                c => {
                    return Err(Located::syntax(
                        start,
                        format!("unrecognized character in action: {c:?}"),
                    ));
                }
            }
        }
    }

    fn single(&mut self, tok: Tok) {
        let start = self.pos;
        self.pos += 1;
        self.push(tok, start);
    }

    fn word_len(&self) -> usize {
        self.rest()
            .char_indices()
            .find(|&(_, c)| !is_alnum(c))
            .map_or(self.rest().len(), |(i, _)| i)
    }

    fn identifier(&mut self) -> LexResult<()> {
        let start = self.pos;
        let n = self.word_len();
        let word = &self.rest()[..n];
        let tok = match word {
            "true" => Tok::Bool(true),
            "false" => Tok::Bool(false),
            "nil" => Tok::Nil,
            w => Tok::Ident(w.to_owned()),
        };
        self.pos += n;
        // matches Go: an identifier must be followed by a terminator
        let next = self.rest().chars().next();
        let terminated = self.at_right_delim().is_some()
            || match next {
                None => true,
                Some(c) => matches!(
                    c,
                    ' ' | '\t' | '\r' | '\n' | '.' | ',' | '|' | ':' | '(' | ')' | '='
                ),
            };
        if !terminated {
            return Err(Located::syntax(
                self.pos,
                format!("bad character {:?}", next.unwrap_or(' ')),
            ));
        }
        self.push(tok, start);
        Ok(())
    }

    /// Scans a number the way Go's lexer does (sign, base prefix, digits
    /// with underscores, fraction, exponent) and keeps its text.
    fn number(&mut self) -> LexResult<()> {
        let start = self.pos;
        let b = self.text.as_bytes();
        let mut i = self.pos;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let mut digits: &[u8] = b"0123456789_";
        let mut exp: &[u8] = b"eE";
        if i + 1 < b.len() && b[i] == b'0' {
            match b[i + 1] {
                b'x' | b'X' => {
                    i += 2;
                    digits = b"0123456789abcdefABCDEF_";
                    exp = b"pP";
                }
                b'o' | b'O' => {
                    i += 2;
                    digits = b"01234567_";
                }
                b'b' | b'B' => {
                    i += 2;
                    digits = b"01_";
                }
                _ => {}
            }
        }
        let scan = |i: &mut usize, set: &[u8]| {
            while *i < b.len() && set.contains(&b[*i]) {
                *i += 1;
            }
        };
        scan(&mut i, digits);
        if i < b.len() && b[i] == b'.' {
            i += 1;
            scan(&mut i, digits);
        }
        if i < b.len() && exp.contains(&b[i]) {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            scan(&mut i, b"0123456789_");
        }
        let bad = i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] >= 0x80);
        if bad || i == start || (i == start + 1 && !b[start].is_ascii_digit()) {
            let end = (i + 1).min(b.len());
            let shown = self.text.get(start..end).unwrap_or("");
            return Err(Located::syntax(
                start,
                format!("bad number syntax: {shown:?}"),
            ));
        }
        self.pos = i;
        self.push(Tok::Number(self.text[start..i].to_owned()), start);
        Ok(())
    }

    fn quoted(&mut self) -> LexResult<Vec<u8>> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.rest().chars().next() else {
                return Err(Located::syntax(start, "unterminated quoted string"));
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\n' => return Err(Located::syntax(start, "unterminated quoted string")),
                '\\' => self.escape(b'"', &mut out)?,
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn char_constant(&mut self) -> LexResult<u32> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        match self.rest().chars().next() {
            Some('\\') => self.escape(b'\'', &mut out)?,
            Some(c) if c != '\'' && c != '\n' => {
                self.pos += c.len_utf8();
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => return Err(Located::syntax(start, "malformed character constant")),
        }
        if !self.rest().starts_with('\'') {
            return Err(Located::syntax(start, "malformed character constant"));
        }
        self.pos += 1;
        let code = match std::str::from_utf8(&out) {
            Ok(s) if s.chars().count() == 1 => s.chars().next().map_or(0, u32::from),
            _ if out.len() == 1 => u32::from(out[0]),
            _ => return Err(Located::syntax(start, "malformed character constant")),
        };
        Ok(code)
    }

    /// Decodes one backslash escape (Go's strconv.Unquote rules).
    fn escape(&mut self, quote: u8, out: &mut Vec<u8>) -> LexResult<()> {
        let start = self.pos;
        let b = self.text.as_bytes();
        let bad = || Located::syntax(start, "invalid escape in quoted string");
        let Some(&e) = b.get(start + 1) else {
            return Err(bad());
        };
        self.pos += 2;
        let simple = match e {
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(11),
            b'\\' => Some(b'\\'),
            q if q == quote => Some(q),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            return Ok(());
        }
        let (len, radix) = match e {
            b'x' => (2, 16),
            b'u' => (4, 16),
            b'U' => (8, 16),
            b'0'..=b'7' => {
                self.pos -= 1;
                (3, 8)
            }
            _ => return Err(bad()),
        };
        let digits = self.text.get(self.pos..self.pos + len).ok_or_else(bad)?;
        let v = u32::from_str_radix(digits, radix).map_err(|_| bad())?;
        self.pos += len;
        match e {
            b'x' => out.push(v as u8),
            b'0'..=b'7' => out.push(u8::try_from(v).map_err(|_| bad())?),
            _ => {
                let c = char::from_u32(v).ok_or_else(bad)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Tok> {
        lex(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn trim_markers_remove_adjacent_whitespace_only_with_a_space() {
        assert_eq!(
            kinds("a  {{- 3 -}}\n b"),
            vec![
                Tok::Text("a".into()),
                Tok::LeftDelim,
                Tok::Number("3".into()),
                Tok::RightDelim,
                Tok::Text("b".into()),
                Tok::Eof
            ]
        );
        assert_eq!(kinds("{{-3}}")[1], Tok::Number("-3".into()));
    }

    #[test]
    fn comments_vanish_and_may_trim() {
        assert_eq!(
            kinds("a {{- /* hi */ -}} b"),
            vec![Tok::Text("a".into()), Tok::Text("b".into()), Tok::Eof]
        );
        assert!(lex("{{/* x */ 1}}").is_err());
    }

    #[test]
    fn strings_decode_go_escapes_to_bytes() {
        assert_eq!(
            kinds(r#"{{"a\tb\x00\u00e9"}}"#)[1],
            Tok::Str(b"a\tb\x00\xc3\xa9".to_vec())
        );
        assert_eq!(kinds("{{`a\\n\r`}}")[1], Tok::Str(b"a\\n".to_vec()));
        assert_eq!(kinds("{{'a'}}")[1], Tok::Char(97));
    }

    #[test]
    fn fields_and_variables_are_separate_tokens() {
        assert_eq!(
            kinds("{{$x.a.b}}")[1..4],
            [
                Tok::Var("$x".into()),
                Tok::Field("a".into()),
                Tok::Field("b".into())
            ]
        );
    }

    #[test]
    fn unclosed_actions_and_bad_characters_are_errors() {
        assert!(lex("{{ .a").is_err());
        assert!(lex("{{ \"abc }}").is_err());
        assert!(lex("{{ # }}").is_err());
        assert!(lex("{{ 3x }}").is_err());
        assert!(lex("{{ ( }}").is_err());
    }
}
