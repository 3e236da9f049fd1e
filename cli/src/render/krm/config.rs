//! The `functionConfig` of the KRM function: `apiVersion: coffer.dev/v1`,
//! kind `Render` (a transformer: decrypt the items) or `SecretGenerator`
//! (also generate Secrets from encrypted files, after KSOPS's `ksops`
//! generator: `files` are whole encrypted manifests, `secretFrom` builds
//! Secrets from encrypted `files`, `binaryFiles` and `envs`). Both kinds
//! may name key files and the options. Every field is honoured or refused
//! by name; generator files must stay inside the working directory
//! (kustomize runs exec functions in the kustomization's directory).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use coffer_gitops::Decryptor;
use coffer_sops::{Branch, Format, Item, Value};
use zeroize::Zeroizing;

use super::{KrmResult, get};
use crate::render::MacArg;

/// The config's API version.
pub const API_VERSION: &str = "coffer.dev/v1";
/// The kinds this function answers to.
pub const KINDS: [&str; 2] = ["Render", "SecretGenerator"];
/// Largest generator input file (as `decrypt_sources`, Flux's limit).
const MAX_FILE_BYTES: u64 = 5 << 20;

/// A parsed `functionConfig`.
#[derive(Default)]
pub struct FunctionConfig {
    pub age_identity_files: Vec<PathBuf>,
    pub sealing_key_files: Vec<PathBuf>,
    pub keyring_files: Vec<PathBuf>,
    pub mac: Option<MacArg>,
    pub require_unsealed: Option<bool>,
    pub allow_empty: Option<bool>,
    files: Vec<String>,
    secrets: Vec<SecretFrom>,
}

/// One `secretFrom` entry.
struct SecretFrom {
    metadata: Branch,
    type_: Option<String>,
    files: Vec<String>,
    binary_files: Vec<String>,
    envs: Vec<String>,
}

fn strings(v: &Value, field: &str) -> Result<Vec<String>> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Seq(items) => items
            .iter()
            .map(|i| match i {
                Value::Str(s) => Ok(s.clone()),
                _ => Err(anyhow!("{field}: every entry must be a string")),
            })
            .collect(),
        _ => bail!("{field}: must be a list of strings"),
    }
}

fn boolean(v: &Value, field: &str) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => bail!("{field}: must be true or false"),
    }
}

impl FunctionConfig {
    /// Reads a config; an unknown field, kind or API version is an error.
    pub fn parse(b: &Branch) -> Result<FunctionConfig> {
        let mut c = FunctionConfig::default();
        let api = get(b, "apiVersion");
        let kind = get(b, "kind");
        match (api, kind) {
            (Some(Value::Str(a)), Some(Value::Str(k)))
                if a == API_VERSION && KINDS.contains(&k.as_str()) => {}
            _ => bail!(
                "must be apiVersion {API_VERSION} with kind {} (the config of `coffer render` as a KRM function)",
                KINDS.join(" or ")
            ),
        }
        for item in b {
            let Some(name) = item.name() else { continue };
            let v = &item.value;
            match name {
                "apiVersion" | "kind" | "metadata" => {}
                "ageIdentityFiles" => c.age_identity_files = paths(v, name)?,
                "sealingKeyFiles" => c.sealing_key_files = paths(v, name)?,
                "keyringFiles" => c.keyring_files = paths(v, name)?,
                "requireUnsealed" => c.require_unsealed = Some(boolean(v, name)?),
                "allowEmpty" => c.allow_empty = Some(boolean(v, name)?),
                "mac" => {
                    c.mac = Some(match v {
                        Value::Str(s) if s == "verify" => MacArg::Verify,
                        Value::Str(s) if s == "warn" => MacArg::Warn,
                        Value::Str(s) if s == "skip" => MacArg::Skip,
                        _ => bail!("mac: must be verify, warn or skip"),
                    })
                }
                "files" => c.files = strings(v, name)?,
                "secretFrom" => {
                    let Value::Seq(entries) = v else {
                        bail!("secretFrom: must be a list")
                    };
                    for (i, e) in entries.iter().enumerate() {
                        let Value::Map(e) = e else {
                            bail!("secretFrom[{i}]: must be a mapping")
                        };
                        c.secrets.push(SecretFrom::parse(e, i)?);
                    }
                }
                other => bail!(
                    "unknown field {other:?} (coffer.dev/v1 knows ageIdentityFiles, sealingKeyFiles, keyringFiles, mac, requireUnsealed, allowEmpty, files, secretFrom)"
                ),
            }
        }
        Ok(c)
    }

    /// Whether the config generates anything.
    pub(super) fn generates(&self) -> bool {
        !self.files.is_empty() || !self.secrets.is_empty()
    }

    /// The generated items: the decrypted `files`, then one Secret per
    /// `secretFrom` entry.
    pub(super) fn generate(
        &self,
        decryptor: &Decryptor,
        results: &mut Vec<KrmResult>,
    ) -> Result<Vec<Branch>> {
        let root = std::env::current_dir()
            .and_then(|d| d.canonicalize())
            .context("the working directory")?;
        let mut out = Vec::new();
        for f in &self.files {
            let bytes = read_confined(&root, f, "files")?;
            let decrypted = decryptor
                .decrypt_stream(&bytes, f)
                .map_err(|e| anyhow!("files: {e}"))?;
            for w in &decrypted.report.warnings {
                results.push(KrmResult {
                    severity: "warning",
                    message: w.to_string(),
                    resource: w.object.clone(),
                });
            }
            for doc in &decrypted.documents {
                let format = match doc.format {
                    coffer_manifest::Format::Json => Format::Json,
                    coffer_manifest::Format::Yaml => Format::Yaml,
                };
                let mut trees =
                    coffer_sops::load_plain(doc.text().as_bytes(), format).map_err(|_| {
                        anyhow!(
                            "files: {}: cannot read the decrypted document back",
                            doc.object
                        )
                    })?;
                out.append(&mut trees);
            }
        }
        for (i, s) in self.secrets.iter().enumerate() {
            out.push(s.generate(&root, decryptor, i)?);
        }
        Ok(out)
    }
}

fn paths(v: &Value, field: &str) -> Result<Vec<PathBuf>> {
    Ok(strings(v, field)?.into_iter().map(PathBuf::from).collect())
}

impl SecretFrom {
    fn parse(b: &Branch, i: usize) -> Result<SecretFrom> {
        let mut s = SecretFrom {
            metadata: Branch::new(),
            type_: None,
            files: Vec::new(),
            binary_files: Vec::new(),
            envs: Vec::new(),
        };
        for item in b {
            let Some(name) = item.name() else { continue };
            let field = format!("secretFrom[{i}].{name}");
            match (name, &item.value) {
                ("metadata", Value::Map(m)) => s.metadata = m.clone(),
                ("type", Value::Str(t)) => s.type_ = Some(t.clone()),
                ("files", v) => s.files = strings(v, &field)?,
                ("binaryFiles", v) => s.binary_files = strings(v, &field)?,
                ("envs", v) => s.envs = strings(v, &field)?,
                ("metadata" | "type", _) => bail!("{field}: has the wrong type"),
                _ => {
                    bail!("unknown field {field} (known: metadata, type, files, binaryFiles, envs)")
                }
            }
        }
        if !matches!(get(&s.metadata, "name"), Some(Value::Str(n)) if !n.is_empty()) {
            bail!("secretFrom[{i}].metadata.name: required");
        }
        Ok(s)
    }

    fn generate(&self, root: &Path, decryptor: &Decryptor, i: usize) -> Result<Branch> {
        let mut data = Branch::new();
        let mut put = |key: String, value: &[u8], field: &str| -> Result<()> {
            if data.iter().any(|d| d.name() == Some(key.as_str())) {
                bail!("secretFrom[{i}].{field}: key {key:?} is given twice");
            }
            data.push(Item::new(key, Value::Str(STANDARD.encode(value))));
            Ok(())
        };
        for (field, list) in [("files", &self.files), ("binaryFiles", &self.binary_files)] {
            for entry in list {
                let (key, path) = match entry.split_once('=') {
                    Some((k, p)) => (k.to_owned(), p),
                    None => (
                        Path::new(entry)
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        entry.as_str(),
                    ),
                };
                let where_ = format!("secretFrom[{i}].{field}: {path}");
                let bytes = read_confined(root, path, &where_)?;
                let file = decryptor
                    .decrypt_file(&bytes, &key)
                    .map_err(|e| anyhow!("{where_}: {e}"))?
                    .ok_or_else(|| anyhow!("{where_}: not a SOPS-encrypted file"))?;
                put(key, &file.plaintext, field)?;
            }
        }
        for path in &self.envs {
            let where_ = format!("secretFrom[{i}].envs: {path}");
            let bytes = read_confined(root, path, &where_)?;
            let file = decryptor
                .decrypt_file(&bytes, path)
                .map_err(|e| anyhow!("{where_}: {e}"))?
                .ok_or_else(|| anyhow!("{where_}: not a SOPS-encrypted file"))?;
            if file.output != Format::Dotenv {
                bail!("{where_}: not a dotenv file (KEY=value lines)");
            }
            let text = std::str::from_utf8(&file.plaintext)
                .map_err(|_| anyhow!("{where_}: the decrypted file is not UTF-8"))?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim_start();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let Some((k, v)) = line.split_once('=') else {
                    // NB: the line number only, never the line.
                    bail!("{where_}: line {} is not KEY=value", n + 1);
                };
                put(k.trim().to_owned(), v.as_bytes(), "envs")?;
            }
        }
        let mut secret = vec![
            Item::new("apiVersion", Value::Str("v1".into())),
            Item::new("kind", Value::Str("Secret".into())),
            Item::new("metadata", Value::Map(self.metadata.clone())),
        ];
        if let Some(t) = &self.type_ {
            secret.push(Item::new("type", Value::Str(t.clone())));
        }
        secret.push(Item::new("data", Value::Map(data)));
        Ok(secret)
    }
}

/// A generator file, read only if it is a regular file inside `root` (the
/// working directory, symlinks resolved) and at most 5 MiB.
fn read_confined(root: &Path, path: &str, field: &str) -> Result<Zeroizing<Vec<u8>>> {
    if path.contains("://") {
        bail!("{field}: remote files are not supported");
    }
    let full = root
        .join(path)
        .canonicalize()
        .with_context(|| format!("{field}: cannot open {path}"))?;
    if !full.starts_with(root) {
        bail!("{field}: {path} is outside the kustomization directory");
    }
    let meta = std::fs::metadata(&full).with_context(|| format!("{field}: {path}"))?;
    if !meta.is_file() {
        bail!("{field}: {path} is not a regular file");
    }
    if meta.len() > MAX_FILE_BYTES {
        bail!("{field}: {path} is larger than {MAX_FILE_BYTES} bytes");
    }
    std::fs::read(&full)
        .map(Zeroizing::new)
        .with_context(|| format!("{field}: reading {path}"))
}
