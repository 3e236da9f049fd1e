//! sprig's path functions: `base`, `dir`, `clean`, `ext`, `isAbs` (Go's
//! `path` package) and their `os…` forms (`path/filepath`, the same on
//! Linux, where both controllers run). Ported from Go on bytes.

use super::{Budget, FResult, Func, arity, copied, read, str_arg};
use crate::value::Value;

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "base" | "osBase" => |c, a| one(c, a, base),
        "dir" | "osDir" => |c, a| one(c, a, |s| clean(dir_part(s))),
        "clean" | "osClean" => |c, a| one(c, a, clean),
        "ext" | "osExt" => |c, a| one(c, a, |s| ext(s).to_vec()),
        "isAbs" | "osIsAbs" => |_, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            Ok(Value::Bool(s.first() == Some(&b'/')))
        },
        _ => return None,
    })
}

fn one(ctx: &Budget, args: &[Value], f: impl Fn(&[u8]) -> Vec<u8>) -> FResult {
    arity(args, 1)?;
    let s = str_arg(&args[0])?;
    read(ctx, &[s])?;
    copied(ctx, &f(s))
}

/// `path.Base`: the last element, trailing slashes removed; `.` for
/// empty, `/` for only slashes.
fn base(s: &[u8]) -> Vec<u8> {
    if s.is_empty() {
        return b".".to_vec();
    }
    let trimmed = {
        let mut end = s.len();
        while end > 0 && s[end - 1] == b'/' {
            end -= 1;
        }
        &s[..end]
    };
    if trimmed.is_empty() {
        return b"/".to_vec();
    }
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => trimmed[i + 1..].to_vec(),
        None => trimmed.to_vec(),
    }
}

/// What `path.Dir` cleans: everything up to the last slash.
fn dir_part(s: &[u8]) -> &[u8] {
    match s.iter().rposition(|&b| b == b'/') {
        Some(i) => &s[..=i],
        None => &[],
    }
}

/// `path.Ext`: from the last dot of the last element.
fn ext(s: &[u8]) -> &[u8] {
    for i in (0..s.len()).rev() {
        match s[i] {
            b'/' => break,
            b'.' => return &s[i..],
            _ => {}
        }
    }
    &[]
}

/// `path.Clean`: one slash between elements, no `.` elements, `..`
/// resolved lexically (kept at the front of a relative path), no trailing
/// slash; `.` for an empty result.
fn clean(s: &[u8]) -> Vec<u8> {
    if s.is_empty() {
        return b".".to_vec();
    }
    let rooted = s[0] == b'/';
    let n = s.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    // `r` reads; `dotdot` is where `..` may no longer remove an element.
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        (r, dotdot) = (1, 1);
    }
    let is_end = |i: usize| i == n || s[i] == b'/';
    while r < n {
        if s[r] == b'/' || (s[r] == b'.' && is_end(r + 1)) {
            r += 1;
        } else if s[r] == b'.' && s.get(r + 1) == Some(&b'.') && is_end(r + 2) {
            r += 2;
            if out.len() > dotdot {
                let mut w = out.len() - 1;
                while w > dotdot && out[w] != b'/' {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && s[r] != b'/' {
                out.push(s[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        return b".".to_vec();
    }
    out
}
