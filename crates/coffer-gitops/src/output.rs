//! The result of a run: every document in input order, its text (the
//! original text when it was not touched) and the report; written out as
//! one stream, or turned into `DynamicObject`s. Texts live in zeroizing
//! buffers and `Debug` never shows them.

use std::fmt;
use std::io::Write;

use coffer_manifest::{Format as StreamFormat, Limits, redact};
use kube_core::DynamicObject;
use zeroize::Zeroizing;

use crate::object::ObjectRef;
use crate::report::Report;
use crate::{Error, Result};

/// How a document is written (the format of the stream it came from).
pub type DocumentFormat = StreamFormat;

/// The coffer-sops format of a stream's documents.
pub(crate) fn file_format(format: StreamFormat) -> coffer_sops::Format {
    match format {
        StreamFormat::Json => coffer_sops::Format::Json,
        StreamFormat::Yaml => coffer_sops::Format::Yaml,
    }
}

/// One document of the output.
pub struct OutputDocument {
    /// The input document it comes from.
    pub object: ObjectRef,
    /// Its format.
    pub format: DocumentFormat,
    /// Whether its text differs from the input's (decrypted or unsealed).
    pub changed: bool,
    pub(crate) text: Zeroizing<String>,
}

impl OutputDocument {
    /// The document's text: the input's, byte for byte, when unchanged.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The document as a `DynamicObject`. Its values are then the caller's
    /// to protect (`DynamicObject` cannot zeroize them).
    pub fn to_object(&self) -> Result<DynamicObject> {
        let invalid = |reason: String| Error::Invalid {
            object: Box::new(self.object.clone()),
            reason: format!("not a Kubernetes object: {}", redact(&reason)),
        };
        match self.format {
            StreamFormat::Json => {
                serde_json::from_str(&self.text).map_err(|e| invalid(e.to_string()))
            }
            StreamFormat::Yaml => {
                serde_saphyr::from_str_with_options(&self.text, Limits::default().yaml_options())
                    .map_err(|e| invalid(e.to_string()))
            }
        }
    }
}

impl fmt::Debug for OutputDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputDocument")
            .field("object", &self.object)
            .field("format", &self.format)
            .field("changed", &self.changed)
            .finish_non_exhaustive()
    }
}

/// Everything a run produced: all documents or, from the call, an error.
#[derive(Debug)]
pub struct Decrypted {
    /// The documents, in input order (empty input documents left out).
    pub documents: Vec<OutputDocument>,
    /// What was done to each, and the warnings.
    pub report: Report,
}

impl Decrypted {
    /// The output as one stream: JSON objects one per line when every
    /// document is JSON, otherwise YAML documents separated by `---` (a
    /// JSON document is valid YAML). Documents keep their own text; only
    /// the separators and a final newline are added.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let all_json = self
            .documents
            .iter()
            .all(|d| d.format == StreamFormat::Json);
        let size: usize = self.documents.iter().map(|d| d.text.len() + 5).sum();
        let mut out = Zeroizing::new(Vec::with_capacity(size));
        for (i, doc) in self.documents.iter().enumerate() {
            if i > 0 && !all_json {
                out.extend_from_slice(b"---\n");
            }
            out.extend_from_slice(doc.text.as_bytes());
            if !doc.text.ends_with('\n') {
                out.push(b'\n');
            }
        }
        out
    }

    /// Writes [`Decrypted::to_bytes`] to `out` in one go.
    pub fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(&self.to_bytes())?;
        out.flush()
    }

    /// Every document as a `DynamicObject`, in order.
    pub fn to_objects(&self) -> Result<Vec<DynamicObject>> {
        self.documents
            .iter()
            .map(OutputDocument::to_object)
            .collect()
    }
}

/// The result of [`crate::Decryptor::decrypt_objects`].
pub struct DecryptedObjects {
    /// The objects, in input order.
    pub objects: Vec<DynamicObject>,
    /// What was done to each, and the warnings.
    pub report: Report,
}

impl fmt::Debug for DecryptedObjects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptedObjects")
            .field("objects", &self.objects.len())
            .field("report", &self.report)
            .finish()
    }
}
