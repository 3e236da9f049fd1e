//! What every `coffer sops` subcommand shares: picking formats, reading the
//! input, opening an encrypted file with the user's identities (the one-call
//! `coffer_sops::document` API), building
//! encryption options from flags and `.sops.yaml`, and writing output
//! atomically (temp file in the same directory, then rename) so a failed
//! write never damages the original.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::Args;
use coffer_sops::{
    CryptRule, EncryptOptions, EnvIdentities, Format, Identities, MacPolicy, Metadata, Opened,
    ProcessEnv,
};

use super::{codes, exit};

/// Global `coffer sops` options.
pub struct Context {
    pub config: Option<PathBuf>,
    pub input_type: Option<Format>,
    pub output_type: Option<Format>,
}

/// clap parser for `--input-type`/`--output-type`.
pub fn parse_format(s: &str) -> Result<Format, String> {
    Format::from_name(s)
        .ok_or_else(|| format!("unknown format {s:?} (expected yaml, json, dotenv, ini or binary)"))
}

impl Context {
    /// Input and output formats for `path` (or `name_override`).
    pub fn formats(&self, path: &Path) -> (Format, Format) {
        let input = self.input_type.unwrap_or_else(|| Format::from_path(path));
        (input, self.output_type.unwrap_or(input))
    }

    /// The creation rule for `file`, if a config applies.
    pub fn creation_rule(&self, file: &Path) -> Result<Option<EncryptOptions>> {
        let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let config = match &self.config {
            Some(c) => Some(c.clone()),
            None => abs.parent().and_then(coffer_sops::find_config).or_else(|| {
                std::env::current_dir()
                    .ok()
                    .and_then(|d| coffer_sops::find_config(&d))
            }),
        };
        match config {
            Some(c) => Ok(coffer_sops::creation_rule(&c, &abs)?),
            None => Ok(None),
        }
    }
}

/// Flags that choose recipients and rules when a file is first encrypted.
#[derive(Args, Default)]
pub struct RuleArgs {
    /// Age recipients, comma separated (overrides .sops.yaml)
    #[arg(long, env = "SOPS_AGE_RECIPIENTS", value_name = "RECIPIENTS")]
    pub age: Option<String>,
    /// Keys with this suffix stay in clear (default _unencrypted)
    #[arg(long, value_name = "SUFFIX", group = "rule")]
    pub unencrypted_suffix: Option<String>,
    /// Only keys with this suffix are encrypted
    #[arg(long, value_name = "SUFFIX", group = "rule")]
    pub encrypted_suffix: Option<String>,
    /// Keys matching this regex stay in clear
    #[arg(long, value_name = "REGEX", group = "rule")]
    pub unencrypted_regex: Option<String>,
    /// Only keys matching this regex are encrypted
    #[arg(long, value_name = "REGEX", group = "rule")]
    pub encrypted_regex: Option<String>,
    /// Values after a comment matching this regex stay in clear
    #[arg(long, value_name = "REGEX", group = "rule")]
    pub unencrypted_comment_regex: Option<String>,
    /// Only values after a comment matching this regex are encrypted
    #[arg(long, value_name = "REGEX", group = "rule")]
    pub encrypted_comment_regex: Option<String>,
    /// Authenticate only the encrypted values
    #[arg(long)]
    pub mac_only_encrypted: bool,
    /// Number of key groups needed to decrypt (Shamir)
    #[arg(long, value_name = "N")]
    pub shamir_secret_sharing_threshold: Option<usize>,
}

impl RuleArgs {
    fn rule(&self) -> Result<Option<CryptRule>> {
        let pairs = [
            ("unencrypted_suffix", &self.unencrypted_suffix),
            ("encrypted_suffix", &self.encrypted_suffix),
            ("unencrypted_regex", &self.unencrypted_regex),
            ("encrypted_regex", &self.encrypted_regex),
            ("unencrypted_comment_regex", &self.unencrypted_comment_regex),
            ("encrypted_comment_regex", &self.encrypted_comment_regex),
        ];
        for (field, v) in pairs {
            if let Some(v) = v {
                return Ok(Some(CryptRule::from_field(field, v)?));
            }
        }
        Ok(None)
    }

    /// Options for encrypting `file`: flags first, then the .sops.yaml rule.
    pub fn options(&self, ctx: &Context, file: &Path) -> Result<EncryptOptions> {
        let from_config = if self.age.is_some() {
            None
        } else {
            ctx.creation_rule(file)?
        };
        let mut opts = match (&self.age, from_config) {
            (Some(age), _) => EncryptOptions {
                key_groups: vec![
                    age.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect(),
                ],
                shamir_threshold: 0,
                rule: CryptRule::UnencryptedSuffix(coffer_sops::DEFAULT_UNENCRYPTED_SUFFIX.into()),
                mac_only_encrypted: false,
            },
            (None, Some(o)) => o,
            (None, None) => {
                return Err(exit(
                    codes::NO_ENCRYPTION_KEY_FOUND,
                    "no recipients: pass --age (or set SOPS_AGE_RECIPIENTS), or add a creation rule to .sops.yaml",
                ));
            }
        };
        if let Some(rule) = self.rule()? {
            opts.rule = rule;
        }
        if self.mac_only_encrypted {
            opts.mac_only_encrypted = true;
        }
        if let Some(t) = self.shamir_secret_sharing_threshold {
            opts.shamir_threshold = t;
        }
        Ok(opts)
    }
}

/// Reads the input file, failing with sops's code when it does not exist.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    if !path.exists() {
        return Err(exit(
            codes::NO_FILE_SPECIFIED,
            format!(
                "cannot operate on non-existent file {:?}",
                path.display().to_string()
            ),
        ));
    }
    std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))
}

/// Loads the user's identities for a file's metadata.
pub fn identities(meta: &Metadata) -> Identities {
    let recipient = meta
        .age_keys()
        .next()
        .map(|(_, k)| k.recipient.clone())
        .unwrap_or_default();
    Identities::load(&ProcessEnv, &recipient)
}

/// Loads and decrypts an encrypted file with the user's identities (read
/// on first use, as sops reads them), through `coffer_sops::open`.
pub fn open(bytes: &[u8], fmt: Format, ignore_mac: bool, path: &Path) -> Result<Opened> {
    let policy = if ignore_mac {
        MacPolicy::Skip
    } else {
        MacPolicy::Verify
    };
    coffer_sops::open(bytes, fmt, &EnvIdentities::new(&ProcessEnv), policy).map_err(|e| {
        let step = match &e {
            coffer_sops::Error::NoDataKey(_) => "failed to get the data key".to_owned(),
            coffer_sops::Error::ValueFormat { .. }
            | coffer_sops::Error::ValueDecrypt { .. }
            | coffer_sops::Error::MacMismatch => format!("failed to decrypt {}", path.display()),
            _ => format!("failed to load {}", path.display()),
        };
        anyhow::Error::new(e).context(step)
    })
}

/// Writes `bytes` to `path` atomically, keeping the original's permissions
/// (a new file is private), failing with sops's exit code.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::files::write_atomically(path, bytes, crate::files::Mode::Private)
        .map_err(|e| exit(codes::COULD_NOT_WRITE_OUTPUT, format!("{e:#}")))
}

/// Where a result goes.
pub enum Output<'a> {
    Stdout,
    File(&'a Path),
}

impl Output<'_> {
    /// Picks stdout, the input file (`-i`) or `--output`.
    pub fn choose<'a>(
        in_place: bool,
        output: &'a Option<PathBuf>,
        input: &'a Path,
    ) -> Result<Output<'a>> {
        match (in_place, output) {
            (true, Some(_)) => Err(exit(
                codes::CONFLICTING_PARAMETERS,
                "cannot operate on both --output and --in-place",
            )),
            (true, None) => Ok(Output::File(input)),
            (false, Some(o)) => Ok(Output::File(o)),
            (false, None) => Ok(Output::Stdout),
        }
    }

    /// Writes the result.
    pub fn write(&self, bytes: &[u8]) -> Result<()> {
        match self {
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes)
                    .and_then(|()| out.flush())
                    .context("failed to write to stdout")
            }
            Output::File(p) => write_atomic(p, bytes),
        }
    }
}
