//! The function sets templates can call: Go's builtins plus the sprig
//! functions each caller allows, and the argument helpers the functions share.
//!
//! sealed-secrets renders with sprig's `GenericFuncMap()` minus `env`,
//! `expandenv` and `getHostByName`; External Secrets (`engineVersion: v2`)
//! with sprig's `TxtFuncMap()` minus `env` and `expandenv`, plus its own
//! `toYaml`/`fromYaml` (and PKCS#12/PEM/JWK helpers we leave out). A sprig
//! name we do not implement yields a distinct "not supported" error.

mod builtin;
mod encoding;
mod json_yaml;
mod lists;
mod strings;

use crate::error::{ErrorKind, Limit};
use crate::value::Value;

/// Which caller's function set a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FunctionSet {
    /// Bitnami sealed-secrets `spec.template.data`.
    #[default]
    Bitnami,
    /// External Secrets Operator templates (`engineVersion: v2`).
    Eso,
}

/// Limits functions must respect while building values.
pub(crate) struct Ctx {
    pub(crate) max_value: usize,
}

/// Why a function call failed; the caller adds the function name.
#[derive(Debug)]
pub(crate) enum FuncError {
    Arity(String),
    Type {
        expected: &'static str,
        got: &'static str,
    },
    Invalid(&'static str),
    Other(String),
    Limit(Limit),
}

impl FuncError {
    pub(crate) fn into_kind(self, func: &str, got: usize) -> ErrorKind {
        let func = func.to_owned();
        match self {
            FuncError::Arity(want) => ErrorKind::ArgCount { func, want, got },
            FuncError::Type { expected, got } => ErrorKind::ArgType {
                func,
                expected,
                got,
            },
            FuncError::Invalid(expected) => ErrorKind::Call {
                func,
                reason: format!("invalid value; expected {expected}"),
            },
            FuncError::Other(reason) => ErrorKind::Call { func, reason },
            FuncError::Limit(l) => ErrorKind::Limit(l),
        }
    }
}

pub(crate) type FResult = Result<Value, FuncError>;
pub(crate) type Func = fn(&Ctx, &[Value]) -> FResult;

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
    {
        return Lookup::Found(f);
    }
    if set == FunctionSet::Eso
        && let Some(f) = json_yaml::find_eso(name)
    {
        return Lookup::Found(f);
    }
    let removed = match set {
        FunctionSet::Bitnami => ["env", "expandenv", "getHostByName"].contains(&name),
        FunctionSet::Eso => ["env", "expandenv"].contains(&name),
    };
    if !removed && (SPRIG_NAMES.contains(&name) || GO_BUILTINS.contains(&name)) {
        Lookup::Unsupported
    } else {
        Lookup::Undefined
    }
}

/// Go builtins we leave out.
const GO_BUILTINS: &[&str] = &["call", "html", "js", "urlquery"];

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
    "slice",
    "mustSlice",
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
    "regexMatch",
    "mustRegexMatch",
    "regexFindAll",
    "mustRegexFindAll",
    "regexFind",
    "mustRegexFind",
    "regexReplaceAll",
    "mustRegexReplaceAll",
    "regexReplaceAllLiteral",
    "mustRegexReplaceAllLiteral",
    "regexSplit",
    "mustRegexSplit",
    "regexQuoteMeta",
    "urlParse",
    "urlJoin",
    // External Secrets' own functions
    "pkcs12key",
    "pkcs12keyPass",
    "pkcs12cert",
    "pkcs12certPass",
    "filterPEM",
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
        other => Err(FuncError::Type {
            expected: "string",
            got: other.type_name(),
        }),
    }
}

/// An `int` parameter (an integral float constant is accepted, as Go's
/// parser does for literals like `4.0`).
pub(crate) fn int_arg(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(*f as i64),
        Value::Nil => Err(FuncError::Invalid("int")),
        other => Err(FuncError::Type {
            expected: "int",
            got: other.type_name(),
        }),
    }
}

/// sprig's `strval`: strings as they are, anything else as `%v`.
pub(crate) fn strval(v: &Value) -> Vec<u8> {
    match v {
        Value::Str(s) => s.as_bytes().to_vec(),
        other => {
            let mut out = Vec::new();
            crate::format::write_v(&mut out, other);
            out
        }
    }
}

/// Refuses strings longer than the value limit.
pub(crate) fn check_len(ctx: &Ctx, len: usize) -> Result<(), FuncError> {
    if len > ctx.max_value {
        Err(FuncError::Limit(Limit::ValueSize(ctx.max_value)))
    } else {
        Ok(())
    }
}

/// A string result, within the value limit.
pub(crate) fn string_result(ctx: &Ctx, v: Vec<u8>) -> FResult {
    check_len(ctx, v.len())?;
    Ok(Value::string(v))
}
