//! `coffer`: the command line. Parses flags with clap, hands each
//! subcommand to its module, prints the error chain on failure and exits
//! with the subcommand's exit code (sops's codes for `coffer sops`).
//!
//! Installed (or linked) as `kubectl-coffer`, it is the kubectl plugin
//! `kubectl coffer`: same behaviour, usage lines say `kubectl coffer`.
//! Linked as `kubectl_complete-coffer`, it answers kubectl's completion
//! requests for that plugin (see `kubectl_complete`).
//!
//! A closed output pipe (`coffer … | head`) ends the process quietly with
//! exit code 0, as ripgrep does: the reader chose to stop, which is not a
//! failure of coffer's (and `set -o pipefail` scripts keep working).

#![forbid(unsafe_code)]

mod completions;
mod files;
mod keygen;
mod kubectl_complete;
mod render;
mod seal;
mod sops;

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Secrets management for Kubernetes: kubeseal-compatible SealedSecrets,
/// sops-compatible age envelopes, and decryption right before apply.
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
    /// Decrypt SOPS documents and unseal SealedSecrets in manifests, right before apply
    Render(Box<render::RenderArgs>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(completions::CompletionsArgs),
}

/// The executable name kubectl gives its `coffer` plugin.
const KUBECTL_PLUGIN: &str = "kubectl-coffer";

/// Whether the executable's file name (without extension) is `name`.
fn named(argv0: Option<&OsString>, name: &str) -> bool {
    argv0
        .and_then(|a| Path::new(a).file_stem().map(|s| s.to_owned()))
        .is_some_and(|s| s == name)
}

/// `kubectl coffer` when run as the kubectl plugin, else `coffer`.
fn bin_name(argv0: Option<&OsString>) -> &'static str {
    if named(argv0, KUBECTL_PLUGIN) {
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
    if named(args.first(), kubectl_complete::HELPER) {
        let words: Vec<String> = args[1..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let answer = kubectl_complete::complete(&Cli::command(), &words);
        // NB: a closed pipe is not an error here either.
        let _ = std::io::stdout().write_all(kubectl_complete::render(answer).as_bytes());
        return ExitCode::SUCCESS;
    }
    let matches = Cli::command()
        .bin_name(bin_name(args.first()))
        .get_matches_from(&args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Sops(args) => sops::run(args),
        Command::Seal(args) => seal::run(*args),
        Command::Keygen(args) => keygen::run(args),
        Command::Reseal(args) => seal::reseal::run(args),
        Command::Render(args) => render::run(*args),
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
    fn kubectl_completion_offers_subcommands_flags_and_fixed_values() {
        let complete = |words: &[&str]| {
            let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            let (candidates, directive) = kubectl_complete::complete(&Cli::command(), &words);
            let values: Vec<String> = candidates.into_iter().map(|(v, _)| v).collect();
            (values, directive)
        };
        assert_eq!(complete(&["se"]), (vec!["seal".to_owned()], 4));
        let (all, _) = complete(&[""]);
        for sub in ["sops", "seal", "keygen", "reseal", "completions"] {
            assert!(all.iter().any(|v| v == sub), "{sub} in {all:?}");
        }
        assert_eq!(complete(&["seal", "--sc"]), (vec!["--scope".to_owned()], 4));
        assert_eq!(
            complete(&["completions", ""]).0,
            ["bash", "elvish", "fish", "powershell", "zsh"]
        );
        assert_eq!(complete(&["completions", "z"]), (vec!["zsh".to_owned()], 4));
        // Paths are the shell's to complete.
        assert_eq!(complete(&["reseal", ""]), (Vec::new(), 0));
        assert_eq!(complete(&["seal", "--secret-file", ""]), (Vec::new(), 0));
        assert!(complete(&["sops", ""]).0.iter().any(|v| v == "encrypt"));
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
