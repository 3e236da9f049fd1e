//! Go's `fmt` formatting of template values: how `{{ x }}` prints a value
//! (`%v`), and the `print`, `println` and `printf` builtins.
//!
//! Matches Go's output for the verbs templates use (`%v %s %d %q %x %X %o
//! %b %c %t %e %f %g`, flags `+ - # 0 space`, width and precision),
//! including its in-band error forms (`%!d(string=x)`, `%!s(MISSING)`,
//! `%!(EXTRA int=2)`).
//!
//! Everything writes into a [`Buf`], which refuses to grow past its
//! maximum: printing a value that would be too large stops there (with
//! [`Full`]) instead of building it first. Printing visits each element at
//! most once per byte written, so it costs no more than the limit.

mod float;
mod printf;

pub(crate) use float::{float_json, float_v};
pub(crate) use printf::sprintf;

use crate::buf::{Buf, Full};
use crate::object::View;
use crate::value::Value;

/// Appends `v` formatted as Go's `%v`.
pub(crate) fn write_v(out: &mut Buf, v: &Value) -> Result<(), Full> {
    match v {
        Value::Nil => out.extend(b"<nil>"),
        Value::Bool(b) => out.extend(if *b { b"true" } else { b"false" }),
        Value::Int(i) => out.extend(i.to_string().as_bytes()),
        Value::Float(f) => out.extend(float_v(*f).as_bytes()),
        Value::Str(s) => out.extend(s.as_bytes()),
        Value::List(l) => {
            out.push(b'[')?;
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(b' ')?;
                }
                write_v(out, e)?;
            }
            out.push(b']')
        }
        Value::Map(m) => {
            out.extend(b"map[")?;
            for (i, (k, e)) in m.entries().iter().enumerate() {
                if i > 0 {
                    out.push(b' ')?;
                }
                out.extend(k.as_bytes())?;
                out.push(b':')?;
                write_v(out, e)?;
            }
            out.push(b']')
        }
        Value::Time(t) => crate::funcs::write_time(out, t),
        // a struct as `{field field}`; a version through `String()`
        Value::Object(o) => match o.view() {
            View::Fields(fields) => {
                out.push(b'{')?;
                for (i, (_, f)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ')?;
                    }
                    out.extend(f.as_bytes())?;
                }
                out.push(b'}')
            }
            View::Text(t) => out.extend(t.as_bytes()),
        },
    }
}

/// Go's `strconv.Quote`: double-quoted, with Go escapes; invalid UTF-8
/// bytes become `\x..`.
pub(crate) fn quote(out: &mut Buf, s: &[u8]) -> Result<(), Full> {
    quote_with(
        out,
        s,
        |out, c| match c {
            '\x07' => out.extend(b"\\a"),
            '\x0b' => out.extend(b"\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                out.extend(format!("\\x{:02x}", c as u32).as_bytes())
            }
            c if !is_printable(c) => {
                let esc = if (c as u32) < 0x10000 {
                    format!("\\u{:04x}", c as u32)
                } else {
                    format!("\\U{:08x}", c as u32)
                };
                out.extend(esc.as_bytes())
            }
            c => out.push_char(c),
        },
        |out, invalid| {
            for b in invalid {
                out.extend(format!("\\x{b:02x}").as_bytes())?;
            }
            Ok(())
        },
    )
}

/// Writes `s` double-quoted with the backslash escapes Go's
/// `strconv.Quote` and `encoding/json` share (`\" \\ \n \r \t \b \f`);
/// every other character goes to `other`, which writes it escaped or not,
/// and each run of invalid UTF-8 to `invalid`.
pub(crate) fn quote_with(
    out: &mut Buf,
    s: &[u8],
    mut other: impl FnMut(&mut Buf, char) -> Result<(), Full>,
    mut invalid: impl FnMut(&mut Buf, &[u8]) -> Result<(), Full>,
) -> Result<(), Full> {
    out.push(b'"')?;
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend(b"\\\"")?,
                '\\' => out.extend(b"\\\\")?,
                '\n' => out.extend(b"\\n")?,
                '\r' => out.extend(b"\\r")?,
                '\t' => out.extend(b"\\t")?,
                '\x08' => out.extend(b"\\b")?,
                '\x0c' => out.extend(b"\\f")?,
                c => other(out, c)?,
            }
        }
        if !chunk.invalid().is_empty() {
            invalid(out, chunk.invalid())?;
        }
    }
    out.push(b'"')
}

/// An approximation of Go's `unicode.IsPrint`: controls, format
/// characters, separators other than space, and private use are escaped.
fn is_printable(c: char) -> bool {
    let u = c as u32;
    !(c.is_control()
        || (0x80..0xa0).contains(&u)
        || u == 0xad
        || (0x2000..=0x200f).contains(&u)
        || (0x2028..=0x202f).contains(&u)
        || (0x205f..=0x206f).contains(&u)
        || u == 0x3000
        || u == 0xfeff
        || (0xfff9..=0xfffb).contains(&u)
        || (0xe000..=0xf8ff).contains(&u)
        || u >= 0xf0000)
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
pub(crate) fn sprint(out: &mut Buf, args: &[Value]) -> Result<(), Full> {
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Value| matches!(v, Value::Str(_));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(b' ')?;
        }
        write_v(out, a)?;
    }
    Ok(())
}

/// Go's `fmt.Sprintln`: spaces between all operands, then a newline.
pub(crate) fn sprintln(out: &mut Buf, args: &[Value]) -> Result<(), Full> {
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ')?;
        }
        write_v(out, a)?;
    }
    out.push(b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::str(v)
    }

    fn printed(f: impl Fn(&mut Buf) -> Result<(), Full>) -> Vec<u8> {
        let mut out = Buf::new(1 << 20);
        f(&mut out).unwrap();
        out.as_slice().to_vec()
    }

    #[test]
    fn floats_print_like_go_percent_v() {
        // expected strings produced by Go 1.26 fmt.Sprint
        assert_eq!(float_v(100000.0), "100000");
        assert_eq!(float_v(1e6), "1e+06");
        assert_eq!(float_v(0.0001), "0.0001");
        assert_eq!(float_v(0.00001), "1e-05");
        assert_eq!(float_v(12345678.9), "1.23456789e+07");
        assert_eq!(float_v(-2.5e-7), "-2.5e-07");
        assert_eq!(float_v(3.0), "3");
        assert_eq!(float_json(1e21).as_deref(), Some("1e+21"));
        assert_eq!(float_json(1e-7).as_deref(), Some("1e-7"));
        assert_eq!(float_json(1.5).as_deref(), Some("1.5"));
    }

    #[test]
    fn print_spaces_only_between_non_strings() {
        let args = [Value::Int(1), Value::Int(2), s("a"), s("b"), Value::Int(3)];
        assert_eq!(printed(|o| sprint(o, &args)), b"1 2ab3");
        assert_eq!(printed(|o| sprintln(o, &[Value::Int(1), s("a")])), b"1 a\n");
    }

    #[test]
    fn printing_stops_at_the_buffer_limit_while_writing() {
        // A list that shares its halves 40 times over: 2^40 elements if
        // printed, which must fail after the first kilobyte, not run.
        let mut v = Value::list(vec![s("x")]);
        for _ in 0..40 {
            v = Value::list(vec![v.clone(), v]);
        }
        let mut out = Buf::new(1024);
        assert_eq!(write_v(&mut out, &v), Err(Full));
        assert!(out.len() <= 1024);
    }
}
