//! Reading Kubernetes manifest streams: JSON objects one after another, or a
//! multi-document YAML file, as `kubectl` and kubeseal read them
//! (apimachinery's `YAMLOrJSONDecoder`: JSON when the first character is
//! `{`, YAML otherwise). The one reader that `coffer seal`, its recovery key
//! files and the GitOps library (`coffer-gitops`) share.
//!
//! [`split`] cuts a stream into [`RawDocument`]s, each with its original
//! text, so a caller that changes some documents can pass the others through
//! byte for byte; [`RawDocument::parse`] reads one into JSON (callers may do
//! that in parallel); [`parse_documents`] does both. Documents are numbered
//! from 1 in stream order, and every error names the source and the
//! document.
//!
//! Errors never quote the input: parser messages can contain the offending
//! value ("invalid type: string \"hunter2\""), so quoted text is replaced
//! ([`redact`]) and YAML errors carry no source snippet.
//!
//! Untrusted input is bounded by [`Limits`]: the input size, the number of
//! documents, each document's size and, for YAML, serde-saphyr's budget
//! (nesting depth, aliases, nodes) per document.

#![forbid(unsafe_code)]

mod error;
mod split;
mod typed;

pub use error::{Error, Result};
pub use split::{Format, RawDocument, split};
pub use typed::{Document, expand_list, kind_of, parse_typed, redact, typed};

/// Bounds on what a stream may cost to read.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The whole input, in bytes.
    pub max_input_bytes: usize,
    /// Documents in one stream (empty ones not counted).
    pub max_documents: usize,
    /// One document, in bytes.
    pub max_document_bytes: usize,
    /// Nesting of mappings and sequences in one YAML document.
    pub max_depth: usize,
}

impl Default for Limits {
    /// 256 MiB of input, 100,000 documents, 16 MiB and 64 levels of
    /// nesting per document (serde-saphyr's own default; a YAML document is
    /// deserialized recursively, and deeper documents could overflow a 2 MiB
    /// thread stack in unoptimized builds): far beyond any real build (the
    /// API server refuses objects over about 1.5 MiB), small enough that a
    /// hostile stream cannot exhaust memory or the stack.
    fn default() -> Limits {
        Limits {
            max_input_bytes: 256 << 20,
            max_documents: 100_000,
            max_document_bytes: 16 << 20,
            max_depth: 64,
        }
    }
}

impl Limits {
    /// serde-saphyr options for one document under these limits: no source
    /// snippets in errors (they would print the input's lines), and a budget
    /// that bounds depth, aliases and nodes.
    pub fn yaml_options(&self) -> serde_saphyr::Options {
        let mut budget = serde_saphyr::Budget::default();
        budget.max_depth = self.max_depth;
        budget.max_reader_input_bytes = Some(self.max_document_bytes);
        let mut options = serde_saphyr::Options::default();
        options.with_snippet = false;
        options.budget = Some(budget);
        options
    }
}

/// Splits `bytes` into documents and parses each into JSON, skipping empty
/// documents (`null`, `{}`, only comments) as kubectl does.
pub fn parse_documents<'a>(bytes: &'a [u8], source: &str) -> Result<Vec<Document<'a>>> {
    parse_documents_with(bytes, source, &Limits::default())
}

/// [`parse_documents`] with explicit limits.
pub fn parse_documents_with<'a>(
    bytes: &'a [u8],
    source: &str,
    limits: &Limits,
) -> Result<Vec<Document<'a>>> {
    let mut out = Vec::new();
    for raw in split(bytes, source, limits)? {
        let value = raw.parse(source, limits)?;
        if !typed::is_empty(&value) {
            out.push(Document {
                index: raw.index,
                format: raw.format,
                text: raw.text,
                value,
            });
        }
    }
    Ok(out)
}
