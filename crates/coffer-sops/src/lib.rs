//! SOPS 3.x compatible documents encrypted to age recipients, without any
//! Kubernetes dependency. A file encrypted here opens with the real sops and
//! the reverse: values are `ENC[AES256_GCM,…]` strings bound to their path,
//! a SHA-512 MAC over the plaintext is stored encrypted, and the `sops`
//! metadata carries the data key wrapped for each age recipient (split with
//! Shamir's scheme across key groups). YAML (with comments), JSON, dotenv,
//! INI and binary files are supported.
//!
//! The usual flow is [`load_encrypted`] → [`Identities::load`] →
//! [`data_key`] → [`Session::decrypt`] → [`emit_plain`], and the reverse
//! for encryption; [`open`], [`decrypt`] and [`encrypt`] run it in one call
//! with a MAC policy (verify, warn, skip).
//!
//! The modules are private: the crate root re-exports what the CLI,
//! coffer-gitops and the tests use, and nothing else.

#![forbid(unsafe_code)]

mod bech32long;
mod cipher;
mod config;
mod crypt;
mod ct_bignum;
mod document;
mod envelope;
mod error;
mod flatten;
mod format;
mod hpke;
mod keys;
mod metadata;
mod pq;
mod shamir;
mod ssh_rsa;
mod timefmt;
mod tree;

pub use cipher::{Cipher, DataKey, is_encrypted_value};
pub use config::{creation_rule, find_config};
pub use crypt::{CryptRule, decrypt_tree, encrypt_tree};
pub use document::{
    Decrypted, Opened, decrypt, encrypt, encrypt_docs, open, open_to_read, zeroize_tree,
};
pub use envelope::{
    EncryptOptions, MacCheck, MacPolicy, Session, data_key, new_metadata, wrap_data_key,
};
pub use error::{Error, Result};
pub use format::dotenv::val_to_string as dotenv_value;
pub use format::json::{
    read as read_json, read_value as read_json_value, write as write_json,
    write_value as write_json_value,
};
pub use format::yaml::{
    MAX_DEPTH as YAML_MAX_DEPTH, MIN_COPY_BUDGET as YAML_MIN_COPY_BUDGET, read as read_yaml,
    write as write_yaml, write_value as write_yaml_value,
};
pub use format::{Format, emit_encrypted, emit_plain, has_metadata, load_encrypted, load_plain};
pub use keys::{
    Env, EnvIdentities, Identities, ProcessEnv, Unwrapper, parse_recipient,
    wrap as wrap_to_recipient,
};
pub use metadata::{AgeKey, MasterKey, Metadata};
pub use pq::Identity as PqIdentity;
pub use tree::{
    Branch, Comment, Item, Key, PathStep, Value, get as get_path, parse_tree_path, set as set_path,
    unset as unset_path,
};

/// The suffix that keeps a value in clear when no rule is given (matches sops).
pub const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// Entry points for the fuzz targets in fuzz/ (feature `fuzzing`, hidden):
/// parsers and key code the public API reaches only through whole files.
/// Not an API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::config::creation_rule_in;
    pub use crate::keys::stanza_types;

    /// Post-quantum age keys.
    pub mod pq {
        pub use crate::pq::{Identity, Recipient};
    }
    /// Shamir's secret sharing of the data key.
    pub mod shamir {
        pub use crate::shamir::{combine, split};
    }
    /// ssh-rsa age identities.
    pub mod ssh_rsa {
        pub use crate::ssh_rsa::Identity;
    }
}
