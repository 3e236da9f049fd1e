//! `coffer sops edit`: decrypt into a private temporary file, open
//! `$SOPS_EDITOR`/`$EDITOR`, and encrypt what was saved with the same data
//! key. Values that did not change keep their exact ciphertext (their IVs
//! are reused, as sops does), so Git diffs show only what was edited.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::Args;
use coffer_sops::{Format, Session, new_metadata};
use zeroize::Zeroizing;

use super::common::{Context, RuleArgs, open, read_input, write_atomic};
use super::{codes, exit};

/// Arguments of `coffer sops edit`.
#[derive(Args)]
pub struct EditArgs {
    /// The file to edit (created if it does not exist)
    file: PathBuf,
    /// Open the file even if the MAC does not match
    #[arg(long)]
    ignore_mac: bool,
    #[command(flatten)]
    rules: RuleArgs,
}

fn editor_command() -> Result<Vec<String>> {
    let from_env = ["SOPS_EDITOR", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()));
    if let Some(cmd) = from_env {
        return Ok(cmd.split_whitespace().map(String::from).collect());
    }
    for candidate in ["vim", "nano", "vi"] {
        let found = std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|p| p.join(candidate).is_file())
        });
        if found {
            return Ok(vec![candidate.to_string()]);
        }
    }
    Err(exit(
        codes::NO_EDITOR_FOUND,
        "no editor found: set $EDITOR (or $SOPS_EDITOR)",
    ))
}

fn run_editor(path: &Path) -> Result<()> {
    let cmd = editor_command()?;
    let (prog, args) = cmd.split_first().context("empty editor command")?;
    let status = std::process::Command::new(prog)
        .args(args)
        .arg(path)
        .status()
        .map_err(|e| {
            exit(
                codes::NO_EDITOR_FOUND,
                format!("could not run editor {prog}: {e}"),
            )
        })?;
    if !status.success() {
        return Err(exit(
            codes::GENERIC,
            format!("editor {prog} exited with {status}"),
        ));
    }
    Ok(())
}

/// Edits the file.
pub fn run(ctx: &Context, args: EditArgs) -> Result<()> {
    let (fmt, _) = ctx.formats(&args.file);
    let existing = args.file.exists();
    let (plain, state) = if existing {
        let bytes = read_input(&args.file)?;
        let opened = open(&bytes, fmt, args.ignore_mac, &args.file)?;
        let plain = Zeroizing::new(coffer_sops::emit_plain(&opened.docs, fmt)?);
        (plain, Some((opened.meta, opened.session)))
    } else {
        (Zeroizing::new(Vec::new()), None)
    };

    // A private directory: the plaintext never sits in a shared location.
    let dir = tempfile::Builder::new()
        .prefix("coffer-sops-")
        .tempdir()
        .context("could not create a temporary directory")?;
    let ext = args
        .file
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let tmp_path = dir.path().join(format!("plaintext{ext}"));
    std::fs::write(&tmp_path, &plain[..]).context("could not write the temporary file")?;
    run_editor(&tmp_path)?;
    let edited =
        Zeroizing::new(std::fs::read(&tmp_path).context("could not read the edited file back")?);
    if edited[..] == plain[..] && existing {
        return Err(exit(
            codes::FILE_HAS_NOT_BEEN_MODIFIED,
            "file has not changed, exiting",
        ));
    }
    let mut docs = coffer_sops::load_plain(&edited, fmt)
        .context("the edited file is not valid; the original was left unchanged")?;
    if coffer_sops::has_metadata(&docs, fmt) && fmt != Format::Binary {
        return Err(exit(
            codes::GENERIC,
            "the edited file must not contain a top-level 'sops' entry",
        ));
    }
    let (mut meta, mut session) = match state {
        Some(s) => s,
        None => {
            let opts = args.rules.options(ctx, &args.file)?;
            let (meta, key) = new_metadata(&opts)?;
            (meta, Session::new(key))
        }
    };
    session.encrypt(&mut docs, &mut meta)?;
    write_atomic(&args.file, &coffer_sops::emit_encrypted(&docs, &meta, fmt)?)
}
