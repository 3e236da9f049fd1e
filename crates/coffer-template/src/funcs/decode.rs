//! Building template values from JSON and YAML (`fromJson`, `fromYaml`)
//! within the render's limits: [`Seed`] charges each value to the budget
//! as it is built and refuses nesting past the value depth limit, so a
//! large or deep document stops at a limit instead of being built first.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::{Budget, FResult, FuncError, MAX_VALUE_DEPTH};
use crate::buf::{Buf, Full};
use crate::error::Limit;
use crate::format::write_v;
use crate::value::{MapKind, Value};

/// The parsed value; a limit that tripped while parsing; or `invalid`.
pub(super) fn parsed_or<E>(
    parsed: Result<Value, E>,
    tripped: &Cell<Option<Limit>>,
    invalid: &'static str,
) -> FResult {
    match (parsed, tripped.get()) {
        (_, Some(limit)) => Err(FuncError::Limit(limit)),
        (Ok(v), None) => Ok(v),
        (Err(_), None) => Err(FuncError::Other(invalid)),
    }
}

/// Builds template values from JSON or YAML, charging each to the budget
/// and refusing nesting past [`MAX_VALUE_DEPTH`]. A limit that trips is
/// recorded in `tripped` (serde's error type cannot carry it).
pub(super) struct Seed<'a> {
    ctx: &'a Budget,
    tripped: &'a Cell<Option<Limit>>,
    depth: usize,
}

impl<'a> Seed<'a> {
    pub(super) fn new(ctx: &'a Budget, tripped: &'a Cell<Option<Limit>>) -> Self {
        Seed {
            ctx,
            tripped,
            depth: 0,
        }
    }

    fn nested(&self) -> Self {
        Seed {
            depth: self.depth + 1,
            ..*self
        }
    }

    /// Charges one value of `bytes` bytes.
    fn charge<E: de::Error>(&self, bytes: usize) -> Result<(), E> {
        self.ctx
            .values(1)
            .and_then(|()| self.ctx.bytes(bytes))
            .map_err(|limit| self.trip(limit))
    }

    fn trip<E: de::Error>(&self, limit: Limit) -> E {
        self.tripped.set(Some(limit));
        E::custom("limit")
    }

    fn enter<E: de::Error>(&self) -> Result<(), E> {
        if self.depth >= MAX_VALUE_DEPTH {
            return Err(self.trip(Limit::Depth(MAX_VALUE_DEPTH)));
        }
        self.charge(0)
    }
}

impl Clone for Seed<'_> {
    fn clone(&self) -> Self {
        *self
    }
}

impl Copy for Seed<'_> {}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    // Go decodes every JSON number into float64
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Float(i as f64))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Float(u as f64))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        self.charge(s.len())?;
        Ok(Value::str(s))
    }
    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Value, E> {
        self.charge(b.len())?;
        Ok(Value::str(b))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(self.nested())? {
            self.charge(0)?;
            items.push(v);
        }
        Ok(Value::list(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mut entries = BTreeMap::new();
        while let Some(k) = map.next_key_seed(KeySeed(self.nested()))? {
            self.charge(k.len())?;
            entries.insert(k, map.next_value_seed(self.nested())?);
        }
        Ok(Value::map(entries, MapKind::Any))
    }
}

/// A map key; YAML keys that are numbers or booleans become their text.
struct KeySeed<'a>(Seed<'a>);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        match self.0.deserialize(d)? {
            Value::Str(s) => Ok(String::from_utf8_lossy(s.as_bytes()).into_owned()),
            Value::Map(_) | Value::List(_) => Err(de::Error::custom("map keys must be scalars")),
            other => {
                let mut out = Buf::new(64);
                write_v(&mut out, &other).map_err(|Full| de::Error::custom("key too long"))?;
                Ok(String::from_utf8_lossy(out.as_slice()).into_owned())
            }
        }
    }
}
