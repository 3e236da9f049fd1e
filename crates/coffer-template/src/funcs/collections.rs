//! More of sprig's list and dict functions (sprig v3.3.0 `list.go`,
//! `dict.go`, `numeric.go`): `prepend`, `rest`, `initial`, `reverse`,
//! `compact`, `uniq`, `without`, `concat`, `chunk` (and their `must`
//! forms), `tuple`, `until`, `untilStep`, `dig`, `pick`, `omit`, `all`,
//! `any`, `toStrings`, `fail`, and the integer arithmetic `mul`, `div`,
//! `mod`, `max`, `biggest`, `min`.
//!
//! As in sprig, a "list" argument must be a list (nil or a string is an
//! error), and a dict argument a `map[string]interface{}` (`dict`,
//! `fromJson`): the template data itself is a `map[string]string`, which
//! sprig's `dig`, `pick` and `omit` refuse. `uniq` and `without` compare
//! with `reflect.DeepEqual`; each comparison is charged to the render, so
//! their quadratic cost stays within the byte budget.

use std::cell::Ref;
use std::collections::BTreeMap;

use super::lists::{cast_int, key_arg};
use super::{Budget, FResult, Func, FuncError, arity, arity_min, collection, int_arg, map_result};
use crate::value::{MapKind, Value};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "tuple" => |c, a| {
            c.values(a.len() + 1)?;
            collection(c, Value::list(a.to_vec()))
        },
        "prepend" | "mustPrepend" => |c, a| {
            arity(a, 2)?;
            let l = list(&a[0], "Cannot prepend on this type")?;
            let mut out = Vec::with_capacity(l.len() + 1);
            out.push(a[1].clone());
            out.extend_from_slice(l);
            built(c, out)
        },
        "rest" | "mustRest" => |c, a| {
            arity(a, 1)?;
            let l = list(&a[0], "Cannot find rest on this type")?;
            built(c, l.get(1..).unwrap_or_default().to_vec())
        },
        "initial" | "mustInitial" => |c, a| {
            arity(a, 1)?;
            let l = list(&a[0], "Cannot find initial on this type")?;
            built(c, l[..l.len().saturating_sub(1)].to_vec())
        },
        "reverse" | "mustReverse" => |c, a| {
            arity(a, 1)?;
            let l = list(&a[0], "Cannot find reverse on this type")?;
            built(c, l.iter().rev().cloned().collect())
        },
        "compact" | "mustCompact" => |c, a| {
            arity(a, 1)?;
            let l = list(&a[0], "Cannot compact on this type")?;
            built(c, l.iter().filter(|v| v.is_true()).cloned().collect())
        },
        "uniq" | "mustUniq" => |c, a| {
            arity(a, 1)?;
            let l = list(&a[0], "Cannot find uniq on this type")?;
            let mut out: Vec<Value> = Vec::new();
            for v in l {
                if !in_list(c, &out, v)? {
                    out.push(v.clone());
                }
            }
            built(c, out)
        },
        "without" | "mustWithout" => |c, a| {
            arity_min(a, 1)?;
            let l = list(&a[0], "Cannot find without on this type")?;
            let mut out = Vec::new();
            for v in l {
                if !in_list(c, &a[1..], v)? {
                    out.push(v.clone());
                }
            }
            built(c, out)
        },
        "concat" => |c, a| {
            let mut out = Vec::new();
            for l in a {
                out.extend_from_slice(list(l, "Cannot concat this type as list")?);
            }
            built(c, out)
        },
        "chunk" | "mustChunk" => |c, a| {
            arity(a, 2)?;
            let size = int_arg(&a[0])?;
            let l = list(&a[1], "Cannot chunk this type")?;
            let size = usize::try_from(size)
                .ok()
                .filter(|&s| s > 0)
                .ok_or(FuncError::Other("chunk size must be positive"))?;
            let mut out = Vec::new();
            for part in l.chunks(size) {
                c.values(part.len() + 1)?;
                out.push(collection(c, Value::list(part.to_vec()))?);
            }
            collection(c, Value::list(out))
        },
        "until" => |c, a| {
            arity(a, 1)?;
            let n = int_arg(&a[0])?;
            until_step(c, 0, n, if n < 0 { -1 } else { 1 })
        },
        "untilStep" => |c, a| {
            arity(a, 3)?;
            until_step(c, int_arg(&a[0])?, int_arg(&a[1])?, int_arg(&a[2])?)
        },
        "dig" => dig,
        "pick" => |c, a| {
            arity_min(a, 1)?;
            let d = any_map(&a[0])?;
            let mut out = BTreeMap::new();
            for k in &a[1..] {
                let k = key_arg(c, k)?;
                if let Some(v) = d.get(&k) {
                    c.values(1)?;
                    out.insert(k, v.clone());
                }
            }
            map_result(c, out, MapKind::Any)
        },
        "omit" => |c, a| {
            arity_min(a, 1)?;
            let d = any_map(&a[0])?;
            let mut omitted = Vec::new();
            for k in &a[1..] {
                omitted.push(key_arg(c, k)?);
            }
            let mut out = BTreeMap::new();
            for (k, v) in d.iter() {
                if !omitted.contains(k) {
                    c.values(1)?;
                    out.insert(k.clone(), v.clone());
                }
            }
            map_result(c, out, MapKind::Any)
        },
        "mul" => |c, a| {
            arity_min(a, 1)?;
            let mut v = cast_int(c, &a[0])?;
            for b in &a[1..] {
                v = v.wrapping_mul(cast_int(c, b)?);
            }
            Ok(Value::Int(v))
        },
        "div" => |c, a| {
            arity(a, 2)?;
            let (x, y) = (cast_int(c, &a[0])?, cast_int(c, &a[1])?);
            if y == 0 {
                return Err(FuncError::Other("integer divide by zero"));
            }
            Ok(Value::Int(x.wrapping_div(y)))
        },
        "mod" => |c, a| {
            arity(a, 2)?;
            let (x, y) = (cast_int(c, &a[0])?, cast_int(c, &a[1])?);
            if y == 0 {
                return Err(FuncError::Other("integer divide by zero"));
            }
            Ok(Value::Int(x.wrapping_rem(y)))
        },
        "all" => |_, a| Ok(Value::Bool(a.iter().all(Value::is_true))),
        "any" => |_, a| Ok(Value::Bool(a.iter().any(Value::is_true))),
        "toStrings" => |c, a| {
            arity(a, 1)?;
            // sprig's strslice: a list's non-nil elements as strings; nil
            // is an empty list; anything else a list of itself.
            let items: &[Value] = match &a[0] {
                Value::List(l) => l.items(),
                Value::Nil => &[],
                other => std::slice::from_ref(other),
            };
            let mut out = Vec::new();
            for v in items.iter().filter(|v| !matches!(v, Value::Nil)) {
                let mut buf = super::result_buf(c, 0);
                let built = super::write_strval(&mut buf, v);
                out.push(super::finish(c, buf, built)?);
            }
            built(c, out)
        },
        // sprig's `fail MSG` fails the render; the message is data the
        // template chooses (possibly secret), so it is never shown.
        "fail" => |_, a| {
            arity(a, 1)?;
            Err(FuncError::Other(
                "the template called fail (its message is not shown)",
            ))
        },
        "max" | "biggest" => |c, a| extreme(c, a, i64::max),
        "min" => |c, a| extreme(c, a, i64::min),
        _ => return None,
    })
}

/// A list argument; anything else (nil and strings too) is `refusal`, as
/// sprig's reflect switch refuses it.
fn list<'a>(v: &'a Value, refusal: &'static str) -> Result<&'a [Value], FuncError> {
    match v {
        Value::List(l) => Ok(l.items()),
        _ => Err(FuncError::Other(refusal)),
    }
}

/// A `map[string]interface{}` argument.
pub(super) fn any_map(v: &Value) -> Result<Ref<'_, BTreeMap<String, Value>>, FuncError> {
    match v {
        Value::Map(m) if m.kind() == MapKind::Any => Ok(m.entries()),
        _ => Err(FuncError::Type("map[string]interface {}")),
    }
}

/// A new list of `items` (each charged as a value built).
fn built(ctx: &Budget, items: Vec<Value>) -> FResult {
    ctx.values(items.len() + 1)?;
    collection(ctx, Value::list(items))
}

fn extreme(ctx: &Budget, args: &[Value], pick: fn(i64, i64) -> i64) -> FResult {
    arity_min(args, 1)?;
    let mut v = cast_int(ctx, &args[0])?;
    for b in &args[1..] {
        v = pick(v, cast_int(ctx, b)?);
    }
    Ok(Value::Int(v))
}

/// sprig's `untilStep`: `start` toward `stop` by `step`, empty when the
/// step does not lead there. Each element is charged before it is built.
pub(super) fn until_step(ctx: &Budget, start: i64, stop: i64, step: i64) -> FResult {
    let mut out = Vec::new();
    let mut i = start;
    let going = |i: i64| {
        if stop < start {
            step < 0 && i > stop
        } else {
            step > 0 && i < stop
        }
    };
    while going(i) {
        ctx.values(1)?;
        out.push(Value::Int(i));
        match i.checked_add(step) {
            Some(next) => i = next,
            None => break,
        }
    }
    collection(ctx, Value::list(out))
}

/// sprig's `dig KEY... DEFAULT DICT`: follows the keys through nested
/// `map[string]interface{}`s; a missing key gives the default, a step that
/// is not such a map fails (a type assertion panic in sprig).
fn dig(ctx: &Budget, args: &[Value]) -> FResult {
    if args.len() < 3 {
        return Err(FuncError::Other("dig needs at least three arguments"));
    }
    let (keys, rest) = args.split_at(args.len() - 2);
    let default = &rest[0];
    let mut keys = keys
        .iter()
        .map(|k| match k {
            Value::Str(_) => key_arg(ctx, k),
            _ => Err(FuncError::Other("dig: a key is not a string")),
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .peekable();
    any_map(&rest[1]).map_err(|_| FuncError::Other("dig: not a dict"))?;
    let mut d = rest[1].clone();
    while let Some(k) = keys.next() {
        let step = any_map(&d)
            .map_err(|_| FuncError::Other("dig: a step is not a dict"))?
            .get(&k)
            .cloned();
        let Some(step) = step else {
            return Ok(default.clone());
        };
        if keys.peek().is_none() {
            return Ok(step);
        }
        d = step;
    }
    Ok(default.clone())
}

/// Whether `needle` is in `haystack` by `reflect.DeepEqual`.
fn in_list(ctx: &Budget, haystack: &[Value], needle: &Value) -> Result<bool, FuncError> {
    for h in haystack {
        if deep_equal(ctx, needle, h)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `reflect.DeepEqual` on template values: same type and same contents
/// (an int and a float never equal; map kinds must match). Charges one
/// byte per node compared plus the string bytes read.
pub(super) fn deep_equal(ctx: &Budget, a: &Value, b: &Value) -> Result<bool, FuncError> {
    ctx.bytes(1)?;
    Ok(match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        // DeepEqual uses ==: NaN differs from itself.
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => {
            ctx.bytes(x.len().min(y.len()))?;
            x.as_bytes() == y.as_bytes()
        }
        (Value::List(x), Value::List(y)) => {
            let (x, y) = (x.items(), y.items());
            if x.len() != y.len() {
                return Ok(false);
            }
            for (p, q) in x.iter().zip(y) {
                if !deep_equal(ctx, p, q)? {
                    return Ok(false);
                }
            }
            true
        }
        (Value::Object(x), Value::Object(y)) => {
            ctx.bytes(x.weight().min(y.weight()))?;
            x.deep_equal(y)
        }
        (Value::Map(x), Value::Map(y)) => {
            if x.kind() != y.kind() || x.entries().len() != y.entries().len() {
                return Ok(false);
            }
            for ((k1, v1), (k2, v2)) in x.entries().iter().zip(y.entries().iter()) {
                ctx.bytes(k1.len().min(k2.len()))?;
                if k1 != k2 || !deep_equal(ctx, v1, v2)? {
                    return Ok(false);
                }
            }
            true
        }
        _ => false,
    })
}
