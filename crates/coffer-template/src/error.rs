//! The one error type of the crate: which template, where in it (line and
//! column), and what went wrong.
//!
//! Template data are secrets, and whoever may write a template may often
//! read its errors (in a SealedSecret's or ExternalSecret's status) but not
//! the Secret it makes. So the rule is: an error carries only what the
//! template text and the configured limits fix (the template's name, a
//! position in its text, a function, field or variable name written there,
//! the type a function expects, the number of arguments written, a limit)
//! and never anything computed while rendering: no value, byte, index,
//! length, count, offset or the type of a value. Messages computed at run
//! time are `&'static str`, so the compiler keeps it that way. (Which error
//! a template hits, if any, depends on the data like any other branch; the
//! README says what that means.) `tests/hygiene.rs` checks the rule with a
//! table of templates built to leak.

use std::fmt;
use std::time::Duration;

/// A failure to parse or render a template.
#[derive(Debug, thiserror::Error)]
#[error("template {name}:{pos}: {kind}")]
pub struct Error {
    /// The template's name (for SealedSecrets and ExternalSecrets: the key of
    /// the Secret being rendered).
    pub name: String,
    /// Where in the template text the failing element starts.
    pub pos: Pos,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl Error {
    /// Whether this error was found while parsing (as opposed to rendering).
    pub fn is_parse_error(&self) -> bool {
        matches!(self.kind, ErrorKind::Syntax(_))
    }

    /// Whether rendering ran past its deadline. Unlike every other error,
    /// this one depends on how busy the machine was: the same template and
    /// data may render when tried again, so callers retry it (with backoff).
    pub fn is_deadline(&self) -> bool {
        matches!(self.kind, ErrorKind::Limit(Limit::Deadline(_)))
    }
}

/// A line and column in the template text, both starting at 1; the column
/// counts bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// Line number, from 1.
    pub line: usize,
    /// Byte column within the line, from 1.
    pub col: usize,
}

impl Pos {
    /// The line and column of byte `offset` in `text`.
    pub(crate) fn at(text: &str, offset: usize) -> Pos {
        let offset = offset.min(text.len());
        let before = &text.as_bytes()[..offset];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        Pos {
            line,
            col: offset - line_start + 1,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// What went wrong. Messages follow Go's `text/template` wording where one
/// exists, so users can search for them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The template text is not valid template syntax.
    #[error("{0}")]
    Syntax(String),
    /// A function the template calls is not in the chosen function set.
    #[error("function {0:?} not defined")]
    UndefinedFunction(String),
    /// `{{template "name"}}` names no defined template.
    #[error("no such template {0:?}")]
    UndefinedTemplate(String),
    /// A sprig function that Coffer does not implement.
    #[error("function {0:?} is a sprig function that coffer-template does not support")]
    UnsupportedFunction(String),
    /// A field or key reference to a map entry that does not exist, with
    /// `MissingKey::Error` (External Secrets' `missingkey=error`).
    #[error("map has no entry for key {0:?}")]
    MissingKey(String),
    /// A field reference on something that is not a map. (Go names the
    /// value's type; that type can depend on the data, so we do not.)
    #[error("can't evaluate field {field} in a value that is not a map")]
    NotAMap {
        /// The field name.
        field: String,
    },
    /// A field or method of a certificate or version that cannot be read:
    /// a method with arguments (`.Compare`), named as written.
    #[error("can't evaluate field {field}: {reason}")]
    Field {
        /// The field or method name.
        field: String,
        /// Why: a fixed text.
        reason: &'static str,
    },
    /// A field reference on nil with `MissingKey::Error`.
    #[error("nil data; no entry for key {0:?}")]
    NilData(String),
    /// Arguments given to something that is not a function.
    #[error("can't give argument to non-function {0}")]
    NotAFunction(String),
    /// `nil` used where a command is expected.
    #[error("nil is not a command")]
    NilCommand,
    /// A function was called with the wrong number of arguments.
    #[error("wrong number of args for {func}: want {want} got {got}")]
    ArgCount {
        /// The function.
        func: String,
        /// What it accepts, e.g. `2` or `at least 1`.
        want: String,
        /// How many it got.
        got: usize,
    },
    /// A function argument has the wrong type (or is nil). Go also names
    /// the type given; that can depend on the data, so we do not.
    #[error("error calling {func}: wrong type for value; expected {expected}")]
    ArgType {
        /// The function.
        func: String,
        /// The expected type (fixed by the function).
        expected: &'static str,
    },
    /// A function failed for another reason.
    #[error("error calling {func}: {reason}")]
    Call {
        /// The function.
        func: String,
        /// Why: a fixed text, never anything computed from the data.
        reason: &'static str,
    },
    /// `if`, `with` or `range` over a value it cannot use.
    #[error("{0}")]
    Control(&'static str),
    /// Comparison of values of incompatible types.
    #[error("error calling {func}: {reason}")]
    Comparison {
        /// `eq`, `lt`, ...
        func: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A guard against runaway templates tripped.
    #[error("{0}")]
    Limit(Limit),
}

/// Which guard against runaway templates tripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Limit {
    /// The output grew past `Limits::max_output_bytes`.
    #[error("output exceeds {0} bytes")]
    OutputSize(usize),
    /// Rendering took more than `Limits::max_steps` steps.
    #[error("template exceeds {0} evaluation steps")]
    Steps(u64),
    /// A string, list or map grew past `Limits::max_value_bytes`.
    #[error("a value exceeds {0} bytes or elements")]
    ValueSize(usize),
    /// Values or template structures nested too deeply.
    #[error("nesting deeper than {0} levels")]
    Depth(usize),
    /// The functions together read and wrote more than
    /// `Limits::max_total_bytes`.
    #[error("template functions process more than {0} bytes in total")]
    TotalBytes(usize),
    /// The functions together built more than `Limits::max_values` values
    /// (strings, list elements, map entries).
    #[error("template builds more than {0} values")]
    Values(u64),
    /// Rendering ran past `Limits::max_duration`.
    #[error("rendering takes longer than {} ms", .0.as_millis())]
    Deadline(Duration),
}

/// Shorthand for the crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error found at a byte offset, before the template name and the text
/// are known to turn it into an [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    pub(crate) offset: usize,
    pub(crate) kind: ErrorKind,
}

impl Located {
    pub(crate) fn new(offset: usize, kind: ErrorKind) -> Self {
        Located { offset, kind }
    }

    pub(crate) fn syntax(offset: usize, msg: impl Into<String>) -> Self {
        Located::new(offset, ErrorKind::Syntax(msg.into()))
    }

    pub(crate) fn into_error(self, name: &str, text: &str) -> Error {
        Error {
            name: name.to_owned(),
            pos: Pos::at(text, self.offset),
            kind: self.kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_byte_columns_from_one() {
        let text = "ab\ncd{{ x }}";
        assert_eq!(Pos::at(text, 0), Pos { line: 1, col: 1 });
        assert_eq!(Pos::at(text, 3), Pos { line: 2, col: 1 });
        assert_eq!(Pos::at(text, 5), Pos { line: 2, col: 3 });
        assert_eq!(Pos::at(text, 999).line, 2);
    }

    #[test]
    fn error_display_names_template_position_and_cause() {
        let e = Located::new(3, ErrorKind::MissingKey("password".into()))
            .into_error("k", "{{ .password }}");
        assert_eq!(
            e.to_string(),
            "template k:1:4: map has no entry for key \"password\""
        );
    }
}
