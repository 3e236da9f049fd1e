//! `coffer sops encrypt`: encrypt a plaintext file to the age recipients
//! from `--age` or the matching `.sops.yaml` creation rule.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;

use super::common::{Context, Output, RuleArgs, read_input};
use super::{codes, exit};

/// Arguments of `coffer sops encrypt`.
#[derive(Args)]
pub struct EncryptArgs {
    /// The file to encrypt
    file: PathBuf,
    /// Write the result back to the file
    #[arg(short, long)]
    in_place: bool,
    /// Write the result to this file
    #[arg(long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// Use this name to pick the format and the .sops.yaml rule
    #[arg(long, value_name = "NAME")]
    filename_override: Option<PathBuf>,
    #[command(flatten)]
    rules: RuleArgs,
}

/// Encrypts the file.
pub fn run(ctx: &Context, args: EncryptArgs) -> Result<()> {
    let out = Output::choose(args.in_place, &args.output, &args.file)?;
    let name = args.filename_override.as_ref().unwrap_or(&args.file);
    let (input_fmt, output_fmt) = ctx.formats(name);
    let bytes = read_input(&args.file)?;
    let docs = coffer_sops::load_plain(&bytes, input_fmt)
        .with_context(|| format!("failed to load {}", args.file.display()))?;
    if coffer_sops::has_metadata(&docs, input_fmt) {
        return Err(exit(
            codes::FILE_ALREADY_ENCRYPTED,
            "the file already has a top-level 'sops' entry (or 'sops_' keys): it is already encrypted; use `coffer sops edit` to change it",
        ));
    }
    let opts = args.rules.options(ctx, name)?;
    let encrypted = coffer_sops::encrypt_docs(docs, output_fmt, &opts)?;
    out.write(&encrypted)
}
