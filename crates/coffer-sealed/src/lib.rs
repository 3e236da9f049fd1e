//! SealedSecret ↔ Secret conversion: the one implementation that the CLI
//! (`coffer seal`, `--recovery-unseal`, `--re-encrypt`), the controller's
//! reconcile and the GitOps library all call, so that offline and in-cluster
//! results cannot drift apart.
//!
//! It works on typed objects only (`coffer_api::SealedSecret`,
//! `k8s_openapi` Secrets) and never talks to an API server. The shapes match
//! Bitnami sealed-secrets (`NewSealedSecret` and `Unseal` in
//! `pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go`), so
//! manifests move between kubeseal and coffer unchanged:
//!
//! - [`seal_secret`]: Secret → SealedSecret, as kubeseal writes it, after
//!   [`place`] applied kubeseal's name, namespace and scope rules (one rule,
//!   documented in `placement.rs`);
//! - [`unseal`]: SealedSecret → Secret (without owner reference), as the
//!   controller creates it, with the key fingerprints that opened it
//!   ([`unseal_with`] renders templates within the caller's limits);
//! - [`verify`]: whether keys open every value, without rendering the
//!   template (what the controller tells anonymous callers);
//! - [`reencrypt`]: the same SealedSecret with every value sealed to a new
//!   certificate (key rotation);
//! - [`inputs_hash`]: a stable hash of everything the Secret is made from,
//!   so a controller can skip decryption when nothing changed;
//! - [`request`]: the body of a `/v1/verify` or `/v1/rotate` request,
//!   parsed and weighed before anything is decrypted;
//! - [`key_secret`]: the Bitnami key Secret a sealing key pair is stored in
//!   (build, read, label), for the controller, keygen and offline keys.
//!
//! Plaintext never appears in errors or `Debug` output; decrypted values live
//! in the returned Secret only (whose own `Debug` the [`Unsealed`] wrapper
//! hides).

#![forbid(unsafe_code)]

mod error;
mod hash;
pub mod key_secret;
mod meta;
mod placement;
pub mod request;
mod seal;
mod unseal;

pub use coffer_crypto::{Fingerprint, PrivateKey, PublicKey, Scope};
pub use error::{Error, Result};
pub use hash::inputs_hash;
pub use meta::{
    SKIP_SET_OWNER_REFERENCES_ANNOTATION, object_ref, sealed_scope, strip_server_fields,
};
pub use placement::{Placement, place, sealing_scope};
pub use seal::{reencrypt, seal_secret};
pub use unseal::{Unsealed, unseal, unseal_with, verify};
