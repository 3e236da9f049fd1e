//! The controller's error type: one variant per step that can fail, each
//! naming the object it was working on, with a `metric_label()` so errors
//! become Prometheus labels. No variant carries a secret value.

/// The result type of the controller library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in the controller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("failed to {action}: {source}")]
    Kube {
        /// What was being done ("create Secret prod/db", ...).
        action: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },

    /// A key Secret in the controller's namespace could not be read.
    #[error("key Secret {namespace}/{name} is unusable: {reason}")]
    BadKeySecret {
        /// The controller's namespace.
        namespace: String,
        /// The key Secret's name.
        name: String,
        /// Why (missing field, bad PEM, key and certificate mismatch).
        reason: String,
    },

    /// A new sealing key could not be generated.
    #[error("failed to generate a sealing key: {0}")]
    KeyGeneration(#[source] coffer_crypto::Error),

    /// The registry holds no key at all (cannot happen after start).
    #[error("no sealing key is loaded")]
    NoKeys,

    /// Rendering a SealedSecret's template ran past its deadline (already
    /// reported in its status and an Event); retried with backoff, since
    /// it may finish on a less busy machine.
    #[error("rendering the templates of SealedSecret {object} ran out of time; retrying")]
    RenderTimedOut {
        /// `namespace/name` of the SealedSecret.
        object: String,
    },

    /// The configuration cannot be run (e.g. sharding without leader
    /// election).
    #[error("invalid configuration: {0}")]
    Config(String),

    /// An HTTP listener could not be bound.
    #[error("failed to listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A short, stable label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "kube",
            Error::BadKeySecret { .. } => "bad_key_secret",
            Error::KeyGeneration(_) => "key_generation",
            Error::NoKeys => "no_keys",
            Error::RenderTimedOut { .. } => "render_timeout",
            Error::Listen { .. } => "listen",
            Error::Config(_) => "config",
        }
    }

    /// The API server refused a create: an object of that name exists.
    pub(crate) fn is_already_exists(&self) -> bool {
        matches!(self, Error::Kube { source: kube::Error::Api(s), .. }
            if s.code == 409 && s.reason == "AlreadyExists")
    }

    /// Wraps a kube error with what was being done.
    pub(crate) fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let action = action.into();
        move |source| Error::Kube { action, source }
    }
}
