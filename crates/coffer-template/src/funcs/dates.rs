//! sprig's date functions (`date.go`): `now`, `date`, `dateInZone`
//! (`date_in_zone`), `htmlDate`, `htmlDateInZone`, `toDate`, `mustToDate`,
//! `unixEpoch`, `dateModify` (`date_modify`), `mustDateModify`
//! (`must_date_modify`), `duration`, `durationRound`, `ago`.
//!
//! Times are Go `time.Time` values ([`Time`]) formatted with Go's layouts
//! (`golayout`). "Local" is the machine's time zone, as in Go. Go passes
//! a template's integer constants as `int` and sprig's `int64` as `int64`,
//! and `duration`/`durationRound` take only `int64` (an `int` gives 0s);
//! we have one integer type, so both read any integer as `int64` would.

use std::rc::Rc;

use jiff::Timestamp;

use super::golayout::{self, add, duration_string, in_zone, load_location, parse, parse_duration};
use super::{Budget, FResult, Func, FuncError, arity, copied, finish, result_buf, str_arg};
use crate::value::{Time, Value};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "now" => |_, a| {
            arity(a, 0)?;
            Ok(Value::Time(Rc::new(golayout::now())))
        },
        "date" => |c, a| {
            arity(a, 2)?;
            date_in_zone(c, str_arg(&a[0])?, &a[1], b"Local")
        },
        "dateInZone" | "date_in_zone" => |c, a| {
            arity(a, 3)?;
            date_in_zone(c, str_arg(&a[0])?, &a[1], str_arg(&a[2])?)
        },
        "htmlDate" => |c, a| {
            arity(a, 1)?;
            date_in_zone(c, b"2006-01-02", &a[0], b"Local")
        },
        "htmlDateInZone" => |c, a| {
            arity(a, 2)?;
            date_in_zone(c, b"2006-01-02", &a[0], str_arg(&a[1])?)
        },
        "toDate" => |c, a| {
            arity(a, 2)?;
            let (layout, s) = (str_arg(&a[0])?, str_arg(&a[1])?);
            super::read(c, &[layout, s])?;
            // Go's zero time when it does not parse
            Ok(time(parse(layout, s).unwrap_or_else(zero_time)))
        },
        "mustToDate" => |c, a| {
            arity(a, 2)?;
            let (layout, s) = (str_arg(&a[0])?, str_arg(&a[1])?);
            super::read(c, &[layout, s])?;
            parse(layout, s)
                .map(time)
                .ok_or(FuncError::Other("the text does not match the layout"))
        },
        "unixEpoch" => |c, a| {
            arity(a, 1)?;
            let t = time_arg(&a[0])?;
            copied(c, t.at.timestamp().as_second().to_string().as_bytes())
        },
        "dateModify" | "date_modify" => |_, a| {
            arity(a, 2)?;
            let (d, t) = (str_arg(&a[0])?, time_arg(&a[1])?);
            Ok(match parse_duration(d).and_then(|n| add(t, n)) {
                Some(t) => time(t),
                None => a[1].clone(),
            })
        },
        "mustDateModify" | "must_date_modify" => |_, a| {
            arity(a, 2)?;
            let (d, t) = (str_arg(&a[0])?, time_arg(&a[1])?);
            let n = parse_duration(d).ok_or(FuncError::Other("invalid duration"))?;
            add(t, n)
                .map(time)
                .ok_or(FuncError::Other("the time is out of range"))
        },
        "duration" => |c, a| {
            arity(a, 1)?;
            let secs = match &a[0] {
                Value::Int(n) => *n,
                Value::Str(s) => std::str::from_utf8(s.as_bytes())
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                    .unwrap_or(0),
                _ => 0,
            };
            copied(
                c,
                duration_string(secs.wrapping_mul(1_000_000_000)).as_bytes(),
            )
        },
        "durationRound" => |c, a| {
            arity(a, 1)?;
            let d: i64 = match &a[0] {
                Value::Int(n) => *n,
                Value::Str(s) => parse_duration(s.as_bytes()).unwrap_or(0),
                Value::Time(t) => since(t),
                _ => 0,
            };
            copied(c, duration_round(d).as_bytes())
        },
        "ago" => |c, a| {
            arity(a, 1)?;
            let d = match &a[0] {
                Value::Time(t) => since(t),
                Value::Int(n) => since(&in_zone(
                    Timestamp::from_second(*n).unwrap_or_default(),
                    load_location(b"Local"),
                )),
                _ => 0,
            };
            copied(c, duration_string(round_to_second(d)).as_bytes())
        },
        _ => return None,
    })
}

fn time(t: Time) -> Value {
    Value::Time(Rc::new(t))
}

/// Go's zero `time.Time`: January 1, year 1, 00:00:00 UTC.
fn zero_time() -> Time {
    let at = jiff::civil::date(1, 1, 1)
        .at(0, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap_or_default();
    Time { at, name: None }
}

fn time_arg(v: &Value) -> Result<&Time, FuncError> {
    match v {
        Value::Time(t) => Ok(t),
        _ => Err(FuncError::Type("time.Time")),
    }
}

/// Nanoseconds from `t` to now (Go's `time.Since`, saturating).
fn since(t: &Time) -> i64 {
    let d = Timestamp::now().duration_since(t.at.timestamp());
    i64::try_from(d.as_nanos()).unwrap_or(if d.is_negative() { i64::MIN } else { i64::MAX })
}

/// Go's `Duration.Round(time.Second)`: half away from zero.
fn round_to_second(d: i64) -> i64 {
    const S: i64 = 1_000_000_000;
    let r = d % S;
    let down = d - r;
    if r.abs() * 2 >= S {
        down.saturating_add(if d < 0 { -S } else { S })
    } else {
        down
    }
}

/// sprig's `durationRound`: the largest whole unit (y, mo, d, h, m, s).
fn duration_round(d: i64) -> String {
    let u = d.unsigned_abs();
    const SEC: u64 = 1_000_000_000;
    let units: [(u64, &str); 6] = [
        (SEC * 3600 * 24 * 365, "y"),
        (SEC * 3600 * 24 * 30, "mo"),
        (SEC * 3600 * 24, "d"),
        (SEC * 3600, "h"),
        (SEC * 60, "m"),
        (SEC, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".to_owned()
}

/// sprig's `dateInZone`: a time (an integer is Unix seconds; anything else
/// means now) in `zone`, formatted with `layout`.
fn date_in_zone(ctx: &Budget, layout: &[u8], date: &Value, zone: &[u8]) -> FResult {
    let ts = match date {
        Value::Time(t) => t.at.timestamp(),
        Value::Int(n) => {
            Timestamp::from_second(*n).map_err(|_| FuncError::Other("time out of range"))?
        }
        _ => Timestamp::now(),
    };
    let t = in_zone(ts, load_location(zone));
    super::read(ctx, &[layout])?;
    let mut out = result_buf(ctx, layout.len() * 2);
    let built = golayout::format(&mut out, &t, layout);
    finish(ctx, out, built)
}

/// Go's `Time.String()` (without the monotonic clock reading that `now`
/// carries in Go: it is never the same twice anyway).
pub(crate) fn write_time(out: &mut crate::buf::Buf, t: &Time) -> Result<(), crate::buf::Full> {
    golayout::format(out, t, b"2006-01-02 15:04:05.999999999 -0700 MST")
}

/// Go's `Time.MarshalJSON` text (RFC 3339 with nanoseconds), unquoted.
pub(crate) fn write_time_json(out: &mut crate::buf::Buf, t: &Time) -> Result<(), crate::buf::Full> {
    golayout::format(out, t, b"2006-01-02T15:04:05.999999999Z07:00")
}
