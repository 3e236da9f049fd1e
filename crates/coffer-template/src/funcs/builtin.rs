//! Go `text/template` builtins: `not`, `len`, `index`, `call`, `print`,
//! `printf`, `println` and the comparisons `eq ne lt le gt ge`. (`and` and
//! `or` short-circuit, so the executor evaluates them; the escapers `html`,
//! `js` and `urlquery` are in `escape`. Go's `slice` is shadowed by
//! sprig's, as in both callers' function maps: see `lists`.)
//!
//! Go's errors here name the offending index or types (`index out of range:
//! 5`); ours do not, since the index may be a byte of a secret
//! (`{{ index (list) (index .password 0) }}`).

use std::cmp::Ordering;

use super::{
    Budget, FResult, Func, FuncError, arity, arity_min, finish, int_arg, result_buf, str_arg,
};
use crate::format;
use crate::value::Value;

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "not" => not,
        "len" => len,
        "index" => index,
        "call" => call,
        "print" => |c, a| {
            let mut out = result_buf(c, 0);
            let built = format::sprint(&mut out, a);
            finish(c, out, built)
        },
        "println" => |c, a| {
            let mut out = result_buf(c, 0);
            let built = format::sprintln(&mut out, a);
            finish(c, out, built)
        },
        "printf" => printf,
        "eq" => eq,
        "ne" => ne,
        "lt" => |c, a| ordered(c, a, |o| o == Ordering::Less),
        "le" => |c, a| ordered(c, a, |o| o != Ordering::Greater),
        "gt" => |c, a| ordered(c, a, |o| o == Ordering::Greater),
        "ge" => |c, a| ordered(c, a, |o| o != Ordering::Less),
        _ => return None,
    })
}

fn not(_: &Budget, args: &[Value]) -> FResult {
    arity(args, 1)?;
    Ok(Value::Bool(!args[0].is_true()))
}

fn len(_: &Budget, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let n = match &args[0] {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.entries().len(),
        _ => return Err(FuncError::Other("len of a value that has no length")),
    };
    Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// Go's `index`: a missing map key yields the map's zero value (never an
/// error, whatever `missingkey` says), an index past a list's end is an error.
fn index(ctx: &Budget, args: &[Value]) -> FResult {
    arity_min(args, 1)?;
    let mut item = args[0].clone();
    for key in &args[1..] {
        item = match &item {
            Value::Map(m) => {
                let k = str_arg(key).map_err(|_| FuncError::Other("map index is not a string"))?;
                ctx.bytes(k.len())?;
                match std::str::from_utf8(k) {
                    Ok(k) => m.entries().get(k).cloned(),
                    Err(_) => m
                        .entries()
                        .get(String::from_utf8_lossy(k).as_ref())
                        .cloned(),
                }
                .unwrap_or_else(|| m.zero())
            }
            Value::List(l) => {
                let i = position(key, l.len())?;
                l[i].clone()
            }
            Value::Str(s) => {
                let i = position(key, s.len())?;
                Value::Int(i64::from(s.as_bytes()[i]))
            }
            Value::Nil => return Err(FuncError::Other("index of untyped nil")),
            _ => return Err(FuncError::Other("can't index item of this type")),
        };
    }
    Ok(item)
}

/// Go's `call` calls a function value; data and templates here hold none,
/// so it always fails as Go's does for a non-function (without naming the
/// value's type, which may depend on the data).
fn call(_: &Budget, args: &[Value]) -> FResult {
    arity_min(args, 1)?;
    Err(FuncError::Other(match args[0] {
        Value::Nil => "call of nil",
        _ => "non-function of this type",
    }))
}

fn position(key: &Value, len: usize) -> Result<usize, FuncError> {
    let i =
        int_arg(key).map_err(|_| FuncError::Other("cannot index slice/array with this type"))?;
    match usize::try_from(i) {
        Ok(i) if i < len => Ok(i),
        _ => Err(FuncError::Other("index out of range")),
    }
}

fn printf(ctx: &Budget, args: &[Value]) -> FResult {
    arity_min(args, 1)?;
    let f = str_arg(&args[0])?;
    let mut out = result_buf(ctx, f.len());
    let built = format::sprintf(&mut out, f, &args[1..]);
    finish(ctx, out, built)
}

const INCOMPATIBLE: &str = "incompatible types for comparison";
const NON_COMPARABLE: &str = "non-comparable types";
const BAD_TYPE: &str = "invalid type for comparison";

/// Charges comparing two strings: at most the shorter one is read.
fn charge_compare(ctx: &Budget, a: &[u8], b: &[u8]) -> Result<(), FuncError> {
    ctx.bytes(a.len().min(b.len()))?;
    Ok(())
}

/// Equality of basic values as Go's `eq` defines it: ints and floats do not
/// compare with each other; nil equals only nil; lists and maps are not
/// comparable.
fn equal(ctx: &Budget, a: &Value, b: &Value) -> Result<bool, FuncError> {
    Ok(match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Nil, _) | (_, Value::Nil) => false,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => {
            charge_compare(ctx, x.as_bytes(), y.as_bytes())?;
            x.as_bytes() == y.as_bytes()
        }
        (Value::List(_) | Value::Map(_), Value::List(_) | Value::Map(_)) => {
            return Err(FuncError::Other(NON_COMPARABLE));
        }
        (Value::Object(x), Value::Object(y)) => {
            x.go_equal(y).ok_or(FuncError::Other(NON_COMPARABLE))?
        }
        _ => return Err(FuncError::Other(INCOMPATIBLE)),
    })
}

fn eq(ctx: &Budget, args: &[Value]) -> FResult {
    if args.len() < 2 {
        return Err(FuncError::Other("missing argument for comparison"));
    }
    for b in &args[1..] {
        if equal(ctx, &args[0], b)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn ne(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 2)?;
    Ok(Value::Bool(!equal(ctx, &args[0], &args[1])?))
}

fn ordered(ctx: &Budget, args: &[Value], want: fn(Ordering) -> bool) -> FResult {
    arity(args, 2)?;
    let o = match (&args[0], &args[1]) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => match x.partial_cmp(y) {
            Some(o) => o,
            None => return Ok(Value::Bool(false)), // NaN compares false
        },
        (Value::Str(x), Value::Str(y)) => {
            charge_compare(ctx, x.as_bytes(), y.as_bytes())?;
            x.as_bytes().cmp(y.as_bytes())
        }
        (
            Value::Int(_) | Value::Float(_) | Value::Str(_),
            Value::Int(_) | Value::Float(_) | Value::Str(_),
        ) => {
            return Err(FuncError::Other(INCOMPATIBLE));
        }
        _ => return Err(FuncError::Other(BAD_TYPE)),
    };
    Ok(Value::Bool(want(o)))
}
