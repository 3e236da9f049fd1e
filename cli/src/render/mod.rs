//! `coffer render`: apply-time decryption on the command line, a thin layer
//! over `coffer-gitops`. Reads manifests (files, or standard input), builds
//! one `Keyring` and one `Decryptor` from the flags and the SOPS
//! environment, decrypts the whole build in one call (every core, each data
//! key unwrapped once: the library's job) and writes the result to stdout
//! only when every document succeeded: on any error stdout stays empty, so
//! `kustomize build . | coffer render | kubectl apply -f -` never applies
//! half a build. Input that is a KRM `ResourceList` is answered as a KRM
//! function (see `krm`).

mod krm;
mod legacy;
mod sources;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use coffer_gitops::{Decryptor, Input, Keyring, MacPolicy, Options};
use zeroize::Zeroizing;

/// What `--mac` accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum MacArg {
    /// A MAC mismatch is an error
    #[default]
    Verify,
    /// A MAC mismatch is a warning; the values are still decrypted
    Warn,
    /// The MAC is not checked
    Skip,
}

impl From<MacArg> for MacPolicy {
    fn from(m: MacArg) -> MacPolicy {
        match m {
            MacArg::Verify => MacPolicy::Verify,
            MacArg::Warn => MacPolicy::Warn,
            MacArg::Skip => MacPolicy::Skip,
        }
    }
}

/// Decrypt SOPS documents and unseal SealedSecrets in a stream of manifests,
/// right before apply: `kustomize build . | coffer render | kubectl apply -f -`.
///
/// Every document whose `sops.mac` is set is decrypted (any kind) and its
/// sops block removed; Secret `data` values holding SOPS documents (what a
/// kustomize secretGenerator makes of an encrypted file) are decrypted in
/// place; SealedSecrets whose sealing key is given become the Secret the
/// controller would write; everything else passes through byte for byte.
/// Output goes to stdout only when the whole input succeeded: on any error
/// nothing is printed there and the exit code is 1. Errors name the
/// document (kind, namespace/name, input, index) and the key, never a value.
///
/// Keys: --age-identity, --sealing-key and --keyring files, plus the SOPS
/// environment as `coffer sops` reads it (SOPS_AGE_KEY_FILE, SOPS_AGE_KEY,
/// SOPS_AGE_KEY_CMD, $XDG_CONFIG_HOME/sops/age/keys.txt).
///
/// KRM function: when the input is a config.kubernetes.io/v1 ResourceList
/// (kustomize --enable-alpha-plugins --enable-exec), the answer is a
/// ResourceList with the items decrypted and `results` for every warning
/// and error; its functionConfig may name key files and generate Secrets
/// from encrypted files (apiVersion coffer.dev/v1, see the README).
#[derive(Args, Debug)]
#[command(verbatim_doc_comment, args_conflicts_with_subcommands = true)]
pub struct RenderArgs {
    #[command(subcommand)]
    pub command: Option<RenderCommand>,
    /// Manifest files (YAML streams or JSON); none or "-": standard input
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// An age identity file (repeatable), added to the SOPS environment's keys
    #[arg(long = "age-identity", value_name = "FILE")]
    pub age_identities: Vec<PathBuf>,
    /// A SealedSecret private key (repeatable): PEM, or key Secret(s) / a
    /// List as `kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key
    /// -o yaml` dumps them (YAML or JSON)
    #[arg(long = "sealing-key", value_name = "FILE")]
    pub sealing_keys: Vec<PathBuf>,
    /// A key Secret manifest (repeatable) in Flux's form (`*.agekey` entries)
    /// or Bitnami's (`tls.key`)
    #[arg(long = "keyring", value_name = "FILE")]
    pub keyrings: Vec<PathBuf>,
    /// Fail when a SealedSecret cannot be unsealed with the given keys,
    /// instead of passing it through for the in-cluster controller
    #[arg(long)]
    pub require_unsealed: bool,
    /// Accept empty output (by default an error: Argo CD prunes every
    /// resource of an application whose manifests are empty)
    #[arg(long)]
    pub allow_empty: bool,
    /// What a SOPS MAC mismatch does (kustomize patches and transformers
    /// change resources after encryption and so invalidate their MAC)
    #[arg(long, value_enum, default_value_t = MacArg::Verify)]
    pub mac: MacArg,
    /// Instead of reading manifests: copy the kustomization DIR into a private
    /// temporary directory, decrypt there the files it refers to (resources,
    /// components, patches, secretGenerator files and envs, as Flux does),
    /// run `kustomize build` on the copy, and decrypt its output as usual.
    /// The copy is removed afterwards
    #[arg(long, value_name = "DIR", conflicts_with = "paths")]
    pub sources: Option<PathBuf>,
    /// The kustomize binary --sources runs (default: `kustomize` on PATH)
    #[arg(long, value_name = "BIN", requires = "sources")]
    pub kustomize: Option<PathBuf>,
    /// Run as a kustomize legacy exec plugin with this config file (what
    /// the scripts `coffer render install` writes do)
    #[arg(long, value_name = "CONFIG", hide = true, conflicts_with_all = ["paths", "sources"])]
    pub exec_plugin: Option<PathBuf>,
}

/// `coffer render` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum RenderCommand {
    /// Lay out kustomize's legacy exec-plugin directory for coffer's
    /// coffer.dev/v1 Render and SecretGenerator configs:
    /// DIR/coffer.dev/v1/<kind lowercase>/<Kind>, scripts running this
    /// binary. Use it with `kustomize build --enable-alpha-plugins` and
    /// KUSTOMIZE_PLUGIN_HOME=DIR (no config.kubernetes.io/function
    /// annotation on the config then)
    Install {
        /// The plugin directory (e.g. ~/.config/kustomize/plugin)
        dir: PathBuf,
    },
}

/// Runs `coffer render`; the exit code (1 when anything failed).
pub fn run(args: RenderArgs) -> Result<u8> {
    if let Some(RenderCommand::Install { dir }) = &args.command {
        return legacy::install(dir);
    }
    if let Some(config) = &args.exec_plugin {
        return legacy::run(&args, config);
    }
    if let Some(dir) = &args.sources {
        return run_sources(&args, dir);
    }
    let inputs = read_inputs(&args.paths)?;
    if let [(_, bytes)] = inputs.as_slice()
        && let Some(list) = krm::resource_list(bytes)?
    {
        return krm::run(&args, list);
    }
    let keyring = build_keyring(&args.age_identities, &args.sealing_keys, &args.keyrings)?;
    let decryptor = Decryptor::with_options(keyring, options(&args));
    let named: Vec<Input<'_>> = inputs
        .iter()
        .map(|(name, bytes)| Input {
            name,
            bytes: bytes.as_slice(),
        })
        .collect();
    finish(decryptor.decrypt_inputs(&named))
}

/// `--sources DIR`: decrypt a copy of the sources, build it, decrypt the
/// build.
fn run_sources(args: &RenderArgs, dir: &Path) -> Result<u8> {
    let keyring = build_keyring(&args.age_identities, &args.sealing_keys, &args.keyrings)?;
    let decryptor = Decryptor::with_options(keyring, options(args));
    let built = match sources::build(&decryptor, dir, args.kustomize.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("coffer: error: {e:#}");
            return Ok(1);
        }
    };
    let name = format!("kustomize build {}", dir.display());
    finish(decryptor.decrypt_stream(&built, &name))
}

/// Prints a run's output, or its error and nothing on stdout.
fn finish(result: coffer_gitops::Result<coffer_gitops::Decrypted>) -> Result<u8> {
    match result {
        Ok(out) => {
            for w in &out.report.warnings {
                eprintln!("coffer: warning: {w}");
            }
            let mut stdout = std::io::stdout().lock();
            out.write_to(&mut stdout)
                .context("writing to standard output")?;
            Ok(0)
        }
        Err(e) => {
            eprintln!("coffer: error: {e}");
            Ok(1)
        }
    }
}

/// The decryption options the flags ask for.
fn options(args: &RenderArgs) -> Options {
    Options {
        mac: args.mac.into(),
        require_unsealed: args.require_unsealed,
        allow_empty: args.allow_empty,
        ..Options::default()
    }
}

/// One keyring from the SOPS environment and the key files; its warnings
/// (entries not used) printed to stderr.
pub(crate) fn build_keyring(
    age: &[PathBuf],
    sealing: &[PathBuf],
    keyrings: &[PathBuf],
) -> Result<Keyring> {
    let mut keyring = Keyring::new();
    keyring.add_sops_environment();
    for p in age {
        keyring.add_age_identity_file(p)?;
    }
    for p in sealing {
        keyring.add_sealing_key_file(p)?;
    }
    for p in keyrings {
        keyring.add_keyring_file(p)?;
    }
    for w in keyring.warnings() {
        eprintln!("coffer: warning: {w}");
    }
    Ok(keyring)
}

/// Every input, whole, in order: (name, bytes). Standard input when no
/// path is given, and for "-" (once).
fn read_inputs(paths: &[PathBuf]) -> Result<Vec<(String, Zeroizing<Vec<u8>>)>> {
    let stdin = [PathBuf::from("-")];
    let paths = if paths.is_empty() { &stdin[..] } else { paths };
    let mut seen_stdin = false;
    let mut inputs = Vec::with_capacity(paths.len());
    for p in paths {
        if p == Path::new("-") {
            if seen_stdin {
                bail!("standard input (\"-\") is given more than once");
            }
            seen_stdin = true;
            let mut bytes = Zeroizing::new(Vec::new());
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .context("reading standard input")?;
            inputs.push(("standard input".to_owned(), bytes));
        } else {
            let bytes = std::fs::read(p)
                .map(Zeroizing::new)
                .with_context(|| format!("reading {}", p.display()))?;
            inputs.push((p.display().to_string(), bytes));
        }
    }
    Ok(inputs)
}

/// Writes `bytes` to stdout in one go.
pub(crate) fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(())
}
