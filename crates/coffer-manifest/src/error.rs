//! The one error type of manifest reading. Every variant names the input
//! (a file name, "standard input", ...) and, where one document is at fault,
//! its 1-based index; none quotes the input.

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What is wrong with a manifest stream.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not UTF-8.
    #[error("{input} is not UTF-8 (invalid byte at offset {offset}); Secrets must be JSON or YAML")]
    NotUtf8 {
        /// The input's name.
        input: String,
        /// Offset of the first invalid byte.
        offset: usize,
    },

    /// A JSON document does not parse.
    #[error("{input} is not valid JSON: {reason}")]
    Json {
        /// The input's name.
        input: String,
        /// The parser's message, quoted text redacted.
        reason: String,
    },

    /// A YAML document does not parse.
    #[error("{input} is not valid YAML (document {index}): {reason}")]
    Yaml {
        /// The input's name.
        input: String,
        /// The document.
        index: usize,
        /// The parser's message, quoted text redacted.
        reason: String,
    },

    /// A document has another `kind` than the one expected.
    #[error("document {index} of {input} is a {found}, not a {expected}")]
    WrongKind {
        /// The input's name.
        input: String,
        /// The document.
        index: usize,
        /// Its kind.
        found: String,
        /// The kind expected.
        expected: String,
    },

    /// A document is not an object.
    #[error("document {index} of {input} is not an object, so not a {expected}")]
    NotObject {
        /// The input's name.
        input: String,
        /// The document.
        index: usize,
        /// The kind expected.
        expected: String,
    },

    /// A document does not have the shape of its kind.
    #[error("document {index} of {input} is not a valid {kind}: {reason}")]
    Invalid {
        /// The input's name.
        input: String,
        /// The document.
        index: usize,
        /// The kind it was read as.
        kind: String,
        /// What is wrong, quoted text redacted.
        reason: String,
    },

    /// A `List`'s `items` is not an array.
    #[error("document {index} of {input}: the List's items are not an array")]
    ListItems {
        /// The input's name.
        input: String,
        /// The document.
        index: usize,
    },

    /// The input is larger than allowed.
    #[error("{input} is larger than {max} bytes")]
    InputTooLarge {
        /// The input's name.
        input: String,
        /// The limit.
        max: usize,
    },

    /// The input holds more documents than allowed.
    #[error("{input} holds more than {max} documents")]
    TooManyDocuments {
        /// The input's name.
        input: String,
        /// The limit.
        max: usize,
    },

    /// One document is larger than allowed.
    #[error("document {index} of {input} is larger than {max} bytes")]
    DocumentTooLarge {
        /// The input's name.
        input: String,
        /// The document.
        index: usize,
        /// The limit.
        max: usize,
    },
}
