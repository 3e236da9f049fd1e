//! `coffer sops filestatus`: `{"encrypted":true}` when the file carries
//! complete sops metadata (a version and a MAC), as sops reports it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::common::{Context, read_input};

/// Arguments of `coffer sops filestatus`.
#[derive(Args)]
pub struct FilestatusArgs {
    /// The file to check
    file: PathBuf,
}

/// Prints the status.
pub fn run(ctx: &Context, args: FilestatusArgs) -> Result<()> {
    let (fmt, _) = ctx.formats(&args.file);
    let bytes = read_input(&args.file)?;
    let encrypted = match coffer_sops::load_encrypted(&bytes, fmt) {
        Ok((_, meta)) => !meta.version.is_empty() && !meta.mac.is_empty(),
        Err(coffer_sops::Error::MetadataNotFound) => false,
        Err(e) => return Err(anyhow::Error::new(e).context("cannot check file status")),
    };
    // Not println!, which panics on a closed pipe.
    let mut out = std::io::stdout().lock();
    writeln!(out, "{{\"encrypted\":{encrypted}}}")?;
    out.flush()?;
    Ok(())
}
