//! Reading `--recovery-private-key` files: PEM private keys, or backups of
//! the controller's key Secrets (a Secret, several, or a `v1.List` of them,
//! in YAML or JSON, each holding `tls.key`), through
//! `coffer_sealed::key_secret::read_key_file`. Matches kubeseal's
//! `readPrivKeysFromFile`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use coffer_crypto::PrivateKey;

/// Reads every private key in `paths`, each once (by fingerprint), in the
/// order given. Fails on the first file that holds no usable key.
pub fn read_private_keys(paths: &[PathBuf]) -> Result<Vec<PrivateKey>> {
    if paths.is_empty() {
        bail!(
            "no private key given: use --recovery-private-key FILE (PEM, or a key Secret backup)"
        );
    }
    let mut keys: Vec<PrivateKey> = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        let bytes = zeroize::Zeroizing::new(
            std::fs::read(path)
                .with_context(|| format!("cannot read the private key file {name}"))?,
        );
        for key in coffer_sealed::key_secret::read_key_file(&bytes, &name)? {
            if !keys.iter().any(|k| k.fingerprint() == key.fingerprint()) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}
