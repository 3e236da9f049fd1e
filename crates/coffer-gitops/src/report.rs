//! What a decryption run did, document by document, and what it warns
//! about. Reports name documents, data keys, age recipients and key
//! fingerprints (all public), never a value.

use std::fmt;

use coffer_sops::{Format, MacCheck};

use crate::object::ObjectRef;

/// What happened to every document, in input order, and the warnings.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// One entry per non-empty input document, in order.
    pub documents: Vec<DocumentReport>,
    /// Things the caller should know (MAC mismatches under the warn
    /// policy, SealedSecrets left sealed, opted-out documents that are
    /// still encrypted, keyring entries not used).
    pub warnings: Vec<Warning>,
}

impl Report {
    /// Documents that were changed (decrypted or unsealed).
    pub fn changed(&self) -> impl Iterator<Item = &DocumentReport> {
        self.documents.iter().filter(|d| d.outcome.changed())
    }
}

/// What happened to one document.
#[derive(Clone, Debug)]
pub struct DocumentReport {
    /// The document.
    pub object: ObjectRef,
    /// What was done.
    pub outcome: Outcome,
}

/// What was done to a document.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A SOPS document: decrypted and its `sops` block removed (and, for a
    /// Secret, `data` values holding SOPS documents decrypted too).
    Decrypted {
        /// The age recipients whose entries opened the data key.
        recipients: Vec<String>,
        /// What came of the MAC check.
        mac: MacCheck,
        /// Secret data values decrypted inside it.
        data: Vec<DataKeyReport>,
    },
    /// A Secret whose `data` values held SOPS documents, decrypted in place.
    SecretData {
        /// The values decrypted.
        data: Vec<DataKeyReport>,
    },
    /// A SealedSecret, replaced by the Secret the controller would write.
    Unsealed {
        /// Fingerprints of the sealing keys that opened it.
        fingerprints: Vec<String>,
    },
    /// A SealedSecret no key of the keyring opens, passed through for the
    /// in-cluster controller.
    SealedPassedThrough,
    /// Nothing to decrypt: passed through unchanged.
    PassedThrough,
    /// Opted out by an annotation: passed through unchanged.
    OptedOut {
        /// The annotation.
        annotation: &'static str,
    },
}

impl Outcome {
    /// Whether the document's text changed.
    pub fn changed(&self) -> bool {
        matches!(
            self,
            Outcome::Decrypted { .. } | Outcome::SecretData { .. } | Outcome::Unsealed { .. }
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = |data: &[DataKeyReport]| {
            data.iter()
                .map(|d| d.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Outcome::Decrypted {
                recipients, data, ..
            } => {
                write!(f, "decrypted with {}", recipients.join(", "))?;
                if !data.is_empty() {
                    write!(f, "; data keys {} decrypted", keys(data))?;
                }
                Ok(())
            }
            Outcome::SecretData { data } => write!(f, "data keys {} decrypted", keys(data)),
            Outcome::Unsealed { fingerprints } => {
                write!(f, "unsealed with key {}", fingerprints.join(", "))
            }
            Outcome::SealedPassedThrough => {
                f.write_str("SealedSecret passed through (no key of the keyring opens it)")
            }
            Outcome::PassedThrough => f.write_str("passed through"),
            Outcome::OptedOut { annotation } => {
                write!(f, "passed through ({annotation}: Disabled)")
            }
        }
    }
}

/// One Secret `data` value that held a SOPS document.
#[derive(Clone, Debug, PartialEq)]
pub struct DataKeyReport {
    /// The data key.
    pub key: String,
    /// The SOPS document's format, recognised by its structure (`Binary`
    /// for sops's binary envelope).
    pub input: Format,
    /// The format the plaintext was written in.
    pub output: Format,
    /// The age recipients whose entries opened the data key.
    pub recipients: Vec<String>,
    /// What came of the MAC check.
    pub mac: MacCheck,
}

/// Something the caller should know; never contains a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    /// The document it is about, if any.
    pub object: Option<ObjectRef>,
    /// What happened.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.object {
            Some(object) => write!(f, "{object}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}
