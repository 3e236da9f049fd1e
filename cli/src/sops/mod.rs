//! `coffer sops`: sops-compatible encrypted files. The subcommands and flags
//! follow sops 3.x (`encrypt`, `decrypt`, `edit`, `updatekeys`, `rotate`,
//! `set`, `unset`, `filestatus`, `exec-env`) and so do the exit codes, so
//! scripts written for sops work unchanged.

mod common;
mod decrypt;
mod edit;
mod encrypt;
mod exec_env;
mod filestatus;
mod keys;
mod set;

use std::fmt;
use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Options shared by every `coffer sops` subcommand.
#[derive(Args)]
pub struct SopsArgs {
    /// The .sops.yaml to use (default: searched from the file's directory upward, then from the current directory)
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Input format: yaml, json, dotenv, ini or binary (default: from the file extension)
    #[arg(long, global = true, value_name = "TYPE", value_parser = common::parse_format)]
    input_type: Option<coffer_sops::Format>,
    /// Output format (default: the input format)
    #[arg(long, global = true, value_name = "TYPE", value_parser = common::parse_format)]
    output_type: Option<coffer_sops::Format>,
    #[command(subcommand)]
    command: SopsCommand,
}

#[derive(Subcommand)]
enum SopsCommand {
    /// Encrypt a file (to stdout, or in place with -i)
    Encrypt(encrypt::EncryptArgs),
    /// Decrypt a file (to stdout, or in place with -i)
    Decrypt(decrypt::DecryptArgs),
    /// Decrypt into $EDITOR and encrypt the result; unchanged values keep their ciphertext
    Edit(edit::EditArgs),
    /// Rewrap the data key for the recipients of the matching .sops.yaml rule
    Updatekeys(keys::UpdatekeysArgs),
    /// Generate a new data key and re-encrypt every value
    Rotate(keys::RotateArgs),
    /// Set one value, e.g. `coffer sops set file.yaml '["data"]["key"]' '"value"'`
    Set(set::SetArgs),
    /// Remove one value, e.g. `coffer sops unset file.yaml '["data"]["key"]'`
    Unset(set::UnsetArgs),
    /// Print whether a file is encrypted, as JSON: {"encrypted":true}
    Filestatus(filestatus::FilestatusArgs),
    /// Run a command with the decrypted file's entries in its environment
    ExecEnv(exec_env::ExecEnvArgs),
}

/// A failure carrying the exit code sops uses for it.
#[derive(Debug)]
pub struct Exit {
    /// The process exit code.
    pub code: u8,
    /// What happened.
    pub message: String,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Builds an error with a sops exit code.
pub fn exit(code: u8, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Exit {
        code,
        message: message.into(),
    })
}

/// sops's exit codes (cmd/sops/codes).
pub mod codes {
    /// Anything else.
    pub const GENERIC: u8 = 1;
    /// The output could not be written.
    pub const COULD_NOT_WRITE_OUTPUT: u8 = 3;
    /// Mutually exclusive flags.
    pub const CONFLICTING_PARAMETERS: u8 = 8;
    /// A value failed to decrypt.
    pub const ERROR_DECRYPTING_TREE: u8 = 25;
    /// The MAC does not match.
    pub const MAC_MISMATCH: u8 = 51;
    /// A tree path is malformed.
    pub const INVALID_SET_FORMAT: u8 = 7;
    /// The file does not exist.
    pub const NO_FILE_SPECIFIED: u8 = 100;
    /// No recipients to encrypt to.
    pub const NO_ENCRYPTION_KEY_FOUND: u8 = 111;
    /// No key could decrypt the data key.
    pub const COULD_NOT_RETRIEVE_KEY: u8 = 128;
    /// `edit` saw no change.
    pub const FILE_HAS_NOT_BEEN_MODIFIED: u8 = 200;
    /// No editor could be started.
    pub const NO_EDITOR_FOUND: u8 = 201;
    /// The file is already encrypted.
    pub const FILE_ALREADY_ENCRYPTED: u8 = 203;
}

/// The exit code for an error: the one attached to it, or the one sops uses
/// for the library error underneath.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for e in err.chain() {
        if let Some(x) = e.downcast_ref::<Exit>() {
            return x.code;
        }
        if let Some(e) = e.downcast_ref::<coffer_sops::Error>() {
            use coffer_sops::Error as E;
            return match e {
                E::MacMismatch => codes::MAC_MISMATCH,
                E::NoDataKey(_) => codes::COULD_NOT_RETRIEVE_KEY,
                E::ValueDecrypt { .. } => codes::ERROR_DECRYPTING_TREE,
                E::AlreadyEncrypted => codes::FILE_ALREADY_ENCRYPTED,
                E::TreePath(_) => codes::INVALID_SET_FORMAT,
                _ => codes::GENERIC,
            };
        }
    }
    codes::GENERIC
}

/// Runs a `coffer sops` subcommand; returns the process exit code.
pub fn run(args: SopsArgs) -> anyhow::Result<u8> {
    let ctx = common::Context {
        config: args.config,
        input_type: args.input_type,
        output_type: args.output_type,
    };
    match args.command {
        SopsCommand::Encrypt(a) => encrypt::run(&ctx, a).map(|()| 0),
        SopsCommand::Decrypt(a) => decrypt::run(&ctx, a).map(|()| 0),
        SopsCommand::Edit(a) => edit::run(&ctx, a).map(|()| 0),
        SopsCommand::Updatekeys(a) => keys::updatekeys(&ctx, a).map(|()| 0),
        SopsCommand::Rotate(a) => keys::rotate(&ctx, a).map(|()| 0),
        SopsCommand::Set(a) => set::set(&ctx, a).map(|()| 0),
        SopsCommand::Unset(a) => set::unset(&ctx, a).map(|()| 0),
        SopsCommand::Filestatus(a) => filestatus::run(&ctx, a).map(|()| 0),
        SopsCommand::ExecEnv(a) => exec_env::run(&ctx, a),
    }
}
