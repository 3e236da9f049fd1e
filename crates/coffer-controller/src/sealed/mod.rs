//! The SealedSecret controller: the key registry, the Secret it builds and
//! the reconcile that keeps the two in step.

pub mod keys;
pub mod reconcile;
pub mod secret;
