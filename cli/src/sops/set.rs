//! `coffer sops set` and `unset`: change one value of an encrypted file in
//! place. The rest of the file is re-encrypted with the same data key and
//! the same IVs, so only the changed value's ciphertext (and the MAC) move.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::Args;
use coffer_sops::parse_tree_path;

use super::common::{Context, open, read_input, write_atomic};
use super::{codes, exit};

/// Arguments of `coffer sops set`.
#[derive(Args)]
pub struct SetArgs {
    /// The encrypted file
    file: PathBuf,
    /// Where to set, e.g. '["data"]["password"]'
    index: String,
    /// The value as JSON, e.g. '"secret"' or 42 (omit with --value-stdin)
    value: Option<String>,
    /// Treat VALUE as a file holding the JSON value (keeps secrets out of process listings)
    #[arg(long)]
    value_file: bool,
    /// Read the JSON value from standard input
    #[arg(long, conflicts_with = "value_file")]
    value_stdin: bool,
    /// Do not rewrite the file when the value is already set
    #[arg(long)]
    idempotent: bool,
}

/// Arguments of `coffer sops unset`.
#[derive(Args)]
pub struct UnsetArgs {
    /// The encrypted file
    file: PathBuf,
    /// What to remove, e.g. '["data"]["password"]'
    index: String,
    /// Succeed without changes when the path does not exist
    #[arg(long)]
    idempotent: bool,
}

/// Sets one value.
pub fn set(ctx: &Context, args: SetArgs) -> Result<()> {
    let path = parse_tree_path(&args.index)?;
    let raw = zeroize::Zeroizing::new(match (&args.value, args.value_stdin, args.value_file) {
        (None, true, _) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("failed to read the value from stdin")?;
            s
        }
        (Some(f), false, true) => std::fs::read_to_string(f)
            .with_context(|| format!("failed to read the value from {f}"))?,
        (Some(v), false, false) => v.clone(),
        _ => {
            return Err(exit(
                codes::NO_FILE_SPECIFIED,
                "need a file, an index and a value (or --value-stdin)",
            ));
        }
    });
    let value = coffer_sops::read_json_value(raw.trim()).map_err(|e| {
        exit(
            codes::INVALID_SET_FORMAT,
            format!("the value is not valid JSON: {e}"),
        )
    })?;
    edit_first_document(ctx, &args.file, |doc| {
        let changed = coffer_sops::set_path(doc, &path, value);
        Ok(changed || !args.idempotent)
    })
}

/// Removes one value.
pub fn unset(ctx: &Context, args: UnsetArgs) -> Result<()> {
    let path = parse_tree_path(&args.index)?;
    edit_first_document(ctx, &args.file, |doc| {
        match coffer_sops::unset_path(doc, &path) {
            Ok(()) => Ok(true),
            Err(_) if args.idempotent => Ok(false),
            Err(e) => Err(e.into()),
        }
    })
}

/// Opens `file`, lets `edit` change its first document, then re-encrypts
/// the file and replaces it, unless `edit` says there is nothing to write.
fn edit_first_document(
    ctx: &Context,
    file: &Path,
    edit: impl FnOnce(&mut coffer_sops::Branch) -> Result<bool>,
) -> Result<()> {
    let (fmt, _) = ctx.formats(file);
    let bytes = read_input(file)?;
    let mut opened = open(&bytes, fmt, false, file)?;
    let doc = opened
        .docs
        .first_mut()
        .context("the file has no document")?;
    if !edit(doc)? {
        return Ok(());
    }
    opened.session.encrypt(&mut opened.docs, &mut opened.meta)?;
    write_atomic(
        file,
        &coffer_sops::emit_encrypted(&opened.docs, &opened.meta, fmt)?,
    )
}
