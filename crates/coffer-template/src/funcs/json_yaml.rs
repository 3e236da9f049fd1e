//! JSON and YAML conversions: sprig's `toJson`, `toPrettyJson`,
//! `toRawJson`, `mustToJson`, `fromJson`, `mustFromJson`, and External
//! Secrets' `toYaml`/`fromYaml`.
//!
//! JSON is written by hand to match Go's `encoding/json` byte for byte:
//! sorted keys, `<`, `>`, `&`, U+2028 and U+2029 escaped (except in
//! `toRawJson`), Go's float format, invalid UTF-8 replaced by U+FFFD.
//! Parsed JSON numbers become floats, as Go's `interface{}` decoding does.
//!
//! Encoding writes into a [`Buf`] (pretty JSON and YAML indent each level,
//! so their output can be much larger than the value: the buffer stops it
//! at the value limit). Decoding goes through `decode::Seed`, which
//! charges each value to the budget and refuses nesting past the value
//! depth limit. Parse errors are a fixed text: serde's messages name
//! offsets and quote input, which here is secret.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeSeed;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::decode::{Seed, parsed_or};
use super::{Budget, FResult, Func, FuncError, arity, finish, read, result_buf, str_arg};
use crate::buf::{Buf, Full};
use crate::format::{float_json, quote_with};
use crate::object::View;
use crate::value::{MapKind, Value};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        // sprig swallows encoding errors in toJson/toPrettyJson: "" results
        // (limits are not encoding errors: they still stop the render)
        "toJson" => |c, a| swallow(to_json(c, a, Style::Compact, true)),
        "toPrettyJson" => |c, a| swallow(to_json(c, a, Style::Pretty, true)),
        "toRawJson" => |c, a| to_json(c, a, Style::Compact, false),
        "mustToJson" => |c, a| to_json(c, a, Style::Compact, true),
        "mustToPrettyJson" => |c, a| to_json(c, a, Style::Pretty, true),
        "mustToRawJson" => |c, a| to_json(c, a, Style::Compact, false),
        "fromJson" => |c, a| {
            arity(a, 1)?;
            swallow_to(from_json(c, str_arg(&a[0])?), Value::Nil)
        },
        "mustFromJson" => |c, a| {
            arity(a, 1)?;
            from_json(c, str_arg(&a[0])?)
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

/// `""` instead of an encoding error; limits pass through.
fn swallow(r: FResult) -> FResult {
    swallow_to(r, Value::str(""))
}

fn swallow_to(r: FResult, instead: Value) -> FResult {
    match r {
        Err(FuncError::Other(_)) => Ok(instead),
        other => other,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Compact,
    Pretty,
}

fn to_json(ctx: &Budget, args: &[Value], style: Style, escape_html: bool) -> FResult {
    arity(args, 1)?;
    let mut out = result_buf(ctx, 0);
    let written = write_json(&mut out, &args[0], style, escape_html, 0);
    ctx.bytes(out.len())?;
    match written {
        Ok(()) => finish(ctx, out, Ok(())),
        Err(Json::Full) => Err(FuncError::Full),
        Err(Json::NonFinite) => Err(FuncError::Other(
            "json: unsupported value: non-finite float",
        )),
    }
}

/// Why JSON encoding stopped.
enum Json {
    Full,
    NonFinite,
}

impl From<Full> for Json {
    fn from(_: Full) -> Self {
        Json::Full
    }
}

fn write_json(
    out: &mut Buf,
    v: &Value,
    style: Style,
    html: bool,
    level: usize,
) -> Result<(), Json> {
    let newline = |out: &mut Buf, level: usize| newline(out, style, level);
    match v {
        Value::Nil => out.extend(b"null")?,
        Value::Bool(b) => out.extend(if *b { b"true" } else { b"false" })?,
        Value::Int(i) => out.extend(i.to_string().as_bytes())?,
        Value::Float(f) => out.extend(float_json(*f).ok_or(Json::NonFinite)?.as_bytes())?,
        Value::Str(s) => json_string(out, s.as_bytes(), html)?,
        Value::List(l) => {
            out.push(b'[')?;
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(b',')?;
                }
                newline(out, level + 1)?;
                write_json(out, e, style, html, level + 1)?;
            }
            if !l.is_empty() {
                newline(out, level)?;
            }
            out.push(b']')?;
        }
        Value::Map(m) => {
            let entries = m.entries();
            let members = entries.iter().map(|(k, e)| (k.as_bytes(), e));
            write_members(out, members, style, html, level, |out, e| {
                write_json(out, e, style, html, level + 1)
            })?;
        }
        // Go's Time.MarshalJSON: RFC 3339 with nanoseconds, a string
        Value::Time(t) => {
            out.push(b'"')?;
            super::write_time_json(out, t)?;
            out.push(b'"')?;
        }
        // a struct's exported fields in order; semver's MarshalJSON: its
        // String() as a JSON string
        Value::Object(o) => match o.view() {
            View::Fields(fields) => {
                let members = fields.iter().map(|(name, f)| (name.as_bytes(), *f));
                write_members(out, members, style, html, level, |out, f| {
                    Ok(json_string(out, f.as_bytes(), html)?)
                })?;
            }
            View::Text(t) => json_string(out, t.as_bytes(), html)?,
        },
    }
    Ok(())
}

/// `MarshalIndent`'s line break and indent before an element at `level`
/// (nothing when compact).
fn newline(out: &mut Buf, style: Style, level: usize) -> Result<(), Full> {
    if style == Style::Pretty {
        out.push(b'\n')?;
        out.fill(b' ', 2 * level)?;
    }
    Ok(())
}

/// A JSON object of `members` (name, value) at nesting `level`, each value
/// written by `value`: a map's entries, or a struct's fields as Go's
/// encoding/json writes them.
fn write_members<'a, V>(
    out: &mut Buf,
    members: impl ExactSizeIterator<Item = (&'a [u8], V)>,
    style: Style,
    html: bool,
    level: usize,
    mut value: impl FnMut(&mut Buf, V) -> Result<(), Json>,
) -> Result<(), Json> {
    let newline = |out: &mut Buf, level: usize| newline(out, style, level);
    let empty = members.len() == 0;
    out.push(b'{')?;
    for (i, (name, v)) in members.enumerate() {
        if i > 0 {
            out.push(b',')?;
        }
        newline(out, level + 1)?;
        json_string(out, name, html)?;
        out.push(b':')?;
        if style == Style::Pretty {
            out.push(b' ')?;
        }
        value(out, v)?;
    }
    if !empty {
        newline(out, level)?;
    }
    Ok(out.push(b'}')?)
}

fn json_string(out: &mut Buf, s: &[u8], html: bool) -> Result<(), Full> {
    let escaped = |out: &mut Buf, c: char| out.extend(format!("\\u{:04x}", c as u32).as_bytes());
    quote_with(
        out,
        s,
        |out, c| match c {
            '<' | '>' | '&' if html => escaped(out, c),
            '\u{2028}' | '\u{2029}' => escaped(out, c),
            c if (c as u32) < 0x20 => escaped(out, c),
            c => out.push_char(c),
        },
        // encoding/json writes one U+FFFD per invalid sequence.
        |out, _| out.extend(b"\\ufffd"),
    )
}

/// Parses JSON into template values (numbers as floats, like Go).
fn from_json(ctx: &Budget, s: &[u8]) -> FResult {
    read(ctx, &[s])?;
    let tripped = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(s);
    let parsed = Seed::new(ctx, &tripped)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    parsed_or(parsed, &tripped, "json: invalid document")
}

/// External Secrets' `toYaml`: YAML of the value without the trailing
/// newline; "" if it cannot be encoded.
fn to_yaml(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let mut out = result_buf(ctx, 0);
    let mut writer = YamlOut {
        buf: &mut out,
        full: false,
    };
    let written = serde_saphyr::to_fmt_writer(&mut writer, &args[0]);
    let full = writer.full;
    ctx.bytes(out.len())?;
    match written {
        Ok(()) => {
            out.trim_end(b'\n');
            finish(ctx, out, Ok(()))
        }
        Err(_) if full => Err(FuncError::Full),
        Err(_) => Ok(Value::str("")),
    }
}

/// [`Buf`] as the `fmt::Write` the YAML emitter writes to; `full` tells a
/// full buffer from the emitter's own errors.
struct YamlOut<'a> {
    buf: &'a mut Buf,
    full: bool,
}

impl fmt::Write for YamlOut<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.buf.extend(s.as_bytes()).map_err(|Full| {
            self.full = true;
            fmt::Error
        })
    }
}

/// External Secrets' `fromYaml`: a map; on failure, a map whose `Error`
/// entry says what went wrong (the template goes on).
fn from_yaml(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let bytes = str_arg(&args[0])?;
    read(ctx, &[bytes])?;
    let text = String::from_utf8_lossy(bytes);
    let tripped = Cell::new(None);
    let parsed = serde_saphyr::with_deserializer_from_str_with_options(
        &text,
        untrusted_yaml_options(super::MAX_VALUE_DEPTH),
        |de| Seed::new(ctx, &tripped).deserialize(de),
    );
    // A limit of the render (values, bytes, depth) stops it; a limit of
    // the parser is an `Error` entry, as any other invalid document.
    if let Some(limit) = tripped.get() {
        return Err(FuncError::Limit(limit));
    }
    Ok(match parsed {
        Ok(v @ Value::Map(_)) => v,
        Ok(Value::Nil) => Value::map(BTreeMap::new(), MapKind::Any),
        Ok(_) => error_map("cannot unmarshal this value into a map"),
        Err(e) => error_map(&yaml_limit(&e).unwrap_or_else(|| "yaml: invalid document".into())),
    })
}

/// serde-saphyr's limits for untrusted YAML (secret data, a tenant's
/// template output), every one set here, with collections nested at most
/// `max_depth` deep: aliases may replay at most 100,000 events and one
/// anchor be used at most 1,000 times (go-yaml's own alias check lets ESO
/// replay about 400,000 nodes); past 100 aliases, at most 10 per anchor;
/// no snippets, which would quote the input. `fromYaml` uses it with the
/// template's value depth (values built still count against the render's
/// limits); External Secrets' `KeysAndValues` reader with its own depth.
pub fn untrusted_yaml_options(max_depth: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = max_depth;
    budget.flow_nesting_limit = max_depth;
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
    let too_deep = || format!("nested more than {} deep", super::MAX_VALUE_DEPTH);
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

fn error_map(msg: &str) -> Value {
    let mut m = BTreeMap::new();
    m.insert("Error".to_owned(), Value::str(msg));
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
                let mut map = s.serialize_map(Some(m.entries().len()))?;
                for (k, e) in m.entries().iter() {
                    map.serialize_entry(k, e)?;
                }
                map.end()
            }
            // sigs.k8s.io/yaml goes through JSON: the RFC 3339 string
            Value::Time(t) => {
                let mut buf = Buf::new(64);
                super::write_time_json(&mut buf, t)
                    .map_err(|_| serde::ser::Error::custom("time"))?;
                s.serialize_str(&String::from_utf8_lossy(buf.as_slice()))
            }
            Value::Object(o) => match o.view() {
                View::Fields(fields) => {
                    let mut map = s.serialize_map(Some(fields.len()))?;
                    for (name, f) in fields {
                        map.serialize_entry(name, &String::from_utf8_lossy(f.as_bytes()))?;
                    }
                    map.end()
                }
                View::Text(t) => s.serialize_str(&t),
            },
        }
    }
}
