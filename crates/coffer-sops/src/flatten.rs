//! Flattened metadata for formats without nesting (dotenv, INI): nested keys
//! are joined with `__map_` and list positions with `__list_N`, exactly as
//! sops's `stores/flatten.go`, e.g. `sops_age__list_0__map_enc`.

use std::collections::BTreeMap;

use crate::tree::{Branch, Item, Value};
use crate::{Error, Result};

const MAP_SEP: &str = "__map_";
const LIST_SEP: &str = "__list_";

/// Flattens a nested branch into `prefix`-prefixed scalar items.
pub(crate) fn flatten(branch: &Branch, prefix: &str) -> Result<Branch> {
    let mut out = Branch::new();
    flatten_map(branch, prefix, &mut out)?;
    Ok(out)
}

fn flatten_value(v: &Value, key: String, out: &mut Branch) -> Result<()> {
    match v {
        Value::Map(b) => flatten_map(b, &format!("{key}{MAP_SEP}"), out),
        Value::Seq(s) => {
            let mut i = 0;
            for item in s {
                if matches!(item, Value::Comment(_)) {
                    continue;
                }
                flatten_value(item, format!("{key}{LIST_SEP}{i}"), out)?;
                i += 1;
            }
            Ok(())
        }
        _ => {
            if out.iter().any(|i| i.name() == Some(key.as_str())) {
                return Err(Error::Metadata(format!(
                    "key collision {key:?} while flattening"
                )));
            }
            out.push(Item::new(key, v.clone()));
            Ok(())
        }
    }
}

fn flatten_map(b: &Branch, prefix: &str, out: &mut Branch) -> Result<()> {
    for item in b {
        if let Some(name) = item.name() {
            flatten_value(&item.value, format!("{prefix}{name}"), out)?;
        }
    }
    Ok(())
}

enum Token {
    Key(String),
    Index(usize),
}

fn tokenize(path: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = path;
    let mut is_list = false;
    loop {
        let next = [
            rest.find(MAP_SEP).map(|p| (p, false)),
            rest.find(LIST_SEP).map(|p| (p, true)),
        ]
        .into_iter()
        .flatten()
        .min_by_key(|(p, _)| *p);
        let (end, next_is_list) = match next {
            Some((p, l)) => (p, Some(l)),
            None => (rest.len(), None),
        };
        let part = &rest[..end];
        tokens.push(if is_list {
            Token::Index(part.parse().unwrap_or(0))
        } else {
            Token::Key(part.to_string())
        });
        match next_is_list {
            None => break,
            Some(l) => {
                rest = &rest[end + if l { LIST_SEP.len() } else { MAP_SEP.len() }..];
                is_list = l;
            }
        }
    }
    tokens
}

#[derive(Default)]
struct Node {
    value: Option<Value>,
    keys: BTreeMap<String, Node>,
    indices: BTreeMap<usize, Node>,
}

impl Node {
    fn into_value(self) -> Result<Value> {
        let kinds = usize::from(self.value.is_some())
            + usize::from(!self.keys.is_empty())
            + usize::from(!self.indices.is_empty());
        if kinds > 1 {
            return Err(Error::Metadata("type mismatch while unflattening".into()));
        }
        if let Some(v) = self.value {
            return Ok(v);
        }
        if !self.indices.is_empty() {
            let n = self.indices.len();
            if self.indices.keys().copied().ne(0..n) {
                return Err(Error::Metadata("incomplete list while unflattening".into()));
            }
            return Ok(Value::Seq(
                self.indices
                    .into_values()
                    .map(Node::into_value)
                    .collect::<Result<_>>()?,
            ));
        }
        Ok(Value::Map(
            self.keys
                .into_iter()
                .map(|(k, n)| Ok(Item::new(k, n.into_value()?)))
                .collect::<Result<_>>()?,
        ))
    }
}

/// Rebuilds the nested metadata from flattened items (prefix already removed).
pub(crate) fn unflatten(items: &Branch) -> Result<Branch> {
    let mut root = Node::default();
    for item in items {
        let Some(name) = item.name() else { continue };
        let mut node = &mut root;
        for t in tokenize(name) {
            node = match t {
                Token::Key(k) => node.keys.entry(k).or_default(),
                Token::Index(i) => node.indices.entry(i).or_default(),
            };
        }
        if node.value.is_some() {
            return Err(Error::Metadata(format!(
                "duplicate value for {name:?} while unflattening"
            )));
        }
        node.value = Some(item.value.clone());
    }
    match root.into_value()? {
        Value::Map(b) => Ok(b),
        _ => Err(Error::Metadata(
            "flattened metadata has no root mapping".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatten_and_unflatten_are_inverse() {
        let nested = vec![
            Item::new(
                "age",
                Value::Seq(vec![Value::Map(vec![
                    Item::new("enc", Value::Str("E".into())),
                    Item::new("recipient", Value::Str("R".into())),
                ])]),
            ),
            Item::new("version", Value::Str("3.9.0".into())),
        ];
        let flat = flatten(&nested, "sops_").unwrap();
        let names: Vec<_> = flat.iter().filter_map(Item::name).collect();
        assert_eq!(
            names,
            [
                "sops_age__list_0__map_enc",
                "sops_age__list_0__map_recipient",
                "sops_version"
            ]
        );
        let stripped: Branch = flat
            .into_iter()
            .map(|i| {
                Item::new(
                    i.name().unwrap().trim_start_matches("sops_").to_string(),
                    i.value.clone(),
                )
            })
            .collect();
        assert_eq!(unflatten(&stripped).unwrap(), nested);
    }
}
