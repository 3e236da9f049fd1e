//! Go's `fmt` formatting of template values: how `{{ x }}` prints a value
//! (`%v`), and the `print`, `println` and `printf` builtins.
//!
//! Matches Go's output for the verbs templates use (`%v %s %d %q %x %X %o
//! %b %c %t %e %f %g`, flags `+ - # 0 space`, width and precision),
//! including its in-band error forms (`%!d(string=x)`, `%!s(MISSING)`,
//! `%!(EXTRA int=2)`).

use crate::value::Value;

/// Appends `v` formatted as Go's `%v`.
pub(crate) fn write_v(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Nil => out.extend_from_slice(b"<nil>"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Float(f) => out.extend_from_slice(float_v(*f).as_bytes()),
        Value::Str(s) => out.extend_from_slice(s.as_bytes()),
        Value::List(l) => {
            out.push(b'[');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_v(out, e);
            }
            out.push(b']');
        }
        Value::Map(m) => {
            out.extend_from_slice(b"map[");
            for (i, (k, e)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(k.as_bytes());
                out.push(b':');
                write_v(out, e);
            }
            out.push(b']');
        }
    }
}

/// A float's shortest round-trip digits and decimal exponent:
/// `f = 0.d1d2... * 10^(exp+1)`, i.e. `exp` is the scientific exponent.
fn shortest(f: f64) -> (bool, String, i32) {
    let s = format!("{:e}", f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (
        f.is_sign_negative() && f != 0.0,
        digits,
        exp.parse().unwrap_or(0),
    )
}

fn e_notation(neg: bool, digits: &str, exp: i32, e: char) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(&digits[..1]);
    if digits.len() > 1 {
        s.push('.');
        s.push_str(&digits[1..]);
    }
    s.push(e);
    s.push(if exp < 0 { '-' } else { '+' });
    s.push_str(&format!("{:02}", exp.unsigned_abs()));
    s
}

fn plain_notation(neg: bool, digits: &str, exp: i32) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    if exp < 0 {
        s.push_str("0.");
        s.push_str(&"0".repeat((-exp - 1) as usize));
        s.push_str(digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            s.push_str(digits);
            s.push_str(&"0".repeat(int_len - digits.len()));
        } else {
            s.push_str(&digits[..int_len]);
            s.push('.');
            s.push_str(&digits[int_len..]);
        }
    }
    s
}

fn non_finite(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".into())
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

/// Go's `%v` for float64: shortest digits, exponent form below 1e-4 and
/// from 1e6 on (`1e+06`, `1.5e-05`).
pub(crate) fn float_v(f: f64) -> String {
    if let Some(s) = non_finite(f) {
        return s;
    }
    let (neg, digits, exp) = shortest(f);
    if !(-4..6).contains(&exp) {
        e_notation(neg, &digits, exp, 'e')
    } else {
        plain_notation(neg, &digits, exp)
    }
}

/// Go's `encoding/json` number form for float64: plain below 1e21,
/// exponent form (`1e+21`, `1e-7`) outside [1e-6, 1e21).
pub(crate) fn float_json(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let (neg, digits, exp) = shortest(f);
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = e_notation(neg, &digits, exp, 'e');
        // matches encoding/json: e-07 is written e-7
        Some(s.replace("e-0", "e-"))
    } else {
        Some(plain_notation(neg, &digits, exp))
    }
}

/// Go's `strconv.Quote`: double-quoted, with Go escapes; invalid UTF-8
/// bytes become `\x..`.
pub(crate) fn quote(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\x07' => out.extend_from_slice(b"\\a"),
                '\x08' => out.extend_from_slice(b"\\b"),
                '\x0c' => out.extend_from_slice(b"\\f"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\x0b' => out.extend_from_slice(b"\\v"),
                c if (c as u32) < 0x20 || c == '\x7f' => {
                    out.extend_from_slice(format!("\\x{:02x}", c as u32).as_bytes());
                }
                c if !is_printable(c) => {
                    let esc = if (c as u32) < 0x10000 {
                        format!("\\u{:04x}", c as u32)
                    } else {
                        format!("\\U{:08x}", c as u32)
                    };
                    out.extend_from_slice(esc.as_bytes());
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        for b in chunk.invalid() {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
    }
    out.push(b'"');
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
pub(crate) fn sprint(args: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Value| matches!(v, Value::Str(_));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(b' ');
        }
        write_v(&mut out, a);
    }
    out
}

/// Go's `fmt.Sprintln`: spaces between all operands, then a newline.
pub(crate) fn sprintln(args: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_v(&mut out, a);
    }
    out.push(b'\n');
    out
}

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
pub(crate) fn sprintf(format: &[u8], args: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut next_arg = 0;
    let mut i = 0;
    while i < format.len() {
        if format[i] != b'%' {
            let end = format[i..]
                .iter()
                .position(|&b| b == b'%')
                .map_or(format.len(), |p| i + p);
            out.extend_from_slice(&format[i..end]);
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
            out.extend_from_slice(b"%!(BADWIDTH)");
            spec.width = None;
        }
        if spec.prec.is_some_and(|p| p > TOO_LARGE) {
            out.extend_from_slice(b"%!(BADPREC)");
            spec.prec = None;
        }
        let Some(verb) = format[i..]
            .utf8_chunks()
            .next()
            .and_then(|c| c.valid().chars().next())
        else {
            if i >= format.len() {
                out.extend_from_slice(b"%!(NOVERB)");
            } else {
                i += 1; // an invalid UTF-8 byte as verb
                out.extend_from_slice(b"%!\xef\xbf\xbd(BADVERB)");
            }
            continue;
        };
        i += verb.len_utf8();
        if verb == '%' {
            out.push(b'%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            out.extend_from_slice(format!("%!{verb}(MISSING)").as_bytes());
            continue;
        };
        next_arg += 1;
        format_one(&mut out, &spec, verb, arg);
    }
    if next_arg < args.len() {
        out.extend_from_slice(b"%!(EXTRA ");
        for (n, a) in args[next_arg..].iter().enumerate() {
            if n > 0 {
                out.extend_from_slice(b", ");
            }
            typed(&mut out, a);
        }
        out.push(b')');
    }
    out
}

/// `type=value`, as in Go's error forms; nil is `<nil>`.
fn typed(out: &mut Vec<u8>, v: &Value) {
    if let Value::Nil = v {
        out.extend_from_slice(b"<nil>");
        return;
    }
    out.extend_from_slice(v.type_name().as_bytes());
    out.push(b'=');
    write_v(out, v);
}

fn format_one(out: &mut Vec<u8>, spec: &Spec, verb: char, arg: &Value) {
    let body: Option<Vec<u8>> = match (arg, verb) {
        (Value::Str(s), 's' | 'v') => Some(truncate(s.as_bytes(), spec.prec)),
        (Value::Str(s), 'q') => {
            let mut q = Vec::new();
            quote(&mut q, &truncate(s.as_bytes(), spec.prec));
            Some(q)
        }
        (Value::Str(s), 'x' | 'X') => Some(hex(s.as_bytes(), verb == 'X')),
        (Value::Int(n), 'd' | 'v') => Some(signed(spec, n.unsigned_abs().to_string(), *n < 0)),
        (Value::Int(n), 'x') => Some(signed(spec, format!("{:x}", n.unsigned_abs()), *n < 0)),
        (Value::Int(n), 'X') => Some(signed(spec, format!("{:X}", n.unsigned_abs()), *n < 0)),
        (Value::Int(n), 'o') => Some(signed(spec, format!("{:o}", n.unsigned_abs()), *n < 0)),
        (Value::Int(n), 'b') => Some(signed(spec, format!("{:b}", n.unsigned_abs()), *n < 0)),
        (Value::Int(n), 'c') => Some(char_of(*n).to_string().into_bytes()),
        (Value::Int(n), 'q') => Some(format!("'{}'", char_of(*n)).into_bytes()),
        (Value::Float(f), 'v' | 'g' | 'G' | 'e' | 'E' | 'f' | 'F') => {
            Some(float_verb(spec, verb, *f))
        }
        (Value::Bool(b), 't' | 'v') => Some(b.to_string().into_bytes()),
        (Value::Nil, 'v') => Some(b"<nil>".to_vec()),
        (Value::List(_) | Value::Map(_), 'v' | 's') => {
            let mut v = Vec::new();
            write_v(&mut v, arg);
            Some(v)
        }
        _ => None,
    };
    let Some(body) = body else {
        out.extend_from_slice(format!("%!{verb}(").as_bytes());
        typed(out, arg);
        out.push(b')');
        return;
    };
    let numeric = matches!(arg, Value::Int(_) | Value::Float(_)) && verb != 'c' && verb != 'q';
    pad(out, spec, body, numeric);
}

fn char_of(n: i64) -> char {
    u32::try_from(n)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{fffd}')
}

fn truncate(s: &[u8], prec: Option<usize>) -> Vec<u8> {
    match (prec, std::str::from_utf8(s)) {
        (Some(p), Ok(text)) => text.chars().take(p).collect::<String>().into_bytes(),
        (Some(p), Err(_)) => s[..p.min(s.len())].to_vec(),
        (None, _) => s.to_vec(),
    }
}

fn hex(s: &[u8], upper: bool) -> Vec<u8> {
    let mut h = String::with_capacity(s.len() * 2);
    for b in s {
        h.push_str(&if upper {
            format!("{b:02X}")
        } else {
            format!("{b:02x}")
        });
    }
    h.into_bytes()
}

fn signed(spec: &Spec, digits: String, neg: bool) -> Vec<u8> {
    let sign = if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    format!("{sign}{digits}").into_bytes()
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

/// `n` significant digits (rounded) and the scientific exponent.
fn shortest_with(f: f64, n: usize) -> (bool, String, i32) {
    let s = format!("{:.*e}", n.saturating_sub(1), f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (
        f.is_sign_negative() && f != 0.0,
        digits,
        exp.parse().unwrap_or(0),
    )
}

fn pad(out: &mut Vec<u8>, spec: &Spec, body: Vec<u8>, numeric: bool) {
    let len = std::str::from_utf8(&body).map_or(body.len(), |s| s.chars().count());
    let fill = spec.width.unwrap_or(0).saturating_sub(len);
    if fill == 0 {
        out.extend_from_slice(&body);
    } else if spec.minus {
        out.extend_from_slice(&body);
        out.resize(out.len() + fill, b' ');
    } else if spec.zero && numeric {
        // zeros go after the sign, as in Go
        let sign = usize::from(matches!(body.first(), Some(b'-' | b'+' | b' ')));
        out.extend_from_slice(&body[..sign]);
        out.resize(out.len() + fill, b'0');
        out.extend_from_slice(&body[sign..]);
    } else {
        out.resize(out.len() + fill, b' ');
        out.extend_from_slice(&body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::str(v)
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
    fn printf_matches_go_for_common_verbs() {
        let out = sprintf(
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
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "   42|ab   |03.14|ff|6869|1.234568e+03|1.2e-05"
        );
        let out = sprintf(
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
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"h\u{e9}\\n\\x01\"     ab|+5  5 A 'A'"
        );
    }

    #[test]
    fn printf_reports_mismatches_in_band_like_go() {
        let out = sprintf(b"%d|%s|%s", &[s("x"), Value::Nil]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "%!d(string=x)|%!s(<nil>)|%!s(MISSING)"
        );
        let out = sprintf(b"%s", &[Value::Int(1), Value::Int(2)]);
        assert_eq!(String::from_utf8(out).unwrap(), "%!s(int=1)%!(EXTRA int=2)");
        assert_eq!(sprintf(b"%", &[]), b"%!(NOVERB)");
        assert_eq!(sprintf(b"%9999999d", &[Value::Int(1)]), b"%!(BADWIDTH)1");
    }

    #[test]
    fn print_spaces_only_between_non_strings() {
        let args = [Value::Int(1), Value::Int(2), s("a"), s("b"), Value::Int(3)];
        assert_eq!(sprint(&args), b"1 2ab3");
        assert_eq!(sprintln(&[Value::Int(1), s("a")]), b"1 a\n");
    }
}
