//! JSON documents: a small order-preserving reader (object keys stay in file
//! order, integers that fit in 64 bits stay integers, as sops's decoder with
//! `UseNumber`) and a writer laid out like sops's (`json.Indent` with a tab,
//! `"key": value`, Go's `json.Marshal` escaping).

use base64::Engine as _;

use crate::tree::{Branch, Item, Value};
use crate::{Error, Result};

struct Reader<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 512;

impl Reader<'_> {
    fn err(&self, reason: impl Into<String>) -> Error {
        let before = &self.s[..self.pos.min(self.s.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        Error::Parse {
            format: "JSON",
            location: format!("line {line} column {col}"),
            reason: reason.into(),
        }
    }

    fn ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Result<()> {
        self.ws();
        if self.s.get(self.pos) == Some(&b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(format!("expected '{}'", b as char)))
        }
    }

    fn value(&mut self) -> Result<Value> {
        self.ws();
        match self.s.get(self.pos) {
            Some(b'{') => Ok(Value::Map(self.object()?)),
            Some(b'[') => {
                self.enter()?;
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.s.get(self.pos) {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.err("expected ',' or ']'")),
                        }
                    }
                }
                self.depth -= 1;
                Ok(Value::Seq(items))
            }
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
            None => Err(self.err("unexpected end of input")),
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        Ok(())
    }

    fn word(&mut self, w: &str, v: Value) -> Result<Value> {
        if self.s[self.pos..].starts_with(w.as_bytes()) {
            self.pos += w.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn number(&mut self) -> Result<Value> {
        let start = self.pos;
        while self.pos < self.s.len()
            && matches!(
                self.s[self.pos],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
            )
        {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.pos])
            .map_err(|_| self.err("invalid number"))?;
        let valid = {
            let t = text.strip_prefix('-').unwrap_or(text);
            let (mant, exp) = match t.find(['e', 'E']) {
                Some(p) => (&t[..p], Some(&t[p + 1..])),
                None => (t, None),
            };
            let (int, frac) = match mant.split_once('.') {
                Some((i, f)) => (i, Some(f)),
                None => (mant, None),
            };
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && (int == "0" || !int.starts_with('0'))
                && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
                && exp.is_none_or(|e| {
                    let e = e.strip_prefix(['+', '-']).unwrap_or(e);
                    !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
                })
        };
        if !valid {
            return Err(self.err("invalid number"));
        }
        // Matches sops: json.Number.Int64 first, then Float64.
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        match text.parse::<f64>() {
            Ok(f) if valid && f.is_finite() => Ok(Value::Float(f)),
            _ => Err(self.err("invalid number")),
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let h = self
            .s
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("truncated \\u escape"))?;
        let v = std::str::from_utf8(h)
            .ok()
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("invalid \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let b = *self
                .s
                .get(self.pos)
                .ok_or_else(|| self.err("unterminated string"))?;
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let e = *self
                        .s
                        .get(self.pos)
                        .ok_or_else(|| self.err("unterminated escape"))?;
                    self.pos += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi)
                                && self.s[self.pos..].starts_with(b"\\u")
                            {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    0xFFFD
                                }
                            } else {
                                hi
                            };
                            char::from_u32(cp).unwrap_or('\u{FFFD}')
                        }
                        _ => return Err(self.err("invalid escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                b if b < 0x20 => return Err(self.err("control character in string")),
                b => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not valid UTF-8"))
    }

    fn object(&mut self) -> Result<Branch> {
        self.enter()?;
        self.eat(b'{')?;
        let mut b = Branch::new();
        self.ws();
        if self.s.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(b);
        }
        loop {
            self.ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return Err(self.err("expected a string key"));
            }
            let k = self.string()?;
            self.eat(b':')?;
            let v = self.value()?;
            b.push(Item::new(k, v));
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
        self.depth -= 1;
        Ok(b)
    }
}

/// Reads a JSON document; sops only supports a top-level object.
pub fn read(input: &str) -> Result<Branch> {
    let mut r = Reader {
        s: input.as_bytes(),
        pos: 0,
        depth: 0,
    };
    r.ws();
    if r.s.get(r.pos) != Some(&b'{') {
        return Err(Error::Unsupported(
            "sops only supports JSON files with a top-level object (starting with '{'); wrap it in an object, e.g. {\"data\": [...]}".into(),
        ));
    }
    let b = r.object()?;
    r.ws();
    if r.pos != r.s.len() {
        return Err(r.err("trailing data after the top-level object"));
    }
    Ok(b)
}

/// Reads any JSON value (for `set`).
pub fn read_value(input: &str) -> Result<Value> {
    let mut r = Reader {
        s: input.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let v = r.value()?;
    r.ws();
    if r.pos != r.s.len() {
        return Err(r.err("trailing data after the value"));
    }
    Ok(v)
}

/// Go's `json.Marshal` string escaping (HTML-safe).
fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's float formatting in `json.Marshal`.
fn float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Go writes 'e' format with at least two exponent digits trimmed: 1e-07 -> 1e-7.
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match e.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', e),
        };
        return format!("{m}e{sign}{digits:0>2}");
    }
    // Go would write `1` for 1.0, which reads back as an integer; keep it a float.
    let s = format!("{f}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

fn value(v: &Value, indent: usize, out: &mut String) {
    let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n('\t', n));
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) if f.is_finite() => out.push_str(&float(*f)),
        Value::Float(f) => string(&crate::cipher::go_float_plain(*f), out),
        Value::Str(s) | Value::Time(s) => string(s, out),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => string(s, out),
            Err(_) => string(&base64::engine::general_purpose::STANDARD.encode(b), out),
        },
        Value::Comment(_) => {}
        Value::Map(b) => map(b, indent, out),
        Value::Seq(s) => {
            let items: Vec<_> = s
                .iter()
                .filter(|v| !matches!(v, Value::Comment(_)))
                .collect();
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                pad(out, indent + 1);
                value(v, indent + 1, out);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            pad(out, indent);
            out.push(']');
        }
    }
}

fn map(b: &Branch, indent: usize, out: &mut String) {
    let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n('\t', n));
    {
        {
            let named: Vec<_> = b
                .iter()
                .filter_map(|i| i.name().map(|n| (n, &i.value)))
                .collect();
            if named.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{\n");
            for (i, (k, v)) in named.iter().enumerate() {
                pad(out, indent + 1);
                string(k, out);
                out.push_str(": ");
                value(v, indent + 1, out);
                if i + 1 < named.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            pad(out, indent);
            out.push('}');
        }
    }
}

/// Writes a branch as a JSON object (comments dropped, as sops does).
pub fn write(b: &Branch) -> String {
    let mut out = String::new();
    map(b, 0, &mut out);
    out.push('\n');
    out
}

/// Writes one value as JSON (for `--extract`).
pub fn write_value(v: &Value) -> String {
    let mut out = String::new();
    value(v, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_and_number_types_survive_a_round_trip() {
        let src = "{\"z\": 1, \"a\": [1.5, true, null, \"s<\"], \"m\": {}}";
        let b = read(src).unwrap();
        let names: Vec<_> = b.iter().filter_map(Item::name).collect();
        assert_eq!(names, ["z", "a", "m"]);
        assert_eq!(b[0].value, Value::Int(1));
        let out = write(&b);
        assert_eq!(
            out,
            "{\n\t\"z\": 1,\n\t\"a\": [\n\t\t1.5,\n\t\ttrue,\n\t\tnull,\n\t\t\"s\\u003c\"\n\t],\n\t\"m\": {}\n}\n"
        );
        assert_eq!(read(&out).unwrap(), b);
    }

    #[test]
    fn non_object_and_malformed_json_are_rejected_with_location() {
        assert!(matches!(read("[1]"), Err(Error::Unsupported(_))));
        let e = read("{\"a\": 01}").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        assert!(read("{\"a\": 1,}").is_err());
    }
}
