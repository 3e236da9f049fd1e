//! The dynamic values templates compute with, and [`Data`], the secret
//! key/value map a template is rendered against.
//!
//! Strings are byte strings, as in Go: a Secret value need not be UTF-8, and
//! `{{ .cert | b64enc }}` must encode its exact bytes. That is why there is no
//! separate bytes variant: both callers (sealed-secrets and External Secrets)
//! hand Go's template a `map[string]string`, whose values are arbitrary bytes.
//!
//! Every string buffer is zeroized when its last reference is dropped, and
//! `Debug` never shows a string's contents.

use std::cell::{Cell, Ref, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use zeroize::Zeroizing;

use crate::object::Object;

/// A value during template execution.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's untyped nil, and what a missing map key yields with
    /// `MissingKey::Default` (printed as `<no value>`).
    #[default]
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer (Go `int`, 64-bit).
    Int(i64),
    /// A floating-point number (Go `float64`).
    Float(f64),
    /// A byte string (Go `string`).
    Str(Str),
    /// A list (Go `[]interface{}`).
    List(Rc<List>),
    /// A map with string keys, iterated in key order as Go's `range` does.
    Map(Rc<Map>),
    /// Go's `time.Time` (sprig's `now`, `toDate`, ...).
    Time(Rc<Time>),
    /// A struct or pointer another sprig function returns: a certificate
    /// (`genCA`, ...) or a semantic version (`semver`), read by field.
    Object(Rc<Object>),
}

/// An instant in a time zone, as Go's `time.Time` holds it.
#[derive(Clone)]
pub struct Time {
    /// The instant and its zone.
    pub(crate) at: jiff::Zoned,
    /// The zone's name where it is not the zone's own abbreviation: Go's
    /// `FixedZone(name, offset)` from parsing (empty for an unnamed one).
    pub(crate) name: Option<String>,
}

/// An immutable, shared byte string that is zeroized when dropped.
#[derive(Clone)]
pub struct Str(Rc<Zeroizing<Vec<u8>>>);

impl Str {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Str {
    fn from(v: Vec<u8>) -> Self {
        Str(Rc::new(Zeroizing::new(v)))
    }
}

impl From<Zeroizing<Vec<u8>>> for Str {
    fn from(v: Zeroizing<Vec<u8>>) -> Self {
        Str(Rc::new(v))
    }
}

/// How big and how deep a list or map is, computed once when it is built
/// from its elements' own shapes, so no function ever walks a value to
/// measure it. (Walking is what made `$a = list $a $a` exponential: the
/// halves are shared, but a walk visits each as often as it appears.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    /// See [`Value::weight`].
    weight: usize,
    /// See [`Value::depth`].
    depth: usize,
}

impl Shape {
    /// The shape of a collection of `children`, each with the length of
    /// its key (0 in a list).
    fn of<'a>(children: impl Iterator<Item = (usize, &'a Value)>) -> Shape {
        let mut shape = Shape {
            weight: 1,
            depth: 1,
        };
        for (key_len, child) in children {
            shape.weight = shape
                .weight
                .saturating_add(key_len)
                .saturating_add(child.weight());
            shape.depth = shape.depth.max(child.depth().saturating_add(1));
        }
        shape
    }
}

/// Marks the maps among `children` as held by a collection (see
/// `Map::set`).
fn contain<'a>(children: impl Iterator<Item = &'a Value>) {
    for c in children {
        if let Value::Map(m) = c {
            m.contained.set(true);
        }
    }
}

/// A list value: its elements and their [`Shape`].
pub struct List {
    items: Vec<Value>,
    shape: Shape,
}

impl List {
    /// The elements.
    pub fn items(&self) -> &[Value] {
        &self.items
    }
}

impl std::ops::Deref for List {
    type Target = [Value];

    fn deref(&self) -> &[Value] {
        &self.items
    }
}

/// What a missing key of a map yields under `index` (and under field access
/// with `MissingKey::Zero`): Go's zero value of the map's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    /// `map[string]string`: the template data and sprig's `split`; zero is `""`.
    Strings,
    /// `map[string]interface{}`: `dict`, `fromJson`; zero is nil.
    Any,
}

/// A map value: sorted entries, the kind that decides its zero value, and
/// its [`Shape`].
///
/// sprig's `set`, `unset` and `merge` change a dict in place, and Go
/// templates rely on that (`{{ $_ := set $d "k" "v" }}`), so the entries
/// can change; but only while no list or map holds this one (see
/// `Map::set`): a collection's shape is recorded when it is built, which
/// a change below it would make wrong, and a map that could be changed
/// after it was put somewhere could be put into itself.
pub struct Map {
    entries: RefCell<BTreeMap<String, Value>>,
    kind: MapKind,
    shape: Cell<Shape>,
    /// Whether a list or map holds (or held) this map. Never cleared.
    contained: Cell<bool>,
}

/// Why a map cannot be changed in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frozen {
    /// A list or map holds it.
    Contained,
    /// The value to store is the map itself.
    Itself,
}

impl Map {
    /// The entries, sorted by key. Borrowed: nothing may change the map
    /// while the borrow lives (only `set`/`unset`/`merge` change maps, and
    /// they take no borrow across other template code).
    pub fn entries(&self) -> Ref<'_, BTreeMap<String, Value>> {
        self.entries.borrow()
    }

    /// Whether this map may be changed in place: no collection holds it.
    pub(crate) fn check_changeable(&self) -> Result<(), Frozen> {
        if self.contained.get() {
            Err(Frozen::Contained)
        } else {
            Ok(())
        }
    }

    /// Stores `value` under `key` in place (sprig's `set`), keeping the
    /// shape up to date in constant time (depth only grows: a removed deep
    /// entry leaves it an over-estimate, which only errs on the safe side).
    pub(crate) fn set(self: &Rc<Self>, key: String, value: Value) -> Result<(), Frozen> {
        self.check_changeable()?;
        if let Value::Map(inner) = &value
            && Rc::ptr_eq(inner, self)
        {
            return Err(Frozen::Itself);
        }
        contain(std::iter::once(&value));
        let key_len = key.len();
        let mut shape = self.shape.get();
        shape.weight = shape
            .weight
            .saturating_add(key.len())
            .saturating_add(value.weight());
        shape.depth = shape.depth.max(value.depth().saturating_add(1));
        if let Some(old) = self.entries.borrow_mut().insert(key, value) {
            // replaced: its key and value are no longer there
            shape.weight = shape
                .weight
                .saturating_sub(key_len)
                .saturating_sub(old.weight());
        }
        self.shape.set(shape);
        Ok(())
    }

    /// Removes `key` in place (sprig's `unset`).
    pub(crate) fn unset(&self, key: &str) -> Result<(), Frozen> {
        self.check_changeable()?;
        if let Some(old) = self.entries.borrow_mut().remove(key) {
            let mut shape = self.shape.get();
            shape.weight = shape
                .weight
                .saturating_sub(key.len())
                .saturating_sub(old.weight());
            self.shape.set(shape);
        }
        Ok(())
    }

    /// What a missing key yields.
    pub fn kind(&self) -> MapKind {
        self.kind
    }

    /// Go's zero value for this map's elements.
    pub fn zero(&self) -> Value {
        match self.kind {
            MapKind::Strings => Value::str(""),
            MapKind::Any => Value::Nil,
        }
    }
}

impl Value {
    /// A string value from text or bytes.
    pub fn str(s: impl AsRef<[u8]>) -> Value {
        Value::Str(Str::from(s.as_ref().to_vec()))
    }

    /// A string value taking ownership of a buffer.
    pub fn string(v: Vec<u8>) -> Value {
        Value::Str(Str::from(v))
    }

    /// A list value. Costs one pass over `items` (not over what they hold).
    pub fn list(items: Vec<Value>) -> Value {
        let shape = Shape::of(items.iter().map(|v| (0, v)));
        contain(items.iter());
        Value::List(Rc::new(List { items, shape }))
    }

    /// A map value. Costs one pass over `entries` (not over what they hold).
    pub fn map(entries: BTreeMap<String, Value>, kind: MapKind) -> Value {
        let shape = Shape::of(entries.iter().map(|(k, v)| (k.len(), v)));
        contain(entries.values());
        Value::Map(Rc::new(Map {
            entries: RefCell::new(entries),
            kind,
            shape: Cell::new(shape),
            contained: Cell::new(false),
        }))
    }

    /// The Go type name used in error messages ("expected string; got int").
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(m) => match m.kind {
                MapKind::Strings => "map[string]string",
                MapKind::Any => "map[string]interface {}",
            },
            Value::Time(_) => "time.Time",
            Value::Object(o) => o.type_name(),
        }
    }

    /// Go's truth for `if`, `with`, `and`, `or`, `not`: false, 0, nil and
    /// empty strings, lists and maps are false.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.entries().is_empty(),
            // a struct is always true, and so is a pointer that is not nil
            Value::Time(_) | Value::Object(_) => true,
        }
    }

    /// How deeply lists and maps nest inside this value (a scalar is 0).
    /// Constant time: recorded when the value was built.
    pub(crate) fn depth(&self) -> usize {
        match self {
            Value::List(l) => l.shape.depth,
            Value::Map(m) => m.shape.get().depth,
            _ => 0,
        }
    }

    /// How much this value holds, as Go would copy it when printing it: one
    /// per list, map and scalar, plus the bytes of every string and map key,
    /// a shared element counted as often as it appears. Printing, encoding
    /// or sorting a value is proportional to this. Constant time: recorded
    /// when the value was built.
    pub(crate) fn weight(&self) -> usize {
        match self {
            Value::List(l) => l.shape.weight,
            Value::Map(m) => m.shape.get().weight,
            Value::Str(s) => s.len().max(1),
            Value::Object(o) => o.weight(),
            _ => 1,
        }
    }
}

impl fmt::Debug for Value {
    /// Shows the kind and size only: strings, map keys (which `fromJson`
    /// can take from a secret) and numbers may be secrets, and a list may
    /// share its elements exponentially often, so nothing is walked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("Nil"),
            Value::Bool(_) => f.write_str("Bool(..)"),
            Value::Int(_) => f.write_str("Int(..)"),
            Value::Float(_) => f.write_str("Float(..)"),
            Value::Str(s) => write!(f, "Str(<{} bytes redacted>)", s.len()),
            Value::List(l) => write!(f, "List(<{} items>)", l.len()),
            Value::Map(m) => write!(f, "Map(<{} entries>)", m.entries().len()),
            Value::Time(_) => f.write_str("Time(..)"),
            Value::Object(o) => o.fmt(f),
        }
    }
}

/// The data a template renders against: Secret keys mapped to their
/// (decrypted or fetched) values. `.` in the template is this map.
///
/// Values are zeroized on drop and never shown by `Debug`.
#[derive(Default, Clone)]
pub struct Data {
    entries: BTreeMap<String, Zeroizing<Vec<u8>>>,
}

impl Data {
    /// An empty data map.
    pub fn new() -> Self {
        Data::default()
    }

    /// Adds or replaces the value of `key`.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.entries
            .insert(key.into(), Zeroizing::new(value.into()));
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The template's view of the data: a `map[string]string`.
    pub(crate) fn to_value(&self) -> Value {
        let entries = self
            .entries
            .iter()
            .map(|(k, v)| (k.clone(), Value::str(v.as_slice())))
            .collect();
        Value::map(entries, MapKind::Strings)
    }
}

impl<K: Into<String>, V: Into<Vec<u8>>> FromIterator<(K, V)> for Data {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut d = Data::new();
        for (k, v) in iter {
            d.insert(k, v);
        }
        d
    }
}

impl fmt::Debug for Data {
    /// Lists the keys only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Data")
            .field("keys", &self.entries.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_data_and_values_shows_keys_but_never_values() {
        let data: Data = [("password", "hunter2-s3cret")].into_iter().collect();
        let shown = format!("{data:?} {:?}", data.to_value());
        assert!(shown.contains("password"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn truth_follows_go_empty_values() {
        assert!(!Value::Nil.is_true());
        assert!(!Value::str("").is_true());
        assert!(Value::str("0").is_true());
        assert!(!Value::Int(0).is_true());
        assert!(!Value::list(vec![]).is_true());
        assert!(Value::list(vec![Value::Nil]).is_true());
    }

    #[test]
    fn depth_counts_nested_collections() {
        let v = Value::list(vec![Value::list(vec![Value::Int(1)]), Value::Nil]);
        assert_eq!(v.depth(), 2);
        assert_eq!(Value::Int(1).depth(), 0);
    }

    #[test]
    fn weight_counts_shared_parts_as_often_as_they_appear_without_walking() {
        let mut a = Value::list(vec![Value::str("abc")]);
        assert_eq!(a.weight(), 1 + 3);
        // 2^60 copies of "abc" if expanded: computed in 60 steps, saturating.
        for _ in 0..60 {
            a = Value::list(vec![a.clone(), a]);
        }
        assert!(a.weight() > 1 << 61, "{}", a.weight());
        assert_eq!(a.depth(), 61);
        let m = Value::map(
            [("key".to_owned(), Value::str("vv"))].into_iter().collect(),
            MapKind::Any,
        );
        assert_eq!(m.weight(), 1 + 3 + 2);
    }
}
