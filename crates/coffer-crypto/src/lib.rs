//! Coffer's sealing core: Bitnami-compatible hybrid encryption of SealedSecret
//! values, sealing scopes, and the RSA keys and certificates they use.
//!
//! Everything that seals or unseals a SealedSecret value (the CLI, the
//! controller, apply-time decryption) calls this crate and nothing else. It
//! knows nothing of Kubernetes: callers pass namespaces, names and annotation
//! maps as plain strings.
//!
//! The wire format is Bitnami sealed-secrets' own, bit for bit, so values
//! sealed by kubeseal open here and ours open there (see [`hybrid`]):
//!
//! ```
//! use coffer_crypto::{KeySize, PrivateKey, Scope, seal_base64, unseal_base64};
//!
//! let key = PrivateKey::generate(KeySize::Rsa2048)?;
//! let label = Scope::Strict.label("prod", "db");
//! let sealed = seal_base64(key.public_key(), label.as_bytes(), b"hunter2")?;
//! let opened = unseal_base64(&[key], label.as_bytes(), &sealed)?;
//! assert_eq!(opened.plaintext(), b"hunter2");
//! # Ok::<(), coffer_crypto::Error>(())
//! ```
//!
//! RSA runs on aws-lc-rs (constant-time OAEP decryption); the `rsa` crate is
//! not used. Plaintext, session keys and private keys live in zeroizing
//! buffers, and no `Debug`, `Display` or error shows them.

#![forbid(unsafe_code)]

pub mod cert;
mod der;
pub mod error;
mod fingerprint;
pub mod hybrid;
pub mod keypair;
pub mod keys;
mod pem;
pub mod scope;

pub use cert::Certificate;
pub use error::{Error, Result};
pub use hybrid::{
    MAX_PLAINTEXT_LEN, MAX_SEALED_LEN, SealedParts, Unsealed, decode_base64, seal, seal_base64,
    split_sealed, unseal, unseal_base64, unseal_whole_secret,
};
pub use keypair::{DEFAULT_VALIDITY, KeyOptions, KeyPair, self_signed_certificate};
pub use keys::{Fingerprint, KeySize, PrivateKey, PublicKey, private_key_operations};
pub use scope::{CLUSTER_WIDE_ANNOTATION, NAMESPACE_WIDE_ANNOTATION, Scope};

/// One 2048-bit key shared by the unit tests (generating keys is slow).
#[cfg(test)]
pub(crate) mod test_keys {
    use std::sync::OnceLock;

    use crate::keys::{KeySize, PrivateKey};

    pub(crate) fn key_2048() -> &'static PrivateKey {
        static KEY: OnceLock<PrivateKey> = OnceLock::new();
        KEY.get_or_init(|| PrivateKey::generate(KeySize::Rsa2048).expect("generate test key"))
    }
}
