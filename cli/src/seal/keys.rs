//! Reading `--recovery-private-key` files: PEM private keys, or backups of
//! the controller's key Secrets (a Secret, several, or a `v1.List` of them,
//! in YAML or JSON, each holding `tls.key`). Matches kubeseal's
//! `readPrivKeysFromFile`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use coffer_crypto::PrivateKey;
use coffer_manifest::Document;
use k8s_openapi::api::core::v1::Secret;

use super::input;

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
        for key in read_key_file(path)? {
            if !keys.iter().any(|k| k.fingerprint() == key.fingerprint()) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

fn read_key_file(path: &Path) -> Result<Vec<PrivateKey>> {
    let name = path.display().to_string();
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(path).with_context(|| format!("cannot read the private key file {name}"))?,
    );
    let text = std::str::from_utf8(&bytes).with_context(|| {
        format!("the private key file {name} is neither PEM nor a Secret (not UTF-8)")
    })?;
    if text.trim_start().starts_with("-----BEGIN") {
        let key = PrivateKey::from_pem(text)
            .with_context(|| format!("cannot read the private key in {name}"))?;
        return Ok(vec![key]);
    }
    let mut secrets = Vec::new();
    for doc in input::parse_documents(&bytes, &name)? {
        collect_secrets(doc, &name, &mut secrets)?;
    }
    if secrets.is_empty() {
        bail!("{name} holds no private key: expected PEM, or key Secrets with tls.key");
    }
    secrets
        .iter()
        .map(|secret| {
            let secret_name = secret.metadata.name.as_deref().unwrap_or("<unnamed>");
            let tls_key = secret
                .data
                .as_ref()
                .and_then(|d| d.get("tls.key"))
                .with_context(|| format!("Secret {secret_name} in {name} has no tls.key"))?;
            let pem = std::str::from_utf8(&tls_key.0)
                .with_context(|| format!("tls.key of Secret {secret_name} in {name} is not PEM"))?;
            PrivateKey::from_pem(pem)
                .with_context(|| format!("cannot read tls.key of Secret {secret_name} in {name}"))
        })
        .collect()
}

/// Adds the Secrets in `doc` (a Secret or a List of them) to `out`.
fn collect_secrets(doc: Document<'_>, source: &str, out: &mut Vec<Secret>) -> Result<()> {
    let is_list = input::kind_of(&doc.value) == Some("List");
    for (i, item) in coffer_manifest::expand_list(doc, source)?
        .into_iter()
        .enumerate()
    {
        let secret = input::typed::<Secret>(item, "Secret", source);
        out.push(if is_list {
            secret.with_context(|| format!("item {} of the List", i + 1))?
        } else {
            secret?
        });
    }
    Ok(())
}
