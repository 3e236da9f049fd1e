//! The one error type of this crate: every step that can fail has a variant
//! naming the step and where in the document it happened. No variant ever
//! carries a plaintext value, a data key or a private key.

use std::path::PathBuf;

/// Everything that can go wrong while reading, decrypting, encrypting or
/// writing a SOPS document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not valid in its format (YAML, JSON, dotenv, INI).
    #[error("invalid {format} input at {location}: {reason}")]
    Parse {
        /// Which format was being read.
        format: &'static str,
        /// Line/column or key where the problem was found.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// The document has a shape SOPS cannot hold (e.g. a top-level list).
    #[error("unsupported document: {0}")]
    Unsupported(String),
    /// The document has no `sops` metadata.
    #[error("sops metadata not found: the file is not encrypted with sops")]
    MetadataNotFound,
    /// The `sops` metadata is present but malformed.
    #[error("invalid sops metadata: {0}")]
    Metadata(String),
    /// The document already carries `sops` metadata and cannot be encrypted again.
    #[error("the file is already encrypted with sops")]
    AlreadyEncrypted,
    /// A value is not in sops's `ENC[AES256_GCM,...]` format.
    #[error("value at {path} is not a sops encrypted value: {reason}")]
    ValueFormat {
        /// The value's path (mapping keys joined with `:`).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// AES-GCM authentication failed for a value (wrong key or tampering).
    #[error(
        "could not decrypt the value at {path}: authentication failed (wrong data key or the value, its key name or position was modified)"
    )]
    ValueDecrypt {
        /// The value's path (mapping keys joined with `:`).
        path: String,
    },
    /// The MAC over the plaintext does not match the stored one.
    #[error(
        "MAC mismatch: the file was modified after it was encrypted (use --ignore-mac to decrypt anyway)"
    )]
    MacMismatch,
    /// No identity could unwrap the data key.
    #[error("could not retrieve the data key: {0}")]
    NoDataKey(String),
    /// A recipient string could not be parsed.
    #[error("invalid recipient {recipient:?}: {reason}")]
    Recipient {
        /// The recipient as given (public, so safe to show).
        recipient: String,
        /// What is wrong.
        reason: String,
    },
    /// An identity (private key) source could not be read or parsed.
    #[error("invalid age identity from {source_name}: {reason}")]
    Identity {
        /// Where the identity came from (env var name or file path), never the key.
        source_name: String,
        /// What is wrong (never contains key material).
        reason: String,
    },
    /// age encryption of the data key failed.
    #[error("could not wrap the data key for {recipient}: {reason}")]
    Wrap {
        /// The recipient.
        recipient: String,
        /// What is wrong.
        reason: String,
    },
    /// A `.sops.yaml` problem.
    #[error("config {path}: {reason}", path = .path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A regular expression in the metadata or config is invalid.
    #[error("invalid regular expression {pattern:?}: {reason}")]
    Regex {
        /// The pattern.
        pattern: String,
        /// What is wrong.
        reason: String,
    },
    /// A tree path (for `--extract`, `set`, `unset`) is malformed or absent.
    #[error("{0}")]
    TreePath(String),
    /// Shamir splitting or combining failed.
    #[error("shamir secret sharing: {0}")]
    Shamir(String),
    /// Random number generation failed.
    #[error("could not generate random bytes: {0}")]
    Random(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
