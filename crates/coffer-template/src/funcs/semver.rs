//! sprig's `semverCompare CONSTRAINT VERSION`: Masterminds/semver v3.3.0's
//! `NewConstraint(...).Check(NewVersion(...))`, ported with its regular
//! expressions (Go's `regexp` and the `regex` crate agree on these: RE2
//! syntax, leftmost-first alternation; `\s` written out as Go's ASCII
//! class). Comparison operators, `~`, `^`, wildcards (`1.2.x`, `*`),
//! hyphen ranges, `,`/space for "and", `||` for "or", and its rule that a
//! pre-release version matches only a constraint with a pre-release.
//!
//! sprig's `semver VERSION`: `NewVersion`'s `*Version`, an object whose
//! methods without arguments templates read as fields (`crate::object`).

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;

use super::{Func, FuncError, arity, read, str_arg};
use crate::object::Object;
use crate::value::Value;

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "semverCompare" => |c, a| {
            arity(a, 2)?;
            let (constraint, version) = (str_arg(&a[0])?, str_arg(&a[1])?);
            read(c, &[constraint, version])?;
            // the patterns are linear, but bound what they are run on
            if constraint.len() > 4096 || version.len() > 4096 {
                return Err(FuncError::Other("constraint or version too long"));
            }
            let (Ok(constraint), Ok(version)) = (
                std::str::from_utf8(constraint),
                std::str::from_utf8(version),
            ) else {
                return Err(INVALID);
            };
            let constraints = parse_constraints(constraint)?;
            let v = Version::parse(version).ok_or(INVALID)?;
            Ok(Value::Bool(
                constraints
                    .iter()
                    .any(|and| and.iter().all(|c| c.check(&v))),
            ))
        },
        "semver" => |c, a| {
            arity(a, 1)?;
            let version = str_arg(&a[0])?;
            read(c, &[version])?;
            if version.len() > 4096 {
                return Err(FuncError::Other("version too long"));
            }
            let version = std::str::from_utf8(version).map_err(|_| INVALID_VERSION)?;
            let v = Version::parse(version).ok_or(INVALID_VERSION)?;
            c.values(1)?;
            Ok(Object::semver(v, true))
        },
        _ => return None,
    })
}

const INVALID: FuncError = FuncError::Other("invalid semantic version or constraint");
const INVALID_VERSION: FuncError = FuncError::Other("Invalid Semantic Version");

const S: &str = r"[\t\n\x0C\r ]";
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

struct Patterns {
    version: Regex,
    constraint: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |p: String| Regex::new(&p).expect("a valid constant pattern");
        Patterns {
            version: re(
                r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$"
                    .to_owned(),
            ),
            constraint: re(format!(r"^{S}*({OPS}){S}*({CV}){S}*$")),
            range: re(format!(r"{S}*({CV}){S}+-{S}+({CV}){S}*")),
            find: re(format!(r"({OPS}){S}*({CV})")),
            valid: re(format!(
                r"^({S}*({OPS}){S}*({CV}){S}*)((?:{S}+|,{S}*)({OPS}){S}*({CV}){S}*)*$"
            )),
        }
    })
}

/// Masterminds/semver's `Version`: what `NewVersion` parsed, and the text
/// it was parsed from. `==` compares every field, as Go's does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    pub(crate) major: u64,
    pub(crate) minor: u64,
    pub(crate) patch: u64,
    pub(crate) pre: String,
    pub(crate) metadata: String,
    pub(crate) original: String,
}

impl std::fmt::Display for Version {
    /// `Version.String()`: `MAJOR.MINOR.PATCH[-PRE][+METADATA]`, without
    /// the `v` the original may have.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

impl Version {
    /// `NewVersion` (the loose form: `v` prefix, missing minor or patch).
    fn parse(s: &str) -> Option<Version> {
        let m = patterns().version.captures(s)?;
        let num = |i: usize| -> Option<u64> {
            match m.get(i) {
                None => Some(0),
                Some(g) => g.as_str().trim_start_matches('.').parse().ok(),
            }
        };
        let pre = m.get(5).map_or("", |g| g.as_str()).to_owned();
        for part in pre.split('.').filter(|_| !pre.is_empty()) {
            if part.bytes().all(|b| b.is_ascii_digit()) && part.len() > 1 && part.starts_with('0') {
                return None;
            }
        }
        Some(Version {
            major: num(1)?,
            minor: num(2)?,
            patch: num(3)?,
            pre,
            metadata: m.get(8).map_or("", |g| g.as_str()).to_owned(),
            original: s.to_owned(),
        })
    }

    /// `IncMajor`, `IncMinor`, `IncPatch`: the next version, without
    /// pre-release or metadata (`IncPatch` of a pre-release only drops
    /// them), its original the new `String()` after the old `v` prefix.
    /// Go's `uint64` wraps at the top; so does this.
    pub(crate) fn inc_major(&self) -> Version {
        self.next(self.major.wrapping_add(1), 0, 0)
    }

    pub(crate) fn inc_minor(&self) -> Version {
        self.next(self.major, self.minor.wrapping_add(1), 0)
    }

    pub(crate) fn inc_patch(&self) -> Version {
        if self.pre.is_empty() {
            self.next(self.major, self.minor, self.patch.wrapping_add(1))
        } else {
            self.next(self.major, self.minor, self.patch)
        }
    }

    fn next(&self, major: u64, minor: u64, patch: u64) -> Version {
        let mut v = Version {
            major,
            minor,
            patch,
            pre: String::new(),
            metadata: String::new(),
            original: String::new(),
        };
        let prefix = if self.original.starts_with('v') {
            "v"
        } else {
            ""
        };
        v.original = format!("{prefix}{v}");
        v
    }

    fn compare(&self, o: &Version) -> Ordering {
        self.major
            .cmp(&o.major)
            .then(self.minor.cmp(&o.minor))
            .then(self.patch.cmp(&o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_pre(&self.pre, &o.pre),
            })
    }
}

fn compare_pre(a: &str, b: &str) -> Ordering {
    let (sa, sb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..sa.len().max(sb.len()) {
        let d = compare_pre_part(
            sa.get(i).copied().unwrap_or(""),
            sb.get(i).copied().unwrap_or(""),
        );
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (_, Err(_)) => Ordering::Less,
        (Err(_), _) => Ordering::Greater,
        (Ok(x), Ok(y)) => {
            if x > y {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

struct Constraint {
    con: Version,
    op: String,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "*" | "X")
}

/// `rewriteRange` then `NewConstraint`: OR groups of AND constraints.
fn parse_constraints(c: &str) -> Result<Vec<Vec<Constraint>>, FuncError> {
    let p = patterns();
    let mut text = c.to_owned();
    let ranges: Vec<(String, String, String)> = p
        .range
        .captures_iter(c)
        .map(|m| {
            (
                m[0].to_owned(),
                m.get(1).map_or("", |g| g.as_str()).to_owned(),
                m.get(11).map_or("", |g| g.as_str()).to_owned(),
            )
        })
        .collect();
    for (all, from, to) in ranges {
        text = text.replacen(&all, &format!(">= {from}, <= {to} "), 1);
    }
    let mut or = Vec::new();
    for part in text.split("||") {
        if !p.valid.is_match(part) {
            return Err(INVALID);
        }
        let mut found: Vec<&str> = p.find.find_iter(part).map(|m| m.as_str()).collect();
        if found.is_empty() {
            found.push(part);
        }
        let mut and = Vec::new();
        for s in found {
            and.push(parse_constraint(s)?);
        }
        or.push(and);
    }
    Ok(or)
}

fn parse_constraint(c: &str) -> Result<Constraint, FuncError> {
    if c.is_empty() {
        return Ok(Constraint {
            con: Version::parse("0.0.0").ok_or(INVALID)?,
            op: String::new(),
            minor_dirty: false,
            patch_dirty: false,
            dirty: true,
        });
    }
    let m = patterns().constraint.captures(c).ok_or(INVALID)?;
    let g = |i: usize| m.get(i).map_or("", |g| g.as_str());
    let (major, minor, patch, pre) = (g(3), g(4), g(5), g(6));
    let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
    let ver = if is_x(major) || major.is_empty() {
        dirty = true;
        format!("0.0.0{pre}")
    } else if is_x(minor.trim_start_matches('.')) || minor.is_empty() {
        minor_dirty = true;
        dirty = true;
        format!("{major}.0.0{pre}")
    } else if is_x(patch.trim_start_matches('.')) || patch.is_empty() {
        dirty = true;
        patch_dirty = true;
        format!("{major}{minor}.0{pre}")
    } else {
        g(2).to_owned()
    };
    Ok(Constraint {
        con: Version::parse(&ver).ok_or(INVALID)?,
        op: g(1).to_owned(),
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

impl Constraint {
    fn check(&self, v: &Version) -> bool {
        let c = &self.con;
        let pre_blocked = !v.pre.is_empty() && c.pre.is_empty();
        match self.op.as_str() {
            "" | "=" => {
                if pre_blocked {
                    return false;
                }
                if self.dirty {
                    return self.tilde(v);
                }
                v.compare(c) == Ordering::Equal
            }
            "!=" => self.not_equal(v),
            ">" => {
                if pre_blocked {
                    return false;
                }
                if !self.dirty {
                    return v.compare(c) == Ordering::Greater;
                }
                if v.major != c.major {
                    return v.major > c.major;
                }
                if self.minor_dirty {
                    return false;
                }
                if self.patch_dirty {
                    return v.minor > c.minor;
                }
                v.compare(c) == Ordering::Greater
            }
            "<" => !pre_blocked && v.compare(c) == Ordering::Less,
            ">=" | "=>" => !pre_blocked && v.compare(c) != Ordering::Less,
            "<=" | "=<" => {
                if pre_blocked {
                    return false;
                }
                if !self.dirty {
                    return v.compare(c) != Ordering::Greater;
                }
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            "~" | "~>" => !pre_blocked && self.tilde(v),
            "^" => !pre_blocked && self.caret(v),
            _ => false,
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if !v.pre.is_empty() && c.pre.is_empty() {
            return false;
        }
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        c.patch == v.patch
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if self.dirty {
            if !v.pre.is_empty() && c.pre.is_empty() {
                return false;
            }
            if c.major != v.major {
                return true;
            }
            if c.minor != v.minor && !self.minor_dirty {
                return true;
            } else if self.minor_dirty {
                return false;
            } else if c.patch != v.patch && !self.patch_dirty {
                return true;
            } else if self.patch_dirty {
                if !v.pre.is_empty() || !c.pre.is_empty() {
                    return compare_pre(&v.pre, &c.pre) != Ordering::Equal;
                }
                return false;
            }
        }
        v.compare(c) != Ordering::Equal
    }
}
