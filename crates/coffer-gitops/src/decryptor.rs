//! The entry point: a [`Decryptor`] holds a keyring and options, and each
//! call decrypts a whole build: manifest streams (bytes) or
//! `DynamicObject`s in, all documents and a report out, or an error and
//! nothing. Documents are read (split) in order, processed on every core,
//! and put back in order; the errors of every failing document are
//! returned together.

use std::sync::Arc;

use coffer_manifest::{Format as StreamFormat, RawDocument, split};
use coffer_sops::{Format, MacCheck};
use kube_core::DynamicObject;
use zeroize::Zeroizing;

use crate::cache::KeyCache;
use crate::keyring::Keyring;
use crate::object::ObjectRef;
use crate::options::Options;
use crate::output::{Decrypted, DecryptedObjects, OutputDocument};
use crate::process::{Ctx, process};
use crate::report::{Report, Warning};
use crate::sops_resource::{mac_warning, sops_error};
use crate::{Error, Result, parallel, sniff};

/// One named input stream.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// Its name in reports and errors (a file name, "standard input").
    pub name: &'a str,
    /// Its bytes: JSON objects or YAML documents.
    pub bytes: &'a [u8],
}

/// A file decrypted on its own (a generator's input): see
/// [`Decryptor::decrypt_file`].
pub struct DecryptedFile {
    /// The plaintext, in `output` format.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The SOPS document's format, recognised by structure (`Binary` for
    /// sops's binary envelope).
    pub input: Format,
    /// The format the plaintext is written in.
    pub output: Format,
    /// The age recipients whose entries opened the data key.
    pub recipients: Vec<String>,
    /// What came of the MAC check.
    pub mac: MacCheck,
    /// Warnings (a MAC mismatch under the warn policy).
    pub warnings: Vec<Warning>,
}

impl std::fmt::Debug for DecryptedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptedFile")
            .field("input", &self.input)
            .field("output", &self.output)
            .field("recipients", &self.recipients)
            .field("mac", &self.mac)
            .finish_non_exhaustive()
    }
}

/// Decrypts builds with one keyring and one set of options. Cheap to share
/// (`Arc` inside) and `Sync`: a reconciler keeps one and calls it from any
/// thread (from async code, inside `spawn_blocking`: a call is CPU-bound
/// and runs its own threads).
#[derive(Clone, Debug)]
pub struct Decryptor {
    keyring: Arc<Keyring>,
    options: Options,
}

impl Decryptor {
    /// A decryptor with the default options (MAC verified, SealedSecrets
    /// without a key passed through, empty output refused).
    pub fn new(keyring: impl Into<Arc<Keyring>>) -> Decryptor {
        Decryptor::with_options(keyring, Options::default())
    }

    /// A decryptor with `options`.
    pub fn with_options(keyring: impl Into<Arc<Keyring>>, options: Options) -> Decryptor {
        Decryptor {
            keyring: keyring.into(),
            options,
        }
    }

    /// The keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Decrypts one stream (e.g. the output of `kustomize build`).
    pub fn decrypt_stream(&self, bytes: &[u8], name: &str) -> Result<Decrypted> {
        self.decrypt_inputs(&[Input { name, bytes }])
    }

    /// Decrypts several streams as one build: documents of every input,
    /// in order, processed together.
    pub fn decrypt_inputs(&self, inputs: &[Input<'_>]) -> Result<Decrypted> {
        let limits = &self.options.limits;
        let mut work: Vec<(&str, RawDocument<'_>)> = Vec::new();
        for input in inputs {
            for raw in split(input.bytes, input.name, limits)? {
                work.push((input.name, raw));
            }
            if work.len() > limits.max_documents {
                return Err(coffer_manifest::Error::TooManyDocuments {
                    input: input.name.to_owned(),
                    max: limits.max_documents,
                }
                .into());
            }
        }
        self.run(&work)
    }

    /// Decrypts `DynamicObject`s (e.g. read from a source a reconciler
    /// already parsed). Each goes through the same rules as JSON text.
    ///
    /// A SOPS MAC covers values in document order; objects whose maps were
    /// sorted on the way (serde_json's default) no longer have the order the
    /// document was encrypted in, so verifying the MAC of a whole SOPS
    /// resource fails. Pass the original bytes to [`Decryptor::decrypt_stream`]
    /// when the MAC matters, or choose the warn or skip policy.
    pub fn decrypt_objects(&self, objects: &[DynamicObject]) -> Result<DecryptedObjects> {
        let texts = objects
            .iter()
            .enumerate()
            .map(|(i, o)| {
                serde_json::to_string(o)
                    .map(Zeroizing::new)
                    .map_err(|e| Error::Invalid {
                        object: Box::new(ObjectRef {
                            source: "objects".to_owned(),
                            index: i + 1,
                            ..ObjectRef::default()
                        }),
                        reason: format!(
                            "cannot be written as JSON: {}",
                            coffer_manifest::redact(&e.to_string())
                        ),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let work: Vec<(&str, RawDocument<'_>)> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                (
                    "objects",
                    RawDocument {
                        index: i + 1,
                        format: StreamFormat::Json,
                        text: text.as_str(),
                    },
                )
            })
            .collect();
        let decrypted = self.run(&work)?;
        Ok(DecryptedObjects {
            objects: decrypted.to_objects()?,
            report: decrypted.report,
        })
    }

    /// Decrypts one file on its own, as a generator reads its inputs: the
    /// SOPS document's format recognised by structure, the plaintext written
    /// in the format `name` asks for (`.yaml`, `.json`, `.env`, `.ini`,
    /// anything else as it is). `None` when `bytes` is not a SOPS document.
    pub fn decrypt_file(&self, bytes: &[u8], name: &str) -> Result<Option<DecryptedFile>> {
        parallel::on_worker(|| self.decrypt_file_here(bytes, name))
    }

    fn decrypt_file_here(&self, bytes: &[u8], name: &str) -> Result<Option<DecryptedFile>> {
        let Some(input) = sniff::sops_format(bytes) else {
            return Ok(None);
        };
        let object = ObjectRef {
            source: name.to_owned(),
            index: 1,
            ..ObjectRef::default()
        };
        let keys = KeyCache::new(self.keyring.identities());
        let mut opened = coffer_sops::open_to_read(bytes, input, &keys, self.options.mac)
            .map_err(|e| sops_error(e, &object, None))?;
        let output = sniff::output_format(input, &opened.docs, name);
        let plaintext = opened.emit(output);
        coffer_sops::zeroize_tree(&mut opened.docs);
        let plaintext = plaintext.map_err(|e| sops_error(e, &object, None))?;
        let mut warnings = Vec::new();
        if opened.mac == MacCheck::Mismatch {
            warnings.push(mac_warning(&object, None));
        }
        Ok(Some(DecryptedFile {
            plaintext,
            input: sniff::reported_input(input, output),
            output,
            recipients: std::mem::take(&mut opened.recipients),
            mac: opened.mac,
            warnings,
        }))
    }

    fn run(&self, work: &[(&str, RawDocument<'_>)]) -> Result<Decrypted> {
        let keys = KeyCache::new(self.keyring.identities());
        let ctx = Ctx {
            keys: &keys,
            keyring: &self.keyring,
            options: &self.options,
        };
        let results = parallel::map(work, self.options.threads(), |(source, raw)| {
            process(&ctx, source, raw)
        });
        let mut report = Report {
            documents: Vec::with_capacity(work.len()),
            warnings: self
                .keyring
                .warnings()
                .iter()
                .map(|w| Warning {
                    object: None,
                    message: format!("keyring: {w}"),
                })
                .collect(),
        };
        let mut documents = Vec::with_capacity(work.len());
        let mut errors = Vec::new();
        for (result, (_, raw)) in results.into_iter().zip(work) {
            match result {
                Err(e) => errors.push(e),
                Ok(None) => {}
                Ok(Some(done)) => {
                    let changed = done.text.is_some();
                    documents.push(OutputDocument {
                        object: done.report.object.clone(),
                        format: raw.format,
                        changed,
                        text: done
                            .text
                            .unwrap_or_else(|| Zeroizing::new(raw.text.to_owned())),
                    });
                    report.documents.push(done.report);
                    report.warnings.extend(done.warnings);
                }
            }
        }
        match errors.len() {
            0 => {}
            1 => return Err(errors.remove(0)),
            _ => return Err(Error::Several(errors)),
        }
        if documents.is_empty() && !self.options.allow_empty {
            return Err(Error::EmptyOutput {
                documents: work.len(),
            });
        }
        Ok(Decrypted { documents, report })
    }
}
