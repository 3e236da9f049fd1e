//! sprig's regular-expression functions (`regexMatch`, `regexFind`,
//! `regexFindAll`, `regexReplaceAll`, `regexReplaceAllLiteral`,
//! `regexSplit`, their `must` forms, and `regexQuoteMeta`) with Go's
//! `regexp` semantics on the `regex` crate, which implements the same RE2
//! syntax in linear time.
//!
//! Where the two differ, the pattern is rewritten first ([`translate`]):
//! Go's `\d \w \s \b` are ASCII-only, `\Q…\E` quotes, octal escapes are
//! allowed, and inside a bracket class `[`, `&&`, `--` and `~~` are plain
//! characters. Matching works on bytes, as Go's strings are; a byte that is
//! not UTF-8 is not matched by `.` or a class here (Go reads it as U+FFFD).
//!
//! As in sprig, every form but `regexMatch` fails on an invalid pattern
//! (sprig's `MustCompile` panics and `text/template` reports the panic);
//! `regexMatch` returns false. The error never quotes the pattern, which
//! may come from the data. Compiled programs are capped at
//! [`MAX_PROGRAM_BYTES`] and every byte searched is charged to the render,
//! so one call costs at most the program size times the text size.

use regex::bytes::{Regex, RegexBuilder};

use super::{Budget, FResult, Func, FuncError, arity, collection, copied, finish, int_arg, read};
use super::{result_buf, str_arg};
use crate::value::Value;

/// Largest compiled pattern (the regex crate's `size_limit`): far more
/// than template patterns need, small enough that matching stays cheap.
pub(crate) const MAX_PROGRAM_BYTES: usize = 256 * 1024;

const INVALID: &str = "invalid regular expression";

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "regexMatch" => |c, a| {
            arity(a, 2)?;
            match compile(c, &a[0]) {
                Ok(re) => is_match(c, &re, &a[1]),
                Err(FuncError::Other(_)) => {
                    str_arg(&a[1])?;
                    Ok(Value::Bool(false))
                }
                Err(e) => Err(e),
            }
        },
        "mustRegexMatch" => |c, a| {
            arity(a, 2)?;
            let re = compile(c, &a[0])?;
            is_match(c, &re, &a[1])
        },
        "regexFind" | "mustRegexFind" => |c, a| {
            arity(a, 2)?;
            let re = compile(c, &a[0])?;
            let s = text(c, &a[1])?;
            copied(c, re.find(s).map_or(&[][..], |m| m.as_bytes()))
        },
        "regexFindAll" | "mustRegexFindAll" => |c, a| {
            arity(a, 3)?;
            let re = compile(c, &a[0])?;
            let s = text(c, &a[1])?;
            let n = limit(int_arg(&a[2])?);
            let mut found = Vec::new();
            for m in re.find_iter(s).take(n) {
                found.push(copied(c, m.as_bytes())?);
            }
            collection(c, Value::list(found))
        },
        "regexReplaceAll" | "mustRegexReplaceAll" => |c, a| replace(c, a, true),
        "regexReplaceAllLiteral" | "mustRegexReplaceAllLiteral" => |c, a| replace(c, a, false),
        "regexSplit" | "mustRegexSplit" => |c, a| {
            arity(a, 3)?;
            let re = compile(c, &a[0])?;
            let s = text(c, &a[1])?;
            let n = int_arg(&a[2])?;
            let mut parts = Vec::new();
            for part in split(&re, s, n) {
                parts.push(copied(c, part)?);
            }
            collection(c, Value::list(parts))
        },
        "regexQuoteMeta" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            let mut out = result_buf(c, s.len());
            let mut built = Ok(());
            for &b in s {
                if br"\.+*?()|[]{}^$".contains(&b) {
                    built = built.and_then(|()| out.push(b'\\'));
                }
                built = built.and_then(|()| out.push(b));
            }
            finish(c, out, built)
        },
        _ => return None,
    })
}

/// `n` as Go's `FindAll` reads it: negative means all.
fn limit(n: i64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn compile(ctx: &Budget, pattern: &Value) -> Result<Regex, FuncError> {
    let pattern = str_arg(pattern)?;
    read(ctx, &[pattern])?;
    let pattern = std::str::from_utf8(pattern).map_err(|_| FuncError::Other(INVALID))?;
    let translated = translate(pattern).ok_or(FuncError::Other(INVALID))?;
    RegexBuilder::new(&translated)
        .octal(true)
        .size_limit(MAX_PROGRAM_BYTES)
        .build()
        .map_err(|_| FuncError::Other(INVALID))
}

/// The text argument, charged as read.
fn text<'a>(ctx: &Budget, v: &'a Value) -> Result<&'a [u8], FuncError> {
    let s = str_arg(v)?;
    read(ctx, &[s])?;
    Ok(s)
}

fn is_match(ctx: &Budget, re: &Regex, s: &Value) -> FResult {
    Ok(Value::Bool(re.is_match(text(ctx, s)?)))
}

/// `ReplaceAllString` (`$1`, `${name}` and `$$` expanded, as Go's
/// `Expand` and the regex crate both read them) or
/// `ReplaceAllLiteralString`.
fn replace(ctx: &Budget, args: &[Value], expand: bool) -> FResult {
    arity(args, 3)?;
    let re = compile(ctx, &args[0])?;
    let s = text(ctx, &args[1])?;
    let repl = text(ctx, &args[2])?;
    let mut out = result_buf(ctx, s.len());
    let mut last = 0;
    let mut built = Ok(());
    let mut expanded = zeroize::Zeroizing::new(Vec::new());
    for caps in re.captures_iter(s) {
        let Some(m) = caps.get(0) else { continue };
        built = built.and_then(|()| out.extend(&s[last..m.start()]));
        if expand {
            expanded.clear();
            caps.expand(repl, &mut expanded);
            built = built.and_then(|()| out.extend(&expanded));
        } else {
            built = built.and_then(|()| out.extend(repl));
        }
        last = m.end();
        if built.is_err() {
            break;
        }
    }
    built = built.and_then(|()| out.extend(&s[last..]));
    finish(ctx, out, built)
}

/// Go's `Regexp.Split`: at most `n` parts (all when negative, none when
/// zero); an empty match at the start does not make an empty first part.
fn split<'a>(re: &Regex, s: &'a [u8], n: i64) -> Vec<&'a [u8]> {
    if n == 0 {
        return Vec::new();
    }
    if s.is_empty() {
        // Go: a non-empty pattern on empty text gives one empty part.
        return vec![s];
    }
    let mut parts = Vec::new();
    let (mut beg, mut end) = (0, 0);
    for m in re.find_iter(s).take(limit(n)) {
        if n > 0 && parts.len() as i64 == n - 1 {
            break;
        }
        end = m.start();
        if m.end() != 0 {
            parts.push(&s[beg..end]);
        }
        beg = m.end();
    }
    if end != s.len() {
        parts.push(&s[beg..]);
    }
    parts
}

/// Rewrites a Go (RE2) pattern into the regex crate's syntax with the same
/// meaning; `None` when it is malformed in a way the rewrite notices.
pub(crate) fn translate(pattern: &str) -> Option<String> {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    // Inside a bracket class: the last character written, to tell a
    // range's `-` from a doubled one.
    let mut class: Option<Option<char>> = None;
    while let Some(c) = chars.next() {
        match (c, class) {
            ('\\', _) => {
                let e = chars.next()?;
                let inside = class.is_some();
                match e {
                    'Q' => {
                        let mut quoted = String::new();
                        while let Some(q) = chars.next() {
                            if q == '\\' && chars.peek() == Some(&'E') {
                                chars.next();
                                break;
                            }
                            quoted.push(q);
                        }
                        for q in quoted.chars() {
                            push_literal(&mut out, q);
                        }
                    }
                    'd' if inside => out.push_str("0-9"),
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' if inside => out.push_str("0-9A-Za-z_"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' if inside => out.push_str(r"\t\n\x0C\r "),
                    's' => out.push_str(r"[\t\n\x0C\r ]"),
                    'S' => out.push_str(r"[^\t\n\x0C\r ]"),
                    'b' if !inside => out.push_str(r"(?-u:\b)"),
                    'B' if !inside => out.push_str(r"(?-u:\B)"),
                    e => {
                        out.push('\\');
                        out.push(e);
                    }
                }
                if let Some(last) = class.as_mut() {
                    *last = Some('\\');
                }
            }
            ('[', None) => {
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push(chars.next()?);
                }
                // A `]` first in a class is a literal in Go.
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str(r"\]");
                }
                class = Some(None);
            }
            ('[', Some(_)) if chars.peek() == Some(&':') => {
                // A POSIX class `[:name:]`: copied as it is.
                out.push('[');
                for p in chars.by_ref() {
                    out.push(p);
                    if p == ']' {
                        break;
                    }
                }
                class = Some(Some(']'));
            }
            (']', Some(_)) => {
                out.push(']');
                class = None;
            }
            ('[' | '&' | '~', Some(_)) => {
                out.push('\\');
                out.push(c);
                class = Some(Some(c));
            }
            ('-', Some(Some('-'))) => {
                out.push_str(r"\-");
                class = Some(Some('\\'));
            }
            (c, Some(_)) => {
                out.push(c);
                class = Some(Some(c));
            }
            (c, None) => out.push(c),
        }
    }
    class.is_none().then_some(out)
}

/// `c` as a literal in the regex crate's syntax.
fn push_literal(out: &mut String, c: char) {
    if regex_syntax_meta(c) {
        out.push('\\');
    }
    out.push(c);
}

fn regex_syntax_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_patterns_are_rewritten_to_the_same_meaning() {
        assert_eq!(
            translate(r"\d+\w\s\b").unwrap(),
            r"[0-9]+[0-9A-Za-z_][\t\n\x0C\r ](?-u:\b)"
        );
        assert_eq!(translate(r"[\d.]").unwrap(), r"[0-9.]");
        assert_eq!(translate(r"[]a]").unwrap(), r"[\]a]");
        assert_eq!(translate(r"[a[&&~]").unwrap(), r"[a\[\&\&\~]");
        assert_eq!(translate(r"[[:alpha:]-]").unwrap(), r"[[:alpha:]-]");
        assert_eq!(translate(r"\Qa.b\E+").unwrap(), r"a\.b+");
        assert_eq!(translate(r"[a").as_deref(), None);
        assert_eq!(translate("a\\").as_deref(), None);
    }

    #[test]
    fn split_follows_go() {
        let re = Regex::new("a*").unwrap();
        assert_eq!(
            split(&re, b"abaabaccadaaae", 5),
            [&b""[..], b"b", b"b", b"c", b"cadaaae"]
        );
        let re = Regex::new(",").unwrap();
        assert_eq!(split(&re, b"", -1), [&b""[..]]);
        assert_eq!(split(&re, b"a,b,c", 0), Vec::<&[u8]>::new());
        assert_eq!(split(&re, b"a,b,c", 2), [&b"a"[..], b"b,c"]);
    }
}
