//! Go `text/template` builtins: `not`, `len`, `index`, `print`, `printf`,
//! `println` and the comparisons `eq ne lt le gt ge`. (`and` and `or`
//! short-circuit, so the executor evaluates them.)

use std::cmp::Ordering;

use super::{Ctx, FResult, Func, FuncError, arity, arity_min, int_arg, str_arg, string_result};
use crate::format;
use crate::value::Value;

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "not" => not,
        "len" => len,
        "index" => index,
        "print" => |c, a| string_result(c, format::sprint(a)),
        "println" => |c, a| string_result(c, format::sprintln(a)),
        "printf" => printf,
        "eq" => eq,
        "ne" => ne,
        "lt" => |_, a| ordered(a, "lt", |o| o == Ordering::Less),
        "le" => |_, a| ordered(a, "le", |o| o != Ordering::Greater),
        "gt" => |_, a| ordered(a, "gt", |o| o == Ordering::Greater),
        "ge" => |_, a| ordered(a, "ge", |o| o != Ordering::Less),
        _ => return None,
    })
}

fn not(_: &Ctx, args: &[Value]) -> FResult {
    arity(args, 1)?;
    Ok(Value::Bool(!args[0].is_true()))
}

fn len(_: &Ctx, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let n = match &args[0] {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.entries.len(),
        other => {
            return Err(FuncError::Other(format!(
                "len of type {}",
                other.type_name()
            )));
        }
    };
    Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// Go's `index`: a missing map key yields the map's zero value (never an
/// error, whatever `missingkey` says), an index past a list's end is an error.
fn index(_: &Ctx, args: &[Value]) -> FResult {
    arity_min(args, 1)?;
    let mut item = args[0].clone();
    for key in &args[1..] {
        item = match &item {
            Value::Map(m) => {
                let k = str_arg(key).map_err(|_| {
                    FuncError::Other(format!(
                        "value has type {}; should be string",
                        key.type_name()
                    ))
                })?;
                let k = String::from_utf8_lossy(k);
                m.entries
                    .get(k.as_ref())
                    .cloned()
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
            Value::Nil => return Err(FuncError::Other("index of untyped nil".into())),
            other => {
                return Err(FuncError::Other(format!(
                    "can't index item of type {}",
                    other.type_name()
                )));
            }
        };
    }
    Ok(item)
}

fn position(key: &Value, len: usize) -> Result<usize, FuncError> {
    let i = int_arg(key).map_err(|_| {
        FuncError::Other(format!(
            "cannot index slice/array with type {}",
            key.type_name()
        ))
    })?;
    match usize::try_from(i) {
        Ok(i) if i < len => Ok(i),
        _ => Err(FuncError::Other(format!("index out of range: {i}"))),
    }
}

fn printf(ctx: &Ctx, args: &[Value]) -> FResult {
    arity_min(args, 1)?;
    let f = str_arg(&args[0])?;
    string_result(ctx, format::sprintf(f, &args[1..]))
}

fn incompatible(a: &Value, b: &Value) -> FuncError {
    FuncError::Other(format!(
        "incompatible types for comparison: {} and {}",
        a.type_name(),
        b.type_name()
    ))
}
const BAD_TYPE: &str = "invalid type for comparison";

/// Equality of basic values as Go's `eq` defines it: ints and floats do not
/// compare with each other; nil equals only nil; lists and maps are not
/// comparable.
fn equal(a: &Value, b: &Value) -> Result<bool, FuncError> {
    Ok(match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Nil, _) | (_, Value::Nil) => false,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x.as_bytes() == y.as_bytes(),
        (Value::List(_) | Value::Map(_), Value::List(_) | Value::Map(_)) => {
            return Err(FuncError::Other("non-comparable types".into()));
        }
        _ => return Err(incompatible(a, b)),
    })
}

fn eq(_: &Ctx, args: &[Value]) -> FResult {
    if args.len() < 2 {
        return Err(FuncError::Other("missing argument for comparison".into()));
    }
    for b in &args[1..] {
        if equal(&args[0], b)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn ne(_: &Ctx, args: &[Value]) -> FResult {
    arity(args, 2)?;
    Ok(Value::Bool(!equal(&args[0], &args[1])?))
}

fn ordered(args: &[Value], _name: &str, want: fn(Ordering) -> bool) -> FResult {
    arity(args, 2)?;
    let o = match (&args[0], &args[1]) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => match x.partial_cmp(y) {
            Some(o) => o,
            None => return Ok(Value::Bool(false)), // NaN compares false
        },
        (Value::Str(x), Value::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (
            a @ (Value::Int(_) | Value::Float(_) | Value::Str(_)),
            b @ (Value::Int(_) | Value::Float(_) | Value::Str(_)),
        ) => {
            return Err(incompatible(a, b));
        }
        _ => return Err(FuncError::Other(BAD_TYPE.into())),
    };
    Ok(Value::Bool(want(o)))
}
