//! The one error type of apply-time decryption. Every variant names the
//! step that failed and the document (kind, namespace, name, input and
//! index), the data key or the file; none carries a decrypted byte: the
//! wrapped coffer-sops, coffer-sealed and manifest errors carry none either,
//! and the guards report paths and key names only.

use std::path::PathBuf;

use crate::object::ObjectRef;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a decryption run gave no output.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input stream could not be read (not UTF-8, not YAML or JSON,
    /// over a limit).
    #[error(transparent)]
    Manifest(#[from] coffer_manifest::Error),

    /// A SOPS document could not be opened.
    #[error("{object}: cannot decrypt the SOPS document: {source}")]
    Sops {
        /// The document.
        object: Box<ObjectRef>,
        /// Why (no key, a malformed or tampered value, ...).
        #[source]
        source: coffer_sops::Error,
    },

    /// A Secret `data` value holding a SOPS document could not be opened.
    #[error("{object}: cannot decrypt the SOPS document in data key {key:?}: {source}")]
    SopsData {
        /// The Secret.
        object: Box<ObjectRef>,
        /// The data key.
        key: String,
        /// Why.
        #[source]
        source: coffer_sops::Error,
    },

    /// A SOPS document's MAC does not match its values (MAC policy verify).
    #[error(
        "{object}{at}: the SOPS MAC does not match the values: the document was changed after it \
         was encrypted. kustomize patches and transformers (namespace, labels, annotations) \
         change resources after encryption and so invalidate their MAC; decrypt the sources \
         before the build, or choose the MAC policy warn or skip",
        at = key.as_ref().map(|k| format!(", data key {k:?}")).unwrap_or_default()
    )]
    MacMismatch {
        /// The document.
        object: Box<ObjectRef>,
        /// The Secret data key, when the SOPS document was a data value.
        key: Option<String>,
    },

    /// A SealedSecret opened with the keyring but could not become its
    /// Secret (a template error, both data forms, ...), as it would fail in
    /// the controller.
    #[error("{object}: cannot unseal: {source}")]
    Unseal {
        /// The SealedSecret.
        object: Box<ObjectRef>,
        /// Why (boxed: the conversion's errors are large and rare).
        #[source]
        source: Box<coffer_sealed::Error>,
    },

    /// A document does not have the shape its kind or markers promise.
    #[error("{object}: {reason}")]
    Invalid {
        /// The document.
        object: Box<ObjectRef>,
        /// What is wrong (names fields, never values).
        reason: String,
    },

    /// The output would still hold something encrypted or sealed.
    #[error("{object}: refusing to output it: {violation}")]
    Guard {
        /// The document.
        object: Box<ObjectRef>,
        /// What it still holds.
        violation: Violation,
    },

    /// Non-empty input gave no document (see `Options::allow_empty`).
    #[error(
        "no document to output (the input held {documents} non-blank document(s)): refusing to \
         print nothing, as Argo CD prunes every resource of an application whose manifests are \
         empty; allow empty output to accept it"
    )]
    EmptyOutput {
        /// How many documents the input had.
        documents: usize,
    },

    /// Several documents failed; each error names its document.
    #[error("{} documents failed:\n{}", .0.len(), list(.0))]
    Several(Vec<Error>),

    /// A key source could not be used.
    #[error("keyring: {origin}: {reason}")]
    Keyring {
        /// The file, variable or Secret the keys came from.
        origin: String,
        /// Why (never key material).
        reason: String,
    },

    /// A file a kustomization refers to could not be decrypted in place.
    #[error("{path}: {reason}", path = .path.display())]
    Source {
        /// The file or reference, relative to the root.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, and to which file.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn list(errors: &[Error]) -> String {
    errors
        .iter()
        .map(|e| format!("  - {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    /// Every single error, with [`Error::Several`] unpacked (one per
    /// failing document, e.g. one KRM result each).
    pub fn errors(&self) -> Vec<&Error> {
        match self {
            Error::Several(all) => all.iter().flat_map(Error::errors).collect(),
            other => vec![other],
        }
    }

    /// The document an error is about, if it is about one.
    pub fn object(&self) -> Option<&ObjectRef> {
        match self {
            Error::Sops { object, .. }
            | Error::SopsData { object, .. }
            | Error::MacMismatch { object, .. }
            | Error::Unseal { object, .. }
            | Error::Invalid { object, .. }
            | Error::Guard { object, .. } => Some(object.as_ref()),
            _ => None,
        }
    }
}

/// What a document refused by the guards still holds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// A top-level `sops` block.
    #[error("it still carries a sops block")]
    SopsBlock,
    /// A value in sops's `ENC[AES256_GCM,...]` format.
    #[error("the value at {path} is still SOPS-encrypted (ENC[...])")]
    EncryptedValue {
        /// Where (mapping keys and indices joined by `.`).
        path: String,
    },
    /// A Secret value that is a whole SOPS document.
    #[error("its {field} key {key:?} still holds a SOPS document")]
    EncryptedData {
        /// `data` or `stringData`.
        field: &'static str,
        /// The key.
        key: String,
    },
    /// A SealedSecret no key opens, while unsealed output is required.
    #[error(
        "it is a SealedSecret that no key of the keyring opens, and unsealed output is required"
    )]
    Sealed,
}
