//! The ExternalSecret controller against the real local control plane,
//! OpenBao and moto (one test binary, so the environment starts once).
//!
//! Each test gets its own namespace and its own controller watching only
//! that namespace, so tests run in parallel without seeing each other
//! (ClusterExternalSecret tests, whose controller is cluster-wide, take
//! turns).

mod aws;
mod aws_auth;
mod bao;
mod cluster_external_secret;
mod common;
mod events;
mod examples;
mod identity;
mod not_found;
mod parameter_store;
mod policies;
mod refresh;
mod remote_refs;
mod stores;
mod sync;
mod takeover;
mod targets;
mod templates;
mod tenancy;
mod vault;
mod vault_auth;
mod vault_options;
mod vault_tls;
