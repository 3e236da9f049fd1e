//! dotenv files as sops reads and writes them: `KEY=value` lines, `#`
//! comments, newlines in values escaped as `\n`, and the metadata flattened
//! into `sops_…` keys (`sops_age__list_0__map_enc`, `sops_mac`, …).

use crate::tree::{Branch, Item, Key, Value};
use crate::{Error, Result};

/// Reads a dotenv file (blank lines are dropped, as in sops).
pub(crate) fn read(input: &str) -> Result<Branch> {
    let mut b = Branch::new();
    for (n, line) in input.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            b.push(Item::comment(c, false));
            continue;
        }
        let (k, v) = line.split_once('=').ok_or_else(|| Error::Parse {
            format: "dotenv",
            location: format!("line {}", n + 1),
            reason: "expected KEY=value".into(),
        })?;
        b.push(Item::new(k, Value::Str(v.replace("\\n", "\n"))));
    }
    Ok(b)
}

/// sops's `ValToString` for non-string values in flat formats.
pub fn val_to_string(v: &Value) -> String {
    match v {
        Value::Str(s) | Value::Time(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            let s = crate::cipher::go_float_plain(*f);
            if s.contains(['.', 'e', 'I', 'N']) {
                s
            } else {
                format!("{s}.0")
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        Value::Comment(c) => c.text.clone(),
        Value::Map(_) | Value::Seq(_) => String::new(),
    }
}

/// Writes a dotenv file; nested values cannot be represented.
pub(crate) fn write(b: &Branch) -> Result<String> {
    let mut out = String::new();
    for item in b {
        match &item.key {
            Key::Comment(c) => {
                out.push('#');
                out.push_str(&c.text);
            }
            Key::Name(k) => {
                if matches!(item.value, Value::Map(_) | Value::Seq(_)) {
                    return Err(Error::Unsupported(format!(
                        "cannot use complex value in dotenv file; offending key {k}"
                    )));
                }
                out.push_str(k);
                out.push('=');
                out.push_str(&val_to_string(&item.value).replace('\n', "\\n"));
            }
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiline_values_and_comments_round_trip() {
        let src = "#c\nA=1\nB=x\\ny\n";
        let b = read(src).unwrap();
        assert_eq!(b[2].value, Value::Str("x\ny".into()));
        assert_eq!(write(&b).unwrap(), src);
        assert!(
            read("novalue\n")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
    }
}
