//! sprig's string functions, on byte strings with Go's `strings` semantics:
//! case mapping rune by rune (invalid UTF-8 becomes U+FFFD), trimming of
//! Unicode white space, and byte-wise search.
//!
//! Each is linear in what it reads and writes (substring search is
//! `memchr::memmem`, never the quadratic window scan), refuses a result past
//! the value limit before or while building it, and charges its work.

use std::collections::BTreeMap;

use memchr::memmem::Finder;
use zeroize::Zeroizing;

use super::{
    Budget, FResult, Func, FuncError, arity, check_len, collection, copied, finish, int_arg,
    map_result, read, result_buf, str_arg, write_strval,
};
use crate::buf::{Buf, Full};
use crate::format;
use crate::value::{MapKind, Value};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "trim" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            copied(c, trim_by(s, char::is_whitespace))
        },
        "nospace" => |c, a| mapped(c, a, |ch| (!ch.is_whitespace()).then_some(ch)),
        "upper" => |c, a| mapped(c, a, |ch| Some(simple_case(ch.to_uppercase(), ch))),
        "lower" => |c, a| mapped(c, a, |ch| Some(simple_case(ch.to_lowercase(), ch))),
        "trimAll" | "trimall" => |c, a| {
            arity(a, 2)?;
            let (cut, s) = (str_arg(&a[0])?, str_arg(&a[1])?);
            read(c, &[cut, s])?;
            let mut set: Zeroizing<Vec<char>> =
                Zeroizing::new(String::from_utf8_lossy(cut).chars().collect());
            set.sort_unstable();
            copied(c, trim_by(s, |ch| set.binary_search(&ch).is_ok()))
        },
        "trimPrefix" => |c, a| {
            arity(a, 2)?;
            let (p, s) = (str_arg(&a[0])?, str_arg(&a[1])?);
            read(c, &[p])?;
            copied(c, s.strip_prefix(p).unwrap_or(s))
        },
        "trimSuffix" => |c, a| {
            arity(a, 2)?;
            let (p, s) = (str_arg(&a[0])?, str_arg(&a[1])?);
            read(c, &[p])?;
            copied(c, s.strip_suffix(p).unwrap_or(s))
        },
        "contains" => |c, a| predicate(c, a, |sub, s| find_bytes(s, sub).is_some()),
        "hasPrefix" => |c, a| predicate(c, a, |p, s| s.starts_with(p)),
        "hasSuffix" => |c, a| predicate(c, a, |p, s| s.ends_with(p)),
        "repeat" => repeat,
        "substr" => substr,
        "trunc" => trunc,
        "replace" => replace,
        "indent" => |c, a| indent(c, a, false),
        "nindent" => |c, a| indent(c, a, true),
        "quote" => |c, a| joined(c, a, |out, v| quoted(out, v, b'"')),
        "squote" => |c, a| joined(c, a, |out, v| quoted(out, v, b'\'')),
        "cat" => |c, a| joined(c, a, write_strval),
        "toString" => |c, a| {
            arity(a, 1)?;
            let mut out = result_buf(c, 0);
            let built = write_strval(&mut out, &a[0]);
            finish(c, out, built)
        },
        "split" => |c, a| split_map(c, a, None),
        "splitn" => |c, a| {
            arity(a, 3)?;
            let n = int_arg(&a[1])?;
            split_map(c, &[a[0].clone(), a[2].clone()], Some(n))
        },
        "splitList" => |c, a| {
            arity(a, 2)?;
            let mut parts = Vec::new();
            split(c, str_arg(&a[1])?, str_arg(&a[0])?, -1, |p| {
                parts.push(p);
                Ok(())
            })?;
            collection(c, Value::list(parts))
        },
        "join" => join,
        _ => return None,
    })
}

/// A function mapping each rune of its one string argument.
pub(super) fn mapped(ctx: &Budget, args: &[Value], f: impl Fn(char) -> Option<char>) -> FResult {
    arity(args, 1)?;
    let s = str_arg(&args[0])?;
    read(ctx, &[s])?;
    let mut out = result_buf(ctx, s.len());
    let built = map_chars(&mut out, s, f);
    finish(ctx, out, built)
}

fn predicate(ctx: &Budget, args: &[Value], f: impl Fn(&[u8], &[u8]) -> bool) -> FResult {
    arity(args, 2)?;
    let (a, b) = (str_arg(&args[0])?, str_arg(&args[1])?);
    read(ctx, &[a, b])?;
    Ok(Value::Bool(f(a, b)))
}

/// Go's `unicode.ToUpper`/`ToLower` map one rune to one rune; where Rust's
/// full mapping expands (`ß` → `SS`), Go leaves the rune alone.
pub(super) fn simple_case(mut mapped: impl Iterator<Item = char>, orig: char) -> char {
    match (mapped.next(), mapped.next()) {
        (Some(c), None) => c,
        _ => orig,
    }
}

/// Maps each rune (invalid bytes count as U+FFFD, as Go's `strings.Map`).
fn map_chars(out: &mut Buf, s: &[u8], f: impl Fn(char) -> Option<char>) -> Result<(), Full> {
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars().filter_map(&f) {
            out.push_char(c)?;
        }
        for _ in chunk.invalid() {
            if let Some(c) = f('\u{fffd}') {
                out.push_char(c)?;
            }
        }
    }
    Ok(())
}

/// The runes of a byte string with their byte ranges, as Go's
/// `utf8.DecodeRune` sees them: an invalid byte is one rune (`None`).
struct Runes<'a> {
    s: &'a [u8],
    at: usize,
}

impl Iterator for Runes<'_> {
    type Item = (usize, usize, Option<char>);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.s.get(self.at..).filter(|r| !r.is_empty())?;
        let len = match rest[0] {
            0x00..=0x7f => 1,
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 0,
        };
        let c = rest
            .get(..len)
            .filter(|_| len > 0)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| t.chars().next());
        let start = self.at;
        self.at += if c.is_some() { len } else { 1 };
        Some((start, self.at, c))
    }
}

fn runes(s: &[u8]) -> Runes<'_> {
    Runes { s, at: 0 }
}

/// `s` without leading and trailing runes that `cut` matches (invalid bytes
/// are never cut), in one pass.
fn trim_by(s: &[u8], cut: impl Fn(char) -> bool) -> &[u8] {
    let mut kept: Option<(usize, usize)> = None;
    for (a, b, c) in runes(s) {
        if !c.is_some_and(&cut) {
            kept = Some((kept.map_or(a, |(start, _)| start), b));
        }
    }
    kept.map_or(&s[s.len()..], |(a, b)| &s[a..b])
}

/// Where `needle` first occurs in `hay`, in time linear in both.
pub(super) fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// Go's `strings.SplitN`, each part handed to `each` as a new string value
/// (charged as it is made): an empty separator splits into runes; `n < 0`
/// means no limit and `n == 0` gives nothing.
fn split(
    ctx: &Budget,
    s: &[u8],
    sep: &[u8],
    n: i64,
    mut each: impl FnMut(Value) -> Result<(), FuncError>,
) -> Result<(), FuncError> {
    read(ctx, &[s, sep])?;
    if n == 0 {
        return Ok(());
    }
    let limit = usize::try_from(n).unwrap_or(usize::MAX);
    let mut part = |bytes: &[u8]| each(copied(ctx, bytes)?);
    if sep.is_empty() {
        for (i, (a, b, _)) in runes(s).enumerate() {
            if i + 1 == limit {
                return part(&s[a..]);
            }
            part(&s[a..b])?;
        }
        return Ok(());
    }
    let finder = Finder::new(sep);
    let mut rest = s;
    let mut made = 0;
    while made + 1 < limit {
        let Some(i) = finder.find(rest) else { break };
        part(&rest[..i])?;
        made += 1;
        rest = &rest[i + sep.len()..];
    }
    part(rest)
}

/// sprig's `split`/`splitn` return a map `_0`, `_1`, ... of the parts.
fn split_map(ctx: &Budget, args: &[Value], n: Option<i64>) -> FResult {
    arity(args, 2)?;
    let mut entries = BTreeMap::new();
    split(
        ctx,
        str_arg(&args[1])?,
        str_arg(&args[0])?,
        n.unwrap_or(-1),
        |p| {
            entries.insert(format!("_{}", entries.len()), p);
            Ok(())
        },
    )?;
    map_result(ctx, entries, MapKind::Strings)
}

fn repeat(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 2)?;
    let n = int_arg(&args[0])?;
    let s = str_arg(&args[1])?;
    let n = usize::try_from(n).map_err(|_| FuncError::Other("strings: negative Repeat count"))?;
    if s.is_empty() {
        return copied(ctx, b"");
    }
    let len = s.len().saturating_mul(n);
    check_len(ctx, len)?;
    let mut out = result_buf(ctx, len);
    let built = (0..n).try_for_each(|_| out.extend(s));
    finish(ctx, out, built)
}

const OUT_OF_RANGE: &str = "runtime error: slice bounds out of range";

/// sprig's `substr start end s`, byte offsets; a negative start means 0 and
/// a negative or too large end means the end. Go panics (an error here)
/// when the bounds are otherwise out of range.
fn substr(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 3)?;
    let (start, end, s) = (int_arg(&args[0])?, int_arg(&args[1])?, str_arg(&args[2])?);
    let len = s.len() as i64;
    let (a, b) = if start < 0 {
        (0, end)
    } else if end < 0 || end > len {
        (start, len)
    } else {
        (start, end)
    };
    if a > b || b > len || b < 0 {
        return Err(FuncError::Other(OUT_OF_RANGE));
    }
    copied(ctx, &s[a as usize..b as usize])
}

/// sprig's `trunc n s`: the first n bytes, or the last -n bytes.
fn trunc(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 2)?;
    let (c, s) = (int_arg(&args[0])?, str_arg(&args[1])?);
    let len = s.len() as i64;
    let out = if c < 0 && len + c > 0 {
        &s[(len + c) as usize..]
    } else if c >= 0 && len > c {
        &s[..c as usize]
    } else {
        s
    };
    copied(ctx, out)
}

/// sprig's `replace old new s` (all occurrences; an empty `old` inserts
/// `new` around every rune, as Go's `strings.Replace`).
fn replace(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 3)?;
    let (old, new, s) = (str_arg(&args[0])?, str_arg(&args[1])?, str_arg(&args[2])?);
    read(ctx, &[old, new, s])?;
    let mut out = result_buf(ctx, s.len());
    let built = (|| {
        if old.is_empty() {
            out.extend(new)?;
            for (a, b, _) in runes(s) {
                out.extend(&s[a..b])?;
                out.extend(new)?;
            }
            return Ok(());
        }
        let finder = Finder::new(old);
        let mut rest = s;
        while let Some(i) = finder.find(rest) {
            out.extend(&rest[..i])?;
            out.extend(new)?;
            rest = &rest[i + old.len()..];
        }
        out.extend(rest)
    })();
    finish(ctx, out, built)
}

fn indent(ctx: &Budget, args: &[Value], leading_newline: bool) -> FResult {
    arity(args, 2)?;
    let n = int_arg(&args[0])?;
    let s = str_arg(&args[1])?;
    let n = usize::try_from(n).map_err(|_| FuncError::Other("strings: negative Repeat count"))?;
    read(ctx, &[s])?;
    let lines = s.iter().filter(|&&b| b == b'\n').count() + 1;
    let len = s
        .len()
        .saturating_add(n.saturating_mul(lines))
        .saturating_add(usize::from(leading_newline));
    check_len(ctx, len)?;
    let mut out = result_buf(ctx, len);
    let built = (|| {
        if leading_newline {
            out.push(b'\n')?;
        }
        out.fill(b' ', n)?;
        for line in s.split_inclusive(|&b| b == b'\n') {
            out.extend(line)?;
            if line.ends_with(b"\n") {
                out.fill(b' ', n)?;
            }
        }
        Ok(())
    })();
    finish(ctx, out, built)
}

/// `quote`/`squote` of one value: its `strval` between `q`s (`"` with Go
/// escapes, `'` as it is).
fn quoted(out: &mut Buf, v: &Value, q: u8) -> Result<(), Full> {
    let text = match v {
        Value::Str(s) => s.as_bytes(),
        other => {
            let mut scratch = Buf::new(out.room());
            format::write_v(&mut scratch, other)?;
            return quoted(out, &scratch.into_value(), q);
        }
    };
    if q == b'"' {
        format::quote(out, text)
    } else {
        out.push(q)?;
        out.extend(text)?;
        out.push(q)
    }
}

/// sprig's `quote`, `squote`, `cat`: each non-nil argument written by
/// `write`, separated by spaces.
fn joined(
    ctx: &Budget,
    args: &[Value],
    write: impl Fn(&mut Buf, &Value) -> Result<(), Full>,
) -> FResult {
    let mut out = result_buf(ctx, 0);
    let built = (|| {
        for (i, v) in args.iter().filter(|v| !matches!(v, Value::Nil)).enumerate() {
            if i > 0 {
                out.push(b' ')?;
            }
            write(&mut out, v)?;
        }
        Ok(())
    })();
    finish(ctx, out, built)
}

/// sprig's `join sep list`: nil elements are skipped, others printed `%v`;
/// a non-list is a one-element list, nil an empty one.
fn join(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 2)?;
    let sep = str_arg(&args[0])?;
    let one = [args[1].clone()];
    let items: &[Value] = match &args[1] {
        Value::List(l) => l,
        Value::Nil => &[],
        _ => &one,
    };
    let mut out = result_buf(ctx, 0);
    let built = (|| {
        for (i, v) in items
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .enumerate()
        {
            if i > 0 {
                out.extend(sep)?;
            }
            write_strval(&mut out, v)?;
        }
        Ok(())
    })();
    finish(ctx, out, built)
}
