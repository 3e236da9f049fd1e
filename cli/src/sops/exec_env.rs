//! `coffer sops exec-env`: run a command through `/bin/sh -c` with the
//! decrypted file's top-level entries added to its environment, as sops
//! does; the command's exit code becomes ours.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use coffer_sops::{Value, dotenv_value};

use super::common::{Context, open, read_input};
use super::{codes, exit};

/// Arguments of `coffer sops exec-env`.
#[derive(Args)]
pub struct ExecEnvArgs {
    /// The encrypted file
    file: PathBuf,
    /// The command, run with /bin/sh -c
    command: String,
    /// Start from an empty environment instead of the current one
    #[arg(long)]
    pristine: bool,
}

/// Runs the command; returns its exit code.
pub fn run(ctx: &Context, args: ExecEnvArgs) -> Result<u8> {
    let (fmt, _) = ctx.formats(&args.file);
    let bytes = read_input(&args.file)?;
    let opened = open(&bytes, fmt, false, &args.file)?;
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c").arg(&args.command);
    if args.pristine {
        cmd.env_clear();
    }
    for doc in &opened.docs {
        for item in doc {
            let Some(name) = item.name() else { continue };
            if matches!(item.value, Value::Map(_) | Value::Seq(_)) {
                return Err(exit(
                    codes::GENERIC,
                    format!("cannot use complex value in the environment; offending key {name}"),
                ));
            }
            // Matches sops: values go through the dotenv writer, so newlines become `\n`.
            cmd.env(name, dotenv_value(&item.value).replace('\n', "\\n"));
        }
    }
    let status = cmd
        .status()
        .with_context(|| format!("failed to run {:?}", args.command))?;
    Ok(status
        .code()
        .map(|c| c.clamp(0, 255) as u8)
        .unwrap_or(codes::GENERIC))
}
