//! `coffer completions SHELL`: a completion script generated from the same
//! flag definitions clap parses (as ripgrep and rustup do), printed to
//! stdout for the user to source or install.

use std::io::Write;

use anyhow::Result;
use clap::{Args, Command};
use clap_complete::Shell;

const EXAMPLES: &str = "\
Examples:
  # bash: load now, or install for every session
  source <(coffer completions bash)
  coffer completions bash > ~/.local/share/bash-completion/completions/coffer

  # zsh: a file named _coffer in a directory of $fpath
  coffer completions zsh > ~/.zfunc/_coffer

  # fish
  coffer completions fish > ~/.config/fish/completions/coffer.fish";

/// Arguments of `coffer completions`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the completion script for `coffer`.
pub fn run(args: &CompletionsArgs, mut command: Command) -> Result<u8> {
    // NB: into a buffer first: clap_complete panics on a write error, and a
    // closed pipe must end quietly (see main.rs).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "coffer", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(0)
}
