//! `coffer`: the command line. Parses flags with clap, hands each
//! subcommand to its module, prints the error chain on failure and exits
//! with the subcommand's exit code (sops's codes for `coffer sops`).
#![allow(clippy::print_stdout)]

mod keygen;
mod seal;
mod sops;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Re-encrypt every SealedSecret in files and directories to a new certificate, offline
    Reseal(seal::reseal::ResealArgs),
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sops(args) => sops::run(args),
        Command::Seal(args) => seal::run(*args),
        Command::Keygen(args) => keygen::run(args),
        Command::Reseal(args) => seal::reseal::run(args),
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
