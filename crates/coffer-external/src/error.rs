//! Why a sync failed. Messages name the ExternalSecret's field, the store,
//! the remote key or the Secret, never a value; they go into the `Ready`
//! condition's message and the `UpdateFailed` Event as they are.

use coffer_providers::Error as ProviderError;

use crate::transform::TransformError;

/// A sync failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The referenced store does not exist.
    #[error("could not get {kind} {name:?}")]
    StoreNotFound {
        /// `SecretStore` or `ClusterSecretStore`.
        kind: &'static str,
        /// The store's name.
        name: String,
    },
    /// A ClusterSecretStore's `conditions` exclude the namespace.
    #[error(
        "using cluster store {store:?} is not allowed from namespace {namespace:?}: denied by spec.condition"
    )]
    StoreNotAllowed {
        /// The ClusterSecretStore.
        store: String,
        /// The ExternalSecret's namespace.
        namespace: String,
    },
    /// The store cannot be used as configured (unsupported provider or
    /// auth method, missing field, unreadable credentials).
    #[error("{store}: {reason}")]
    StoreConfig {
        /// The store (`SecretStore ns/name`).
        store: String,
        /// What is wrong.
        reason: String,
    },
    /// The provider failed while reading for one field of the spec.
    #[error("error processing {field}: {source}")]
    Provider {
        /// `spec.data[0] (key: db-password)`, `spec.dataFrom[1].extract`.
        field: String,
        /// The provider's error (names store and key only).
        source: ProviderError,
    },
    /// Decoding, conversion or rewriting failed for one field of the spec.
    #[error("error processing {field}: {source}")]
    Transform {
        /// The field, as for [`Error::Provider`].
        field: String,
        /// What failed.
        source: TransformError,
    },
    /// The spec asks for something this controller does not do.
    #[error("{field}: {reason}")]
    Unsupported {
        /// The field.
        field: String,
        /// What is not supported.
        reason: String,
    },
    /// The spec is invalid (what ESO's admission webhook would refuse).
    #[error("invalid ExternalSecret: {0}")]
    InvalidSpec(String),
    /// A template failed to parse or render.
    #[error("could not apply template: {0}")]
    Template(String),
    /// `templateFrom` names a ConfigMap or Secret key that does not exist.
    #[error("error fetching templateFrom data: {0}")]
    TemplateSource(String),
    /// The target Secret is controlled by another ExternalSecret.
    #[error("secret {secret:?} is owned by another ExternalSecret: {owner}")]
    OwnedByOther {
        /// The target Secret.
        secret: String,
        /// The ExternalSecret that controls it.
        owner: String,
    },
    /// The target Secret is controlled by something else, so it cannot be
    /// taken over with `creationPolicy: Owner`.
    #[error("failed to take ownership of target secret {secret:?}: it is controlled by {owner}")]
    ForeignOwner {
        /// The target Secret.
        secret: String,
        /// `Kind/name` of its controller.
        owner: String,
    },
    /// The target Secret exists and is not this ExternalSecret's to write
    /// or delete (see `ownership`).
    #[error(
        "secret {secret:?} exists and was not created by this ExternalSecret: creationPolicy={policy} \
         (and deletionPolicy=Delete) only touch a Secret that is already this ExternalSecret's; \
         its owner can hand it over by annotating it with {adopt}={es}",
        adopt = crate::ownership::ADOPT_ANNOTATION
    )]
    NotOurs {
        /// The target Secret.
        secret: String,
        /// The creation policy.
        policy: String,
        /// The ExternalSecret's name.
        es: String,
    },
    /// The target Secret is immutable and its data or type would change.
    #[error("unable to update secret {secret:?}: secret is immutable")]
    Immutable {
        /// The target Secret.
        secret: String,
    },
    /// `deletionPolicy: Delete` needs `creationPolicy: Owner`.
    #[error("unable to delete secret {secret:?}: creationPolicy={policy} is not Owner")]
    DeleteNotOwner {
        /// The target Secret.
        secret: String,
        /// The creation policy.
        policy: String,
    },
    /// A Kubernetes API call failed.
    #[error("{action}: {source}")]
    Kube {
        /// What was being done (`update secret ns/name`).
        action: String,
        /// The API error.
        source: kube::Error,
    },
}

impl Error {
    /// The base message ESO puts in the `Ready` condition for this failure;
    /// the full error goes after it.
    pub fn condition_message(&self) -> &'static str {
        match self {
            Error::OwnedByOther { .. } => "target is owned by another ExternalSecret",
            Error::ForeignOwner { .. } => "failed to take ownership of target secret",
            Error::NotOurs { .. } => "refused to take over target secret",
            Error::Immutable { .. } => "could not update secret, target is immutable",
            Error::DeleteNotOwner { .. } => "could not delete secret",
            // Matches ESO: templates render while the Secret is mutated, so
            // their failures are update failures.
            Error::Kube { .. } | Error::Template(_) | Error::TemplateSource(_) => {
                "could not update secret"
            }
            _ => "could not get secret data from provider",
        }
    }

    /// Retrying cannot help until the object or the Secret changes (ESO
    /// does not requeue these). [`Error::NotOurs`] is retried with backoff:
    /// the adopt annotation that resolves it is on a Secret the controller
    /// does not watch.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Error::OwnedByOther { .. }
                | Error::ForeignOwner { .. }
                | Error::Immutable { .. }
                | Error::DeleteNotOwner { .. }
                | Error::InvalidSpec(_)
        )
    }

    /// How long to wait before retrying, when the provider said so.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::Provider {
                source: ProviderError::Throttled { retry_after, .. },
                ..
            } => Some(*retry_after),
            _ => None,
        }
    }
}

/// Result with the sync [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
