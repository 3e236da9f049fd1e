//! JSON and YAML conversions: sprig's `toJson`, `toPrettyJson`,
//! `toRawJson`, `mustToJson`, `fromJson`, `mustFromJson`, and External
//! Secrets' `toYaml`/`fromYaml`.
//!
//! JSON is written by hand to match Go's `encoding/json` byte for byte:
//! sorted keys, `<`, `>`, `&`, U+2028 and U+2029 escaped (except in
//! `toRawJson`), Go's float format, invalid UTF-8 replaced by U+FFFD.
//! Parsed JSON numbers become floats, as Go's `interface{}` decoding does.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::{Ctx, FResult, Func, FuncError, arity, str_arg, string_result};
use crate::format::float_json;
use crate::value::{MapKind, Value};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        // sprig swallows encoding errors in toJson/toPrettyJson: "" results
        "toJson" => |c, a| to_json(c, a, Style::Compact, true).or_else(|_| Ok(Value::str(""))),
        "toPrettyJson" => |c, a| to_json(c, a, Style::Pretty, true).or_else(|_| Ok(Value::str(""))),
        "toRawJson" => |c, a| to_json(c, a, Style::Compact, false),
        "mustToJson" => |c, a| to_json(c, a, Style::Compact, true),
        "mustToPrettyJson" => |c, a| to_json(c, a, Style::Pretty, true),
        "mustToRawJson" => |c, a| to_json(c, a, Style::Compact, false),
        "fromJson" => |_, a| {
            arity(a, 1)?;
            Ok(from_json(str_arg(&a[0])?).unwrap_or(Value::Nil))
        },
        "mustFromJson" => |_, a| {
            arity(a, 1)?;
            from_json(str_arg(&a[0])?)
        },
        _ => return None,
    })
}

/// Functions only External Secrets has.
pub(super) fn find_eso(name: &str) -> Option<Func> {
    Some(match name {
        "toYaml" => to_yaml,
        "fromYaml" => from_yaml,
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Compact,
    Pretty,
}

fn to_json(ctx: &Ctx, args: &[Value], style: Style, escape_html: bool) -> FResult {
    arity(args, 1)?;
    let mut out = Vec::new();
    write_json(&mut out, &args[0], style, escape_html, 0)?;
    string_result(ctx, out)
}

fn write_json(
    out: &mut Vec<u8>,
    v: &Value,
    style: Style,
    html: bool,
    level: usize,
) -> Result<(), FuncError> {
    let newline = |out: &mut Vec<u8>, level: usize| {
        if style == Style::Pretty {
            out.push(b'\n');
            out.resize(out.len() + 2 * level, b' ');
        }
    };
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Float(f) => {
            let s = float_json(*f).ok_or_else(|| {
                FuncError::Other("json: unsupported value: non-finite float".into())
            })?;
            out.extend_from_slice(s.as_bytes());
        }
        Value::Str(s) => json_string(out, s.as_bytes(), html),
        Value::List(l) => {
            out.push(b'[');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(out, level + 1);
                write_json(out, e, style, html, level + 1)?;
            }
            if !l.is_empty() {
                newline(out, level);
            }
            out.push(b']');
        }
        Value::Map(m) => {
            out.push(b'{');
            for (i, (k, e)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(out, level + 1);
                json_string(out, k.as_bytes(), html);
                out.push(b':');
                if style == Style::Pretty {
                    out.push(b' ');
                }
                write_json(out, e, style, html, level + 1)?;
            }
            if !m.entries.is_empty() {
                newline(out, level);
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn json_string(out: &mut Vec<u8>, s: &[u8], html: bool) {
    out.push(b'"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\x08' => out.extend_from_slice(b"\\b"),
                '\x0c' => out.extend_from_slice(b"\\f"),
                '<' | '>' | '&' if html => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                }
                '\u{2028}' | '\u{2029}' => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                }
                c if (c as u32) < 0x20 => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice(b"\\ufffd");
        }
    }
    out.push(b'"');
}

/// Parses JSON into template values (numbers as floats, like Go). The
/// parser's message names a line and column, never the input.
fn from_json(s: &[u8]) -> FResult {
    serde_json::from_slice::<Value>(s).map_err(|e| {
        FuncError::Other(format!(
            "json: invalid document at line {} column {}",
            e.line(),
            e.column()
        ))
    })
}

/// External Secrets' `toYaml`: YAML of the value without the trailing
/// newline; "" if it cannot be encoded.
fn to_yaml(ctx: &Ctx, args: &[Value]) -> FResult {
    arity(args, 1)?;
    match serde_saphyr::to_string(&args[0]) {
        Ok(s) => string_result(ctx, s.trim_end_matches('\n').as_bytes().to_vec()),
        Err(_) => Ok(Value::str("")),
    }
}

/// External Secrets' `fromYaml`: a map; on failure, a map whose `Error`
/// entry says what went wrong (the template goes on).
fn from_yaml(_: &Ctx, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let text = String::from_utf8_lossy(str_arg(&args[0])?).into_owned();
    let parsed = serde_saphyr::from_str_with_options::<Value>(&text, yaml_options());
    Ok(match parsed {
        Ok(v @ Value::Map(_)) => v,
        Ok(Value::Nil) => Value::map(BTreeMap::new(), MapKind::Any),
        Ok(other) => error_map(format!("cannot unmarshal {} into a map", other.type_name())),
        Err(e) => error_map(yaml_limit(&e).unwrap_or_else(|| "yaml: invalid document".into())),
    })
}

/// serde-saphyr's limits for `fromYaml`, every one set here: the text can
/// be secret data or a tenant's template output. Depth is the template's
/// value depth; aliases may replay at most 100,000 events, and one anchor
/// at most 1,000 times (go-yaml's own alias check lets ESO replay about
/// 400,000 nodes). Values built still count against the render's limits.
fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = super::lists::MAX_VALUE_DEPTH;
    budget.flow_nesting_limit = super::lists::MAX_VALUE_DEPTH;
    budget.max_documents = 1;
    budget.max_events = 1_000_000;
    budget.max_nodes = 250_000;
    budget.max_total_scalar_bytes = 8 * 1024 * 1024;
    budget.max_aliases = 10_000;
    budget.max_anchors = 10_000;
    budget.max_merge_keys = 1_000;
    budget.max_recorded_anchor_events = 100_000;
    budget.max_recorded_anchor_bytes = 8 * 1024 * 1024;
    budget.enforce_alias_anchor_ratio = true;
    budget.alias_anchor_min_aliases = 100;
    budget.alias_anchor_ratio_multiplier = 10;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = 100_000;
    options.alias_limits.max_replay_stack_depth = 16;
    options.alias_limits.max_alias_expansions_per_anchor = 1_000;
    // Snippets would quote the input.
    options.with_snippet = false;
    options
}

/// The `Error` text for a parse stopped by a limit: which one and where,
/// in counts only. `None` for other errors, whose messages may quote input.
fn yaml_limit(e: &serde_saphyr::Error) -> Option<String> {
    let what = limit_kind(e)?;
    Some(match e.location() {
        Some(at) => format!(
            "yaml: document exceeds the limits at line {} column {}: {what}",
            at.line(),
            at.column()
        ),
        None => format!("yaml: document exceeds the limits: {what}"),
    })
}

fn limit_kind(e: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach;
    let too_deep = || format!("nested more than {} deep", super::lists::MAX_VALUE_DEPTH);
    Some(match e {
        E::AliasError { error, .. } | E::WithSnippet { error, .. } => return limit_kind(error),
        E::Budget {
            breach: BudgetBreach::Depth { .. },
            ..
        } => too_deep(),
        E::Budget { breach, .. } => format!("{breach:?}"),
        // The scanner reads ahead, so a run of `[` meets its flow limit
        // (set to the same depth) before the budget sees the events.
        E::ExternalMessage { source, .. }
            if matches!(&**source, serde_saphyr::ExternalMessageSource::Parser(scan)
                if *scan.kind() == serde_saphyr::granit_parser::ErrorKind::RecursionLimitExceeded) =>
        {
            too_deep()
        }
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => "too many alias expansions".to_owned(),
        _ => return None,
    })
}

fn error_map(msg: String) -> Value {
    let mut m = BTreeMap::new();
    m.insert("Error".to_owned(), Value::string(msg.into_bytes()));
    Value::map(m, MapKind::Any)
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Nil => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(v) => s.serialize_str(&String::from_utf8_lossy(v.as_bytes())),
            Value::List(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for e in l.iter() {
                    seq.serialize_element(e)?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.entries.len()))?;
                for (k, e) in &m.entries {
                    map.serialize_entry(k, e)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    // Go decodes every JSON number into float64
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Float(i as f64))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Float(u as f64))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::str(s))
    }
    fn visit_bytes<E>(self, b: &[u8]) -> Result<Value, E> {
        Ok(Value::str(b))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::list(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = BTreeMap::new();
        while let Some(k) = map.next_key::<KeyString>()? {
            entries.insert(k.0, map.next_value::<Value>()?);
        }
        Ok(Value::map(entries, MapKind::Any))
    }
}

/// A map key; YAML keys that are numbers or booleans become their text.
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyString, D::Error> {
        let v = Value::deserialize(d)?;
        match v {
            Value::Str(s) => Ok(KeyString(
                String::from_utf8_lossy(s.as_bytes()).into_owned(),
            )),
            Value::Map(_) | Value::List(_) => Err(de::Error::custom("map keys must be scalars")),
            other => {
                let mut out = Vec::new();
                crate::format::write_v(&mut out, &other);
                Ok(KeyString(String::from_utf8_lossy(&out).into_owned()))
            }
        }
    }
}
