//! `coffer seal`: kubeseal's command line, flag for flag, so that
//! `alias kubeseal='coffer seal'` keeps scripts working. Seals Secrets into
//! SealedSecrets, seals raw values, merges into existing SealedSecrets,
//! validates and re-encrypts through the controller, and (with the
//! controller's private keys) unseals, validates and re-encrypts offline.
//!
//! Flags mean what they mean in kubeseal v0.40 (`cmd/kubeseal/main.go`; unchanged since v0.36),
//! including the `SEALED_SECRETS_<FLAG>` environment variables; where coffer
//! differs (multi-document input everywhere, offline re-encrypt and
//! validate, merge keeping the target's scope and format) it is a superset,
//! noted on the flag.

pub mod cert;
pub mod cluster;
pub mod connection;
pub mod controller;
pub mod input;
pub mod keys;
pub mod parallel;
pub mod recovery;
pub mod render;
pub mod reseal;
pub mod sealing;
pub mod serve_ui;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use coffer_crypto::{Certificate, Scope};

use crate::files::{self, Mode};
use cluster::ClusterFlags;
use controller::{Controller, ControllerArgs};
use render::Format;
use sealing::SealOptions;

const EXAMPLES: &str = "\
Examples:
  # Seal a Secret offline with the controller's certificate (JSON, as kubeseal)
  coffer seal --cert sealing.crt -f secret.yaml -w sealed.json

  # The same as YAML, from stdin (the output name also chooses YAML)
  kubectl create secret generic db --from-literal=password=s3cr3t --dry-run=client -o yaml \\
    | coffer seal --cert https://certs.example.com/v1/cert.pem -o yaml > sealed.yaml

  # Seal for any name in a namespace, or anywhere in the cluster
  coffer seal --cert sealing.crt --scope namespace-wide -f secret.yaml -w sealed.yaml
  coffer seal --cert sealing.crt --scope cluster-wide -f secret.yaml -w sealed.yaml

  # Seal one value for a template or a patch (prints only the base64)
  echo -n s3cr3t | coffer seal --cert sealing.crt --raw --namespace prod --name db
  coffer seal --cert sealing.crt --raw --scope cluster-wide --from-file=password.txt

  # Add or replace keys in an existing SealedSecret file
  coffer seal --cert sealing.crt --merge-into sealed.yaml -f new-keys.yaml

  # Disaster recovery: open SealedSecrets with a backup of the controller's keys
  coffer seal --recovery-unseal --recovery-private-key keys-backup.yaml -f sealed.yaml

  # Check that the controller can open a SealedSecret; re-encrypt it to the
  # controller's newest key (in place when only -f is given)
  coffer seal --validate -f sealed.yaml
  coffer seal --re-encrypt -f sealed.yaml

  # The same offline, with the controller's keys (and the new certificate)
  coffer seal --validate --recovery-private-key keys-backup.yaml -f sealed.yaml
  coffer seal --re-encrypt --recovery-private-key old.key --cert new.crt -f sealed.yaml

  # Fetch the controller's certificate through the API server
  coffer seal --fetch-cert --controller-namespace sealed-secrets > sealing.crt

  # Seal in the browser: serve the sealing page on http://127.0.0.1:8080/
  coffer seal --serve-ui --cert sealing.crt";

/// Flags of `coffer seal` (kubeseal's, same names and meanings).
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct SealArgs {
    /// Certificate to seal with: a file, an http(s):// URL or a file:// URL. Overrides --controller-*
    #[arg(long, env = "SEALED_SECRETS_CERT", value_name = "FILE|URL")]
    cert: Option<String>,
    /// Output format: json (default) or yaml; a .yaml/.yml --sealed-secret-file chooses yaml
    #[arg(short = 'o', long, env = "SEALED_SECRETS_FORMAT", value_parser = render::parse_format)]
    format: Option<Format>,
    /// Secret (input) file; default stdin
    #[arg(
        short = 'f',
        long = "secret-file",
        env = "SEALED_SECRETS_SECRET_FILE",
        value_name = "FILE"
    )]
    secret_file: Option<PathBuf>,
    /// Sealed secret (output) file, written atomically; default stdout
    #[arg(
        short = 'w',
        long = "sealed-secret-file",
        env = "SEALED_SECRETS_SEALED_SECRET_FILE",
        value_name = "FILE"
    )]
    sealed_secret_file: Option<PathBuf>,
    /// Scope: strict (default), namespace-wide or cluster-wide. Without it the Secret's scope annotations decide
    #[arg(long, env = "SEALED_SECRETS_SCOPE", value_parser = parse_scope)]
    scope: Option<Scope>,
    /// Allow a Secret with no data
    #[arg(long, env = "SEALED_SECRETS_ALLOW_EMPTY_DATA")]
    allow_empty_data: bool,
    /// Namespace to seal for (a Secret in another namespace is an error); default from the kubeconfig context
    #[arg(short = 'n', long, env = "SEALED_SECRETS_NAMESPACE")]
    namespace: Option<String>,
    /// Name of the sealed secret (required with --raw and the strict scope; else overrides the Secret's name)
    #[arg(long, env = "SEALED_SECRETS_NAME")]
    name: Option<String>,
    /// Seal one raw value (from --from-file or stdin) and print only its base64
    #[arg(long, env = "SEALED_SECRETS_RAW")]
    raw: bool,
    /// (only with --raw) The file holding the value: [key=]path, as kubectl's --from-file
    #[arg(
        long,
        env = "SEALED_SECRETS_FROM_FILE",
        value_delimiter = ',',
        value_name = "[KEY=]PATH"
    )]
    from_file: Vec<String>,
    /// Merge the sealed keys of the input Secret into this SealedSecret file, replacing it atomically
    #[arg(long, env = "SEALED_SECRETS_MERGE_INTO", value_name = "FILE")]
    merge_into: Option<PathBuf>,
    /// Print the Secrets of the input SealedSecrets, opened with --recovery-private-key (disaster recovery)
    #[arg(long, env = "SEALED_SECRETS_RECOVERY_UNSEAL")]
    recovery_unseal: bool,
    /// Private keys for --recovery-unseal, --re-encrypt and --validate: PEM files or key Secret backups (YAML/JSON, Secret or List); repeat or comma-separate
    #[arg(
        long,
        env = "SEALED_SECRETS_RECOVERY_PRIVATE_KEY",
        value_delimiter = ',',
        value_name = "FILE"
    )]
    recovery_private_key: Vec<PathBuf>,
    /// Re-encrypt the input SealedSecrets: by the controller, to its newest key; or offline with --recovery-private-key, to --cert (else the controller's certificate)
    #[arg(long, visible_alias = "rotate", env = "SEALED_SECRETS_RE_ENCRYPT")]
    re_encrypt: bool,
    /// Validate that the controller can decrypt the input SealedSecrets; or, offline, that --recovery-private-key can
    #[arg(long, env = "SEALED_SECRETS_VALIDATE")]
    validate: bool,
    /// Print the controller's certificate (from --cert, or fetched through the API server)
    #[arg(long, env = "SEALED_SECRETS_FETCH_CERT")]
    fetch_cert: bool,
    /// Serve the sealing page (values are sealed in the browser) with --cert's certificate, on ADDR (default 127.0.0.1:8080); runs until Ctrl-C. Not in kubeseal
    #[arg(
        long,
        value_name = "ADDR",
        num_args = 0..=1,
        default_missing_value = serve_ui::DEFAULT_ADDR,
        // The page takes these from the user, so here they would be ignored.
        conflicts_with_all = [
            "format", "secret_file", "sealed_secret_file", "scope", "allow_empty_data", "name",
            "raw", "from_file", "merge_into", "recovery_unseal", "recovery_private_key",
            "re_encrypt", "validate", "fetch_cert",
        ]
    )]
    serve_ui: Option<String>,
    #[command(flatten)]
    controller: ControllerArgs,
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    text.parse::<Scope>().map_err(|e| e.to_string())
}

impl SealArgs {
    fn cluster(&self) -> ClusterFlags {
        ClusterFlags {
            kubeconfig: self.controller.kubeconfig.clone(),
            context: self.controller.context.clone(),
            namespace: self.namespace.clone(),
            connection: (*self.controller.connection).clone(),
        }
    }

    /// The input's name for messages.
    fn source(&self) -> String {
        match &self.secret_file {
            Some(p) if p.as_os_str() != "-" => p.display().to_string(),
            _ => "standard input".to_owned(),
        }
    }

    fn read_input(&self) -> Result<Vec<u8>> {
        if self.secret_file.is_none() && std::io::stdin().is_terminal() {
            // Matches kubeseal's hint when waiting on a terminal.
            eprintln!("(tty detected: expecting json/yaml k8s resource in stdin)");
        }
        files::read_input(self.secret_file.as_deref())
    }

    /// The output format: `-o`, else JSON; a YAML output name wins.
    fn output_format(&self) -> Format {
        self.format
            .unwrap_or_default()
            .for_output(self.sealed_secret_file.as_deref())
    }

    fn write(&self, bytes: &[u8], mode: Mode) -> Result<()> {
        files::write_output(self.sealed_secret_file.as_deref(), bytes, mode)
    }

    fn certificate_pem(&self) -> Result<(String, String)> {
        match &self.cert {
            Some(c) => {
                let source = cert::CertSource::parse(c)?;
                Ok((source.read()?, source.describe()))
            }
            None => {
                let controller = Controller::connect(
                    &self.controller,
                    "fetch its certificate (or seal offline with --cert FILE)",
                )?;
                Ok((controller.cert_pem()?, controller.describe().to_owned()))
            }
        }
    }

    fn certificate(&self) -> Result<Certificate> {
        let (pem, from) = self.certificate_pem()?;
        Certificate::from_pem(&pem)
            .with_context(|| format!("cannot use the certificate from {from}"))
    }
}

/// Runs `coffer seal`; returns the exit code.
pub fn run(mut args: SealArgs) -> Result<u8> {
    if !args.from_file.is_empty() && !args.raw {
        bail!("--from-file requires --raw");
    }
    // Matches kubeseal (#405): --re-encrypt with only an input file rewrites it.
    if args.re_encrypt && args.sealed_secret_file.is_none() {
        args.sealed_secret_file = args.secret_file.clone().filter(|p| p.as_os_str() != "-");
    }

    if args.recovery_unseal {
        return recovery_unseal(&args);
    }
    if args.validate {
        return validate(&args);
    }
    if args.re_encrypt {
        return re_encrypt(&args);
    }
    if let Some(addr) = &args.serve_ui {
        // Checked (and refused when expired) here as for sealing; the page
        // checks it again in the browser.
        let (pem, from) = args.certificate_pem()?;
        let cert = Certificate::from_pem(&pem)
            .with_context(|| format!("cannot use the certificate from {from}"))?;
        return serve_ui::serve(addr, pem, &cert.fingerprint().to_string());
    }
    if args.fetch_cert {
        let (pem, _) = args.certificate_pem()?;
        args.write(pem.as_bytes(), Mode::Public)?;
        return Ok(0);
    }
    let cert = args.certificate()?;
    let cluster = args.cluster();
    let namespace = sealing::memoized_namespace(|| cluster.namespace());
    let opts = SealOptions {
        placement: coffer_sealed::Placement {
            scope: args.scope,
            allow_empty_data: args.allow_empty_data,
            name: args.name.clone(),
            namespace_override: None,
            explicit_namespace: args.namespace.clone(),
        },
        namespace: &namespace,
    };

    if let Some(target) = &args.merge_into {
        let text = std::fs::read(target)
            .with_context(|| format!("cannot read --merge-into {}", target.display()))?;
        let target_name = target.display().to_string();
        let existing = input::parse_one_sealed_secret(&text, &target_name)?;
        let secrets = input::parse_secrets(&args.read_input()?, &args.source())?;
        let merged = sealing::merge_into(
            &existing,
            target,
            secrets,
            cert.public_key(),
            &opts,
            &args.source(),
        )?;
        // NB: kubeseal rewrites the file in `-o` (default JSON) even when it
        // was YAML; coffer keeps the file's own format unless -o is given.
        let format = args
            .format
            .unwrap_or(if text.trim_ascii_start().starts_with(b"{") {
                Format::Json
            } else {
                Format::Yaml
            });
        let out = render::render_all(&[merged], format)?;
        files::write_atomically(target, out.as_bytes(), Mode::Public)?;
        return Ok(0);
    }

    if args.raw {
        let scope = args.scope.unwrap_or_default();
        let ns = if scope == Scope::ClusterWide {
            cluster::Namespace {
                name: String::new(),
                explicit: false,
            }
        } else {
            cluster.namespace()?
        };
        let value = sealing::read_raw_value(&args.from_file)?;
        let sealed =
            sealing::seal_raw(&value, cert.public_key(), scope, &ns, args.name.as_deref())?;
        // Matches kubeseal: the base64 alone, without a newline.
        args.write(sealed.as_bytes(), Mode::Public)?;
        return Ok(0);
    }

    let secrets = input::parse_secrets(&args.read_input()?, &args.source())?;
    let sealed = sealing::seal_all(secrets, cert.public_key(), &opts, &args.source())?;
    let out = render::render_all(&sealed, args.output_format())?;
    args.write(out.as_bytes(), Mode::Public)?;
    Ok(0)
}

fn recovery_unseal(args: &SealArgs) -> Result<u8> {
    let keys = keys::read_private_keys(&args.recovery_private_key)?;
    let sealed = input::parse_sealed_secrets(&args.read_input()?, &args.source())?;
    let secrets = recovery::unseal_all(&sealed, &keys, &args.source())?;
    let out = render::render_all(&secrets, args.output_format())?;
    args.write(out.as_bytes(), Mode::Private)?;
    Ok(0)
}

/// `--validate`: offline with `--recovery-private-key`, else asks the
/// controller (`POST /v1/verify`) about each SealedSecret. Every invalid
/// document is reported, then the exit is non-zero.
fn validate(args: &SealArgs) -> Result<u8> {
    let sealed = input::parse_sealed_secrets(&args.read_input()?, &args.source())?;
    let (failures, by) = if args.recovery_private_key.is_empty() {
        let controller = Controller::connect(
            &args.controller,
            "validate (or validate offline with --recovery-private-key)",
        )?;
        let mut failures = Vec::new();
        for (i, s) in sealed.iter().enumerate() {
            let reason = controller
                .verify(s)
                .with_context(|| recovery::describe(i, &args.source()))?;
            if let Some(reason) = reason {
                failures.push((i, reason));
            }
        }
        (failures, controller.describe().to_owned())
    } else {
        let keys = keys::read_private_keys(&args.recovery_private_key)?;
        let failures = sealed
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                // The controller's /v1/verify question: do the keys open
                // every value (templates are not rendered).
                let err = coffer_sealed::verify(s, &keys).err()?;
                Some((i, err.to_string()))
            })
            .collect();
        (failures, "the given private keys".to_owned())
    };
    if failures.is_empty() {
        return Ok(0);
    }
    let lines: Vec<String> = failures
        .iter()
        .map(|(i, reason)| format!("  {}: {reason}", recovery::describe(*i, &args.source())))
        .collect();
    bail!(
        "{} of {} SealedSecret(s) in {} cannot be decrypted by {by}:\n{}",
        failures.len(),
        sealed.len(),
        args.source(),
        lines.join("\n")
    )
}

/// `--re-encrypt`: offline with `--recovery-private-key` (to `--cert`, or
/// the controller's certificate), else the controller re-encrypts each
/// SealedSecret to its newest key (`POST /v1/rotate`). Nothing is written
/// unless every SealedSecret was re-encrypted.
fn re_encrypt(args: &SealArgs) -> Result<u8> {
    let sealed = input::parse_sealed_secrets(&args.read_input()?, &args.source())?;
    let resealed = if args.recovery_private_key.is_empty() {
        if args.cert.is_some() {
            bail!(
                "--re-encrypt without --recovery-private-key asks the controller, which \
                 re-encrypts to its own newest key; --cert (or SEALED_SECRETS_CERT) only \
                 applies offline, with --recovery-private-key"
            );
        }
        let controller = Controller::connect(
            &args.controller,
            "re-encrypt (or re-encrypt offline with --recovery-private-key and --cert)",
        )?;
        sealed
            .iter()
            .enumerate()
            .map(|(i, s)| {
                controller
                    .rotate(s)
                    .with_context(|| recovery::describe(i, &args.source()))
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        let keys = keys::read_private_keys(&args.recovery_private_key)?;
        let cert = args.certificate()?;
        recovery::reencrypt_all(&sealed, &keys, cert.public_key(), &args.source())?
    };
    let out = render::render_all(&resealed, args.output_format())?;
    args.write(out.as_bytes(), Mode::Public)?;
    Ok(0)
}
