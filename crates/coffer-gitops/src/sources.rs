//! Decrypting in place, before `kustomize build`, the files a kustomization
//! refers to, as kustomize-controller's `DecryptSources` does: starting from
//! the root's kustomization, every `resources`, `components` (and the old
//! `bases`) entry that is a directory is visited in turn; every such entry
//! that is a file, every `patches[].path`, and every `secretGenerator`
//! `files` and `envs` (and `env`) file that holds a SOPS document is
//! decrypted and written back. The plaintext format follows the file's name
//! (for generator files, the data key's), as in Secret data; an env file
//! whose name says nothing is written as dotenv (Flux's rule).
//!
//! Safety: every reference is resolved (symlinks included) and must stay
//! inside the root, or the run fails naming it; only regular files up to
//! `Options::max_source_file_bytes` (5 MiB) are read; remote references
//! (`scheme://...`) and references that do not exist are skipped, for
//! kustomize to fetch or refuse. Files are replaced atomically (temporary
//! file, then rename), readable by their owner only.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use coffer_sops::{Format, MacCheck};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::cache::KeyCache;
use crate::decryptor::Decryptor;
use crate::object::ObjectRef;
use crate::report::Warning;
use crate::sops_resource::{mac_warning, sops_error};
use crate::{Error, Result, sniff};

/// The names kustomize looks for, in its order
/// (`konfig.RecognizedKustomizationFileNames`).
const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// What [`Decryptor::decrypt_sources`] did.
#[derive(Clone, Debug, Default)]
pub struct SourcesReport {
    /// Files decrypted in place.
    pub decrypted: Vec<SourceFile>,
    /// References not decrypted, and why.
    pub skipped: Vec<SourceSkipped>,
    /// MAC mismatches let through by the warn policy.
    pub warnings: Vec<Warning>,
}

/// A file decrypted in place.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceFile {
    /// Its path, relative to the root.
    pub path: PathBuf,
    /// The SOPS document's format (recognised by structure).
    pub input: Format,
    /// The format written back.
    pub output: Format,
    /// The age recipients whose entries opened it.
    pub recipients: Vec<String>,
    /// What came of the MAC check.
    pub mac: MacCheck,
}

/// A reference left alone.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceSkipped {
    /// The reference as written.
    pub reference: String,
    /// The kustomization directory it is written in, relative to the root.
    pub kustomization: PathBuf,
    /// Why it was skipped.
    pub reason: &'static str,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Kustomization {
    resources: Vec<String>,
    components: Vec<String>,
    bases: Vec<String>,
    patches: Vec<Patch>,
    secret_generator: Vec<SecretArgs>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Patch {
    path: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SecretArgs {
    files: Vec<String>,
    envs: Vec<String>,
    env: Option<String>,
}

/// Where a reference leads.
enum Resolved {
    Inside(PathBuf),
    Missing,
}

struct Walk<'a> {
    decryptor: &'a Decryptor,
    keys: KeyCache<'a>,
    root: PathBuf,
    visited: HashSet<PathBuf>,
    done: HashSet<PathBuf>,
    report: SourcesReport,
}

impl Decryptor {
    /// Decrypts in place the SOPS files the kustomization in `root` (and
    /// those it refers to, recursively) uses, before `kustomize build`.
    /// Nothing outside `root` is read or written.
    pub fn decrypt_sources(&self, root: &Path) -> Result<SourcesReport> {
        crate::parallel::on_worker(|| self.decrypt_sources_here(root))
    }

    fn decrypt_sources_here(&self, root: &Path) -> Result<SourcesReport> {
        let root = std::fs::canonicalize(root).map_err(|source| Error::Io {
            what: format!("cannot open {}", root.display()),
            source,
        })?;
        let mut walk = Walk {
            decryptor: self,
            keys: KeyCache::new(self.keyring().identities()),
            root: root.clone(),
            visited: HashSet::new(),
            done: HashSet::new(),
            report: SourcesReport::default(),
        };
        if kustomization_file(&root)?.is_none() {
            return Err(Error::Source {
                path: PathBuf::from("."),
                reason: "no kustomization file (kustomization.yaml, kustomization.yml or \
                         Kustomization)"
                    .to_owned(),
            });
        }
        walk.directory(&root)?;
        Ok(walk.report)
    }
}

/// The kustomization file of `dir`, if it has exactly one.
fn kustomization_file(dir: &Path) -> Result<Option<PathBuf>> {
    let found: Vec<PathBuf> = KUSTOMIZATION_FILES
        .iter()
        .map(|name| dir.join(name))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err(Error::Source {
            path: dir.to_path_buf(),
            reason: "holds more than one kustomization file".to_owned(),
        }),
    }
}

/// `path` with `.` and `..` applied, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

impl Walk<'_> {
    fn relative(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.root)
            .map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_path_buf()
                }
            })
            .unwrap_or_else(|_| path.to_path_buf())
    }

    /// Resolves `reference` written in the kustomization of `dir`.
    fn resolve(&self, dir: &Path, reference: &str) -> Result<Resolved> {
        let joined = normalize(&dir.join(reference));
        let outside = || Error::Source {
            path: self.relative(dir).join(reference),
            reason: "leaves the kustomization root; only files inside it are decrypted".to_owned(),
        };
        if !joined.starts_with(&self.root) {
            return Err(outside());
        }
        match std::fs::canonicalize(&joined) {
            // NB: canonical paths have every symlink resolved, so a link
            // pointing out of the root is caught here.
            Ok(real) if real.starts_with(&self.root) => Ok(Resolved::Inside(real)),
            Ok(_) => Err(outside()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Resolved::Missing),
            Err(source) => Err(Error::Io {
                what: format!("cannot resolve {}", self.relative(&joined).display()),
                source,
            }),
        }
    }

    fn skip(&mut self, dir: &Path, reference: &str, reason: &'static str) {
        let kustomization = self.relative(dir);
        self.report.skipped.push(SourceSkipped {
            reference: reference.to_owned(),
            kustomization,
            reason,
        });
    }

    fn directory(&mut self, dir: &Path) -> Result<()> {
        if !self.visited.insert(dir.to_path_buf()) {
            return Ok(());
        }
        let Some(file) = kustomization_file(dir)? else {
            return Ok(());
        };
        let text = self.read(&file)?;
        let text = std::str::from_utf8(&text).map_err(|_| Error::Source {
            path: self.relative(&file),
            reason: "is not UTF-8".to_owned(),
        })?;
        let limits = &self.decryptor.options().limits;
        let kustomization: Kustomization = if text.trim().is_empty() {
            Kustomization::default()
        } else {
            serde_saphyr::from_str_with_options(text, limits.yaml_options()).map_err(|e| {
                Error::Source {
                    path: self.relative(&file),
                    reason: format!(
                        "is not a valid kustomization: {}",
                        coffer_manifest::redact(&e.to_string())
                    ),
                }
            })?
        };
        let resources = kustomization
            .resources
            .iter()
            .chain(&kustomization.components)
            .chain(&kustomization.bases);
        for reference in resources {
            if reference.contains("://") {
                self.skip(dir, reference, "remote");
                continue;
            }
            match self.resolve(dir, reference)? {
                Resolved::Missing => self.skip(dir, reference, "not found"),
                Resolved::Inside(path) if path.is_dir() => self.directory(&path)?,
                Resolved::Inside(path) => self.file(dir, reference, &path, reference, None)?,
            }
        }
        for patch in &kustomization.patches {
            let Some(reference) = &patch.path else {
                continue;
            };
            self.reference(dir, reference, reference, None)?;
        }
        for generator in &kustomization.secret_generator {
            for source in &generator.files {
                // `key=path`, or a path whose file name is the key.
                let (key, path) = source.split_once('=').unwrap_or((source, source));
                self.reference(dir, path, key, None)?;
            }
            for env in generator.envs.iter().chain(&generator.env) {
                self.reference(dir, env, env, Some(Format::Dotenv))?;
            }
        }
        Ok(())
    }

    /// A file reference: decrypted when it exists inside the root.
    fn reference(
        &mut self,
        dir: &Path,
        reference: &str,
        name: &str,
        binary_as: Option<Format>,
    ) -> Result<()> {
        if reference.contains("://") {
            self.skip(dir, reference, "remote");
            return Ok(());
        }
        match self.resolve(dir, reference)? {
            Resolved::Missing => {
                self.skip(dir, reference, "not found");
                Ok(())
            }
            Resolved::Inside(path) => self.file(dir, reference, &path, name, binary_as),
        }
    }

    /// Reads a regular file of at most the size limit.
    fn read(&self, path: &Path) -> Result<Zeroizing<Vec<u8>>> {
        let rel = self.relative(path);
        let io = |source| Error::Io {
            what: format!("cannot read {}", rel.display()),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(Error::Source {
                path: rel,
                reason: "is not a regular file".to_owned(),
            });
        }
        let max = self.decryptor.options().max_source_file_bytes;
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() as u64 > max {
            return Err(Error::Source {
                path: rel,
                reason: format!("is larger than {max} bytes"),
            });
        }
        Ok(bytes)
    }

    /// Decrypts the file at `path` in place if it holds a SOPS document;
    /// `name` decides the output format.
    fn file(
        &mut self,
        dir: &Path,
        reference: &str,
        path: &Path,
        name: &str,
        binary_as: Option<Format>,
    ) -> Result<()> {
        if self.done.contains(path) {
            return Ok(());
        }
        let bytes = self.read(path)?;
        let Some(input) = sniff::sops_format(&bytes) else {
            self.skip(dir, reference, "not a SOPS document");
            return Ok(());
        };
        let rel = self.relative(path);
        let object = ObjectRef {
            source: rel.display().to_string(),
            index: 1,
            ..ObjectRef::default()
        };
        let options = self.decryptor.options();
        let mut opened = match coffer_sops::open_to_read(&bytes, input, &self.keys, options.mac) {
            Ok(opened) => opened,
            // Encrypted values but no metadata up front (e.g. documents of
            // several SOPS files concatenated): decrypted after the build,
            // document by document, if at all.
            Err(coffer_sops::Error::MetadataNotFound) => {
                self.skip(
                    dir,
                    reference,
                    "holds encrypted values but no sops metadata",
                );
                return Ok(());
            }
            Err(e) => return Err(sops_error(e, &object, None)),
        };
        let mut output = sniff::output_format(input, &opened.docs, name);
        if let (Some(wanted), Format::Binary) = (binary_as, sniff::format_for_name(name))
            && output != Format::Binary
        {
            output = wanted;
        }
        let plaintext = opened.emit(output);
        coffer_sops::zeroize_tree(&mut opened.docs);
        let plaintext = plaintext.map_err(|e| sops_error(e, &object, None))?;
        write_private(path, &plaintext).map_err(|source| Error::Io {
            what: format!("cannot write {}", rel.display()),
            source,
        })?;
        if opened.mac == MacCheck::Mismatch {
            self.report.warnings.push(mac_warning(&object, None));
        }
        self.done.insert(path.to_path_buf());
        self.report.decrypted.push(SourceFile {
            path: rel,
            input: sniff::reported_input(input, output),
            output,
            recipients: std::mem::take(&mut opened.recipients),
            mac: opened.mac,
        });
        Ok(())
    }
}

/// Replaces `path` with `bytes`: a new file (mode 0600) in the same
/// directory, synced, then renamed over it, so a failure leaves the
/// original whole.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut attempt = 0u32;
    let (tmp, mut file) = loop {
        let tmp = dir.join(format!(".{name}.coffer-{}-{attempt}", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(file) => break (tmp, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_applies_parent_references_lexically() {
        assert_eq!(normalize(Path::new("/r/a/../b/./c")), Path::new("/r/b/c"));
        assert_eq!(normalize(Path::new("/r/../../x")), Path::new("/x"));
    }
}
