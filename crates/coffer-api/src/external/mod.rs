//! External Secrets Operator's `external-secrets.io/v1` kinds:
//! ExternalSecret, SecretStore, ClusterSecretStore and ClusterExternalSecret.
//!
//! JSON names, enums, defaults, printer columns and short names follow ESO's
//! Go types (`apis/externalsecrets/v1`), so that ESO manifests apply to a
//! cluster running Coffer unchanged. Where ESO sets a default in its CRD we
//! set the same one; accessor methods return it when a field is absent.

mod aws;
mod cluster_external_secret;
mod duration;
mod external_secret;
mod meta;
mod secret_store;
mod vault;

pub use aws::*;
pub use cluster_external_secret::*;
pub use duration::{DurationError, format_go_duration, parse_go_duration};
pub use external_secret::*;
pub use meta::{Condition, LocalObjectReference, SecretKeySelector, ServiceAccountSelector};
pub use secret_store::*;
pub use vault::*;
