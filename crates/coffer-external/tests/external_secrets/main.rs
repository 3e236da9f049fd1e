//! The ExternalSecret controller against the real local control plane,
//! OpenBao and moto (one test binary, so the environment starts once).
//!
//! Each test gets its own namespace and its own controller watching only
//! that namespace, so tests run in parallel without seeing each other.

mod aws;
mod aws_auth;
mod bao;
mod common;
mod examples;
mod identity;
mod policies;
mod stores;
mod sync;
mod vault;
mod vault_auth;
