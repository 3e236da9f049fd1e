//! sprig's dict functions that change a dict or copy one (sprig v3.3.0
//! `dict.go`, `defaults.go`): `set`, `unset`, `merge`, `mergeOverwrite`
//! (and their `must` forms), `deepCopy`, `mustDeepCopy`, `pluck`, `values`.
//!
//! `set`, `unset` and `merge` change their first argument in place and
//! return it, as in Go (`{{ $_ := set $d "k" "v" }}{{ $d.k }}`). That is
//! allowed only for a dict no list or dict holds (see `Map::set`): changing
//! `$outer.inner` in place is refused with an error, where Go would change
//! the inner dict that `$outer` shares. `merge` builds merged copies of
//! nested dicts instead of changing them, which gives the same result
//! unless the nested dict is also reachable some other way.
//!
//! `merge` follows dario.cat/mergo v1.0.1 (sprig's): for each key of each
//! source, a nil value is copied only when overwriting; two dicts merge
//! key by key; anything else replaces the destination's value when
//! overwriting, or when that value is missing or empty (`""`, 0, false,
//! nil, an empty list or dict). Every entry copied is charged.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::collections::any_map;
use super::lists::key_arg;
use super::{Budget, FResult, Func, FuncError, MAX_VALUE_DEPTH, arity, arity_min, collection};
use crate::error::Limit;
use crate::value::{Frozen, Map, MapKind, Value};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "set" => |c, a| {
            arity(a, 3)?;
            let d = changeable(&a[0])?;
            let key = key_arg(c, &a[1])?;
            c.values(1)?;
            d.set(key, a[2].clone()).map_err(frozen)?;
            collection(c, a[0].clone())
        },
        "unset" => |c, a| {
            arity(a, 2)?;
            let d = changeable(&a[0])?;
            let key = key_arg(c, &a[1])?;
            d.unset(&key).map_err(frozen)?;
            Ok(a[0].clone())
        },
        "merge" | "mustMerge" => |c, a| merge(c, a, false),
        "mergeOverwrite" | "mustMergeOverwrite" => |c, a| merge(c, a, true),
        "deepCopy" | "mustDeepCopy" => |c, a| {
            arity(a, 1)?;
            // Only a dict no collection holds can change later, so only
            // the top level needs copying: everything below it is fixed.
            match &a[0] {
                Value::Map(m) => {
                    let entries = m.entries().clone();
                    c.values(entries.len() + 1)?;
                    collection(c, Value::map(entries, m.kind()))
                }
                other => Ok(other.clone()),
            }
        },
        "pluck" => |c, a| {
            arity_min(a, 1)?;
            let key = key_arg(c, &a[0])?;
            let mut out = Vec::new();
            for d in &a[1..] {
                if let Some(v) = any_map(d)?.get(&key) {
                    c.values(1)?;
                    out.push(v.clone());
                }
            }
            c.values(1)?;
            collection(c, Value::list(out))
        },
        // Go's order is the map's (random); ours is the keys' order.
        "values" => |c, a| {
            arity(a, 1)?;
            let out: Vec<Value> = any_map(&a[0])?.values().cloned().collect();
            c.values(out.len() + 1)?;
            collection(c, Value::list(out))
        },
        _ => return None,
    })
}

/// A `map[string]interface{}` argument that may be changed in place.
fn changeable(v: &Value) -> Result<&Rc<Map>, FuncError> {
    match v {
        Value::Map(m) if m.kind() == MapKind::Any => {
            m.check_changeable().map_err(frozen)?;
            Ok(m)
        }
        Value::Nil => Err(FuncError::Other("assignment to entry in nil map")),
        _ => Err(FuncError::Type("map[string]interface {}")),
    }
}

fn frozen(f: Frozen) -> FuncError {
    FuncError::Other(match f {
        Frozen::Contained => {
            "cannot change a dict that a list or dict holds (coffer-template changes only a dict held by a variable)"
        }
        Frozen::Itself => "cannot put a dict into itself",
    })
}

/// sprig's `merge dst src...` / `mergeOverwrite`: `dst` changed in place and
/// returned (a nil `dst` gives a new dict, as mergo makes one).
fn merge(ctx: &Budget, args: &[Value], overwrite: bool) -> FResult {
    arity_min(args, 1)?;
    let mut srcs = Vec::with_capacity(args.len() - 1);
    for s in &args[1..] {
        match s {
            Value::Nil => {}
            Value::Map(m) if m.kind() == MapKind::Any => srcs.push(m.entries().clone()),
            _ => return Err(FuncError::Type("map[string]interface {}")),
        }
    }
    let (target, mut merged) = match &args[0] {
        Value::Nil => (None, BTreeMap::new()),
        other => {
            let d = changeable(other)?;
            (Some(d), d.entries().clone())
        }
    };
    for src in &srcs {
        merge_maps(ctx, &mut merged, src, MapKind::Any, overwrite, 1)?;
    }
    let Some(d) = target else {
        ctx.values(merged.len() + 1)?;
        return collection(ctx, Value::map(merged, MapKind::Any));
    };
    // Write back only what changed (the copy shares everything else).
    let removed: Vec<String> = d
        .entries()
        .keys()
        .filter(|k| !merged.contains_key(*k))
        .cloned()
        .collect();
    for k in removed {
        d.unset(&k).map_err(frozen)?;
    }
    for (k, v) in merged {
        let same = d.entries().get(&k).is_some_and(|old| same_value(old, &v));
        if !same {
            d.set(k, v).map_err(frozen)?;
        }
    }
    collection(ctx, args[0].clone())
}

/// Whether two values are the very same (a shared collection or an equal
/// scalar): merging left this entry alone.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Map(x), Value::Map(y)) => Rc::ptr_eq(x, y),
        (Value::List(x), Value::List(y)) => Rc::ptr_eq(x, y),
        (Value::Str(x), Value::Str(y)) => std::ptr::eq(x.as_bytes(), y.as_bytes()),
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        _ => false,
    }
}

/// mergo's map merge of `src` into `dst` (a map of `kind`).
fn merge_maps(
    ctx: &Budget,
    dst: &mut BTreeMap<String, Value>,
    src: &BTreeMap<String, Value>,
    kind: MapKind,
    overwrite: bool,
    depth: usize,
) -> Result<(), FuncError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(FuncError::Limit(Limit::Depth(MAX_VALUE_DEPTH)));
    }
    for (k, sv) in src {
        ctx.bytes(k.len() + 1)?;
        let dv = dst.get(k);
        let new = match (sv, dv) {
            (Value::Nil, _) => overwrite.then_some(Value::Nil),
            (Value::Map(s), Some(Value::Map(d))) => {
                let mut inner = d.entries().clone();
                ctx.values(inner.len())?;
                merge_maps(
                    ctx,
                    &mut inner,
                    &s.entries(),
                    d.kind(),
                    overwrite,
                    depth + 1,
                )?;
                Some(collection(ctx, Value::map(inner, d.kind()))?)
            }
            (_, None) => Some(sv.clone()),
            (_, Some(d)) if overwrite || !d.is_true() => Some(sv.clone()),
            _ => None,
        };
        if let Some(v) = new {
            if kind == MapKind::Strings && !matches!(v, Value::Str(_)) {
                // Go panics storing it into a map[string]string.
                return Err(FuncError::Other(
                    "a value that is not a string cannot go into a map[string]string",
                ));
            }
            ctx.values(1)?;
            dst.insert(k.clone(), v);
        }
    }
    Ok(())
}
