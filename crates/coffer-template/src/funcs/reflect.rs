//! sprig's reflection functions (`reflect.go`): `typeOf`, `typeIs`,
//! `typeIsLike`, `kindOf`, `kindIs`, `deepEqual`, and `seq` (`numeric.go`).
//! Types are Go's names for what a template value is (`string`, `int`,
//! `float64`, `[]interface {}`, `map[string]interface {}`, `time.Time`);
//! we have one integer type, so sprig's `int64` results are `int` here.

use super::collections::{deep_equal, until_step};
use super::{Budget, FResult, Func, arity, copied, finish, int_arg, read, result_buf, str_arg};
use crate::value::Value;

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "typeOf" => |c, a| {
            arity(a, 1)?;
            copied(c, type_of(&a[0]).as_bytes())
        },
        "typeIs" => |c, a| {
            arity(a, 2)?;
            let want = str_arg(&a[0])?;
            read(c, &[want])?;
            Ok(Value::Bool(want == type_of(&a[1]).as_bytes()))
        },
        "typeIsLike" => |c, a| {
            arity(a, 2)?;
            let want = str_arg(&a[0])?;
            read(c, &[want])?;
            let t = type_of(&a[1]).as_bytes();
            Ok(Value::Bool(
                want == t || (t.first() == Some(&b'*') && &t[1..] == want),
            ))
        },
        "kindOf" => |c, a| {
            arity(a, 1)?;
            copied(c, kind_of(&a[0]).as_bytes())
        },
        "kindIs" => |c, a| {
            arity(a, 2)?;
            let want = str_arg(&a[0])?;
            read(c, &[want])?;
            Ok(Value::Bool(want == kind_of(&a[1]).as_bytes()))
        },
        "deepEqual" => |c, a| {
            arity(a, 2)?;
            Ok(Value::Bool(deep_equal(c, &a[0], &a[1])?))
        },
        "seq" => seq,
        _ => return None,
    })
}

/// `fmt.Sprintf("%T", v)`.
fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        other => other.type_name(),
    }
}

/// `reflect.ValueOf(v).Kind().String()`.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Nil => "invalid",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::List(_) => "slice",
        Value::Map(_) => "map",
        Value::Time(_) => "struct",
        Value::Object(o) => o.kind_name(),
    }
}

/// sprig's `seq` (GNU seq): `seq END`, `seq START END`, `seq START STEP
/// END`, numbers joined by spaces.
fn seq(ctx: &Budget, args: &[Value]) -> FResult {
    let mut p = Vec::with_capacity(args.len());
    for a in args {
        p.push(int_arg(a)?);
    }
    let list = match p[..] {
        [end] => {
            let inc = if end < 1 { -1 } else { 1 };
            until_step(ctx, 1, end.saturating_add(inc), inc)?
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            until_step(ctx, start, end.saturating_add(step), step)?
        }
        [start, step, end] => {
            let inc = if end < start { -1 } else { 1 };
            if end < start && step > 0 {
                return copied(ctx, b"");
            }
            until_step(ctx, start, end.saturating_add(inc), step)?
        }
        _ => return copied(ctx, b""),
    };
    let Value::List(items) = list else {
        return copied(ctx, b"");
    };
    let mut out = result_buf(ctx, items.len() * 4);
    let built = items.iter().enumerate().try_for_each(|(i, v)| {
        if i > 0 {
            out.push(b' ')?;
        }
        match v {
            Value::Int(n) => out.extend(n.to_string().as_bytes()),
            _ => Ok(()),
        }
    });
    finish(ctx, out, built)
}
