//! Go's `fmt.Sprintf` for the verbs templates use, written into a [`Buf`]
//! so that a width, a precision or a large argument cannot make it build
//! more than the buffer allows.

use super::float::{e_notation, float_v, non_finite, plain_notation, shortest_with};
use super::{quote, write_v};
use crate::buf::{Buf, Full};
use crate::object::View;
use crate::value::Value;

/// Width and precision larger than this are refused, as Go does.
const TOO_LARGE: usize = 1_000_000;

#[derive(Default)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf` for the verbs listed in the module documentation.
pub(crate) fn sprintf(out: &mut Buf, format: &[u8], args: &[Value]) -> Result<(), Full> {
    let mut next_arg = 0;
    let mut i = 0;
    while i < format.len() {
        if format[i] != b'%' {
            let end = format[i..]
                .iter()
                .position(|&b| b == b'%')
                .map_or(format.len(), |p| i + p);
            out.extend(&format[i..end])?;
            i = end;
            continue;
        }
        i += 1;
        let mut spec = Spec::default();
        while i < format.len() {
            match format[i] {
                b'+' => spec.plus = true,
                b'-' => spec.minus = true,
                b'#' => spec.sharp = true,
                b' ' => spec.space = true,
                b'0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        let num = |i: &mut usize| -> Option<usize> {
            let start = *i;
            let mut n: usize = 0;
            while *i < format.len() && format[*i].is_ascii_digit() {
                n = n
                    .saturating_mul(10)
                    .saturating_add(usize::from(format[*i] - b'0'));
                *i += 1;
            }
            (*i > start).then_some(n)
        };
        spec.width = num(&mut i);
        if i < format.len() && format[i] == b'.' {
            i += 1;
            spec.prec = Some(num(&mut i).unwrap_or(0));
        }
        if spec.width.is_some_and(|w| w > TOO_LARGE) {
            out.extend(b"%!(BADWIDTH)")?;
            spec.width = None;
        }
        if spec.prec.is_some_and(|p| p > TOO_LARGE) {
            out.extend(b"%!(BADPREC)")?;
            spec.prec = None;
        }
        let Some(verb) = format[i..]
            .utf8_chunks()
            .next()
            .and_then(|c| c.valid().chars().next())
        else {
            if i >= format.len() {
                out.extend(b"%!(NOVERB)")?;
            } else {
                i += 1; // an invalid UTF-8 byte as verb
                out.extend(b"%!\xef\xbf\xbd(BADVERB)")?;
            }
            continue;
        };
        i += verb.len_utf8();
        if verb == '%' {
            out.push(b'%')?;
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            out.extend(format!("%!{verb}(MISSING)").as_bytes())?;
            continue;
        };
        next_arg += 1;
        format_one(out, &spec, verb, arg)?;
    }
    if next_arg < args.len() {
        out.extend(b"%!(EXTRA ")?;
        for (n, a) in args[next_arg..].iter().enumerate() {
            if n > 0 {
                out.extend(b", ")?;
            }
            typed(out, a)?;
        }
        out.push(b')')?;
    }
    Ok(())
}

/// `type=value`, as in Go's error forms; nil is `<nil>`.
fn typed(out: &mut Buf, v: &Value) -> Result<(), Full> {
    if let Value::Nil = v {
        return out.extend(b"<nil>");
    }
    out.extend(v.type_name().as_bytes())?;
    out.push(b'=')?;
    write_v(out, v)
}

/// One verb: the body goes into a scratch buffer (zeroizing, no larger than
/// what `out` has room for), then is padded into `out`.
fn format_one(out: &mut Buf, spec: &Spec, verb: char, arg: &Value) -> Result<(), Full> {
    if let Value::Object(o) = arg
        && !spec.sharp
        && (matches!(o.view(), View::Fields(_)) || matches!(verb, 'v' | 's' | 'q' | 'x' | 'X'))
    {
        // Go: a struct's fields each with the verb, in braces (`%+v`
        // names them); a Stringer's String() with the verbs that call it
        // (others print the pointer, which we cannot: Go's bad-verb form)
        return match o.view() {
            View::Fields(fields) => {
                out.push(b'{')?;
                for (i, (name, f)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ')?;
                    }
                    if spec.plus && verb == 'v' {
                        out.extend(name.as_bytes())?;
                        out.push(b':')?;
                    }
                    format_one(out, spec, verb, &Value::Str((*f).clone()))?;
                }
                out.push(b'}')
            }
            View::Text(t) => format_one(out, spec, verb, &Value::str(t)),
        };
    }
    let mut body = Buf::new(out.room());
    let known = match (arg, verb) {
        (Value::Str(s), 's' | 'v') => {
            body.extend(truncate(s.as_bytes(), spec.prec))?;
            true
        }
        (Value::Str(s), 'q') => {
            quote(&mut body, truncate(s.as_bytes(), spec.prec))?;
            true
        }
        (Value::Str(s), 'x' | 'X') => {
            hex(&mut body, s.as_bytes(), verb == 'X')?;
            true
        }
        (Value::Int(n), 'd' | 'v') => {
            signed(&mut body, spec, &n.unsigned_abs().to_string(), *n < 0)?;
            true
        }
        (Value::Int(n), 'x') => {
            signed(&mut body, spec, &format!("{:x}", n.unsigned_abs()), *n < 0)?;
            true
        }
        (Value::Int(n), 'X') => {
            signed(&mut body, spec, &format!("{:X}", n.unsigned_abs()), *n < 0)?;
            true
        }
        (Value::Int(n), 'o') => {
            signed(&mut body, spec, &format!("{:o}", n.unsigned_abs()), *n < 0)?;
            true
        }
        (Value::Int(n), 'b') => {
            signed(&mut body, spec, &format!("{:b}", n.unsigned_abs()), *n < 0)?;
            true
        }
        (Value::Int(n), 'c') => {
            body.push_char(char_of(*n))?;
            true
        }
        (Value::Int(n), 'q') => {
            body.push(b'\'')?;
            body.push_char(char_of(*n))?;
            body.push(b'\'')?;
            true
        }
        (Value::Float(f), 'v' | 'g' | 'G' | 'e' | 'E' | 'f' | 'F') => {
            body.extend(&float_verb(spec, verb, *f))?;
            true
        }
        (Value::Bool(b), 't' | 'v') => {
            body.extend(if *b { b"true" } else { b"false" })?;
            true
        }
        (Value::Nil, 'v') => {
            body.extend(b"<nil>")?;
            true
        }
        (Value::List(_) | Value::Map(_), 'v' | 's') => {
            write_v(&mut body, arg)?;
            true
        }
        _ => false,
    };
    if !known {
        out.extend(format!("%!{verb}(").as_bytes())?;
        typed(out, arg)?;
        return out.push(b')');
    }
    let numeric = matches!(arg, Value::Int(_) | Value::Float(_)) && verb != 'c' && verb != 'q';
    pad(out, spec, body.as_slice(), numeric)
}

fn char_of(n: i64) -> char {
    u32::try_from(n)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{fffd}')
}

/// The first `prec` runes of `s` (bytes when it is not UTF-8), without
/// copying.
fn truncate(s: &[u8], prec: Option<usize>) -> &[u8] {
    match (prec, std::str::from_utf8(s)) {
        (Some(p), Ok(text)) => {
            let end = text.char_indices().nth(p).map_or(s.len(), |(i, _)| i);
            &s[..end]
        }
        (Some(p), Err(_)) => &s[..p.min(s.len())],
        (None, _) => s,
    }
}

fn hex(out: &mut Buf, s: &[u8], upper: bool) -> Result<(), Full> {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    for &b in s {
        out.push(digits[usize::from(b >> 4)])?;
        out.push(digits[usize::from(b & 0xf)])?;
    }
    Ok(())
}

/// The sign (as the flags ask) and the digits.
fn signed(out: &mut Buf, spec: &Spec, digits: &str, neg: bool) -> Result<(), Full> {
    let sign: &[u8] = if neg {
        b"-"
    } else if spec.plus {
        b"+"
    } else if spec.space {
        b" "
    } else {
        b""
    };
    out.extend(sign)?;
    out.extend(digits.as_bytes())
}

fn float_verb(spec: &Spec, verb: char, f: f64) -> Vec<u8> {
    let s = if let Some(s) = non_finite(f) {
        s
    } else {
        match (verb, spec.prec) {
            ('v' | 'g' | 'G', None) => float_v(f),
            ('g' | 'G' | 'v', Some(p)) => {
                let p = p.max(1);
                let (neg, digits, exp) = shortest_with(f, p);
                let digits = digits.trim_end_matches('0');
                let digits = if digits.is_empty() { "0" } else { digits };
                if exp < -4 || exp >= p as i32 {
                    e_notation(neg, digits, exp, 'e')
                } else {
                    plain_notation(neg, digits, exp)
                }
            }
            ('e' | 'E', p) => {
                let (neg, digits, exp) = shortest_with(f, p.unwrap_or(6) + 1);
                e_notation(neg, &digits, exp, 'e')
            }
            (_, p) => format!("{:.*}", p.unwrap_or(6), f),
        }
    };
    let s = if verb.is_ascii_uppercase() {
        s.to_ascii_uppercase()
    } else {
        s
    };
    if !s.starts_with('-') && spec.plus {
        format!("+{s}").into_bytes()
    } else if !s.starts_with('-') && spec.space {
        format!(" {s}").into_bytes()
    } else {
        s.into_bytes()
    }
}

fn pad(out: &mut Buf, spec: &Spec, body: &[u8], numeric: bool) -> Result<(), Full> {
    let len = std::str::from_utf8(body).map_or(body.len(), |s| s.chars().count());
    let fill = spec.width.unwrap_or(0).saturating_sub(len);
    if fill == 0 {
        out.extend(body)
    } else if spec.minus {
        out.extend(body)?;
        out.fill(b' ', fill)
    } else if spec.zero && numeric {
        // zeros go after the sign, as in Go
        let sign = usize::from(matches!(body.first(), Some(b'-' | b'+' | b' ')));
        out.extend(&body[..sign])?;
        out.fill(b'0', fill)?;
        out.extend(&body[sign..])
    } else {
        out.fill(b' ', fill)?;
        out.extend(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::str(v)
    }

    fn sprintf_str(format: &[u8], args: &[Value]) -> String {
        let mut out = Buf::new(1 << 22);
        sprintf(&mut out, format, args).unwrap();
        String::from_utf8(out.as_slice().to_vec()).unwrap()
    }

    #[test]
    fn printf_matches_go_for_common_verbs() {
        let out = sprintf_str(
            b"%5d|%-5s|%05.2f|%x|%X|%e|%g",
            &[
                Value::Int(42),
                s("ab"),
                Value::Float(3.14259),
                Value::Int(255),
                s("hi"),
                Value::Float(1234.5678),
                Value::Float(0.000012),
            ],
        );
        assert_eq!(out, "   42|ab   |03.14|ff|6869|1.234568e+03|1.2e-05");
        let out = sprintf_str(
            b"%q %6.2s|%+d % d %c %q",
            &[
                s("h\u{e9}\n\x01"),
                s("abcdef"),
                Value::Int(5),
                Value::Int(5),
                Value::Int(65),
                Value::Int(65),
            ],
        );
        assert_eq!(out, "\"h\u{e9}\\n\\x01\"     ab|+5  5 A 'A'");
    }

    #[test]
    fn printf_reports_mismatches_in_band_like_go() {
        let out = sprintf_str(b"%d|%s|%s", &[s("x"), Value::Nil]);
        assert_eq!(out, "%!d(string=x)|%!s(<nil>)|%!s(MISSING)");
        let out = sprintf_str(b"%s", &[Value::Int(1), Value::Int(2)]);
        assert_eq!(out, "%!s(int=1)%!(EXTRA int=2)");
        assert_eq!(sprintf_str(b"%", &[]), "%!(NOVERB)");
        assert_eq!(sprintf_str(b"%9999999d", &[Value::Int(1)]), "%!(BADWIDTH)1");
    }

    #[test]
    fn widths_and_large_arguments_stop_at_the_buffer_limit() {
        let mut out = Buf::new(1000);
        assert_eq!(sprintf(&mut out, b"%999999d", &[Value::Int(1)]), Err(Full));
        let big = Value::string(vec![b'a'; 600]);
        let mut out = Buf::new(1000);
        assert_eq!(sprintf(&mut out, b"%s%x", &[big.clone(), big]), Err(Full));
        assert!(out.len() <= 1000);
    }
}
