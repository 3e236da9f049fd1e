//! sprig's defaults, list, dict and number functions: `default`, `empty`,
//! `coalesce`, `ternary`, `list`, `dict`, `get`, `hasKey`, `keys`,
//! `sortAlpha`, `first`, `last`, `has`, `append`, `atoi`, `int`, `int64`,
//! `add`, `add1`, `sub`.
//!
//! A new list or map costs one step per element: it records its size and
//! depth from its elements' (see `Value::weight`), never by walking them,
//! and each element it holds is charged as a value built.

use std::collections::BTreeMap;

use super::collections::deep_equal;
use super::{
    Budget, FResult, Func, FuncError, arity, arity_min, collection, finish, map_result, read,
    result_buf, str_arg, write_strval,
};
use crate::value::{MapKind, Value};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "default" => |_, a| {
            arity_min(a, 1)?;
            // sprig: `default d given...` returns d when given is absent or empty
            Ok(match a.get(1) {
                Some(v) if v.is_true() => v.clone(),
                _ => a[0].clone(),
            })
        },
        "empty" => |_, a| {
            arity(a, 1)?;
            Ok(Value::Bool(!a[0].is_true()))
        },
        "coalesce" => |_, a| {
            Ok(a.iter()
                .find(|v| v.is_true())
                .cloned()
                .unwrap_or(Value::Nil))
        },
        "ternary" => |_, a| {
            arity(a, 3)?;
            match &a[2] {
                Value::Bool(b) => Ok(if *b { a[0].clone() } else { a[1].clone() }),
                _ => Err(FuncError::Type("bool")),
            }
        },
        "list" => |c, a| {
            c.values(a.len() + 1)?;
            collection(c, Value::list(a.to_vec()))
        },
        "dict" => dict,
        "get" => |c, a| {
            arity(a, 2)?;
            let key = key_arg(c, &a[1])?;
            Ok(map_arg(&a[0])?
                .get(&key)
                .cloned()
                .unwrap_or_else(|| Value::str("")))
        },
        "hasKey" => |c, a| {
            arity(a, 2)?;
            let key = key_arg(c, &a[1])?;
            Ok(Value::Bool(map_arg(&a[0])?.contains_key(&key)))
        },
        // Go map order is random, so sprig's `keys` is usually piped to
        // `sortAlpha`; ours are always sorted.
        "keys" => |c, a| {
            let mut keys = Vec::new();
            for m in a {
                for k in map_arg(m)?.keys() {
                    c.values(1)?;
                    c.bytes(k.len())?;
                    keys.push(Value::str(k));
                }
            }
            collection(c, Value::list(keys))
        },
        "sortAlpha" => sort_alpha,
        "slice" | "mustSlice" => sprig_slice,
        // sprig's must forms fail where the plain ones panic: the same here
        "first" | "mustFirst" => |_, a| {
            arity(a, 1)?;
            Ok(
                list_arg(&a[0], "cannot find first on a value that is not a list")?
                    .first()
                    .cloned()
                    .unwrap_or(Value::Nil),
            )
        },
        "last" | "mustLast" => |_, a| {
            arity(a, 1)?;
            Ok(
                list_arg(&a[0], "cannot find last on a value that is not a list")?
                    .last()
                    .cloned()
                    .unwrap_or(Value::Nil),
            )
        },
        "has" | "mustHas" => |c, a| {
            arity(a, 2)?;
            for v in list_arg(&a[1], "cannot find has on a value that is not a list")? {
                if same(c, v, &a[0])? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        },
        "append" | "push" | "mustAppend" | "mustPush" => |c, a| {
            arity(a, 2)?;
            let old = list_arg(&a[0], "cannot push on a value that is not a list")?;
            c.values(old.len() + 2)?;
            let mut items = Vec::with_capacity(old.len() + 1);
            items.extend_from_slice(old);
            items.push(a[1].clone());
            collection(c, Value::list(items))
        },
        "hello" => |c, a| {
            arity(a, 0)?;
            super::copied(c, b"Hello!")
        },
        // sprig's toDecimal: `%v` of the value read as an octal number
        // (0 when it is not one)
        "toDecimal" => |c, a| {
            arity(a, 1)?;
            let mut text = result_buf(c, 0);
            let built = write_strval(&mut text, &a[0]);
            c.bytes(text.len())?;
            built?;
            let t = std::str::from_utf8(text.as_slice()).unwrap_or("");
            let (neg, digits) = match t.as_bytes().first() {
                Some(b'-') => (true, &t[1..]),
                Some(b'+') => (false, &t[1..]),
                _ => (false, t),
            };
            let n = if digits.is_empty() || digits.contains('_') {
                None
            } else {
                i64::from_str_radix(digits, 8).ok()
            };
            Ok(Value::Int(match n {
                Some(n) if neg => n.checked_neg().unwrap_or(0),
                Some(n) => n,
                None => 0,
            }))
        },
        "atoi" => |c, a| {
            arity(a, 1)?;
            let s = str_arg(&a[0])?;
            read(c, &[s])?;
            // NB: parsed in place; a copy would leave the secret in memory.
            let n = std::str::from_utf8(s).ok().and_then(|t| t.parse().ok());
            Ok(Value::Int(n.unwrap_or(0)))
        },
        "int" | "int64" => |c, a| {
            arity(a, 1)?;
            Ok(Value::Int(cast_int(c, &a[0])?))
        },
        "add" => |c, a| {
            let mut sum = 0i64;
            for v in a {
                sum = sum.wrapping_add(cast_int(c, v)?);
            }
            Ok(Value::Int(sum))
        },
        "add1" => |c, a| {
            arity(a, 1)?;
            Ok(Value::Int(cast_int(c, &a[0])?.wrapping_add(1)))
        },
        "sub" => |c, a| {
            arity(a, 2)?;
            Ok(Value::Int(
                cast_int(c, &a[0])?.wrapping_sub(cast_int(c, &a[1])?),
            ))
        },
        _ => return None,
    })
}

/// sprig's `slice LIST [START [END]]`, which replaces Go's builtin `slice`
/// in both callers' function maps: lists only, indexes cast as sprig casts
/// them, more than two ignored, an empty list gives nil, bounds outside
/// the list fail (a reflect panic in Go). Errors name no index.
fn sprig_slice(ctx: &Budget, args: &[Value]) -> FResult {
    arity_min(args, 1)?;
    let Value::List(list) = &args[0] else {
        return Err(FuncError::Other("list should be type of slice or array"));
    };
    let items = list.items();
    if items.is_empty() {
        return Ok(Value::Nil);
    }
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let start = match args.get(1) {
        Some(v) => cast_int(ctx, v)?,
        None => 0,
    };
    let end = match args.get(2) {
        Some(v) => cast_int(ctx, v)?,
        None => len,
    };
    if start < 0 || start > end || end > len {
        return Err(FuncError::Other("slice bounds out of range"));
    }
    // In bounds, so both fit in usize.
    let part = items[start as usize..end as usize].to_vec();
    ctx.values(part.len())?;
    collection(ctx, Value::list(part))
}

/// spf13/cast's `ToInt64`, as sprig uses it: numbers truncate, strings
/// parse (0 when they do not), booleans are 0/1, anything else is 0.
pub(super) fn cast_int(ctx: &Budget, v: &Value) -> Result<i64, FuncError> {
    Ok(match v {
        Value::Int(i) => *i,
        Value::Float(f) if f.is_finite() => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => {
            read(ctx, &[s.as_bytes()])?;
            // NB: parsed in place (invalid UTF-8 never parses), no copy.
            let t = std::str::from_utf8(s.as_bytes()).unwrap_or("");
            let t = t.trim_start_matches('+');
            t.parse::<i64>()
                .unwrap_or_else(|_| t.parse::<f64>().map_or(0, |f| f as i64))
        }
        _ => 0,
    })
}

/// Go's `==` on interface values, as sprig's `has` uses it: scalars compare
/// as `reflect.DeepEqual` does; a list or a map equals nothing here.
fn same(ctx: &Budget, a: &Value, b: &Value) -> Result<bool, FuncError> {
    if matches!(a, Value::List(_) | Value::Map(_)) {
        return Ok(false);
    }
    deep_equal(ctx, a, b)
}

pub(super) fn key_arg(ctx: &Budget, v: &Value) -> Result<String, FuncError> {
    let k = str_arg(v)?;
    read(ctx, &[k])?;
    Ok(String::from_utf8_lossy(k).into_owned())
}

pub(super) fn map_arg(v: &Value) -> Result<std::cell::Ref<'_, BTreeMap<String, Value>>, FuncError> {
    match v {
        Value::Map(m) => Ok(m.entries()),
        _ => Err(FuncError::Type("map[string]interface {}")),
    }
}

/// A list parameter (nil is an empty list); `refusal` for anything else.
pub(super) fn list_arg<'a>(v: &'a Value, refusal: &'static str) -> Result<&'a [Value], FuncError> {
    match v {
        Value::List(l) => Ok(l),
        Value::Nil => Ok(&[]),
        _ => Err(FuncError::Other(refusal)),
    }
}

/// sprig's `dict k1 v1 k2 v2 ...`; keys are printed `%v`, a missing last
/// value is `""`.
fn dict(ctx: &Budget, args: &[Value]) -> FResult {
    let mut entries = BTreeMap::new();
    for pair in args.chunks(2) {
        let mut key = result_buf(ctx, 0);
        let built = write_strval(&mut key, &pair[0]);
        ctx.bytes(key.len())?;
        built?;
        ctx.values(1)?;
        let key = String::from_utf8_lossy(key.as_slice()).into_owned();
        entries.insert(key, pair.get(1).cloned().unwrap_or_else(|| Value::str("")));
    }
    ctx.values(1)?;
    map_result(ctx, entries, MapKind::Any)
}

/// sprig's `sortAlpha`: the elements printed `%v` and sorted (a non-list is
/// a one-element list).
fn sort_alpha(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let one = [args[0].clone()];
    let items: &[Value] = match &args[0] {
        Value::List(l) => l,
        _ => &one,
    };
    let mut texts = Vec::with_capacity(items.len());
    for v in items {
        let mut out = result_buf(ctx, 0);
        let built = write_strval(&mut out, v);
        texts.push(finish(ctx, out, built)?);
    }
    // NB: comparisons read at most what was just charged, times log n.
    texts.sort_by(|a, b| match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => std::cmp::Ordering::Equal,
    });
    ctx.values(1)?;
    collection(ctx, Value::list(texts))
}
