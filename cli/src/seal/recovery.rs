//! Offline work with the controller's private keys: `--recovery-unseal`
//! (SealedSecrets back to Secrets, for disaster recovery) and `--re-encrypt`
//! with `--recovery-private-key` (every value sealed again to a new
//! certificate). (`--validate` with `--recovery-private-key` calls
//! `coffer_sealed::verify`, the controller's `/v1/verify` question, from
//! `seal/mod.rs`.)
//!
//! These call `coffer_sealed` (`unseal`, `reencrypt`), the functions the
//! controller uses, so offline results match the cluster's.

use anyhow::{Context, Result};
use coffer_api::SealedSecret;
use coffer_crypto::{PrivateKey, PublicKey};
use k8s_openapi::api::core::v1::Secret;

/// Names a SealedSecret for messages: `document N of SOURCE` (the
/// conversion's own errors name the object and key).
pub fn describe(index: usize, source: &str) -> String {
    format!("document {} of {source}", index + 1)
}

/// Unseals every SealedSecret into its Secret (matches kubeseal
/// `--recovery-unseal`, which prints the Secret the controller would
/// create), on every core (see [`super::parallel`]).
pub fn unseal_all(
    sealed: &[SealedSecret],
    keys: &[PrivateKey],
    source: &str,
) -> Result<Vec<Secret>> {
    super::parallel::map(sealed.iter().collect(), |i, s| {
        let mut opened = coffer_sealed::unseal(s, keys).with_context(|| describe(i, source))?;
        // Taken, not cloned: `Unsealed` zeroizes what is left behind.
        Ok(std::mem::take(&mut opened.secret))
    })
}

/// Re-seals every value of every SealedSecret to `cert`, on every core.
pub fn reencrypt_all(
    sealed: &[SealedSecret],
    keys: &[PrivateKey],
    cert: &PublicKey,
    source: &str,
) -> Result<Vec<SealedSecret>> {
    super::parallel::map(sealed.iter().collect(), |i, s| {
        reencrypt_one(s, keys, cert).with_context(|| describe(i, source))
    })
}

/// Re-seals every value of one SealedSecret to `cert`, dropping what the
/// API server owns (matches kubeseal --re-encrypt, which clears the
/// timestamps and generation of what it writes back).
pub fn reencrypt_one(
    sealed: &SealedSecret,
    keys: &[PrivateKey],
    cert: &PublicKey,
) -> Result<SealedSecret> {
    let mut out = coffer_sealed::reencrypt(sealed, keys, cert)?;
    coffer_sealed::strip_server_fields(&mut out.metadata);
    out.status = None;
    Ok(out)
}
