//! sprig's float functions (`numeric.go`): `float64`, `add1f`, `addf`,
//! `subf`, `mulf`, `divf`, `maxf`, `minf`, `floor`, `ceil`, `round`.
//!
//! sprig does `addf`/`subf`/`mulf`/`divf` in shopspring/decimal: each
//! argument becomes the decimal of its shortest printed form, the operation
//! is exact (division rounds half away from zero to 16 decimal places), and
//! the result is rounded to the nearest float64 once. So `addf 0.1 0.2` is
//! 0.3, not float64's 0.30000000000000004. We do the same with a 128-bit
//! decimal; a result that does not fit it (operands some 20 orders of
//! magnitude apart) is computed in float64 instead.

use super::{Budget, FResult, Func, FuncError, arity, arity_min, read};
use crate::value::Value;

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "float64" => |c, a| {
            arity(a, 1)?;
            Ok(Value::Float(cast_float(c, &a[0])?))
        },
        "add1f" => |c, a| {
            arity(a, 1)?;
            decimal_op(c, &a[0], &[Value::Int(1)], Op::Add)
        },
        "addf" => |c, a| decimal_op(c, &Value::Float(0.0), a, Op::Add),
        "subf" => |c, a| {
            arity_min(a, 1)?;
            decimal_op(c, &a[0], &a[1..], Op::Sub)
        },
        "mulf" => |c, a| {
            arity_min(a, 1)?;
            decimal_op(c, &a[0], &a[1..], Op::Mul)
        },
        "divf" => |c, a| {
            arity_min(a, 1)?;
            decimal_op(c, &a[0], &a[1..], Op::Div)
        },
        "maxf" => |c, a| extreme(c, a, f64::max),
        "minf" => |c, a| extreme(c, a, f64::min),
        "floor" => |c, a| {
            arity(a, 1)?;
            Ok(Value::Float(cast_float(c, &a[0])?.floor()))
        },
        "ceil" => |c, a| {
            arity(a, 1)?;
            Ok(Value::Float(cast_float(c, &a[0])?.ceil()))
        },
        "round" => round,
        _ => return None,
    })
}

/// spf13/cast's `ToFloat64`: numbers convert, strings parse (0 when they
/// do not), booleans are 0/1, anything else is 0.
pub(super) fn cast_float(ctx: &Budget, v: &Value) -> Result<f64, FuncError> {
    Ok(match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => {
            read(ctx, &[s.as_bytes()])?;
            let t = std::str::from_utf8(s.as_bytes()).unwrap_or("");
            if t.contains('_') || t.is_empty() {
                0.0
            } else {
                t.parse::<f64>().unwrap_or(0.0)
            }
        }
        _ => 0.0,
    })
}

fn extreme(ctx: &Budget, args: &[Value], pick: fn(f64, f64) -> f64) -> FResult {
    arity_min(args, 1)?;
    let mut v = cast_float(ctx, &args[0])?;
    for b in &args[1..] {
        let b = cast_float(ctx, b)?;
        // Go's math.Max/Min: NaN wins
        v = if v.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            pick(v, b)
        };
    }
    Ok(Value::Float(v))
}

/// sprig's `round x places [half]`.
fn round(ctx: &Budget, args: &[Value]) -> FResult {
    if !(2..=3).contains(&args.len()) {
        return Err(FuncError::Arity("at least 2".into()));
    }
    let val = cast_float(ctx, &args[0])?;
    let places = super::int_arg(&args[1])? as f64;
    let round_on = match args.get(2) {
        Some(Value::Float(f)) => *f,
        Some(Value::Int(i)) => *i as f64,
        Some(_) => return Err(FuncError::Type("float64")),
        None => 0.5,
    };
    let pow = 10f64.powf(places);
    let digit = pow * val;
    let frac = digit - digit.trunc();
    let r = if frac >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    Ok(Value::Float(r / pow))
}

/// A decimal `m × 10^e`.
#[derive(Clone, Copy)]
struct Dec {
    m: i128,
    e: i32,
}

impl Dec {
    /// shopspring's `NewFromFloat`: the shortest decimal that reads back
    /// as `f`.
    fn from_f64(f: f64) -> Option<Dec> {
        if !f.is_finite() {
            return None;
        }
        let text = format!("{f:e}");
        let (mant, exp) = text.split_once('e')?;
        let mut e: i32 = exp.parse().ok()?;
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        e -= i32::try_from(frac.len()).ok()?;
        let m: i128 = format!("{int}{frac}").parse().ok()?;
        Some(Dec { m, e })
    }

    fn to_f64(self) -> f64 {
        format!("{}e{}", self.m, self.e).parse().unwrap_or(f64::NAN)
    }

    fn scaled(self, e: i32) -> Option<i128> {
        let up = u32::try_from(self.e - e).ok()?;
        self.m.checked_mul(10i128.checked_pow(up)?)
    }

    fn add(a: Dec, b: Dec) -> Option<Dec> {
        let e = a.e.min(b.e);
        Some(Dec {
            m: a.scaled(e)?.checked_add(b.scaled(e)?)?,
            e,
        })
    }

    fn sub(a: Dec, b: Dec) -> Option<Dec> {
        Dec::add(a, Dec { m: -b.m, e: b.e })
    }

    fn mul(a: Dec, b: Dec) -> Option<Dec> {
        Some(Dec {
            m: a.m.checked_mul(b.m)?,
            e: a.e.checked_add(b.e)?,
        })
    }

    /// shopspring's `Div`: rounded half away from zero to 16 places.
    fn div(a: Dec, b: Dec) -> Option<Dec> {
        // a/b × 10^16 = a.m × 10^(a.e - b.e + 16) / b.m
        let shift = a.e - b.e + 16;
        let (num, den) = if shift >= 0 {
            (
                a.m.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?,
                b.m,
            )
        } else {
            (
                a.m,
                b.m.checked_mul(10i128.checked_pow(u32::try_from(-shift).ok()?)?)?,
            )
        };
        let q = num / den;
        let r = num % den;
        let away = r.checked_mul(2)?.abs() >= den.abs();
        let q = if away {
            q + if (num < 0) != (den < 0) { -1 } else { 1 }
        } else {
            q
        };
        Some(Dec { m: q, e: -16 })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

impl Op {
    fn decimal(self, a: Dec, b: Dec) -> Option<Dec> {
        match self {
            Op::Add => Dec::add(a, b),
            Op::Sub => Dec::sub(a, b),
            Op::Mul => Dec::mul(a, b),
            Op::Div => Dec::div(a, b),
        }
    }

    fn float(self, a: f64, b: f64) -> f64 {
        match self {
            Op::Add => a + b,
            Op::Sub => a - b,
            Op::Mul => a * b,
            Op::Div => a / b,
        }
    }
}

/// sprig's `execDecimalOp`: `first` op each of `rest`, in decimal.
fn decimal_op(ctx: &Budget, first: &Value, rest: &[Value], op: Op) -> FResult {
    const NOT_FINITE: FuncError = FuncError::Other("cannot convert a NaN or infinity to a decimal");
    let mut acc_f = cast_float(ctx, first)?;
    let mut acc = Some(Dec::from_f64(acc_f).ok_or(NOT_FINITE)?);
    for x in rest {
        let xf = cast_float(ctx, x)?;
        let dx = Dec::from_f64(xf).ok_or(NOT_FINITE)?;
        if dx.m == 0 && op == Op::Div {
            return Err(FuncError::Other("decimal division by zero"));
        }
        acc = acc.and_then(|a| op.decimal(a, dx));
        acc_f = match acc {
            Some(d) => d.to_f64(),
            None => op.float(acc_f, xf),
        };
    }
    Ok(Value::Float(acc_f))
}
