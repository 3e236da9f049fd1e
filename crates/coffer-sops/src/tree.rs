//! The document tree every format is read into and written from: ordered
//! mappings (branches) of items whose keys are names or comments, sequences,
//! and typed scalars. It mirrors sops's `TreeBranch`, so walking it in
//! document order gives the same MAC and the same value paths as sops.

use std::fmt;

/// A comment line (the text after `#`), kept in the tree so it can be
/// encrypted and written back as sops does.
#[derive(Clone, PartialEq)]
pub struct Comment {
    /// The text after the comment marker.
    pub text: String,
    /// Whether it stood on the same line as a value (YAML `value # comment`).
    pub inline: bool,
}

/// A scalar or collection value.
#[derive(Clone, PartialEq)]
pub enum Value {
    /// YAML/JSON null: never encrypted, never part of the MAC.
    Null,
    /// A string (sops type `str`).
    Str(String),
    /// Raw bytes: binary files and `bytes`-typed values that are not UTF-8.
    Bytes(Vec<u8>),
    /// An integer (sops type `int`).
    Int(i64),
    /// A float (sops type `float`).
    Float(f64),
    /// A boolean (sops type `bool`).
    Bool(bool),
    /// A timestamp (sops type `time`), held as RFC 3339 text with nanoseconds.
    Time(String),
    /// A comment inside a sequence.
    Comment(Comment),
    /// An ordered mapping.
    Map(Branch),
    /// A sequence.
    Seq(Vec<Value>),
}

/// The key of a mapping item: a name, or a comment standing between items.
#[derive(Clone, PartialEq)]
pub enum Key {
    /// A mapping key.
    Name(String),
    /// A comment line; its item's value is always [`Value::Null`].
    Comment(Comment),
}

/// One entry of a mapping.
#[derive(Clone, PartialEq)]
pub struct Item {
    /// The key (or comment).
    pub key: Key,
    /// The value.
    pub value: Value,
}

/// An ordered mapping; duplicate keys are kept as they were read.
pub type Branch = Vec<Item>;

impl Item {
    /// A named entry.
    pub fn new(key: impl Into<String>, value: Value) -> Self {
        Item {
            key: Key::Name(key.into()),
            value,
        }
    }

    /// A comment entry.
    pub fn comment(text: impl Into<String>, inline: bool) -> Self {
        Item {
            key: Key::Comment(Comment {
                text: text.into(),
                inline,
            }),
            value: Value::Null,
        }
    }

    /// The key's name, or `None` for a comment entry.
    pub fn name(&self) -> Option<&str> {
        match &self.key {
            Key::Name(n) => Some(n),
            Key::Comment(_) => None,
        }
    }
}

// NB: Debug never shows scalar contents: trees hold plaintext secrets.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Str(_) => f.write_str("<str>"),
            Value::Bytes(_) => f.write_str("<bytes>"),
            Value::Int(_) => f.write_str("<int>"),
            Value::Float(_) => f.write_str("<float>"),
            Value::Bool(_) => f.write_str("<bool>"),
            Value::Time(_) => f.write_str("<time>"),
            Value::Comment(_) => f.write_str("<comment>"),
            Value::Map(b) => f.debug_list().entries(b.iter()).finish(),
            Value::Seq(s) => f.debug_list().entries(s.iter()).finish(),
        }
    }
}

impl fmt::Debug for Comment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<comment>")
    }
}

impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Key::Name(n) => write!(f, "{n:?}: {:?}", self.value),
            Key::Comment(_) => f.write_str("<comment>"),
        }
    }
}

/// One step of a path into the tree: a mapping key or a sequence index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// Parses sops's tree path syntax, e.g. `["data"]["key"][0]`.
pub fn parse_tree_path(s: &str) -> crate::Result<Vec<PathStep>> {
    let bad = |why: &str| crate::Error::TreePath(format!("invalid tree path {s:?}: {why}"));
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        rest = rest.strip_prefix('[').ok_or_else(|| bad("expected '['"))?;
        if let Some(r) = rest.strip_prefix('"').or_else(|| rest.strip_prefix('\'')) {
            let quote = rest.as_bytes()[0] as char;
            let end = r.find(quote).ok_or_else(|| bad("unterminated string"))?;
            out.push(PathStep::Key(r[..end].to_string()));
            rest = r[end + 1..]
                .strip_prefix(']')
                .ok_or_else(|| bad("expected ']'"))?;
        } else {
            let end = rest.find(']').ok_or_else(|| bad("expected ']'"))?;
            let idx = rest[..end]
                .trim()
                .parse::<usize>()
                .map_err(|_| bad("index is not a non-negative integer"))?;
            out.push(PathStep::Index(idx));
            rest = &rest[end + 1..];
        }
        rest = rest.trim_start();
    }
    if out.is_empty() {
        return Err(bad("empty path"));
    }
    Ok(out)
}

fn step_str(step: &PathStep) -> String {
    match step {
        PathStep::Key(k) => format!("[{k:?}]"),
        PathStep::Index(i) => format!("[{i}]"),
    }
}

/// Looks up the value at `path` in a branch.
pub fn get<'a>(branch: &'a Branch, path: &[PathStep]) -> crate::Result<&'a Value> {
    let mut cur_branch = Some(branch);
    let mut cur_seq: Option<&Vec<Value>> = None;
    let mut found: Option<&Value> = None;
    for step in path {
        let next = match (step, cur_branch, cur_seq) {
            (PathStep::Key(k), Some(b), _) => {
                b.iter().find(|i| i.name() == Some(k)).map(|i| &i.value)
            }
            (PathStep::Index(i), _, Some(s)) => {
                s.iter().filter(|v| !matches!(v, Value::Comment(_))).nth(*i)
            }
            _ => None,
        };
        let v = next.ok_or_else(|| {
            crate::Error::TreePath(format!("component {} not found", step_str(step)))
        })?;
        cur_branch = if let Value::Map(b) = v { Some(b) } else { None };
        cur_seq = if let Value::Seq(s) = v { Some(s) } else { None };
        found = Some(v);
    }
    found.ok_or_else(|| crate::Error::TreePath("empty path".into()))
}

fn leaf_from_path(path: &[PathStep], value: Value) -> Value {
    match path.split_first() {
        None => value,
        Some((PathStep::Key(k), rest)) => {
            Value::Map(vec![Item::new(k.clone(), leaf_from_path(rest, value))])
        }
        Some((PathStep::Index(_), rest)) => Value::Seq(vec![leaf_from_path(rest, value)]),
    }
}

/// Sets the value at `path`, creating missing mappings and sequence entries
/// as sops does; returns whether anything changed.
pub fn set(branch: &mut Branch, path: &[PathStep], value: Value) -> bool {
    let mut holder = Value::Map(std::mem::take(branch));
    let changed = set_value(&mut holder, path, value);
    if let Value::Map(b) = holder {
        *branch = b;
    }
    changed
}

fn set_value(target: &mut Value, path: &[PathStep], value: Value) -> bool {
    let Some((step, rest)) = path.split_first() else {
        let changed = *target != value;
        *target = value;
        return changed;
    };
    match (step, &mut *target) {
        (PathStep::Key(k), Value::Map(b)) => {
            if let Some(item) = b.iter_mut().find(|i| i.name() == Some(k)) {
                return set_value(&mut item.value, rest, value);
            }
            b.push(Item::new(k.clone(), leaf_from_path(rest, value)));
            true
        }
        (PathStep::Index(i), Value::Seq(s)) => {
            if *i < s.len() {
                set_value(&mut s[*i], rest, value)
            } else {
                s.push(leaf_from_path(rest, value));
                true
            }
        }
        _ => {
            *target = leaf_from_path(path, value);
            true
        }
    }
}

/// Removes the value at `path`.
pub fn unset(branch: &mut Branch, path: &[PathStep]) -> crate::Result<()> {
    let mut holder = Value::Map(std::mem::take(branch));
    let r = unset_value(&mut holder, path);
    if let Value::Map(b) = holder {
        *branch = b;
    }
    r
}

fn unset_value(target: &mut Value, path: &[PathStep]) -> crate::Result<()> {
    let Some((step, rest)) = path.split_first() else {
        return Ok(());
    };
    let not_found = || crate::Error::TreePath(format!("component {} not found", step_str(step)));
    match (step, target) {
        (PathStep::Key(k), Value::Map(b)) => {
            let pos = b
                .iter()
                .position(|i| i.name() == Some(k))
                .ok_or_else(not_found)?;
            if rest.is_empty() {
                b.remove(pos);
                Ok(())
            } else {
                unset_value(&mut b[pos].value, rest)
            }
        }
        (PathStep::Index(i), Value::Seq(s)) => {
            if *i >= s.len() {
                return Err(not_found());
            }
            if rest.is_empty() {
                s.remove(*i);
                Ok(())
            } else {
                unset_value(&mut s[*i], rest)
            }
        }
        _ => Err(not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_path_parses_keys_and_indices() {
        let p = parse_tree_path(r#"["a"]['b'][2]"#).unwrap();
        assert_eq!(
            p,
            vec![
                PathStep::Key("a".into()),
                PathStep::Key("b".into()),
                PathStep::Index(2)
            ]
        );
        assert!(parse_tree_path("a.b").is_err());
    }

    #[test]
    fn set_creates_missing_parents_and_unset_removes() {
        let mut b = Branch::new();
        let path = parse_tree_path(r#"["x"]["y"]"#).unwrap();
        assert!(set(&mut b, &path, Value::Int(1)));
        assert!(!set(&mut b, &path, Value::Int(1)));
        assert_eq!(get(&b, &path).unwrap(), &Value::Int(1));
        unset(&mut b, &path).unwrap();
        assert!(get(&b, &path).is_err());
    }

    #[test]
    fn debug_output_hides_scalar_contents() {
        let v = Value::Map(vec![Item::new("password", Value::Str("hunter2".into()))]);
        let shown = format!("{v:?}");
        assert!(shown.contains("password") && !shown.contains("hunter2"));
    }
}
