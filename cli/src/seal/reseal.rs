//! `coffer reseal PATH…`: re-encrypts every SealedSecret in files and
//! directories (key rotation in a Git repository): through the controller,
//! which re-encrypts to its newest key (`POST /v1/rotate`, as `coffer seal
//! --re-encrypt`), or offline with the old private keys and the new
//! certificate.
//!
//! Each file is handled on its own and written atomically; documents that
//! are not SealedSecrets keep their exact text, and files without a
//! SealedSecret are not rewritten. A file that fails is reported and the
//! others are still done; the exit code says whether all succeeded.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use coffer_api::SealedSecret;
use coffer_crypto::{Certificate, PrivateKey};

use super::controller::{Controller, ControllerArgs};
use super::{cert, input, keys, recovery, render};
use crate::files::{self, Mode};

const EXAMPLES: &str = "\
Examples:
  # Rotate every SealedSecret under deploy/ to the controller's newest key
  coffer reseal deploy/
  coffer reseal --controller-namespace sealed-secrets --controller-name sealer deploy/

  # Offline, with the old keys and the new certificate
  coffer reseal --recovery-private-key old-keys.yaml --cert new.crt deploy/

  # Several files, keys from two backups
  coffer reseal --recovery-private-key a.key,b.key --cert new.crt app.yaml db.json";

/// Flags of `coffer reseal`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ResealArgs {
    /// Files or directories (searched recursively for .yaml, .yml and .json files)
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Re-encrypt offline with these private keys (PEM files or key Secret backups; repeat or comma-separate); without them the controller re-encrypts
    #[arg(long, value_delimiter = ',', value_name = "FILE")]
    recovery_private_key: Vec<PathBuf>,
    /// (offline only) The new certificate: a file, an http(s):// URL or a file:// URL; default: the controller's
    #[arg(long, env = "SEALED_SECRETS_CERT", value_name = "FILE|URL")]
    cert: Option<String>,
    #[command(flatten)]
    controller: ControllerArgs,
}

/// Who re-encrypts.
enum Resealer {
    /// The old private keys, to the new certificate.
    Offline {
        keys: Vec<PrivateKey>,
        cert: Certificate,
    },
    /// The controller, to its newest key.
    Online(Controller),
}

impl Resealer {
    fn new(args: &ResealArgs) -> Result<Resealer> {
        if args.recovery_private_key.is_empty() {
            if args.cert.is_some() {
                bail!(
                    "without --recovery-private-key the controller re-encrypts to its own newest \
                     key; --cert (or SEALED_SECRETS_CERT) only applies offline, with \
                     --recovery-private-key"
                );
            }
            return Ok(Resealer::Online(Controller::connect(
                &args.controller,
                "re-encrypt (or re-encrypt offline with --recovery-private-key and --cert)",
            )?));
        }
        let keys = keys::read_private_keys(&args.recovery_private_key)?;
        let cert = match &args.cert {
            Some(c) => {
                let source = cert::CertSource::parse(c)?;
                Certificate::from_pem(&source.read()?)
                    .with_context(|| format!("cannot use the certificate {}", source.describe()))?
            }
            None => {
                let controller = Controller::connect(
                    &args.controller,
                    "fetch its certificate (or give --cert FILE)",
                )?;
                Certificate::from_pem(&controller.cert_pem()?).with_context(|| {
                    format!("cannot use the certificate of {}", controller.describe())
                })?
            }
        };
        Ok(Resealer::Offline { keys, cert })
    }

    /// Re-encrypts one SealedSecret; `at` names it for errors.
    fn reseal(&self, sealed: SealedSecret, at: &str) -> Result<SealedSecret> {
        let resealed = match self {
            Resealer::Offline { keys, cert } => {
                recovery::reencrypt_one(&sealed, keys, cert.public_key())
            }
            Resealer::Online(controller) => controller.rotate(&sealed),
        };
        resealed.with_context(|| at.to_owned())
    }
}

/// Runs `coffer reseal`: 0 when every file succeeded, 1 otherwise.
pub fn run(args: ResealArgs) -> Result<u8> {
    let resealer = Resealer::new(&args)?;

    let mut targets = Vec::new();
    for path in &args.paths {
        collect(path, true, &mut targets)?;
    }
    let (mut resealed, mut changed_files, mut failed) = (0usize, 0usize, 0usize);
    for file in &targets {
        match reseal_file(file, &resealer) {
            Ok(0) => {}
            Ok(n) => {
                resealed += n;
                changed_files += 1;
            }
            Err(err) => {
                failed += 1;
                eprintln!("coffer: {}: {err:#}", file.display());
            }
        }
    }
    eprintln!(
        "coffer: re-encrypted {resealed} SealedSecret(s) in {changed_files} file(s); {failed} file(s) failed"
    );
    Ok(u8::from(failed > 0))
}

/// Adds `path` (a file, or the manifest files under a directory) to `out`.
/// Named files are always taken; files found in directories only by
/// extension.
fn collect(path: &Path, named: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            let hidden = entry
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if !hidden {
                collect(&entry, false, out)?;
            }
        }
    } else if named
        || matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        )
    {
        out.push(path.to_owned());
    }
    Ok(())
}

/// Re-encrypts the SealedSecrets of one file; returns how many.
fn reseal_file(path: &Path, resealer: &Resealer) -> Result<usize> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
    if !text.contains("SealedSecret") {
        return Ok(0);
    }
    let (output, count) = if text.trim_start().starts_with('{') {
        reseal_json(&text, &name, resealer)?
    } else {
        reseal_yaml(&text, &name, resealer)?
    };
    if count > 0 {
        files::write_atomically(path, output.as_bytes(), Mode::Public)?;
    }
    Ok(count)
}

fn is_sealed(value: &serde_json::Value) -> bool {
    input::kind_of(value) == Some("SealedSecret")
}

/// A JSON file: every object is rewritten (JSON has no comments to keep).
fn reseal_json(text: &str, name: &str, resealer: &Resealer) -> Result<(String, usize)> {
    let docs = input::parse_documents(text.as_bytes(), name)?;
    if !docs.iter().any(|d| is_sealed(&d.value)) {
        return Ok((String::new(), 0));
    }
    let mut out = zeroize::Zeroizing::new(String::new());
    let mut count = 0;
    for doc in docs {
        if is_sealed(&doc.value) {
            let at = format!("document {} of {name}", doc.index);
            let sealed = input::typed::<SealedSecret>(doc, "SealedSecret", name)?;
            render::render_into(
                &mut out,
                &resealer.reseal(sealed, &at)?,
                render::Format::Json,
            )?;
            count += 1;
        } else {
            render::render_into(&mut out, &doc.value, render::Format::Json)?;
        }
    }
    Ok((out.to_string(), count))
}

/// Splits YAML text into documents at `---` lines, keeping each separator
/// line with the document it starts.
fn split_yaml(text: &str) -> Vec<(&str, &str)> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut body_start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare == "---" || bare.starts_with("--- ") {
            if offset > 0 {
                docs.push((&text[start..body_start], &text[body_start..offset]));
            }
            start = offset;
            body_start = offset + line.len();
        }
        offset += line.len();
    }
    docs.push((&text[start..body_start], &text[body_start..]));
    docs
}

/// A YAML file: SealedSecret documents are re-rendered, all other documents
/// (and separators) keep their exact text.
fn reseal_yaml(text: &str, name: &str, resealer: &Resealer) -> Result<(String, usize)> {
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    for (i, (separator, body)) in split_yaml(text).into_iter().enumerate() {
        let at = format!("document {} of {name}", i + 1);
        let docs = input::parse_documents(body.as_bytes(), &at)?;
        if !docs.iter().any(|d| is_sealed(&d.value)) {
            out.push_str(separator);
            out.push_str(body);
            continue;
        }
        let sealed = input::parse_one_sealed_secret(body.as_bytes(), &at)?;
        let resealed = resealer.reseal(sealed, &at)?;
        out.push_str(separator);
        out.push_str(&render::to_yaml(&resealed)?);
        if !out.ends_with('\n') {
            out.push('\n');
        }
        count += 1;
    }
    Ok((out, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_split_keeps_every_byte() {
        let text = "a: 1\n---\nb: 2\n--- # c\nc: 3\n";
        let docs = split_yaml(text);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1], ("---\n", "b: 2\n"));
        assert_eq!(docs[2], ("--- # c\n", "c: 3\n"));
        let joined: String = docs.iter().map(|(s, b)| format!("{s}{b}")).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn leading_separator_starts_the_first_document() {
        let docs = split_yaml("---\na: 1\n");
        assert_eq!(docs, vec![("---\n", "a: 1\n")]);
    }
}
