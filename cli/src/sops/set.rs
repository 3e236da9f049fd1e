//! `coffer sops set` and `unset`: change one value of an encrypted file in
//! place. The rest of the file is re-encrypted with the same data key and
//! the same IVs, so only the changed value's ciphertext (and the MAC) move.

use std::io::Read;
use std::path::PathBuf;

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
    let (fmt, _) = ctx.formats(&args.file);
    let bytes = read_input(&args.file)?;
    let mut opened = open(&bytes, fmt, false, &args.file)?;
    let doc = opened
        .docs
        .first_mut()
        .context("the file has no document")?;
    let changed = coffer_sops::set_path(doc, &path, value);
    if !changed && args.idempotent {
        return Ok(());
    }
    opened.session.encrypt(&mut opened.docs, &mut opened.meta)?;
    write_atomic(
        &args.file,
        &coffer_sops::emit_encrypted(&opened.docs, &opened.meta, fmt)?,
    )
}

/// Removes one value.
pub fn unset(ctx: &Context, args: UnsetArgs) -> Result<()> {
    let path = parse_tree_path(&args.index)?;
    let (fmt, _) = ctx.formats(&args.file);
    let bytes = read_input(&args.file)?;
    let mut opened = open(&bytes, fmt, false, &args.file)?;
    let doc = opened
        .docs
        .first_mut()
        .context("the file has no document")?;
    match coffer_sops::unset_path(doc, &path) {
        Ok(()) => {}
        Err(_) if args.idempotent => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    opened.session.encrypt(&mut opened.docs, &mut opened.meta)?;
    write_atomic(
        &args.file,
        &coffer_sops::emit_encrypted(&opened.docs, &opened.meta, fmt)?,
    )
}
