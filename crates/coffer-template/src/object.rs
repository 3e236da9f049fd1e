//! The two Go values sprig functions return that are neither strings nor
//! collections: sprig's `certificate` struct (`genCA` and friends: fields
//! `Cert` and `Key`) and Masterminds/semver's `*Version` (`semver`: read
//! through its methods without arguments, `.Major`, `.Original`, ...).
//!
//! Templates use them as Go does: a field or a method without arguments is
//! read with `.Name`; printing shows what Go's `fmt` shows (a struct as
//! `{Cert Key}`, a version through its `String()` method); `toJson` writes
//! what `encoding/json` writes. A method that takes arguments (`.Compare`,
//! `.GreaterThan`, ...) is refused by name: coffer-template calls no
//! methods with arguments.

use std::fmt;

use crate::funcs::SemVersion;
use crate::value::{Str, Value};

/// A Go struct or pointer a sprig function returned. Opaque: templates
/// read it by field name.
#[derive(Clone)]
pub struct Object(pub(crate) Kind);

#[derive(Clone)]
pub(crate) enum Kind {
    /// sprig's `certificate{Cert, Key string}`: PEM text; `Key` is a
    /// private key, held (like every string) in a zeroizing buffer.
    Certificate { cert: Str, key: Str },
    /// Masterminds/semver's `Version`: `*Version` from `semver`, a
    /// `Version` value from `.IncMajor` and the like (Go's types differ,
    /// and so do `typeOf` and `kindOf`).
    Semver { version: SemVersion, pointer: bool },
}

/// Why `.name` cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldError {
    /// No field or method of that name.
    NoSuch,
    /// A method that takes arguments, or returns what no template value
    /// can hold.
    Method,
    /// A version number past what an `int` holds.
    TooLarge,
}

/// Why `.Compare` and the like fail.
pub(crate) const METHOD_WITH_ARGS: &str =
    "a method with arguments, which coffer-template does not call";

/// semver's methods that take arguments (or return `[]byte` and an error):
/// Go would call them, we refuse them by name.
const SEMVER_METHODS: &[&str] = &[
    "Compare",
    "Equal",
    "GreaterThan",
    "GreaterThanEqual",
    "LessThan",
    "LessThanEqual",
    "SetPrerelease",
    "SetMetadata",
    "Admits",
    "AdmitsAny",
    "Intersect",
    "Union",
    "IsMagic",
    "MarshalJSON",
    "MarshalText",
    "UnmarshalJSON",
    "UnmarshalText",
    "Scan",
    "Value",
];

impl Object {
    /// sprig's `certificate`.
    pub(crate) fn certificate(cert: Str, key: Str) -> Value {
        Value::Object(std::rc::Rc::new(Object(Kind::Certificate { cert, key })))
    }

    /// A semver version: `*Version` when `pointer`, else `Version`.
    pub(crate) fn semver(version: SemVersion, pointer: bool) -> Value {
        Value::Object(std::rc::Rc::new(Object(Kind::Semver { version, pointer })))
    }

    /// Go's name of the type (`%T`).
    pub(crate) fn type_name(&self) -> &'static str {
        match &self.0 {
            Kind::Certificate { .. } => "sprig.certificate",
            Kind::Semver { pointer: true, .. } => "*semver.Version",
            Kind::Semver { pointer: false, .. } => "semver.Version",
        }
    }

    /// Go's `reflect.Kind` of the value.
    pub(crate) fn kind_name(&self) -> &'static str {
        match &self.0 {
            Kind::Semver { pointer: true, .. } => "ptr",
            _ => "struct",
        }
    }

    /// `.name`: a field, or a method without arguments.
    pub(crate) fn field(&self, name: &str) -> Result<Value, FieldError> {
        match &self.0 {
            Kind::Certificate { cert, key } => match name {
                "Cert" => Ok(Value::Str(cert.clone())),
                "Key" => Ok(Value::Str(key.clone())),
                _ => Err(FieldError::NoSuch),
            },
            Kind::Semver {
                version: v,
                pointer,
            } => {
                let int = |n: u64| {
                    i64::try_from(n)
                        .map(Value::Int)
                        .map_err(|_| FieldError::TooLarge)
                };
                match name {
                    "Major" => int(v.major),
                    "Minor" => int(v.minor),
                    "Patch" => int(v.patch),
                    "Prerelease" => Ok(Value::str(&v.pre)),
                    "Metadata" => Ok(Value::str(&v.metadata)),
                    // a pointer method: Go finds it only on `*Version`
                    "Original" if *pointer => Ok(Value::str(&v.original)),
                    "String" => Ok(Value::str(v.to_string())),
                    "IncMajor" => Ok(Object::semver(v.inc_major(), false)),
                    "IncMinor" => Ok(Object::semver(v.inc_minor(), false)),
                    "IncPatch" => Ok(Object::semver(v.inc_patch(), false)),
                    m if SEMVER_METHODS.contains(&m) => Err(FieldError::Method),
                    _ => Err(FieldError::NoSuch),
                }
            }
        }
    }

    /// Whether `.name` names a method that takes arguments.
    pub(crate) fn has_method_with_args(&self, name: &str) -> bool {
        matches!(self.0, Kind::Semver { .. }) && SEMVER_METHODS.contains(&name)
    }

    /// What printing copies (the weight of the value, as for collections).
    pub(crate) fn weight(&self) -> usize {
        match &self.0 {
            Kind::Certificate { cert, key } => 3 + cert.len() + key.len(),
            Kind::Semver { version, .. } => 1 + version.original.len() + version.to_string().len(),
        }
    }

    /// The fields `encoding/json` and `fmt` see, in order, or the string
    /// the value stands for (semver's `String()` and `MarshalJSON`).
    pub(crate) fn view(&self) -> View<'_> {
        match &self.0 {
            Kind::Certificate { cert, key } => View::Fields([("Cert", cert), ("Key", key)]),
            Kind::Semver { version, .. } => View::Text(version.to_string()),
        }
    }

    /// Go's `==` on the two values (`eq`): a struct compares its fields, a
    /// pointer its address (two `semver` calls never give the same one).
    pub(crate) fn go_equal(self: &std::rc::Rc<Self>, other: &std::rc::Rc<Self>) -> Option<bool> {
        match (&self.0, &other.0) {
            (Kind::Certificate { cert: a, key: b }, Kind::Certificate { cert: c, key: d }) => {
                Some(a.as_bytes() == c.as_bytes() && b.as_bytes() == d.as_bytes())
            }
            (Kind::Semver { pointer: true, .. }, Kind::Semver { pointer: true, .. }) => {
                Some(std::rc::Rc::ptr_eq(self, other))
            }
            (
                Kind::Semver {
                    version: a,
                    pointer: false,
                },
                Kind::Semver {
                    version: b,
                    pointer: false,
                },
            ) => Some(a == b),
            _ => None,
        }
    }

    /// `reflect.DeepEqual`: same type and equal contents.
    pub(crate) fn deep_equal(&self, other: &Object) -> bool {
        match (&self.0, &other.0) {
            (Kind::Certificate { cert: a, key: b }, Kind::Certificate { cert: c, key: d }) => {
                a.as_bytes() == c.as_bytes() && b.as_bytes() == d.as_bytes()
            }
            (
                Kind::Semver {
                    version: a,
                    pointer: p,
                },
                Kind::Semver {
                    version: b,
                    pointer: q,
                },
            ) => p == q && a == b,
            _ => false,
        }
    }
}

/// How an object prints and encodes.
pub(crate) enum View<'a> {
    /// A struct's exported fields, in declaration order.
    Fields([(&'static str, &'a Str); 2]),
    /// A value that stands for this text.
    Text(String),
}

impl fmt::Debug for Object {
    /// The type only: a certificate holds a private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Object({})", self.type_name())
    }
}
