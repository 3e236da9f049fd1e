//! A Kubernetes-free template engine implementing the subset of Go's
//! `text/template` and the sprig functions that SealedSecret
//! `spec.template.data` (Bitnami sealed-secrets) and ExternalSecret templates
//! (External Secrets Operator, `engineVersion: v2`) use. One engine serves
//! both; each caller picks its function set and missing-key behaviour in
//! [`Options`].
//!
//! ```
//! use coffer_template::{Data, Options, Template};
//!
//! let t = Template::parse("url", r#"postgres://{{ .user }}:{{ index . "password" }}@db"#).unwrap();
//! let data: Data = [("user", "app"), ("password", "pw")].into_iter().collect();
//! let out = t.render(&data, &Options::bitnami()).unwrap();
//! assert_eq!(out.as_slice(), b"postgres://app:pw@db");
//! ```
//!
//! Data and output are secrets: output comes back in a [`Zeroizing`]
//! buffer, `Debug` never shows values, and errors name keys and positions
//! only. See the crate README for the supported language and the known
//! differences from Go.

#![forbid(unsafe_code)]

mod budget;
mod buf;
mod error;
mod exec;
mod format;
mod funcs;
mod lexer;
mod object;
mod parser;
mod value;

use std::fmt;
use std::time::Duration;

pub use zeroize::Zeroizing;

pub use error::{Error, ErrorKind, Limit, Pos, Result};
pub use funcs::{FunctionSet, untrusted_yaml_options};
pub use object::Object;
pub use value::{Data, List, Map, MapKind, Str, Time, Value};

/// What a reference to a missing map key (`{{ .nokey }}`) does. `index`
/// is not affected: as in Go it always yields the map's zero value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// Go's default (`missingkey=default`): the value is nil and prints as
    /// `<no value>`. What sealed-secrets does.
    #[default]
    Default,
    /// Go's `missingkey=zero`: the map's zero value (`""` for the data).
    Zero,
    /// Go's `missingkey=error`: rendering fails naming the key. What
    /// External Secrets does.
    Error,
}

/// Guards against runaway templates: whoever writes a template must not be
/// able to make a render run long or use much memory. Every function's cost
/// is proportional to what it reads and builds, and that is counted against
/// these limits as it happens, so a render stops at whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes the output may have; writing stops there.
    pub max_output_bytes: usize,
    /// Most evaluation steps (actions, function calls, range iterations).
    pub max_steps: u64,
    /// Most a string, list or map that a function builds may hold: bytes of
    /// a string; for a list or map, one per element plus the bytes of its
    /// strings and keys, a shared element counted as often as it appears
    /// (as printing it would copy it).
    pub max_value_bytes: usize,
    /// Most bytes all function calls of one render may read and write
    /// together: with the step limit, this bounds the render's work.
    pub max_total_bytes: usize,
    /// Most values (strings, list elements, map entries) one render may
    /// build: this bounds its memory.
    pub max_values: u64,
    /// Longest a render may take, checked every few steps and inside long
    /// functions. A render cannot be cancelled from outside (callers run it
    /// on a blocking thread), so this is what ends it. `Duration::MAX`
    /// means no deadline.
    pub max_duration: Duration,
}

impl Default for Limits {
    /// 4 MiB of output and per value (a Secret is at most 1 MiB), a million
    /// steps, 64 MiB read and written and 250,000 values built in total,
    /// and 2 seconds: orders of magnitude above what real Secret templates
    /// use (microseconds, kilobytes), and small enough that a controller
    /// rendering a few at once stays responsive.
    fn default() -> Self {
        Limits {
            max_output_bytes: 4 << 20,
            max_steps: 1_000_000,
            max_value_bytes: 4 << 20,
            max_total_bytes: 64 << 20,
            max_values: 250_000,
            max_duration: Duration::from_secs(2),
        }
    }
}

/// How to render: the caller's function set, missing-key mode and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// What `{{ .nokey }}` does.
    pub missing_key: MissingKey,
    /// Which functions templates may call.
    pub functions: FunctionSet,
    /// Guards against runaway templates.
    pub limits: Limits,
}

impl Options {
    /// sealed-secrets' behaviour: sprig's generic functions, missing keys
    /// print `<no value>`.
    pub fn bitnami() -> Self {
        Options {
            missing_key: MissingKey::Default,
            functions: FunctionSet::Bitnami,
            limits: Limits::default(),
        }
    }

    /// External Secrets' behaviour: sprig's text functions plus
    /// `toYaml`/`fromYaml`, missing keys are errors.
    pub fn eso() -> Self {
        Options {
            missing_key: MissingKey::Error,
            functions: FunctionSet::Eso,
            limits: Limits::default(),
        }
    }
}

/// A parsed template, ready to render any number of times.
#[derive(Clone)]
pub struct Template {
    name: String,
    text: String,
    tree: parser::Tree,
}

impl Template {
    /// Parses `text`; `name` appears in errors (callers use the Secret key).
    pub fn parse(name: &str, text: &str) -> Result<Template> {
        let mut tree = lexer::lex(text)
            .and_then(parser::parse)
            .map_err(|e| e.into_error(name, text))?;
        // Go adds the main body under the template's own name last: a
        // definition of that name stands in for an empty main body, and
        // two non-empty ones are an error.
        if let Some(def) = tree.defs.get(name) {
            if parser::is_empty_tree(&tree.main) {
                tree.main = def.clone();
            } else if !parser::is_empty_tree(def) {
                return Err(error::Located::syntax(
                    0,
                    format!("multiple definition of template {name:?}"),
                )
                .into_error(name, text));
            }
        }
        tree.defs.insert(name.to_owned(), tree.main.clone());
        Ok(Template {
            name: name.to_owned(),
            text: text.to_owned(),
            tree,
        })
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renders the template with `data` as `.`.
    pub fn render(&self, data: &Data, options: &Options) -> Result<Zeroizing<Vec<u8>>> {
        self.render_value(data.to_value(), options)
    }

    /// Renders the template with an arbitrary value as `.`.
    pub fn render_value(&self, dot: Value, options: &Options) -> Result<Zeroizing<Vec<u8>>> {
        exec::execute(&self.tree, dot, options).map_err(|e| e.into_error(&self.name, &self.text))
    }
}

impl fmt::Debug for Template {
    /// The name only: template text may embed secrets too.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Parses and renders in one step.
pub fn render(
    name: &str,
    text: &str,
    data: &Data,
    options: &Options,
) -> Result<Zeroizing<Vec<u8>>> {
    Template::parse(name, text)?.render(data, options)
}
