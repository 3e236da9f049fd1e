//! The function sets templates can call: Go's builtins (all of them:
//! `builtin`, `escape`) plus the sprig functions each caller allows
//! (`strings`, `words`, `case`, `encoding`, `lists`, `collections`,
//! `dicts`, `floats`, `dates`, `url`, `random`, `reflect`, `json_yaml`,
//! `regex`, `paths`, `semver`, `keygen`, and `certs` on `cert_keys`),
//! External Secrets' own helpers (`eso`, `jwk`, `pkcs12`, on the `pem`
//! port), and the argument helpers they share.
//!
//! sealed-secrets renders with sprig's `GenericFuncMap()` minus `env`,
//! `expandenv` and `getHostByName`; External Secrets (`engineVersion: v2`)
//! with its own copy of sprig's `TxtFuncMap()` (the same minus `env`,
//! `expandenv` and `getHostByName`, plus `hexdec`) and its helpers. A sprig
//! name we do not implement yields a distinct "not supported" error.
//!
//! Every function charges its work to the render's [`Budget`] as it goes
//! (bytes read and written, values built), builds strings in a [`Buf`] that
//! stops at the value limit, and uses only algorithms linear in what it
//! reads and writes, so no call costs more than the limits allow. Errors
//! are fixed texts: nothing computed from the data (see `crate::error`).

mod aes;
mod base32;
mod builtin;
mod case;
mod cert_keys;
mod certs;
mod collections;
mod dates;
pub(crate) use dates::{write_time, write_time_json};
mod decode;
mod dicts;
mod encoding;
mod escape;
mod eso;
mod floats;
mod golayout;
mod json_yaml;
mod jwk;
mod keygen;
pub use json_yaml::untrusted_yaml_options;
mod lists;
mod master_password;
mod paths;
mod pem;
mod pkcs12;
mod random;
mod reflect;
mod regex;
mod semver;
pub(crate) use semver::Version as SemVersion;
mod strings;
mod url;
mod words;

pub(crate) use crate::budget::Budget;
use crate::buf::{Buf, Full};
use crate::error::{ErrorKind, Limit};
use crate::format;
use crate::value::{MapKind, Value};

/// Which caller's function set a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FunctionSet {
    /// Bitnami sealed-secrets `spec.template.data`.
    #[default]
    Bitnami,
    /// External Secrets Operator templates (`engineVersion: v2`).
    Eso,
}

/// Why a function call failed; the caller adds the function name. Every
/// reason is a fixed text (`&'static str`): see `crate::error`.
#[derive(Debug)]
pub(crate) enum FuncError {
    /// Wrong argument count; what it accepts (`2`, `at least 1`).
    Arity(String),
    /// An argument of the wrong type (the expected one).
    Type(&'static str),
    /// A nil argument where a value of this type is expected.
    Invalid(&'static str),
    /// Anything else.
    Other(&'static str),
    /// A result would pass the value limit.
    Full,
    /// A render-wide limit.
    Limit(Limit),
}

impl From<Limit> for FuncError {
    fn from(l: Limit) -> Self {
        FuncError::Limit(l)
    }
}

impl From<Full> for FuncError {
    fn from(_: Full) -> Self {
        FuncError::Full
    }
}

impl FuncError {
    /// The error of calling `func` with `got` arguments, under a value
    /// limit of `max_value` bytes.
    pub(crate) fn into_kind(self, func: &str, got: usize, max_value: usize) -> ErrorKind {
        let func = func.to_owned();
        match self {
            FuncError::Arity(want) => ErrorKind::ArgCount { func, want, got },
            FuncError::Type(expected) => ErrorKind::ArgType { func, expected },
            FuncError::Invalid(expected) => ErrorKind::Call {
                func,
                reason: match expected {
                    "string" => "invalid value; expected string",
                    "int" => "invalid value; expected int",
                    _ => "invalid value",
                },
            },
            FuncError::Other(reason) => ErrorKind::Call { func, reason },
            FuncError::Full => ErrorKind::Limit(Limit::ValueSize(max_value)),
            FuncError::Limit(l) => ErrorKind::Limit(l),
        }
    }
}

pub(crate) type FResult = Result<Value, FuncError>;
pub(crate) type Func = fn(&Budget, &[Value]) -> FResult;

/// The result of looking a function name up.
pub(crate) enum Lookup {
    Found(Func),
    Unsupported,
    Undefined,
}

/// Finds `name` in `set`. `and` and `or` are evaluated lazily by the
/// executor and never reach here.
pub(crate) fn lookup(set: FunctionSet, name: &str) -> Lookup {
    if let Some(f) = builtin::find(name)
        .or_else(|| strings::find(name))
        .or_else(|| encoding::find(name))
        .or_else(|| lists::find(name))
        .or_else(|| json_yaml::find(name))
        .or_else(|| escape::find(name))
        .or_else(|| regex::find(name))
        .or_else(|| collections::find(name))
        .or_else(|| words::find(name))
        .or_else(|| paths::find(name))
        .or_else(|| dicts::find(name))
        .or_else(|| case::find(name))
        .or_else(|| floats::find(name))
        .or_else(|| dates::find(name))
        .or_else(|| random::find(name))
        .or_else(|| reflect::find(name))
        .or_else(|| url::find(name))
        .or_else(|| semver::find(name))
        .or_else(|| aes::find(name))
        .or_else(|| master_password::find(name))
        .or_else(|| keygen::find(name))
        .or_else(|| certs::find(name))
    {
        return Lookup::Found(f);
    }
    if set == FunctionSet::Eso
        && let Some(f) = json_yaml::find_eso(name)
            .or_else(|| eso::find(name))
            .or_else(|| jwk::find(name))
            .or_else(|| pkcs12::find(name))
    {
        return Lookup::Found(f);
    }
    let removed = match set {
        FunctionSet::Bitnami => ["env", "expandenv", "getHostByName"].contains(&name),
        // ESO's own copy of sprig (v2.9) leaves out getHostByName too
        FunctionSet::Eso => ["env", "expandenv", "getHostByName"].contains(&name),
    };
    if !removed && SPRIG_NAMES.contains(&name) {
        Lookup::Unsupported
    } else {
        Lookup::Undefined
    }
}

/// Every sprig v3 function name, so unimplemented ones get a clear error.
const SPRIG_NAMES: &[&str] = &[
    "hello",
    "ago",
    "date",
    "date_in_zone",
    "date_modify",
    "dateInZone",
    "dateModify",
    "duration",
    "durationRound",
    "htmlDate",
    "htmlDateInZone",
    "must_date_modify",
    "mustDateModify",
    "mustToDate",
    "now",
    "toDate",
    "unixEpoch",
    "abbrev",
    "abbrevboth",
    "trunc",
    "trim",
    "upper",
    "lower",
    "title",
    "untitle",
    "substr",
    "repeat",
    "trimall",
    "trimAll",
    "trimSuffix",
    "trimPrefix",
    "nospace",
    "initials",
    "randAlphaNum",
    "randAlpha",
    "randAscii",
    "randNumeric",
    "swapcase",
    "shuffle",
    "snakecase",
    "camelcase",
    "kebabcase",
    "wrap",
    "wrapWith",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "quote",
    "squote",
    "cat",
    "indent",
    "nindent",
    "replace",
    "plural",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "adler32sum",
    "toString",
    "atoi",
    "int64",
    "int",
    "float64",
    "seq",
    "toDecimal",
    "split",
    "splitList",
    "splitn",
    "toStrings",
    "until",
    "untilStep",
    "add1",
    "add",
    "sub",
    "div",
    "mod",
    "mul",
    "randInt",
    "add1f",
    "addf",
    "subf",
    "divf",
    "mulf",
    "biggest",
    "max",
    "min",
    "maxf",
    "minf",
    "ceil",
    "floor",
    "round",
    "join",
    "sortAlpha",
    "default",
    "empty",
    "coalesce",
    "all",
    "any",
    "compact",
    "mustCompact",
    "fromJson",
    "toJson",
    "toPrettyJson",
    "toRawJson",
    "mustFromJson",
    "mustToJson",
    "mustToPrettyJson",
    "mustToRawJson",
    "ternary",
    "deepCopy",
    "mustDeepCopy",
    "typeOf",
    "typeIs",
    "typeIsLike",
    "kindOf",
    "kindIs",
    "deepEqual",
    "env",
    "expandenv",
    "getHostByName",
    "base",
    "dir",
    "clean",
    "ext",
    "isAbs",
    "osBase",
    "osClean",
    "osDir",
    "osExt",
    "osIsAbs",
    "b64enc",
    "b64dec",
    "b32enc",
    "b32dec",
    "tuple",
    "list",
    "dict",
    "get",
    "set",
    "unset",
    "hasKey",
    "pluck",
    "keys",
    "pick",
    "omit",
    "merge",
    "mergeOverwrite",
    "mustMerge",
    "mustMergeOverwrite",
    "values",
    "append",
    "push",
    "mustAppend",
    "mustPush",
    "prepend",
    "mustPrepend",
    "first",
    "mustFirst",
    "rest",
    "mustRest",
    "last",
    "mustLast",
    "initial",
    "mustInitial",
    "reverse",
    "mustReverse",
    "uniq",
    "mustUniq",
    "without",
    "mustWithout",
    "has",
    "mustHas",
    "concat",
    "dig",
    "chunk",
    "mustChunk",
    "bcrypt",
    "htpasswd",
    "genPrivateKey",
    "derivePassword",
    "buildCustomCert",
    "genCA",
    "genCAWithKey",
    "genSelfSignedCert",
    "genSelfSignedCertWithKey",
    "genSignedCert",
    "genSignedCertWithKey",
    "encryptAES",
    "decryptAES",
    "randBytes",
    "uuidv4",
    "semver",
    "semverCompare",
    "fail",
    "urlParse",
    "urlJoin",
    // External Secrets' own functions
    "pkcs12key",
    "pkcs12keyPass",
    "pkcs12cert",
    "pkcs12certPass",
    "filterPEM",
    "filterCertChain",
    "certSANs",
    "rsaDecrypt",
    "pemToPkcs12",
    "pemToPkcs12Pass",
    "fullPemToPkcs12",
    "fullPemToPkcs12Pass",
    "pemTruststoreToPKCS12",
    "pemTruststoreToPKCS12Pass",
    "jwkPublicKeyPem",
    "jwkPrivateKeyPem",
    "toYaml",
    "fromYaml",
];

/// Checks the argument count is exactly `n`.
pub(crate) fn arity(args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(FuncError::Arity(n.to_string()))
    }
}

/// Checks the argument count is at least `n`.
pub(crate) fn arity_min(args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() >= n {
        Ok(())
    } else {
        Err(FuncError::Arity(format!("at least {n}")))
    }
}

/// A `string` parameter: Go refuses other types (nil is "invalid value").
pub(crate) fn str_arg(v: &Value) -> Result<&[u8], FuncError> {
    match v {
        Value::Str(s) => Ok(s.as_bytes()),
        Value::Nil => Err(FuncError::Invalid("string")),
        _ => Err(FuncError::Type("string")),
    }
}

/// An `int` parameter (an integral float constant is accepted, as Go's
/// parser does for literals like `4.0`).
pub(crate) fn int_arg(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(*f as i64),
        Value::Nil => Err(FuncError::Invalid("int")),
        _ => Err(FuncError::Type("int")),
    }
}

/// sprig's `strval`, appended to `out`: strings as they are, anything else
/// as `%v`.
pub(crate) fn write_strval(out: &mut Buf, v: &Value) -> Result<(), Full> {
    match v {
        Value::Str(s) => out.extend(s.as_bytes()),
        other => format::write_v(out, other),
    }
}

/// Refuses a result of `len` bytes (or elements) past the value limit,
/// before it is built.
pub(crate) fn check_len(ctx: &Budget, len: usize) -> Result<(), FuncError> {
    if len > ctx.max_value() {
        Err(FuncError::Full)
    } else {
        Ok(())
    }
}

/// An empty buffer for a function's string result (at most the value
/// limit), with room for `capacity` bytes.
pub(crate) fn result_buf(ctx: &Budget, capacity: usize) -> Buf {
    Buf::with_capacity(capacity, ctx.max_value())
}

/// A string result built into `out` by `built`: what was written is charged
/// whether or not building finished, then the string is returned.
pub(crate) fn finish(ctx: &Budget, out: Buf, built: Result<(), Full>) -> FResult {
    ctx.bytes(out.len())?;
    built?;
    ctx.values(1)?;
    Ok(out.into_value())
}

/// A string result that is a copy of `bytes` (a slice of an argument).
pub(crate) fn copied(ctx: &Budget, bytes: &[u8]) -> FResult {
    check_len(ctx, bytes.len())?;
    let mut out = result_buf(ctx, bytes.len());
    let built = out.extend(bytes);
    finish(ctx, out, built)
}

/// Charges reading `args`' strings (a function that scans them).
pub(crate) fn read(ctx: &Budget, args: &[&[u8]]) -> Result<(), FuncError> {
    for a in args {
        ctx.bytes(a.len())?;
    }
    Ok(())
}

/// How deeply lists and dicts built by templates may nest.
pub(crate) const MAX_VALUE_DEPTH: usize = 64;

/// Guards a collection a function built (its elements were charged as
/// they were added): its weight (what printing it would copy) against the
/// value limit, and its nesting depth. Both are known without walking it.
pub(crate) fn collection(ctx: &Budget, v: Value) -> FResult {
    if v.weight() > ctx.max_value() {
        return Err(FuncError::Full);
    }
    if v.depth() > MAX_VALUE_DEPTH {
        return Err(FuncError::Limit(Limit::Depth(MAX_VALUE_DEPTH)));
    }
    Ok(v)
}

/// A map of the given kind from `entries`, guarded as a [`collection`].
pub(crate) fn map_result(
    ctx: &Budget,
    entries: std::collections::BTreeMap<String, Value>,
    kind: MapKind,
) -> FResult {
    collection(ctx, Value::map(entries, kind))
}
