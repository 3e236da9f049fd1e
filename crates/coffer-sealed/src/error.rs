//! The one error type of SealedSecret ↔ Secret conversion.
//!
//! Every variant names the object (`namespace/name`) and, where one value is
//! at fault, the Secret key, so a controller condition or a CLI message says
//! what to fix. No variant carries a plaintext value: the wrapped crypto and
//! template errors carry none either, and JSON errors from the deprecated
//! whole-Secret form are reduced to a line and column (serde's own messages
//! may quote the input). `tests/hygiene.rs` checks this.

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while sealing, unsealing or re-encrypting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Secret to seal has no `metadata.name` (matches kubeseal: "Missing
    /// metadata.name in input Secret").
    #[error("the Secret has no metadata.name (set it, or pass --name)")]
    SecretWithoutName,

    /// The Secret to seal has neither `data` nor `stringData`, and empty
    /// Secrets were not allowed (matches kubeseal).
    #[error(
        "the Secret has no data or stringData, assuming this is an error; use \
         --allow-empty-data to seal it anyway"
    )]
    EmptySecret,

    /// The Secret names another namespace than the one explicitly asked for.
    #[error(
        "namespace mismatch: Secret {name:?} is in namespace {own:?} but --namespace {given:?} \
         was given"
    )]
    NamespaceMismatch {
        /// The Secret's name.
        name: String,
        /// The namespace the Secret names.
        own: String,
        /// The namespace asked for.
        given: String,
    },

    /// The default namespace (kubeconfig) could not be told, and the
    /// Secret needs one.
    #[error("cannot tell the default namespace: {reason}")]
    DefaultNamespace {
        /// Why (no secret data: a kubeconfig path or parse error).
        reason: String,
    },

    /// The Secret to seal has no namespace, and its scope needs one.
    #[error(
        "Secret {name:?} has no namespace, which the {scope} scope needs (set \
         metadata.namespace, pass --namespace, or seal it cluster-wide)"
    )]
    SecretWithoutNamespace {
        /// The Secret's name.
        name: String,
        /// The scope it was to be sealed with.
        scope: coffer_crypto::Scope,
    },

    /// A value could not be sealed.
    #[error("cannot seal key {key:?} of Secret {object}: {source}")]
    Seal {
        /// `namespace/name` of the Secret.
        object: String,
        /// The Secret key whose value failed.
        key: String,
        /// Why.
        #[source]
        source: coffer_crypto::Error,
    },

    /// The SealedSecret has no `metadata.name`, so its scope label is unknown.
    #[error("the SealedSecret has no metadata.name")]
    SealedSecretWithoutName,

    /// A value of `spec.encryptedData` could not be unsealed.
    #[error("cannot unseal key {key:?} of SealedSecret {object}: {source}")]
    Unseal {
        /// `namespace/name` of the SealedSecret.
        object: String,
        /// The key in `spec.encryptedData`.
        key: String,
        /// Why (wrong key or scope, tampering, bad base64, ...).
        #[source]
        source: coffer_crypto::Error,
    },

    /// The deprecated whole-Secret blob (`spec.data`) could not be unsealed.
    #[error("cannot unseal the deprecated spec.data of SealedSecret {object}: {source}")]
    UnsealWholeSecret {
        /// `namespace/name` of the SealedSecret.
        object: String,
        /// Why.
        #[source]
        source: coffer_crypto::Error,
    },

    /// The deprecated whole-Secret blob opened but is not a Secret in JSON.
    #[error(
        "the deprecated spec.data of SealedSecret {object} does not hold a Secret as JSON \
         ({category} error at line {line}, column {column})"
    )]
    WholeSecretNotJson {
        /// `namespace/name` of the SealedSecret.
        object: String,
        /// serde_json's error category (syntax, data, eof, io).
        category: &'static str,
        /// Line of the error in the decrypted JSON.
        line: usize,
        /// Column of the error in the decrypted JSON.
        column: usize,
    },

    /// Both `spec.encryptedData` and the deprecated `spec.data` are set.
    #[error(
        "SealedSecret {object} sets both spec.encryptedData and the deprecated spec.data; use \
         only encryptedData"
    )]
    BothDataForms {
        /// `namespace/name` of the SealedSecret.
        object: String,
    },

    /// A `spec.template.data` entry failed to parse or render.
    #[error("cannot render template key {key:?} of SealedSecret {object}: {source}")]
    Template {
        /// `namespace/name` of the SealedSecret.
        object: String,
        /// The key in `spec.template.data`.
        key: String,
        /// Where and why (positions and key names only, never values).
        /// Boxed: template errors are large and this path is rare.
        #[source]
        source: Box<coffer_template::Error>,
    },
}

impl Error {
    /// A short, stable label for metrics and Event reasons.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::SecretWithoutName | Error::SealedSecretWithoutName => "missing_name",
            Error::SecretWithoutNamespace { .. } | Error::DefaultNamespace { .. } => {
                "missing_namespace"
            }
            Error::EmptySecret => "empty_secret",
            Error::NamespaceMismatch { .. } => "namespace_mismatch",
            Error::Seal { .. } => "seal",
            Error::Unseal { .. } | Error::UnsealWholeSecret { .. } => "unseal",
            Error::WholeSecretNotJson { .. } => "whole_secret_json",
            Error::BothDataForms { .. } => "both_data_forms",
            Error::Template { .. } => "template",
        }
    }
}

/// Reduces a serde_json error to what may be shown: its category and
/// position. (`Display` of a serde_json error can quote the input.)
pub(crate) fn json_error(object: &str, e: &serde_json::Error) -> Error {
    let category = match e.classify() {
        serde_json::error::Category::Io => "io",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "data",
        serde_json::error::Category::Eof => "eof",
    };
    Error::WholeSecretNotJson {
        object: object.to_owned(),
        category,
        line: e.line(),
        column: e.column(),
    }
}
