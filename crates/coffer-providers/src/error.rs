//! Provider errors. Each names the store and the key (never a value), and
//! says whether it is worth retrying, so the controller can keep the
//! existing Secret and requeue.

use std::time::Duration;

/// A provider error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The remote secret (or the requested version) does not exist.
    #[error("store {store}: secret {key:?} not found")]
    NotFound {
        /// The store's name.
        store: String,
        /// The key as given in the ExternalSecret.
        key: String,
    },
    /// The provider answered "not found" in a way that does not prove the
    /// secret is gone (Vault: a 404 outside a KV mount of the store's
    /// version, from an unknown namespace, or from a proxy). Unlike
    /// [`Error::NotFound`] it never counts as a deletion.
    #[error(
        "store {store}: reading {key:?}: not found, but not confirmed as a missing KV secret \
         (so not treated as deleted): {reason}"
    )]
    NotFoundUnconfirmed {
        /// The store's name.
        store: String,
        /// The key as given in the ExternalSecret.
        key: String,
        /// What answered and why it does not confirm the secret is gone.
        reason: String,
    },
    /// The secret exists but has no such property.
    #[error("store {store}: secret {key:?} has no property {property:?}")]
    PropertyNotFound {
        /// The store's name.
        store: String,
        /// The key as given in the ExternalSecret.
        key: String,
        /// The property path.
        property: String,
    },
    /// The credentials were refused, or do not allow the read.
    #[error("store {store}: access denied{}: {reason}", key_suffix(.key))]
    AccessDenied {
        /// The store's name.
        store: String,
        /// The key being read, if the failure is about one.
        key: Option<String>,
        /// The provider's reason, with any value removed.
        reason: String,
    },
    /// The provider asked us to slow down; the client backs off until
    /// `retry_after` has passed.
    #[error("store {store}: provider throttled requests; retrying after {retry_after:?}")]
    Throttled {
        /// The store's name.
        store: String,
        /// How long the store's client refuses to call the provider.
        retry_after: Duration,
    },
    /// The provider could not be reached or failed (network, 5xx).
    #[error("store {store}: provider unavailable{}: {reason}", key_suffix(.key))]
    Unavailable {
        /// The store's name.
        store: String,
        /// The key being read, if the failure is about one.
        key: Option<String>,
        /// What failed.
        reason: String,
    },
    /// The store or the reference is not usable as written.
    #[error("store {store}: invalid configuration: {reason}")]
    Config {
        /// The store's name.
        store: String,
        /// What is wrong.
        reason: String,
    },
    /// A service-account token could not be obtained.
    #[error("token for {purpose}: {reason}")]
    Token {
        /// What the token was for (`vault kubernetes auth`).
        purpose: String,
        /// Why it failed.
        reason: String,
    },
}

fn key_suffix(key: &Option<String>) -> String {
    match key {
        Some(k) => format!(" reading {k:?}"),
        None => String::new(),
    }
}

impl Error {
    /// The remote secret is gone, as the provider confirmed (drives ESO's
    /// `deletionPolicy`); never true for [`Error::NotFoundUnconfirmed`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Worth retrying later without any change to the store
    /// (outage, throttling).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Throttled { .. } | Error::Unavailable { .. })
    }
}

/// Result with the provider [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
