//! File formats sops supports, and moving the `sops` metadata in and out of
//! each: nested under a top-level `sops` key (YAML, JSON, binary), flattened
//! into `sops_…` keys (dotenv) or a `[sops]` section (INI).

pub(crate) mod dotenv;
pub(crate) mod ini;
pub(crate) mod json;
pub(crate) mod scalar;
pub(crate) mod yaml;

use std::path::Path;

use crate::flatten::{flatten, unflatten};
use crate::metadata::{Metadata, SOPS_KEY};
use crate::tree::{Branch, Item, Value};
use crate::{Error, Result};

/// A document format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// YAML, possibly several documents.
    Yaml,
    /// JSON with a top-level object.
    Json,
    /// `KEY=value` lines.
    Dotenv,
    /// INI sections.
    Ini,
    /// Any bytes, stored as the `data` value of a JSON envelope.
    Binary,
}

impl Format {
    /// The format sops picks for a file name (anything unknown is binary).
    pub fn from_path(path: &Path) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("yaml" | "yml") => Format::Yaml,
            Some("json") => Format::Json,
            Some("env") => Format::Dotenv,
            Some("ini") => Format::Ini,
            _ => Format::Binary,
        }
    }

    /// The format named on the command line (`--input-type yaml`).
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "yaml" | "yml" => Format::Yaml,
            "json" => Format::Json,
            "dotenv" | "env" => Format::Dotenv,
            "ini" => Format::Ini,
            "binary" => Format::Binary,
            _ => return None,
        })
    }

    /// The name sops uses for the format.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
            Format::Binary => "binary",
        }
    }
}

fn text(bytes: &[u8], format: Format) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| Error::Parse {
        format: format.name(),
        location: format!("byte {}", e.valid_up_to()),
        reason: "input is not valid UTF-8".into(),
    })
}

/// Reads a plaintext file into documents.
pub fn load_plain(bytes: &[u8], format: Format) -> Result<Vec<Branch>> {
    Ok(match format {
        Format::Yaml => yaml::read(text(bytes, format)?)?,
        Format::Json => vec![json::read(text(bytes, format)?)?],
        Format::Dotenv => vec![dotenv::read(text(bytes, format)?)?],
        Format::Ini => vec![ini::read(text(bytes, format)?)?],
        Format::Binary => vec![vec![Item::new(
            "data",
            match String::from_utf8(bytes.to_vec()) {
                Ok(s) => Value::Str(s),
                Err(e) => Value::Bytes(e.into_bytes()),
            },
        )]],
    })
}

/// Whether plaintext documents already carry sops metadata.
pub fn has_metadata(docs: &[Branch], format: Format) -> bool {
    docs.first().is_some_and(|d| {
        d.iter().any(|i| match (format, i.name()) {
            (Format::Dotenv, Some(n)) => n.starts_with("sops_"),
            (_, Some(n)) => n == SOPS_KEY,
            _ => false,
        })
    })
}

/// Reads an encrypted file: its documents (metadata removed) and metadata.
pub fn load_encrypted(bytes: &[u8], format: Format) -> Result<(Vec<Branch>, Metadata)> {
    let format = if format == Format::Binary {
        Format::Json
    } else {
        format
    };
    let mut docs = load_plain(bytes, format)?;
    let meta_branch = match format {
        Format::Dotenv => {
            let doc = docs.first_mut().ok_or(Error::MetadataNotFound)?;
            let mut flat = Branch::new();
            doc.retain(|i| match i.name().and_then(|n| n.strip_prefix("sops_")) {
                Some(rest) => {
                    flat.push(Item::new(rest, i.value.clone()));
                    false
                }
                None => true,
            });
            if flat.is_empty() {
                return Err(Error::MetadataNotFound);
            }
            unflatten(&flat)?
        }
        _ => {
            let mut found: Option<Branch> = None;
            for (di, doc) in docs.iter_mut().enumerate() {
                let mut idx = 0;
                while idx < doc.len() {
                    if doc[idx].name() == Some(SOPS_KEY) {
                        let item = doc.remove(idx);
                        if di == 0 {
                            if found.is_some() {
                                return Err(Error::Metadata("found duplicate sops entry".into()));
                            }
                            found = Some(match item.value {
                                Value::Map(m) => m,
                                _ => {
                                    return Err(Error::Metadata(
                                        "the sops entry is not a mapping".into(),
                                    ));
                                }
                            });
                        }
                    } else {
                        idx += 1;
                    }
                }
            }
            let m = found.ok_or(Error::MetadataNotFound)?;
            if format == Format::Ini {
                let unescaped: Branch = m
                    .into_iter()
                    .map(|mut i| {
                        if let Value::Str(s) = &i.value {
                            i.value = Value::Str(s.replace("\\n", "\n"));
                        }
                        i
                    })
                    .collect();
                unflatten(&unescaped)?
            } else {
                m
            }
        }
    };
    let meta = Metadata::from_branch(&meta_branch)?;
    Ok((docs, meta))
}

/// Writes plaintext documents.
pub fn emit_plain(docs: &[Branch], format: Format) -> Result<Vec<u8>> {
    let one = || {
        docs.first().ok_or_else(|| {
            Error::Unsupported(format!(
                "{} output needs exactly one document",
                format.name()
            ))
        })
    };
    Ok(match format {
        Format::Yaml => yaml::write(docs).into_bytes(),
        Format::Json => json::write(one()?).into_bytes(),
        Format::Dotenv => dotenv::write(one()?)?.into_bytes(),
        Format::Ini => ini::write(one()?)?.into_bytes(),
        Format::Binary => {
            let doc = one()?;
            match doc
                .iter()
                .find(|i| i.name() == Some("data"))
                .map(|i| &i.value)
            {
                Some(Value::Str(s)) => s.clone().into_bytes(),
                Some(Value::Bytes(b)) => b.clone(),
                Some(_) => {
                    return Err(Error::Unsupported(
                        "binary output: 'data' is not a string".into(),
                    ));
                }
                None => {
                    return Err(Error::Unsupported(
                        "binary output: no 'data' key in the document".into(),
                    ));
                }
            }
        }
    })
}

/// Writes encrypted documents with the metadata attached as sops does.
pub fn emit_encrypted(docs: &[Branch], meta: &Metadata, format: Format) -> Result<Vec<u8>> {
    let nested = meta.to_branch();
    let mut out: Vec<Branch> = Vec::with_capacity(docs.len());
    for doc in docs {
        let mut d = Branch::with_capacity(doc.len() + nested.len());
        for i in doc {
            if let Some(n) = i.name() {
                let reserved = if format == Format::Dotenv {
                    n.starts_with("sops_")
                } else {
                    n == SOPS_KEY
                };
                if reserved {
                    return Err(Error::Unsupported(format!(
                        "found key {n:?} in the data, which is reserved for sops metadata"
                    )));
                }
            }
            d.push(i.clone());
        }
        match format {
            Format::Dotenv => d.extend(flatten(&nested, "sops_")?),
            Format::Ini => {
                let flat = flatten(&nested, "")?
                    .into_iter()
                    .map(|mut i| {
                        if let Value::Str(s) = &i.value {
                            i.value = Value::Str(s.replace('\n', "\\n"));
                        }
                        i
                    })
                    .collect();
                d.push(Item::new(SOPS_KEY, Value::Map(flat)));
            }
            _ => d.push(Item::new(SOPS_KEY, Value::Map(nested.clone()))),
        }
        out.push(d);
    }
    let format = if format == Format::Binary {
        Format::Json
    } else {
        format
    };
    emit_plain(&out, format)
}
