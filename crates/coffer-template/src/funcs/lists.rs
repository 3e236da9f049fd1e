//! sprig's defaults, list, dict and number functions: `default`, `empty`,
//! `coalesce`, `ternary`, `list`, `dict`, `get`, `hasKey`, `keys`,
//! `sortAlpha`, `first`, `last`, `has`, `append`, `atoi`, `int`, `int64`,
//! `add`, `add1`, `sub`.

use std::collections::BTreeMap;

use super::{Ctx, FResult, Func, FuncError, arity, arity_min, str_arg, strval};
use crate::error::Limit;
use crate::value::{MapKind, Value};

/// How deeply lists and dicts built by templates may nest.
pub(crate) const MAX_VALUE_DEPTH: usize = 64;

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
                other => Err(FuncError::Type {
                    expected: "bool",
                    got: other.type_name(),
                }),
            }
        },
        "list" => |c, a| collection(c, Value::list(a.to_vec()), a.len()),
        "dict" => dict,
        "get" => |_, a| {
            arity(a, 2)?;
            let key = key_arg(&a[1])?;
            Ok(map_arg(&a[0])?
                .get(&key)
                .cloned()
                .unwrap_or_else(|| Value::str("")))
        },
        "hasKey" => |_, a| {
            arity(a, 2)?;
            let key = key_arg(&a[1])?;
            Ok(Value::Bool(map_arg(&a[0])?.contains_key(&key)))
        },
        // Go map order is random, so sprig's `keys` is usually piped to
        // `sortAlpha`; ours are always sorted.
        "keys" => |_, a| {
            let mut keys = Vec::new();
            for m in a {
                keys.extend(map_arg(m)?.keys().map(Value::str));
            }
            Ok(Value::list(keys))
        },
        "sortAlpha" => |_, a| {
            arity(a, 1)?;
            let mut items: Vec<Vec<u8>> = match &a[0] {
                Value::List(l) => l.iter().map(strval).collect(),
                other => vec![strval(other)],
            };
            items.sort();
            Ok(Value::list(items.into_iter().map(Value::string).collect()))
        },
        "first" => |_, a| {
            arity(a, 1)?;
            Ok(list_arg(&a[0])?.first().cloned().unwrap_or(Value::Nil))
        },
        "last" => |_, a| {
            arity(a, 1)?;
            Ok(list_arg(&a[0])?.last().cloned().unwrap_or(Value::Nil))
        },
        "has" => |_, a| {
            arity(a, 2)?;
            let found = list_arg(&a[1])?.iter().any(|v| same(v, &a[0]));
            Ok(Value::Bool(found))
        },
        "append" | "push" => |c, a| {
            arity(a, 2)?;
            let mut items = list_arg(&a[0])?.to_vec();
            items.push(a[1].clone());
            let n = items.len();
            collection(c, Value::list(items), n)
        },
        "atoi" => |_, a| {
            arity(a, 1)?;
            let s = String::from_utf8_lossy(str_arg(&a[0])?).into_owned();
            Ok(Value::Int(s.parse().unwrap_or(0)))
        },
        "int" | "int64" => |_, a| {
            arity(a, 1)?;
            Ok(Value::Int(cast_int(&a[0])))
        },
        "add" => |_, a| {
            Ok(Value::Int(
                a.iter().map(cast_int).fold(0i64, i64::wrapping_add),
            ))
        },
        "add1" => |_, a| {
            arity(a, 1)?;
            Ok(Value::Int(cast_int(&a[0]).wrapping_add(1)))
        },
        "sub" => |_, a| {
            arity(a, 2)?;
            Ok(Value::Int(cast_int(&a[0]).wrapping_sub(cast_int(&a[1]))))
        },
        _ => return None,
    })
}

/// spf13/cast's `ToInt64`, as sprig uses it: numbers truncate, strings
/// parse (0 when they do not), booleans are 0/1, anything else is 0.
fn cast_int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) if f.is_finite() => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => {
            let t = String::from_utf8_lossy(s.as_bytes());
            let t = t.trim_start_matches('+');
            t.parse::<i64>()
                .unwrap_or_else(|_| t.parse::<f64>().map_or(0, |f| f as i64))
        }
        _ => 0,
    }
}

/// Go's `==` on interface values, as sprig's `has` uses it.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x.as_bytes() == y.as_bytes(),
        _ => false,
    }
}

fn key_arg(v: &Value) -> Result<String, FuncError> {
    Ok(String::from_utf8_lossy(str_arg(v)?).into_owned())
}

fn map_arg(v: &Value) -> Result<&BTreeMap<String, Value>, FuncError> {
    match v {
        Value::Map(m) => Ok(&m.entries),
        other => Err(FuncError::Type {
            expected: "map[string]interface {}",
            got: other.type_name(),
        }),
    }
}

fn list_arg(v: &Value) -> Result<&[Value], FuncError> {
    match v {
        Value::List(l) => Ok(l),
        Value::Nil => Ok(&[]),
        other => Err(FuncError::Other(format!(
            "cannot find first on type {}",
            other.type_name()
        ))),
    }
}

/// sprig's `dict k1 v1 k2 v2 ...`; keys are printed `%v`, a missing last
/// value is `""`.
fn dict(ctx: &Ctx, args: &[Value]) -> FResult {
    let mut entries = BTreeMap::new();
    for pair in args.chunks(2) {
        let key = String::from_utf8_lossy(&strval(&pair[0])).into_owned();
        entries.insert(key, pair.get(1).cloned().unwrap_or_else(|| Value::str("")));
    }
    let n = entries.len();
    collection(ctx, Value::map(entries, MapKind::Any), n)
}

/// Guards collections templates build: element count and nesting depth.
fn collection(ctx: &Ctx, v: Value, len: usize) -> FResult {
    if len > ctx.max_value {
        return Err(FuncError::Limit(Limit::ValueSize(ctx.max_value)));
    }
    if v.depth() > MAX_VALUE_DEPTH {
        return Err(FuncError::Limit(Limit::Depth(MAX_VALUE_DEPTH)));
    }
    Ok(v)
}
