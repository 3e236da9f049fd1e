//! sprig's `snakecase`, `kebabcase` and `camelcase`: huandu/xstrings
//! v1.5.0's `ToSnakeCase`, `ToKebabCase` and `ToPascalCase` (sprig's
//! `camelcase` is upper camel case), ported step for step so that word
//! boundaries (upper-case runs, digits, punctuation, CJK) fall where Go's
//! do. Linear in the input; invalid UTF-8 reads as U+FFFD as in Go.

use super::words::{LETTER, NUMBER, PUNCT, is_upper, matches_class};
use super::{Budget, FResult, Func, arity, finish, read, result_buf, str_arg};
use crate::buf::{Buf, Full};
use crate::funcs::strings::simple_case;

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "snakecase" => |c, a| convert(c, a, |out, s| lower_case(out, s, '_')),
        "kebabcase" => |c, a| convert(c, a, |out, s| lower_case(out, s, '-')),
        "camelcase" => |c, a| convert(c, a, pascal_case),
        _ => return None,
    })
}

fn convert(
    ctx: &Budget,
    args: &[crate::value::Value],
    f: fn(&mut Buf, &[u8]) -> Result<(), Full>,
) -> FResult {
    arity(args, 1)?;
    let s = str_arg(&args[0])?;
    read(ctx, &[s])?;
    let mut out = result_buf(ctx, s.len());
    let built = f(&mut out, s);
    finish(ctx, out, built)
}

const ERR: char = '\u{fffd}';

/// Go's `utf8.DecodeRune`: an invalid or empty start is U+FFFD, 1 byte
/// (0 for empty input).
fn decode(s: &[u8]) -> (char, usize) {
    if s.is_empty() {
        return (ERR, 0);
    }
    match s.utf8_chunks().next() {
        Some(chunk) if !chunk.valid().is_empty() => {
            let c = chunk.valid().chars().next().unwrap_or(ERR);
            (c, c.len_utf8())
        }
        _ => (ERR, 1),
    }
}

fn upper(c: char) -> char {
    simple_case(c.to_uppercase(), c)
}

fn lower(c: char) -> char {
    simple_case(c.to_lowercase(), c)
}

fn is_connector(r: char) -> bool {
    r == '-' || r == '_' || r.is_whitespace()
}

fn is_alphabet(r: char) -> bool {
    if !matches_class(r, &LETTER) {
        return false;
    }
    let r = r as u32;
    // xstrings counts CJK ideographs as "other", not letters
    !((0x4E00..=0x9FCC).contains(&r)
        || (0x3400..=0x4D85).contains(&r)
        || (0x20000..=0x2B81D).contains(&r))
}

fn is_punct(r: char) -> bool {
    matches_class(r, &PUNCT)
}

fn is_number(r: char) -> bool {
    matches_class(r, &NUMBER)
}

/// xstrings' `toCamelCase(str, true)`.
fn pascal_case(buf: &mut Buf, mut s: &[u8]) -> Result<(), Full> {
    if s.is_empty() {
        return Ok(());
    }
    let mut first_upper = false;
    let (mut r0, mut size) = (ERR, 0);
    while !s.is_empty() {
        (r0, size) = decode(s);
        s = &s[size..];
        if !is_connector(r0) {
            first_upper = is_upper(r0);
            r0 = upper(r0);
            break;
        }
        buf.push_char(r0)?;
    }
    if s.is_empty() {
        if size != 0 {
            buf.push_char(r0)?;
        }
        return Ok(());
    }
    while !s.is_empty() {
        let r1 = r0;
        (r0, size) = decode(s);
        s = &s[size..];
        if is_connector(r0) && is_connector(r1) {
            buf.push_char(r1)?;
            continue;
        }
        if is_connector(r1) {
            first_upper = is_upper(r0);
            r0 = upper(r0);
        } else {
            if first_upper {
                if is_upper(r0) {
                    r0 = lower(r0);
                } else {
                    first_upper = false;
                }
            }
            buf.push_char(r1)?;
        }
    }
    buf.push_char(r0)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alphabet,
    Connector,
    Punct,
    Other,
}

/// xstrings' `nextValidRune`: the next rune that is not an error, with the
/// bytes up to and including it; `prev` when there is none.
fn next_valid(mut s: &[u8], prev: char) -> (char, usize) {
    let mut size = 0;
    while !s.is_empty() {
        let (r, sz) = decode(s);
        size += sz;
        if r != ERR {
            return (r, size);
        }
        s = &s[sz..];
    }
    (prev, size)
}

/// xstrings' `nextWord`: the kind of the word at the start of `s`, the
/// word, and what follows it.
fn next_word(s: &[u8]) -> (Word, &[u8], &[u8]) {
    if s.is_empty() {
        return (Word::Invalid, s, s);
    }
    let (mut r, mut size) = next_valid(s, ERR);
    let mut offset = size;
    if r == ERR {
        return (Word::Invalid, &s[..offset], &s[offset..]);
    }
    let mut rest = s;
    // how each kind continues
    let run = |rest: &mut &[u8], offset: &mut usize, r: &mut char, keep: &dyn Fn(char) -> bool| {
        while !rest.is_empty() {
            let (nr, sz) = next_valid(rest, *r);
            *r = nr;
            if !keep(nr) {
                break;
            }
            *offset += sz;
            *rest = &rest[sz..];
        }
    };
    let wt;
    if is_connector(r) {
        wt = Word::Connector;
        rest = &rest[size..];
        run(&mut rest, &mut offset, &mut r, &is_connector);
    } else if is_punct(r) {
        wt = Word::Punct;
        rest = &rest[size..];
        run(&mut rest, &mut offset, &mut r, &is_punct);
    } else if is_upper(r) {
        wt = Word::Upper;
        rest = &rest[size..];
        if !rest.is_empty() {
            (r, size) = next_valid(rest, r);
            if is_upper(r) {
                let mut prev_size = size;
                offset += size;
                rest = &rest[size..];
                while !rest.is_empty() {
                    (r, size) = next_valid(rest, r);
                    if !is_upper(r) {
                        break;
                    }
                    prev_size = size;
                    offset += size;
                    rest = &rest[size..];
                }
                if !rest.is_empty() && is_alphabet(r) {
                    offset -= prev_size;
                    rest = &s[offset..];
                }
            } else if is_alphabet(r) {
                offset += size;
                rest = &rest[size..];
                run(&mut rest, &mut offset, &mut r, &|c| {
                    is_alphabet(c) && !is_upper(c)
                });
            }
        }
    } else if is_alphabet(r) {
        wt = Word::Alphabet;
        rest = &rest[size..];
        run(&mut rest, &mut offset, &mut r, &|c| {
            is_alphabet(c) && !is_upper(c)
        });
    } else if is_number(r) {
        wt = Word::Number;
        rest = &rest[size..];
        run(&mut rest, &mut offset, &mut r, &is_number);
    } else {
        wt = Word::Other;
        rest = &rest[size..];
        while !rest.is_empty() {
            let (nr, sz) = next_valid(rest, r);
            r = nr;
            if sz == 0 || is_connector(r) || is_alphabet(r) || is_number(r) || is_punct(r) {
                break;
            }
            offset += sz;
            rest = &rest[sz..];
        }
    }
    (wt, &s[..offset], rest)
}

/// xstrings' `toLower`: an upper-case or connector word lower-cased (a
/// connector becomes `connector`), any other word as it is.
fn to_lower(buf: &mut Buf, wt: Word, mut s: &[u8], connector: char) -> Result<(), Full> {
    if wt != Word::Upper && wt != Word::Connector {
        return buf.extend(s);
    }
    while !s.is_empty() {
        let (r, size) = decode(s);
        s = &s[size..];
        if is_connector(r) {
            buf.push_char(connector)?;
        } else if is_upper(r) {
            buf.push_char(lower(r))?;
        } else {
            buf.push_char(r)?;
        }
    }
    Ok(())
}

/// xstrings' `camelCaseToLowerCase`.
fn lower_case(buf: &mut Buf, s: &[u8], connector: char) -> Result<(), Full> {
    if s.is_empty() {
        return Ok(());
    }
    let (mut wt, mut word, mut rest) = next_word(s);
    while !rest.is_empty() {
        if wt != Word::Connector {
            to_lower(buf, wt, word, connector)?;
        }
        let prev = wt;
        let last = word;
        (wt, word, rest) = next_word(rest);
        match prev {
            Word::Number => {
                while wt == Word::Alphabet || wt == Word::Number {
                    to_lower(buf, wt, word, connector)?;
                    (wt, word, rest) = next_word(rest);
                }
                if wt != Word::Invalid && wt != Word::Punct && wt != Word::Connector {
                    buf.push_char(connector)?;
                }
            }
            Word::Connector => to_lower(buf, prev, last, connector)?,
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        buf.push_char(connector)?;
                    }
                    continue;
                }
                if rest.is_empty() {
                    continue;
                }
                let last = word;
                (wt, word, rest) = next_word(rest);
                if wt != Word::Alphabet {
                    to_lower(buf, Word::Number, last, connector)?;
                    if wt != Word::Connector && wt != Word::Punct {
                        buf.push_char(connector)?;
                    }
                    continue;
                }
                buf.push_char(connector)?;
                to_lower(buf, Word::Number, last, connector)?;
                while wt == Word::Alphabet || wt == Word::Number {
                    to_lower(buf, wt, word, connector)?;
                    (wt, word, rest) = next_word(rest);
                }
                if wt != Word::Invalid && wt != Word::Connector && wt != Word::Punct {
                    buf.push_char(connector)?;
                }
            }
        }
    }
    to_lower(buf, wt, word, connector)
}
