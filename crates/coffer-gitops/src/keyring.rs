//! The keys a [`crate::Decryptor`] opens documents with: age identities for
//! SOPS documents and SealedSecret private keys, each parsed once when
//! added.
//!
//! Sources: age identity files and the SOPS environment, read as
//! `coffer sops` reads them (coffer-sops' own code); a Flux decryption
//! Secret (its `.agekey` entries, as kustomize-controller's `ImportKeys`
//! reads them; every other entry named in a warning); Bitnami key Secrets,
//! a `List` of them, or PEM files, read as `coffer seal
//! --recovery-private-key` reads them (`coffer_sealed::key_secret`).
//! Errors and warnings name the source and the entry, never key material.

use std::fmt;
use std::path::Path;

use coffer_crypto::PrivateKey;
use coffer_sealed::key_secret;
use coffer_sops::{Env, Identities, ProcessEnv};
use k8s_openapi::api::core::v1::Secret;
use zeroize::{Zeroize, Zeroizing};

use crate::{Error, Result};

/// The suffix of age identity entries in a Flux decryption Secret
/// (kustomize-controller's `DecryptionAgeExt`).
const AGE_ENTRY_SUFFIX: &str = ".agekey";

/// Age identities and SealedSecret private keys.
#[derive(Default)]
pub struct Keyring {
    identities: Identities,
    sealing: Vec<PrivateKey>,
    warnings: Vec<String>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fingerprints: Vec<String> = self
            .sealing
            .iter()
            .map(|k| k.fingerprint().to_string())
            .collect();
        f.debug_struct("Keyring")
            .field("age_identities", &self.identities.len())
            .field("sealing_keys", &fingerprints)
            .finish_non_exhaustive()
    }
}

fn keyring_error(origin: &str, reason: impl fmt::Display) -> Error {
    Error::Keyring {
        origin: origin.to_owned(),
        reason: reason.to_string(),
    }
}

fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|source| Error::Io {
            what: format!("cannot read {}", path.display()),
            source,
        })
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// How many age identities it holds.
    pub fn age_identities(&self) -> usize {
        self.identities.len()
    }

    /// The SealedSecret private keys, in the order added.
    pub fn sealing_keys(&self) -> &[PrivateKey] {
        &self.sealing
    }

    /// Whether it holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty() && self.sealing.is_empty()
    }

    /// What was skipped while adding keys (unused Flux Secret entries, age
    /// identity kinds coffer cannot use), never silently.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub(crate) fn identities(&self) -> &Identities {
        &self.identities
    }

    /// Adds the age identities of an identity file's text
    /// (`AGE-SECRET-KEY-1...` lines, `#` comments). Returns how many.
    pub fn add_age_identities(&mut self, text: &str, origin: &str) -> Result<usize> {
        let notes = self.identities.notes.len();
        let added = self
            .identities
            .add_age_keys(text, origin, false)
            .map_err(|e| keyring_error(origin, e))?;
        self.warnings
            .extend(self.identities.notes[notes..].iter().cloned());
        Ok(added)
    }

    /// Adds the age identities of an identity file (as `age -i` and
    /// `SOPS_AGE_KEY_FILE` read it).
    pub fn add_age_identity_file(&mut self, path: &Path) -> Result<usize> {
        let bytes = read_file(path)?;
        let origin = path.display().to_string();
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| keyring_error(&origin, "not an age identity file (not UTF-8)"))?;
        self.add_age_identities(text, &origin)
    }

    /// Adds every identity `coffer sops` finds in the process environment
    /// (`SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY_CMD`, the ssh
    /// sources and `$XDG_CONFIG_HOME/sops/age/keys.txt`), as
    /// `coffer_sops::Identities::load` reads them. Sources that are
    /// absent or unusable are noted and named when a document cannot be
    /// opened. Returns how many identities were found.
    pub fn add_sops_environment(&mut self) -> usize {
        self.add_sops_environment_from(&ProcessEnv)
    }

    /// [`Keyring::add_sops_environment`] with another environment.
    /// `SOPS_AGE_KEY_CMD` runs once, with `SOPS_AGE_RECIPIENT` empty: the
    /// keyring is built before any document is read.
    pub fn add_sops_environment_from(&mut self, env: &dyn Env) -> usize {
        let loaded = Identities::load(env, "");
        let added = loaded.len();
        self.identities.extend(loaded);
        added
    }

    /// Adds a SealedSecret private key, unless it is already there.
    /// Returns whether it was new.
    pub fn add_private_key(&mut self, key: PrivateKey) -> bool {
        if self
            .sealing
            .iter()
            .any(|k| k.fingerprint() == key.fingerprint())
        {
            return false;
        }
        self.sealing.push(key);
        true
    }

    /// Adds the private keys of a key file: a PEM private key, or Bitnami
    /// key Secrets (one or several documents, or a `List` as `kubectl get
    /// secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`
    /// prints it) in YAML or JSON. Returns how many were new.
    pub fn add_sealing_keys(&mut self, bytes: &[u8], origin: &str) -> Result<usize> {
        let keys =
            key_secret::read_key_file(bytes, origin).map_err(|e| keyring_error(origin, e))?;
        Ok(keys
            .into_iter()
            .filter(|k| self.add_private_key(k.clone()))
            .count())
    }

    /// [`Keyring::add_sealing_keys`] from a file.
    pub fn add_sealing_key_file(&mut self, path: &Path) -> Result<usize> {
        let bytes = read_file(path)?;
        self.add_sealing_keys(&bytes, &path.display().to_string())
    }

    /// Adds the private key of a Bitnami key Secret (its `tls.key`).
    pub fn add_key_secret(&mut self, secret: &Secret) -> Result<usize> {
        let origin = secret_name(secret);
        let key = key_secret::read_private_key(secret).map_err(|e| keyring_error(&origin, e))?;
        Ok(usize::from(self.add_private_key(key)))
    }

    /// Adds the age identities of a Flux decryption Secret: every `data`
    /// or `stringData` entry whose name ends in `.agekey`. Every other
    /// entry (PGP keys, Vault tokens, cloud KMS credentials, ...) is named
    /// in a warning; a Secret with no age entry at all is an error.
    pub fn add_flux_secret(&mut self, secret: &Secret) -> Result<usize> {
        let origin = secret_name(secret);
        let mut entries: Vec<(&str, &[u8])> = Vec::new();
        for (name, value) in secret.data.iter().flatten() {
            entries.push((name, &value.0));
        }
        for (name, value) in secret.string_data.iter().flatten() {
            entries.push((name, value.as_bytes()));
        }
        let mut added = 0;
        let mut ages = 0;
        let mut unused = Vec::new();
        for (name, value) in entries {
            if !name.ends_with(AGE_ENTRY_SUFFIX) {
                unused.push(name);
                self.warnings.push(format!(
                    "{origin}: entry {name:?} is not used: {}",
                    unused_reason(name)
                ));
                continue;
            }
            ages += 1;
            let entry = format!("{origin}, entry {name:?}");
            let text = std::str::from_utf8(value)
                .map_err(|_| keyring_error(&entry, "not an age identity file (not UTF-8)"))?;
            added += self.add_age_identities(text, &entry)?;
        }
        if ages == 0 {
            return Err(keyring_error(
                &origin,
                format!(
                    "no entry ends in {AGE_ENTRY_SUFFIX}, so it holds no age identity (entries: {})",
                    unused.join(", ")
                ),
            ));
        }
        Ok(added)
    }

    /// Adds the keys of Secret manifests in Flux's form (a decryption
    /// Secret with `.agekey` entries) or Bitnami's (key Secrets with
    /// `tls.key`), one or several documents or a `List`, in YAML or JSON.
    /// Returns how many keys were added.
    pub fn add_keyring_manifest(&mut self, bytes: &[u8], origin: &str) -> Result<usize> {
        let mut added = 0;
        let mut secrets = 0;
        for doc in coffer_manifest::parse_documents(bytes, origin)? {
            for item in coffer_manifest::expand_list(doc, origin)? {
                let mut secret: Secret = coffer_manifest::typed(item, "Secret", origin)?;
                secrets += 1;
                let result = if key_secret::has_key_label(&secret)
                    || secret
                        .data
                        .as_ref()
                        .is_some_and(|d| d.contains_key(key_secret::PRIVATE_KEY_KEY))
                {
                    self.add_key_secret(&secret)
                } else {
                    self.add_flux_secret(&secret)
                };
                zeroize_secret(&mut secret);
                added += result.map_err(|e| match e {
                    Error::Keyring { origin: o, reason } => Error::Keyring {
                        origin: format!("{o} in {origin}"),
                        reason,
                    },
                    other => other,
                })?;
            }
        }
        if secrets == 0 {
            return Err(keyring_error(origin, "holds no Secret"));
        }
        Ok(added)
    }

    /// [`Keyring::add_keyring_manifest`] from a file.
    pub fn add_keyring_file(&mut self, path: &Path) -> Result<usize> {
        let bytes = read_file(path)?;
        self.add_keyring_manifest(&bytes, &path.display().to_string())
    }
}

/// Why kustomize-controller's other decryption Secret entries are not used
/// here (its `ImportKeys` reads `.asc`, `sops.vault-token`, `sops.aws-kms`,
/// `sops.azure-kv` and `sops.gcp-kms` too).
fn unused_reason(name: &str) -> &'static str {
    match name {
        n if n.ends_with(".asc") => "PGP keys are not supported; coffer decrypts with age keys",
        "sops.vault-token" => "Vault transit is not supported; coffer decrypts with age keys",
        "sops.aws-kms" => "AWS KMS is not supported; coffer decrypts with age keys",
        "sops.azure-kv" => "Azure Key Vault is not supported; coffer decrypts with age keys",
        "sops.gcp-kms" => "GCP KMS is not supported; coffer decrypts with age keys",
        _ => "age identities are the entries whose names end in .agekey",
    }
}

fn secret_name(secret: &Secret) -> String {
    let name = secret.metadata.name.as_deref().unwrap_or("<unnamed>");
    match &secret.metadata.namespace {
        Some(ns) => format!("Secret {ns}/{name}"),
        None => format!("Secret {name}"),
    }
}

fn zeroize_secret(secret: &mut Secret) {
    for value in secret.data.iter_mut().flat_map(|d| d.values_mut()) {
        value.0.zeroize();
    }
    for value in secret.string_data.iter_mut().flat_map(|d| d.values_mut()) {
        value.zeroize();
    }
}
