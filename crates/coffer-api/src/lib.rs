//! Coffer's Kubernetes API types.
//!
//! Every custom resource Coffer serves is defined here once, as Rust types
//! from which the CRD YAML in `crds/` is generated (`cargo run -p coffer-api
//! --features crdgen --bin crdgen`). The CLI, the controllers and the GitOps
//! library all use these types; none keeps a copy of its own.
//!
//! Schemas follow the upstream projects we are compatible with, so existing
//! manifests apply unchanged: `bitnami.com/v1alpha1` SealedSecret, and
//! External Secrets Operator's `external-secrets.io/v1` ExternalSecret,
//! SecretStore, ClusterSecretStore and ClusterExternalSecret ([`external`]).

#![forbid(unsafe_code)]

pub mod crds;
pub mod external;
pub mod sealed_secret;

pub use external::{
    ClusterExternalSecret, ClusterSecretStore, ExternalSecret, ExternalSecretSpec, SecretStore,
    SecretStoreSpec,
};
pub use sealed_secret::{
    SealedSecret, SealedSecretCondition, SealedSecretSpec, SealedSecretStatus, SecretTemplateSpec,
};
