//! The one error type of the sealing core.
//!
//! Every way that sealing, unsealing or reading key material can fail has its
//! own variant with a lowercase message that says what is wrong and, where it
//! helps, what to do. No variant carries plaintext, session keys or private key
//! material: only lengths, offsets, scope labels (namespace and name, which are
//! public), fingerprints and dates. `tests/hygiene.rs` checks this.

use crate::keys::Fingerprint;
use crate::scope::Scope;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while sealing, unsealing or reading keys and certificates.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The sealed value (as it appears in a manifest) is not standard base64.
    #[error("sealed value is not valid base64: {reason}")]
    NotBase64 {
        /// Where decoding stopped (an offset or a length, never the input).
        reason: String,
    },

    /// The sealed value is shorter than any sealed value can be.
    #[error("sealed value is too short: {len} bytes, but at least {min} are needed")]
    TooShort {
        /// Its length in bytes.
        len: usize,
        /// The least length that could be valid.
        min: usize,
    },

    /// The 2-byte length prefix points past the end of the value.
    #[error(
        "sealed value is truncated or corrupt: its length prefix announces a {declared}-byte rsa \
         block but only {available} bytes follow"
    )]
    LengthPrefixPastEnd {
        /// The RSA block length that the prefix announces.
        declared: usize,
        /// The bytes that follow the prefix.
        available: usize,
    },

    /// The value is larger than a Kubernetes Secret can hold.
    #[error("sealed value is too large: {len} bytes, the limit is {max} bytes")]
    TooLarge {
        /// Its length in bytes (decoded).
        len: usize,
        /// The limit.
        max: usize,
    },

    /// The plaintext to seal is larger than a Kubernetes Secret can hold.
    #[error("value to seal is too large: {len} bytes, the limit is {max} bytes (1 MiB)")]
    PlaintextTooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// No private key could open the RSA block with this scope label.
    #[error(
        "no private key could decrypt the value sealed for scope {scope} ({label:?}): the value was \
         sealed with another key, or for another namespace, name or scope (tried {keys_tried} \
         key(s))"
    )]
    NoKeyOpened {
        /// The scope that the label denotes.
        scope: Scope,
        /// The label that was tried (`namespace/name`, `namespace` or empty).
        label: String,
        /// How many private keys were tried.
        keys_tried: usize,
    },

    /// Unseal was called with an empty key list.
    #[error("no private keys were given to unseal with")]
    NoKeys,

    /// The RSA block opened but the AES-GCM tag did not match.
    #[error(
        "sealed value was tampered with or corrupted: its aes-gcm authentication tag does not \
         match (the session key opened with key {fingerprint})"
    )]
    Tampered {
        /// Index (newest first) of the key that opened the RSA block.
        key_index: usize,
        /// Fingerprint of that key.
        fingerprint: Fingerprint,
    },

    /// The RSA block held a session key of a length AES cannot use.
    #[error("the decrypted session key has {len} bytes; aes-gcm needs 16, 24 or 32")]
    BadSessionKey {
        /// Its length.
        len: usize,
    },

    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,

    /// RSA-OAEP encryption failed (e.g. a label too long for the key).
    #[error("rsa-oaep encryption of the session key failed with a {bits}-bit key")]
    RsaEncrypt {
        /// The key size.
        bits: usize,
    },

    /// AES-GCM encryption failed.
    #[error("aes-gcm encryption failed")]
    AesEncrypt,

    /// The text holds no PEM block of any kind.
    #[error("no pem block found in the {what}")]
    NoPemBlock {
        /// What was being read ("private key", "certificate", ...).
        what: &'static str,
    },

    /// A PEM block is malformed (unterminated, bad base64, mismatched END).
    #[error("malformed pem in the {what}: {reason}")]
    MalformedPem {
        /// What was being read.
        what: &'static str,
        /// What is wrong, without any of the block's content.
        reason: String,
    },

    /// A PEM block of an unexpected type was found.
    #[error("unexpected pem block {found:?} in the {what}; expected {expected}")]
    UnexpectedPemLabel {
        /// What was being read.
        what: &'static str,
        /// The block's label.
        found: String,
        /// The labels accepted.
        expected: &'static str,
    },

    /// The private key is encrypted with a passphrase.
    #[error(
        "the private key is encrypted with a passphrase, which is not supported; decrypt it first \
         (openssl rsa -in key.pem -out plain.pem)"
    )]
    EncryptedPrivateKey,

    /// The DER inside a private key PEM is not a valid RSA private key.
    #[error("the private key is not a valid {format} rsa private key: {reason}")]
    MalformedPrivateKey {
        /// "pkcs#1" or "pkcs#8".
        format: &'static str,
        /// What is wrong.
        reason: &'static str,
    },

    /// The public key is not a supported RSA public key.
    #[error("the public key is not a supported rsa public key: {reason}")]
    MalformedPublicKey {
        /// What is wrong.
        reason: &'static str,
    },

    /// The key has a size this crate does not generate.
    #[error("unsupported rsa key size: {bits} bits (supported: 2048, 3072, 4096)")]
    UnsupportedKeySize {
        /// The size asked for.
        bits: usize,
    },

    /// RSA key generation failed.
    #[error("rsa key generation failed")]
    KeyGeneration,

    /// A certificate is not valid X.509.
    #[error("certificate {index} in the pem is not valid x.509: {reason}")]
    MalformedCertificate {
        /// Its position (0-based) among the certificates.
        index: usize,
        /// What the parser reported.
        reason: String,
    },

    /// The certificate has expired.
    #[error(
        "the certificate (public key {fingerprint}) expired at {not_after}; fetch the controller's \
         current certificate"
    )]
    CertificateExpired {
        /// When it expired (RFC 3339).
        not_after: String,
        /// Fingerprint of its public key.
        fingerprint: Fingerprint,
    },

    /// The private key and the certificate do not belong together.
    #[error(
        "the certificate (public key {certificate}) does not belong to the private key \
         ({private_key})"
    )]
    KeyCertificateMismatch {
        /// Fingerprint of the certificate's public key.
        certificate: Fingerprint,
        /// Fingerprint of the private key.
        private_key: Fingerprint,
    },

    /// The self-signed certificate could not be created.
    #[error("creating the self-signed certificate failed: {reason}")]
    CertificateCreation {
        /// What went wrong.
        reason: String,
    },

    /// A scope name is not one of `strict`, `namespace-wide`, `cluster-wide`.
    #[error("invalid scope {0:?}: must be one of strict, namespace-wide, cluster-wide")]
    InvalidScope(String),
}

impl Error {
    /// A short, stable name for the error, for metrics labels.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::NotBase64 { .. } => "not_base64",
            Error::TooShort { .. } => "too_short",
            Error::LengthPrefixPastEnd { .. } => "length_prefix_past_end",
            Error::TooLarge { .. } => "too_large",
            Error::PlaintextTooLarge { .. } => "plaintext_too_large",
            Error::NoKeyOpened { .. } => "no_key_opened",
            Error::NoKeys => "no_keys",
            Error::Tampered { .. } => "tampered",
            Error::BadSessionKey { .. } => "bad_session_key",
            Error::Random => "random",
            Error::RsaEncrypt { .. } => "rsa_encrypt",
            Error::AesEncrypt => "aes_encrypt",
            Error::NoPemBlock { .. } => "no_pem_block",
            Error::MalformedPem { .. } => "malformed_pem",
            Error::UnexpectedPemLabel { .. } => "unexpected_pem_label",
            Error::EncryptedPrivateKey => "encrypted_private_key",
            Error::MalformedPrivateKey { .. } => "malformed_private_key",
            Error::MalformedPublicKey { .. } => "malformed_public_key",
            Error::UnsupportedKeySize { .. } => "unsupported_key_size",
            Error::KeyGeneration => "key_generation",
            Error::MalformedCertificate { .. } => "malformed_certificate",
            Error::CertificateExpired { .. } => "certificate_expired",
            Error::KeyCertificateMismatch { .. } => "key_certificate_mismatch",
            Error::CertificateCreation { .. } => "certificate_creation",
            Error::InvalidScope(_) => "invalid_scope",
        }
    }
}
