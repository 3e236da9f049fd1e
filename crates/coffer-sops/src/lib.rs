//! SOPS 3.x compatible documents encrypted to age recipients, without any
//! Kubernetes dependency. A file encrypted here opens with the real sops and
//! the reverse: values are `ENC[AES256_GCM,…]` strings bound to their path,
//! a SHA-512 MAC over the plaintext is stored encrypted, and the `sops`
//! metadata carries the data key wrapped for each age recipient (split with
//! Shamir's scheme across key groups). YAML (with comments), JSON, dotenv,
//! INI and binary files are supported.
//!
//! The usual flow is [`format::load_encrypted`] → [`keys::Identities::load`]
//! → [`envelope::data_key`] → [`envelope::Session::decrypt`] →
//! [`format::emit_plain`], and the reverse for encryption; [`document`]
//! runs it in one call ([`document::open`], [`document::decrypt`],
//! [`document::encrypt`]) with a MAC policy (verify, warn, skip).

#![forbid(unsafe_code)]

mod bech32long;
pub mod cipher;
pub mod config;
pub mod crypt;
mod ct_bignum;
pub mod document;
pub mod envelope;
mod error;
pub mod flatten;
pub mod format;
mod hpke;
pub mod keys;
pub mod metadata;
pub mod pq;
pub mod shamir;
pub mod ssh_rsa;
pub mod timefmt;
pub mod tree;

pub use error::{Error, Result};

/// The suffix that keeps a value in clear when no rule is given (matches sops).
pub const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";
