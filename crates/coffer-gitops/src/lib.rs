//! Apply-time decryption for reconcilers that apply manifests from Git
//! (Flux, Argo CD, kustomize pipelines, a team's own kube-rs reconciler):
//! the manifests of a whole build go in, the same manifests come out with
//! every SOPS document decrypted, every Secret `data` value holding a SOPS
//! document decrypted in place, and every SealedSecret whose key is in the
//! [`Keyring`] turned into the Secret the controller would write; everything
//! else passes through unchanged, in order, byte for byte.
//!
//! ```no_run
//! use coffer_gitops::{Decryptor, Keyring, Options};
//!
//! let mut keyring = Keyring::new();
//! keyring.add_age_identity_file("keys.txt".as_ref())?;
//! keyring.add_sealing_key_file("sealing-keys.yaml".as_ref())?;
//! let decryptor = Decryptor::with_options(keyring, Options::default());
//! let build = std::fs::read("build.yaml")?;
//! let decrypted = decryptor.decrypt_stream(&build, "build.yaml")?;
//! for doc in &decrypted.report.documents {
//!     eprintln!("{}: {}", doc.object, doc.outcome);
//! }
//! decrypted.write_to(&mut std::io::stdout())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The rules follow Flux's kustomize-controller where Flux has one (see the
//! crate README for what differs): a document whose `sops.mac` is non-empty
//! is decrypted whatever its kind; `kustomize.toolkit.fluxcd.io/decrypt:
//! Disabled` or `coffer.dev/decrypt: Disabled` leaves a document alone; a
//! Secret `data` value is decrypted when it is a base64 SOPS document, its
//! input format recognised by structure and its output format following the
//! data key's name. Guards refuse output that still carries a `sops` block,
//! an `ENC[...]` value or (when asked) a SealedSecret, and empty output from
//! non-empty input. A call returns everything or an error, never part of a
//! build; errors name the document and never contain a decrypted byte.
//!
//! One call decrypts a whole build on every core, unwraps each distinct
//! wrapped data key once and uses SealedSecret private keys parsed once,
//! when the keyring was built. [`Decryptor::decrypt_sources`] decrypts in
//! place the files a kustomization refers to, before `kustomize build`.

#![forbid(unsafe_code)]

mod cache;
mod decryptor;
mod error;
mod guard;
mod keyring;
mod object;
mod options;
mod output;
mod parallel;
mod process;
mod report;
mod sealed;
mod secret_data;
mod sniff;
mod sops_resource;
mod sources;
mod tree;

pub use coffer_manifest::Limits;
pub use coffer_sops::Format as FileFormat;
pub use coffer_sops::{MacCheck, MacPolicy};
pub use decryptor::{DecryptedFile, Decryptor, Input};
pub use error::{Error, Result, Violation};
pub use keyring::Keyring;
pub use object::ObjectRef;
pub use options::{COFFER_DECRYPT_ANNOTATION, DISABLED, FLUX_DECRYPT_ANNOTATION, Options};
pub use output::{Decrypted, DecryptedObjects, DocumentFormat, OutputDocument};
pub use report::{DataKeyReport, DocumentReport, Outcome, Report, Warning};
pub use sources::{SourceFile, SourceSkipped, SourcesReport};
