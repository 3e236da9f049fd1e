//! sprig's string functions, on byte strings with Go's `strings` semantics:
//! case mapping rune by rune (invalid UTF-8 becomes U+FFFD), trimming of
//! Unicode white space, and byte-wise search.

use super::{
    Ctx, FResult, Func, FuncError, arity, check_len, int_arg, str_arg, string_result, strval,
};
use crate::format;
use crate::value::{MapKind, Value};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "trim" => |c, a| unary(c, a, |s| trim_by(s, char::is_whitespace).to_vec()),
        "nospace" => |c, a| {
            unary(c, a, |s| {
                map_chars(s, |ch| (!ch.is_whitespace()).then_some(ch))
            })
        },
        "upper" => |c, a| {
            unary(c, a, |s| {
                map_chars(s, |ch| Some(simple_case(ch.to_uppercase(), ch)))
            })
        },
        "lower" => |c, a| {
            unary(c, a, |s| {
                map_chars(s, |ch| Some(simple_case(ch.to_lowercase(), ch)))
            })
        },
        "trimAll" | "trimall" => |c, a| {
            arity(a, 2)?;
            let cut = String::from_utf8_lossy(str_arg(&a[0])?).into_owned();
            string_result(c, trim_by(str_arg(&a[1])?, |ch| cut.contains(ch)).to_vec())
        },
        "trimPrefix" => |c, a| {
            arity(a, 2)?;
            let (p, s) = (str_arg(&a[0])?, str_arg(&a[1])?);
            string_result(c, s.strip_prefix(p).unwrap_or(s).to_vec())
        },
        "trimSuffix" => |c, a| {
            arity(a, 2)?;
            let (p, s) = (str_arg(&a[0])?, str_arg(&a[1])?);
            string_result(c, s.strip_suffix(p).unwrap_or(s).to_vec())
        },
        "contains" => |_, a| predicate(a, |sub, s| find_bytes(s, sub).is_some()),
        "hasPrefix" => |_, a| predicate(a, |p, s| s.starts_with(p)),
        "hasSuffix" => |_, a| predicate(a, |p, s| s.ends_with(p)),
        "repeat" => repeat,
        "substr" => substr,
        "trunc" => trunc,
        "replace" => replace,
        "indent" => |c, a| indent(c, a, false),
        "nindent" => |c, a| indent(c, a, true),
        "quote" => |c, a| {
            let parts = a.iter().filter(|v| !matches!(v, Value::Nil)).map(|v| {
                let mut q = Vec::new();
                format::quote(&mut q, &strval(v));
                q
            });
            string_result(c, parts.collect::<Vec<_>>().join(&b' '))
        },
        "squote" => |c, a| {
            let parts = a
                .iter()
                .filter(|v| !matches!(v, Value::Nil))
                .map(|v| [b"'".as_slice(), &strval(v), b"'"].concat());
            string_result(c, parts.collect::<Vec<_>>().join(&b' '))
        },
        "cat" => |c, a| {
            let parts = a.iter().filter(|v| !matches!(v, Value::Nil)).map(strval);
            string_result(c, parts.collect::<Vec<_>>().join(&b' '))
        },
        "toString" => |c, a| {
            arity(a, 1)?;
            string_result(c, strval(&a[0]))
        },
        "split" => |c, a| split_map(c, a, None),
        "splitn" => |c, a| {
            arity(a, 3)?;
            let n = int_arg(&a[1])?;
            split_map(c, &[a[0].clone(), a[2].clone()], Some(n))
        },
        "splitList" => |_, a| {
            arity(a, 2)?;
            let parts = split(str_arg(&a[1])?, str_arg(&a[0])?, -1);
            Ok(Value::list(parts.into_iter().map(Value::str).collect()))
        },
        "join" => join,
        _ => return None,
    })
}

fn unary(ctx: &Ctx, args: &[Value], f: impl Fn(&[u8]) -> Vec<u8>) -> FResult {
    arity(args, 1)?;
    string_result(ctx, f(str_arg(&args[0])?))
}

fn predicate(args: &[Value], f: impl Fn(&[u8], &[u8]) -> bool) -> FResult {
    arity(args, 2)?;
    Ok(Value::Bool(f(str_arg(&args[0])?, str_arg(&args[1])?)))
}

/// Go's `unicode.ToUpper`/`ToLower` map one rune to one rune; where Rust's
/// full mapping expands (`ß` → `SS`), Go leaves the rune alone.
fn simple_case(mut mapped: impl Iterator<Item = char>, orig: char) -> char {
    match (mapped.next(), mapped.next()) {
        (Some(c), None) => c,
        _ => orig,
    }
}

/// Maps each rune (invalid bytes count as U+FFFD, as Go's `strings.Map`).
fn map_chars(s: &[u8], f: impl Fn(char) -> Option<char>) -> Vec<u8> {
    let mut out = String::with_capacity(s.len());
    for chunk in s.utf8_chunks() {
        out.extend(chunk.valid().chars().filter_map(&f));
        for _ in chunk.invalid() {
            out.extend(f('\u{fffd}'));
        }
    }
    out.into_bytes()
}

/// The runes of `s` with their byte ranges; invalid bytes are one rune each.
fn runes(s: &[u8]) -> Vec<(usize, usize, Option<char>)> {
    let mut v = Vec::new();
    let mut at = 0;
    for chunk in s.utf8_chunks() {
        for (i, c) in chunk.valid().char_indices() {
            v.push((at + i, at + i + c.len_utf8(), Some(c)));
        }
        at += chunk.valid().len();
        for _ in chunk.invalid() {
            v.push((at, at + 1, None));
            at += 1;
        }
    }
    v
}

fn trim_by(s: &[u8], cut: impl Fn(char) -> bool) -> &[u8] {
    let r = runes(s);
    let keep = |&&(_, _, c): &&(usize, usize, Option<char>)| !c.is_some_and(&cut);
    let start = r.iter().find(keep).map_or(s.len(), |x| x.0);
    let end = r.iter().rev().find(keep).map_or(start, |x| x.1);
    &s[start..end.max(start)]
}

pub(super) fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Go's `strings.SplitN`: an empty separator splits into runes; `n < 0`
/// means no limit and `n == 0` gives nothing.
fn split(s: &[u8], sep: &[u8], n: i64) -> Vec<Vec<u8>> {
    if n == 0 {
        return Vec::new();
    }
    let limit = if n < 0 {
        usize::MAX
    } else {
        usize::try_from(n).unwrap_or(usize::MAX)
    };
    let mut parts = Vec::new();
    if sep.is_empty() {
        let r = runes(s);
        for (i, &(a, b, _)) in r.iter().enumerate() {
            if parts.len() + 1 == limit {
                parts.push(s[a..].to_vec());
                return parts;
            }
            let _ = i;
            parts.push(s[a..b].to_vec());
        }
        return parts;
    }
    let mut rest = s;
    while parts.len() + 1 < limit {
        match find_bytes(rest, sep) {
            Some(i) => {
                parts.push(rest[..i].to_vec());
                rest = &rest[i + sep.len()..];
            }
            None => break,
        }
    }
    parts.push(rest.to_vec());
    parts
}

/// sprig's `split`/`splitn` return a map `_0`, `_1`, ... of the parts.
fn split_map(_: &Ctx, args: &[Value], n: Option<i64>) -> FResult {
    arity(args, 2)?;
    let parts = split(str_arg(&args[1])?, str_arg(&args[0])?, n.unwrap_or(-1));
    let entries = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::string(p)))
        .collect();
    Ok(Value::map(entries, MapKind::Strings))
}

fn repeat(ctx: &Ctx, args: &[Value]) -> FResult {
    arity(args, 2)?;
    let n = int_arg(&args[0])?;
    let s = str_arg(&args[1])?;
    let n = usize::try_from(n)
        .map_err(|_| FuncError::Other("strings: negative Repeat count".into()))?;
    check_len(ctx, s.len().saturating_mul(n))?;
    string_result(ctx, s.repeat(n))
}

const OUT_OF_RANGE: &str = "runtime error: slice bounds out of range";

/// sprig's `substr start end s`, byte offsets; a negative start means 0 and
/// a negative or too large end means the end. Go panics (an error here)
/// when the bounds are otherwise out of range.
fn substr(ctx: &Ctx, args: &[Value]) -> FResult {
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
        return Err(FuncError::Other(OUT_OF_RANGE.into()));
    }
    string_result(ctx, s[a as usize..b as usize].to_vec())
}

/// sprig's `trunc n s`: the first n bytes, or the last -n bytes.
fn trunc(ctx: &Ctx, args: &[Value]) -> FResult {
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
    string_result(ctx, out.to_vec())
}

/// sprig's `replace old new s` (all occurrences; an empty `old` inserts
/// `new` around every rune, as Go's `strings.Replace`).
fn replace(ctx: &Ctx, args: &[Value]) -> FResult {
    arity(args, 3)?;
    let (old, new, s) = (str_arg(&args[0])?, str_arg(&args[1])?, str_arg(&args[2])?);
    let mut out = Vec::with_capacity(s.len());
    if old.is_empty() {
        check_len(
            ctx,
            s.len()
                .saturating_add(new.len().saturating_mul(s.len() + 1)),
        )?;
        out.extend_from_slice(new);
        for (a, b, _) in runes(s) {
            out.extend_from_slice(&s[a..b]);
            out.extend_from_slice(new);
        }
        return string_result(ctx, out);
    }
    let mut rest = s;
    while let Some(i) = find_bytes(rest, old) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(new);
        check_len(ctx, out.len())?;
        rest = &rest[i + old.len()..];
    }
    out.extend_from_slice(rest);
    string_result(ctx, out)
}

fn indent(ctx: &Ctx, args: &[Value], leading_newline: bool) -> FResult {
    arity(args, 2)?;
    let n = int_arg(&args[0])?;
    let s = str_arg(&args[1])?;
    let n = usize::try_from(n)
        .map_err(|_| FuncError::Other("strings: negative Repeat count".into()))?;
    let lines = s.iter().filter(|&&b| b == b'\n').count() + 1;
    check_len(ctx, s.len().saturating_add(n.saturating_mul(lines)))?;
    let pad = vec![b' '; n];
    let mut out = Vec::new();
    if leading_newline {
        out.push(b'\n');
    }
    out.extend_from_slice(&pad);
    for &b in s {
        out.push(b);
        if b == b'\n' {
            out.extend_from_slice(&pad);
        }
    }
    string_result(ctx, out)
}

/// sprig's `join sep list`: nil elements are skipped, others printed `%v`;
/// a non-list is a one-element list, nil an empty one.
fn join(ctx: &Ctx, args: &[Value]) -> FResult {
    arity(args, 2)?;
    let sep = str_arg(&args[0])?;
    let parts: Vec<Vec<u8>> = match &args[1] {
        Value::List(l) => l
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(strval)
            .collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    };
    string_result(ctx, parts.join(sep))
}
