//! Cutting a stream into documents without parsing them: YAML at document
//! markers, JSON at the end of each top-level value. Each document keeps its
//! original text, so a caller can write an unchanged document back byte for
//! byte.
//!
//! A YAML line that starts with `---` or `...` followed by whitespace or the
//! end of the line is a document marker: YAML forbids those at column 0
//! inside any node (they end the document even inside a block scalar), so
//! no content is ever split in two. Text after `---` on its line (`--- |`,
//! `--- !tag`) starts the next document. Documents holding only comments,
//! blank lines and directives are empty and skipped.

use serde_json::Value;

use crate::typed::redact;
use crate::{Error, Limits, Result};

/// How a stream is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON values one after another.
    Json,
    /// YAML documents separated by `---`.
    Yaml,
}

/// One document of a stream, not yet parsed.
#[derive(Clone, Copy, Debug)]
pub struct RawDocument<'a> {
    /// 1-based position among the stream's non-empty documents.
    pub index: usize,
    /// The stream's format.
    pub format: Format,
    /// The document's original text (without its `---` marker line).
    pub text: &'a str,
}

impl RawDocument<'_> {
    /// Parses the document into JSON. `input` names the stream in errors.
    pub fn parse(&self, input: &str, limits: &Limits) -> Result<Value> {
        match self.format {
            Format::Json => serde_json::from_str(self.text).map_err(|e| Error::Json {
                input: input.to_owned(),
                reason: redact(&e.to_string()),
            }),
            Format::Yaml => self.parse_yaml(input, limits),
        }
    }

    /// Parses a YAML document straight into `T` (so a scalar such as `on`
    /// stays a string where `T` has a string, as kubectl's typed decoding
    /// does, rather than becoming a YAML 1.1 boolean first).
    pub fn parse_yaml<T: serde::de::DeserializeOwned>(
        &self,
        input: &str,
        limits: &Limits,
    ) -> Result<T> {
        serde_saphyr::from_str_with_options(self.text, limits.yaml_options()).map_err(|e| {
            Error::Yaml {
                input: input.to_owned(),
                index: self.index,
                reason: redact(&e.to_string()),
            }
        })
    }
}

/// Splits `bytes` into documents. JSON when the first non-blank character
/// is `{`, YAML otherwise (kubectl's rule).
pub fn split<'a>(bytes: &'a [u8], input: &str, limits: &Limits) -> Result<Vec<RawDocument<'a>>> {
    if bytes.len() > limits.max_input_bytes {
        return Err(Error::InputTooLarge {
            input: input.to_owned(),
            max: limits.max_input_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
        input: input.to_owned(),
        offset: e.valid_up_to(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Collector {
        input,
        limits,
        docs: Vec::new(),
    };
    if text.trim_start().starts_with('{') {
        split_json(text, &mut out)?;
    } else {
        split_yaml(text, &mut out)?;
    }
    Ok(out.docs)
}

struct Collector<'a, 'i> {
    input: &'i str,
    limits: &'i Limits,
    docs: Vec<RawDocument<'a>>,
}

impl<'a> Collector<'a, '_> {
    fn push(&mut self, format: Format, text: &'a str) -> Result<()> {
        let index = self.docs.len() + 1;
        if index > self.limits.max_documents {
            return Err(Error::TooManyDocuments {
                input: self.input.to_owned(),
                max: self.limits.max_documents,
            });
        }
        if text.len() > self.limits.max_document_bytes {
            return Err(Error::DocumentTooLarge {
                input: self.input.to_owned(),
                index,
                max: self.limits.max_document_bytes,
            });
        }
        self.docs.push(RawDocument {
            index,
            format,
            text,
        });
        Ok(())
    }
}

/// The rest of `line` after a document marker, if `line` is one.
fn after_marker<'l>(line: &'l str, marker: &str) -> Option<&'l str> {
    let rest = line.strip_prefix(marker)?;
    (rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n'])).then_some(rest)
}

/// Only blank lines, comments and directives: no document.
fn is_blank(piece: &str) -> bool {
    piece.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l.starts_with('%')
    })
}

fn split_yaml<'a>(text: &'a str, out: &mut Collector<'a, '_>) -> Result<()> {
    let mut start = 0;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let line_start = pos;
        pos += line.len();
        let next = if let Some(rest) = after_marker(line, "---") {
            // `--- |` or `--- !tag`: the content belongs to the next document.
            if is_blank(rest) { pos } else { line_start + 3 }
        } else if after_marker(line, "...").is_some() {
            pos
        } else {
            continue;
        };
        let piece = &text[start..line_start];
        if !is_blank(piece) {
            out.push(Format::Yaml, piece)?;
        }
        start = next;
    }
    let piece = &text[start..];
    if !is_blank(piece) {
        out.push(Format::Yaml, piece)?;
    }
    Ok(())
}

/// End (exclusive) of the JSON value starting at `start`, found without
/// parsing: the matching bracket outside strings, the closing quote, or the
/// end of a scalar. Malformed input still ends somewhere; the parser then
/// reports what is wrong.
fn json_value_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    match bytes[start] {
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut in_string = false;
            while i < bytes.len() {
                let b = bytes[i];
                if in_string {
                    match b {
                        b'\\' => i += 1,
                        b'"' => in_string = false,
                        _ => {}
                    }
                } else {
                    match b {
                        b'"' => in_string = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                return i + 1;
                            }
                        }
                        _ => {}
                    }
                }
                i += 1;
            }
            bytes.len()
        }
        b'"' => {
            i += 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 1,
                    b'"' => return i + 1,
                    _ => {}
                }
                i += 1;
            }
            bytes.len()
        }
        _ => {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !b"{[\"".contains(&bytes[i])
            {
                i += 1;
            }
            i.max(start + 1)
        }
    }
}

fn split_json<'a>(text: &'a str, out: &mut Collector<'a, '_>) -> Result<()> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos >= bytes.len() {
            return Ok(());
        }
        let end = json_value_end(bytes, pos).min(bytes.len());
        // NB: `end` always lands on an ASCII byte boundary or the end, so
        // the slice is on character boundaries.
        out.push(Format::Json, &text[pos..end])?;
        pos = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> Vec<&str> {
        split(input.as_bytes(), "in", &Limits::default())
            .unwrap()
            .into_iter()
            .map(|d| d.text)
            .collect()
    }

    #[test]
    fn yaml_documents_keep_their_text_and_empty_ones_are_skipped() {
        let input = "# leading\n---\na: 1\n# c\n---\n---\n# only a comment\n---\nb: |\n  x\n  --- not a marker\n";
        assert_eq!(
            texts(input),
            ["a: 1\n# c\n", "b: |\n  x\n  --- not a marker\n"]
        );
    }

    #[test]
    fn markers_need_whitespace_and_end_markers_close_documents() {
        assert_eq!(texts("---abc: 1\n"), ["---abc: 1\n"]);
        assert_eq!(texts("a: 1\n...\n%YAML 1.2\n---\nb: 2"), ["a: 1\n", "b: 2"]);
        assert_eq!(
            texts("--- {a: 1}\n--- # c\nb: 2\r\n"),
            [" {a: 1}\n", "b: 2\r\n"]
        );
    }

    #[test]
    fn json_values_are_cut_at_their_ends_even_with_brackets_in_strings() {
        let input = "{\"a\": \"}{\\\"\"}\n{\"b\": [1, {\"c\": 2}]}{} 7";
        assert_eq!(
            texts(input),
            ["{\"a\": \"}{\\\"\"}", "{\"b\": [1, {\"c\": 2}]}", "{}", "7"]
        );
    }

    #[test]
    fn limits_name_the_input_and_document() {
        let limits = Limits {
            max_documents: 2,
            max_document_bytes: 8,
            ..Limits::default()
        };
        let err = split(b"a: 1\n---\nb: 2\n---\nc: 3\n", "x.yaml", &limits).unwrap_err();
        assert_eq!(err.to_string(), "x.yaml holds more than 2 documents");
        let err = split(b"a: 1\n---\nb: 1234567\n", "x.yaml", &limits).unwrap_err();
        assert_eq!(
            err.to_string(),
            "document 2 of x.yaml is larger than 8 bytes"
        );
        let limits = Limits {
            max_input_bytes: 4,
            ..Limits::default()
        };
        assert!(matches!(
            split(b"a: 12", "x", &limits),
            Err(Error::InputTooLarge { .. })
        ));
    }
}
