//! Go's float formatting: `%v` (`strconv.FormatFloat(f, 'g', -1, 64)`),
//! `encoding/json`'s number form, and the digit helpers `printf`'s float
//! verbs share.

/// A float's shortest round-trip digits and decimal exponent:
/// `f = 0.d1d2... * 10^(exp+1)`, i.e. `exp` is the scientific exponent.
pub(super) fn shortest(f: f64) -> (bool, String, i32) {
    let s = format!("{:e}", f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (
        f.is_sign_negative() && f != 0.0,
        digits,
        exp.parse().unwrap_or(0),
    )
}

pub(super) fn e_notation(neg: bool, digits: &str, exp: i32, e: char) -> String {
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

pub(super) fn plain_notation(neg: bool, digits: &str, exp: i32) -> String {
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

pub(super) fn non_finite(f: f64) -> Option<String> {
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

/// `n` significant digits (rounded) and the scientific exponent.
pub(super) fn shortest_with(f: f64, n: usize) -> (bool, String, i32) {
    let s = format!("{:.*e}", n.saturating_sub(1), f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (
        f.is_sign_negative() && f != 0.0,
        digits,
        exp.parse().unwrap_or(0),
    )
}
