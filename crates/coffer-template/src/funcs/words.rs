//! sprig's word functions: `title` (Go's `strings.Title`), `untitle`,
//! `swapcase`, `initials`, `abbrev`, `abbrevboth` (Masterminds/goutils
//! v1.1.1, which sprig calls) and `plural`, each ported from its Go source
//! with its quirks: `abbrev*` count and cut bytes, `initials` reads bytes
//! as Latin-1 runes, the others read runes (an invalid byte is U+FFFD).
//!
//! Unicode categories (Go's `unicode.IsLetter`, `IsUpper`, …) come from
//! the regex crate's tables, so runes assigned after the Unicode version
//! of the Go build may be classified differently.

use std::cell::Cell;
use std::sync::OnceLock;

use regex::Regex;

use super::strings::{mapped, simple_case};
use super::{Func, arity, copied, finish, int_arg, read, result_buf, str_arg};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "wrap" => |c, a| {
            arity(a, 2)?;
            let (n, s) = (int_arg(&a[0])?, str_arg(&a[1])?);
            wrap_custom(c, s, n, b"", false)
        },
        "wrapWith" => |c, a| {
            arity(a, 3)?;
            let (n, sep, s) = (int_arg(&a[0])?, str_arg(&a[1])?, str_arg(&a[2])?);
            wrap_custom(c, s, n, sep, true)
        },
        "title" => |c, a| {
            let prev = Cell::new(' ');
            mapped(c, a, |ch| {
                let first = is_separator(prev.replace(ch));
                Some(if first { to_title(ch) } else { ch })
            })
        },
        "untitle" => |c, a| {
            // goutils' Uncapitalize: the first rune after white space.
            let next = Cell::new(true);
            mapped(c, a, |ch| {
                Some(if ch.is_whitespace() {
                    next.set(true);
                    ch
                } else if next.replace(false) {
                    simple_case(ch.to_lowercase(), ch)
                } else {
                    ch
                })
            })
        },
        "swapcase" => |c, a| {
            let space = Cell::new(true);
            mapped(c, a, |ch| {
                Some(match category(ch) {
                    Case::Upper | Case::Title => {
                        space.set(false);
                        simple_case(ch.to_lowercase(), ch)
                    }
                    Case::Lower if space.replace(false) => to_title(ch),
                    Case::Lower => simple_case(ch.to_uppercase(), ch),
                    Case::Other => {
                        space.set(ch.is_whitespace());
                        ch
                    }
                })
            })
        },
        "initials" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            let mut out = result_buf(c, 0);
            let mut gap = true;
            let mut built = Ok(());
            for &b in s {
                // goutils reads each byte as a rune (Latin-1).
                let ch = char::from(b);
                if ch.is_whitespace() {
                    gap = true;
                } else if gap {
                    built = built.and_then(|()| out.push_char(ch));
                    gap = false;
                }
            }
            finish(c, out, built)
        },
        "abbrev" => |c, a| {
            arity(a, 2)?;
            let width = int_arg(&a[0])?;
            let s = str_arg(&a[1])?;
            read(c, &[s])?;
            if width < 4 {
                return copied(c, s);
            }
            copied(c, &abbreviate(s, 0, width).unwrap_or_default())
        },
        "abbrevboth" => |c, a| {
            arity(a, 3)?;
            let (left, right) = (int_arg(&a[0])?, int_arg(&a[1])?);
            let s = str_arg(&a[2])?;
            read(c, &[s])?;
            if right < 4 || left > 0 && right < 7 {
                return copied(c, s);
            }
            copied(c, &abbreviate(s, left, right).unwrap_or_default())
        },
        "plural" => |c, a| {
            arity(a, 3)?;
            let (one, many) = (str_arg(&a[0])?, str_arg(&a[1])?);
            let n = int_arg(&a[2])?;
            copied(c, if n == 1 { one } else { many })
        },
        _ => return None,
    })
}

/// goutils' `AbbreviateFull` on bytes; `None` where it returns an error
/// (sprig then prints the empty string it also returns).
fn abbreviate(s: &[u8], offset: i64, max: i64) -> Option<Vec<u8>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    if max < 4 {
        return None;
    }
    let len = i64::try_from(s.len()).ok()?;
    if len <= max {
        return Some(s.to_vec());
    }
    let mut offset = offset.min(len);
    if len - offset < max - 3 {
        offset = len - (max - 3);
    }
    let cut = |from: i64, to: i64| -> Option<&[u8]> {
        s.get(usize::try_from(from).ok()?..usize::try_from(to).ok()?)
    };
    if offset <= 4 {
        let mut out = cut(0, max - 3)?.to_vec();
        out.extend_from_slice(b"...");
        return Some(out);
    }
    if max < 7 {
        return None;
    }
    let mut out = b"...".to_vec();
    if offset + max - 3 < len {
        out.extend(abbreviate(cut(offset, len)?, 0, max - 3)?);
    } else {
        out.extend_from_slice(cut(len - (max - 3), len)?);
    }
    Some(out)
}

/// goutils' `WrapCustom(s, width, newline, wrapLongWords)`: lines broken
/// at the last space that keeps them within `width` bytes (a word longer
/// than that is cut when `long_words`, else left whole). Each window it
/// searches is charged.
fn wrap_custom(
    ctx: &super::Budget,
    s: &[u8],
    width: i64,
    newline: &[u8],
    long_words: bool,
) -> super::FResult {
    read(ctx, &[s])?;
    if s.is_empty() {
        return copied(ctx, b"");
    }
    let newline: &[u8] = if newline.is_empty() { b"\n" } else { newline };
    let width = usize::try_from(width.max(1)).unwrap_or(usize::MAX);
    let mut out = result_buf(ctx, s.len());
    let mut offset = 0;
    let built = (|| -> Result<(), super::FuncError> {
        while s.len() - offset > width {
            if s[offset] == b' ' {
                offset += 1;
                continue;
            }
            let end = width + offset + 1;
            ctx.bytes(end - offset)?;
            match s[offset..end].iter().rposition(|&b| b == b' ') {
                Some(i) => {
                    out.extend(&s[offset..offset + i])?;
                    out.extend(newline)?;
                    offset += i + 1;
                }
                None if long_words => {
                    out.extend(&s[offset..offset + width])?;
                    out.extend(newline)?;
                    offset += width;
                }
                None => {
                    let end = width + offset;
                    match memchr::memchr(b' ', &s[end..]) {
                        None => {
                            out.extend(&s[offset..])?;
                            offset = s.len();
                        }
                        Some(i) => {
                            out.extend(&s[offset..end + i])?;
                            out.extend(newline)?;
                            offset = end + i + 1;
                        }
                    }
                }
            }
        }
        out.extend(&s[offset..])?;
        Ok(())
    })();
    match built {
        Ok(()) => finish(ctx, out, Ok(())),
        Err(super::FuncError::Full) => finish(ctx, out, Err(crate::buf::Full)),
        Err(e) => Err(e),
    }
}

/// `strings.Title`'s word boundary: ASCII other than letters, digits and
/// `_`; beyond ASCII, white space (letters and digits never are).
fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    c.is_whitespace() && !matches_class(c, &LETTER_OR_DIGIT)
}

/// Go's `unicode.ToTitle`: upper case, except the Latin digraphs, whose
/// title case is their own letter (ǆ → ǅ).
fn to_title(c: char) -> char {
    match c {
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}',
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}',
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}',
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}',
        c => simple_case(c.to_uppercase(), c),
    }
}

enum Case {
    Upper,
    Title,
    Lower,
    Other,
}

/// Go's `unicode.IsUpper` (category Lu).
pub(super) fn is_upper(c: char) -> bool {
    matches!(category(c), Case::Upper)
}

/// Go's `unicode.IsUpper`/`IsTitle`/`IsLower` (categories Lu, Lt, Ll).
fn category(c: char) -> Case {
    if c.is_ascii() {
        return match c {
            'A'..='Z' => Case::Upper,
            'a'..='z' => Case::Lower,
            _ => Case::Other,
        };
    }
    if matches_class(c, &UPPER) {
        Case::Upper
    } else if matches_class(c, &TITLE) {
        Case::Title
    } else if matches_class(c, &LOWER) {
        Case::Lower
    } else {
        Case::Other
    }
}

pub(super) struct Class {
    pattern: &'static str,
    re: OnceLock<Regex>,
}

static LETTER_OR_DIGIT: Class = Class::new(r"^[\p{L}\p{Nd}]$");
static UPPER: Class = Class::new(r"^\p{Lu}$");
/// Go's `unicode.IsLetter`, `IsNumber`, `IsPunct`.
pub(super) static LETTER: Class = Class::new(r"^\p{L}$");
pub(super) static NUMBER: Class = Class::new(r"^\p{N}$");
pub(super) static PUNCT: Class = Class::new(r"^\p{P}$");
static TITLE: Class = Class::new(r"^\p{Lt}$");
static LOWER: Class = Class::new(r"^\p{Ll}$");
/// Go's `unicode.IsPrint` beyond ASCII: letters, marks, numbers,
/// punctuation and symbols (no spaces but U+0020, which is ASCII).
pub(super) static PRINT: Class = Class::new(r"^[\p{L}\p{M}\p{N}\p{P}\p{S}]$");

impl Class {
    const fn new(pattern: &'static str) -> Class {
        Class {
            pattern,
            re: OnceLock::new(),
        }
    }
}

pub(super) fn matches_class(c: char, class: &Class) -> bool {
    let re = class
        .re
        .get_or_init(|| Regex::new(class.pattern).expect("a valid constant pattern"));
    let mut buf = [0u8; 4];
    re.is_match(c.encode_utf8(&mut buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviates_as_goutils() {
        let s = b"Now is the time for all good men";
        assert_eq!(abbreviate(s, 0, 10).unwrap(), b"Now is ...");
        assert_eq!(abbreviate(b"abc", 0, 2), None);
    }
}
