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
    /// `--enable-flood-gate`: the store's `Ready` condition is not `True`,
    /// so it is not used (ESO's message).
    #[error("{store} is not ready")]
    StoreNotReady {
        /// `SecretStore ns/name` or `ClusterSecretStore name`.
        store: String,
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
        #[source]
        source: ProviderError,
    },
    /// Decoding, conversion or rewriting failed for one field of the spec.
    #[error("error processing {field}: {source}")]
    Transform {
        /// The field, as for [`Error::Provider`].
        field: String,
        /// What failed.
        #[source]
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
    /// A template failed to parse or render, or rendered what cannot go
    /// into a Secret.
    #[error("could not apply template: {0}")]
    Template(#[source] TemplateError),
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
        #[source]
        source: kube::Error,
    },
}

/// Why a template could not be applied. Rendered text is never quoted: it
/// can be Secret data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The engine refused a template written in the spec (its text is the
    /// spec's, so the engine's message may quote it).
    #[error(transparent)]
    Engine(#[from] coffer_template::Error),
    /// A template read from a Secret (`templateFrom.secret`) failed; the
    /// engine's message is withheld since the template text is Secret data.
    #[error(
        "the template in Secret {secret:?} for {name:?} does not {step} (details withheld: \
         the template text is Secret data)"
    )]
    FromSecret {
        /// The Secret holding the template.
        secret: String,
        /// The template's name (its key in the spec).
        name: String,
        /// `parse` or `render`.
        step: &'static str,
    },
    /// The rendered output cannot go into a Secret (not UTF-8, a key or
    /// label the API server would refuse); names only what the spec wrote.
    #[error("{0}")]
    Output(String),
}

impl Error {
    /// A short, stable label for metrics and logs: one per variant.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::StoreNotFound { .. } => "store_not_found",
            Error::StoreNotAllowed { .. } => "store_not_allowed",
            Error::StoreNotReady { .. } => "store_not_ready",
            Error::StoreConfig { .. } => "store_config",
            Error::Provider { .. } => "provider",
            Error::Transform { .. } => "transform",
            Error::Unsupported { .. } => "unsupported",
            Error::InvalidSpec(_) => "invalid_spec",
            Error::Template(_) => "template",
            Error::TemplateSource(_) => "template_source",
            Error::OwnedByOther { .. } => "owned_by_other",
            Error::ForeignOwner { .. } => "foreign_owner",
            Error::NotOurs { .. } => "not_ours",
            Error::Immutable { .. } => "immutable",
            Error::DeleteNotOwner { .. } => "delete_not_owner",
            Error::Kube { .. } => "kube",
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_error_keeps_the_engine_error_as_its_source() {
        let Err(engine) = coffer_template::Template::parse("greeting", "{{ .name") else {
            panic!("an unclosed action does not parse");
        };
        let engine_message = engine.to_string();
        let err = Error::Template(TemplateError::Engine(engine));
        assert_eq!(err.metric_label(), "template");
        assert_eq!(
            err.to_string(),
            format!("could not apply template: {engine_message}")
        );
        let source = std::error::Error::source(&err).expect("the template error is the source");
        assert_eq!(source.to_string(), engine_message);
    }

    #[test]
    fn a_template_from_a_secret_is_named_not_quoted() {
        let err = Error::Template(TemplateError::FromSecret {
            secret: "templates".into(),
            name: "config.yaml".into(),
            step: "render",
        });
        assert_eq!(
            err.to_string(),
            "could not apply template: the template in Secret \"templates\" for \"config.yaml\" \
             does not render (details withheld: the template text is Secret data)"
        );
        assert_eq!(err.condition_message(), "could not update secret");
    }
}
