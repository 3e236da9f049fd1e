//! INI files as sops handles them (through go-ini): every section becomes a
//! mapping of string values, `;`/`#` comment lines are kept, and the
//! metadata is a `[sops]` section of flattened keys with newlines escaped.
//! Known gap: inline comments after a value are not split off.

use crate::format::dotenv::val_to_string;
use crate::tree::{Branch, Item, Key, Value};
use crate::{Error, Result};

fn unquote(v: &str) -> String {
    for (open, close) in [("\"\"\"", "\"\"\""), ("`", "`"), ("\"", "\"")] {
        if v.len() >= open.len() + close.len()
            && let Some(inner) = v.strip_prefix(open).and_then(|r| r.strip_suffix(close))
        {
            return inner.to_string();
        }
    }
    v.to_string()
}

/// Attaches the comment lines gathered since the last item to `branch`, as
/// one comment item (sops keeps a section's or value's comments after it).
fn flush_comments(branch: &mut Branch, comments: &mut Vec<String>) {
    if comments.is_empty() {
        return;
    }
    let text = comments
        .iter()
        .map(|c| strip_comment_char(c))
        .collect::<Vec<_>>()
        .join("\n");
    branch.push(Item::comment(text, false));
    comments.clear();
}

fn strip_comment_char(c: &str) -> String {
    // Matches sops's stripCommentChar.
    if c.starts_with(';') {
        c.trim_start_matches([';', ' ']).to_string()
    } else if c.starts_with('#') {
        c.trim_start_matches(['#', ' ']).to_string()
    } else {
        c.to_string()
    }
}

/// Reads an INI file into one mapping per section.
pub(crate) fn read(input: &str) -> Result<Branch> {
    let mut out = Branch::new();
    let mut current: Option<(String, Branch)> = None;
    let mut comments: Vec<String> = Vec::new();
    let mut lines = input.split('\n').enumerate();
    while let Some((n, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with(';') || line.starts_with('#') {
            comments.push(line.to_string());
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name.strip_suffix(']').ok_or_else(|| Error::Parse {
                format: "INI",
                location: format!("line {}", n + 1),
                reason: "unclosed section header".into(),
            })?;
            if let Some((k, b)) = current.take() {
                out.push(Item::new(k, Value::Map(b)));
            }
            let mut b = Branch::new();
            flush_comments(&mut b, &mut comments);
            current = Some((name.trim().to_string(), b));
            continue;
        }
        let pos = line.find(['=', ':']).ok_or_else(|| Error::Parse {
            format: "INI",
            location: format!("line {}", n + 1),
            reason: "expected key = value".into(),
        })?;
        let key = unquote(line[..pos].trim());
        let mut value = line[pos + 1..].trim().to_string();
        if value.starts_with("\"\"\"") && !(value.len() >= 6 && value.ends_with("\"\"\"")) {
            // A multi-line value continues until the closing triple quote
            // (if there is none, the line stands alone).
            let mut probe = lines.clone();
            let mut joined = value.clone();
            let mut consumed = 0;
            let mut closed = false;
            for (_, more) in probe.by_ref() {
                joined.push('\n');
                joined.push_str(more);
                consumed += 1;
                if more.trim_end().ends_with("\"\"\"") {
                    closed = true;
                    break;
                }
            }
            if closed {
                value = joined;
                for _ in 0..consumed {
                    lines.next();
                }
            }
        }
        let (_, b) = current.get_or_insert_with(|| ("DEFAULT".to_string(), Branch::new()));
        b.push(Item::new(key, Value::Str(unquote(value.trim_end()))));
        flush_comments(b, &mut comments);
    }
    if let Some((k, b)) = current.take() {
        out.push(Item::new(k, Value::Map(b)));
    }
    Ok(out)
}

fn quote_value(v: &str) -> Result<String> {
    if v.contains("\"\"\"") && (v.contains('\n') || v.contains('`')) {
        return Err(Error::Unsupported(
            "an INI value cannot hold both a triple quote and a newline or backtick".into(),
        ));
    }
    // Matches go-ini's writer.
    let quoted_edge = v.starts_with(['"', '`']) || v.ends_with(['"', '`']);
    if quoted_edge && !v.contains('`') && !v.contains('\n') {
        // Keep quote characters at the edges from being taken as quoting.
        Ok(format!("`{v}`"))
    } else if v.contains('\n') || v.contains('`') {
        Ok(format!("\"\"\"{v}\"\"\""))
    } else if v.contains(['#', ';']) || v.contains("\"\"\"") {
        Ok(format!("`{v}`"))
    } else if v.trim() != v {
        Ok(format!("\"{v}\""))
    } else {
        Ok(v.to_string())
    }
}

/// `; ` normally, `# ` when the text starts with `;`, so reading strips back to the same text.
fn comment_prefix(text: &str) -> &'static str {
    if text.starts_with(';') { "# " } else { "; " }
}

fn quote_key(k: &str) -> String {
    if k.contains(['=', ':', '"']) || k.starts_with([';', '#', '[', '`']) || k.trim() != k {
        format!("`{k}`")
    } else {
        k.to_string()
    }
}

/// Writes sections; every top-level value must be a mapping.
pub(crate) fn write(b: &Branch) -> Result<String> {
    let mut out = String::new();
    for item in b {
        let Key::Name(section) = &item.key else {
            continue;
        };
        let Value::Map(entries) = &item.value else {
            return Err(Error::Unsupported(format!(
                "INI section values must be mappings; offending key {section}"
            )));
        };
        if !out.is_empty() {
            out.push('\n');
        }
        let mut rest = &entries[..];
        if let Some(Item {
            key: Key::Comment(c),
            ..
        }) = entries.first()
        {
            for l in c.text.split('\n') {
                out.push_str(comment_prefix(l));
                out.push_str(l);
                out.push('\n');
            }
            rest = &entries[1..];
        }
        out.push('[');
        out.push_str(section);
        out.push_str("]\n");
        // Matches go-ini's pretty format: `=` aligned on the longest key.
        let width = rest
            .iter()
            .filter_map(|i| i.name())
            .map(|k| quote_key(k).chars().count())
            .max()
            .unwrap_or(0);
        // sops attaches a comment to the key before it; go-ini writes it above that key.
        let mut i = 0;
        while i < rest.len() {
            if let Key::Name(k) = &rest[i].key {
                if let Some(Item {
                    key: Key::Comment(c),
                    ..
                }) = rest.get(i + 1)
                {
                    for l in c.text.split('\n') {
                        out.push_str(comment_prefix(l));
                        out.push_str(l);
                        out.push('\n');
                    }
                }
                if matches!(rest[i].value, Value::Map(_) | Value::Seq(_)) {
                    return Err(Error::Unsupported(format!(
                        "cannot use complex value in INI file; offending key {k}"
                    )));
                }
                let qk = quote_key(k);
                let pad = width - qk.chars().count();
                out.push_str(&qk);
                out.extend(std::iter::repeat_n(' ', pad));
                out.push_str(" = ");
                out.push_str(&quote_value(&val_to_string(&rest[i].value))?);
                out.push('\n');
            }
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_values_and_comments_round_trip() {
        let src = "[db]\n; the user\nuser = admin\npass = `a#b`\n\n[other]\nk = v\n";
        let b = read(src).unwrap();
        let Value::Map(db) = &b[0].value else {
            panic!()
        };
        assert_eq!(db[0].value, Value::Str("admin".into()));
        assert_eq!(db[2].value, Value::Str("a#b".into()));
        let again = read(&write(&b).unwrap()).unwrap();
        assert_eq!(again, b);
    }
}
