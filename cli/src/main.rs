//! `coffer`: the command line. Parses flags with clap, hands each
//! subcommand to its module, prints the error chain on failure and exits
//! with the subcommand's exit code (sops's codes for `coffer sops`).
//!
//! Installed (or linked) as `kubectl-coffer`, it is the kubectl plugin
//! `kubectl coffer`: same behaviour, usage lines say `kubectl coffer`.
//!
//! A closed output pipe (`coffer … | head`) ends the process quietly with
//! exit code 0, as ripgrep does: the reader chose to stop, which is not a
//! failure of coffer's (and `set -o pipefail` scripts keep working).

mod completions;
mod keygen;
mod seal;
mod sops;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Secrets management for Kubernetes: sops-compatible age envelopes.
#[derive(Parser)]
#[command(name = "coffer", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// SOPS-compatible encrypted files (age): encrypt, decrypt, edit, …
    Sops(sops::SopsArgs),
    /// Seal Secrets for the sealed-secrets controller (kubeseal-compatible flags)
    Seal(Box<seal::SealArgs>),
    /// Generate a sealing key pair and certificate (key Secret manifest or PEM files)
    Keygen(keygen::KeygenArgs),
    /// Re-encrypt every SealedSecret in files and directories, through the controller or offline
    Reseal(seal::reseal::ResealArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(completions::CompletionsArgs),
}

/// The executable name kubectl gives its `coffer` plugin.
const KUBECTL_PLUGIN: &str = "kubectl-coffer";

/// `kubectl coffer` when run as the kubectl plugin, else `coffer`.
fn bin_name(argv0: Option<&OsString>) -> &'static str {
    let stem = argv0.and_then(|a| Path::new(a).file_stem().map(|s| s.to_owned()));
    if stem.is_some_and(|s| s == KUBECTL_PLUGIN) {
        "kubectl coffer"
    } else {
        "coffer"
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let matches = Cli::command()
        .bin_name(bin_name(args.first()))
        .get_matches_from(&args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Sops(args) => sops::run(args),
        Command::Seal(args) => seal::run(*args),
        Command::Keygen(args) => keygen::run(args),
        Command::Reseal(args) => seal::reseal::run(args),
        Command::Completions(args) => completions::run(&args, Cli::command()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("coffer: {err:#}");
            ExitCode::from(sops::exit_code(&err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubectl_plugin_name_is_recognised_by_its_file_name() {
        let name = |s: &str| bin_name(Some(&OsString::from(s)));
        assert_eq!(name("/usr/local/bin/kubectl-coffer"), "kubectl coffer");
        assert_eq!(name("kubectl-coffer.exe"), "kubectl coffer");
        assert_eq!(name("/usr/bin/coffer"), "coffer");
        assert_eq!(name("kubectl-coffer-extra"), "coffer");
        assert_eq!(bin_name(None), "coffer");
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
