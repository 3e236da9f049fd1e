//! Every file the CLI reads as input or writes (`coffer seal`, `keygen`,
//! `sops`, `render`): stdin or a named file in, stdout or an atomically
//! replaced file out.
//!
//! Files are written as kubeseal writes them (matches kubeseal's
//! `renameio`): into a temporary file in the target's own directory, then
//! renamed over the target, so a reader never sees half a file and an error
//! leaves the old file untouched.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// Who may read a file we create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Sealed secrets and certificates: `0644`, like any manifest in a repo.
    Public,
    /// Private keys, unsealed Secrets and SOPS files: `0600`.
    Private,
    /// Scripts the CLI installs (kustomize exec plugins): `0755`.
    Executable,
}

/// Reads all of `path`, or stdin for `None` or `-`.
pub fn read_input(path: Option<&Path>) -> Result<Vec<u8>> {
    match path {
        Some(p) if p != Path::new("-") => {
            fs::read(p).with_context(|| format!("cannot read {}", p.display()))
        }
        _ => {
            let mut buf = Vec::new();
            io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read standard input")?;
            Ok(buf)
        }
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, flushed, then renamed over `path`. An existing file keeps its
/// permissions; a new one gets `mode`'s.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // tempfile creates the file 0600, so nothing private is ever readable by
    // others, not even for the instant before the rename.
    let mut tmp = tempfile::Builder::new()
        .prefix(".coffer-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    set_permissions(tmp.as_file(), path, mode)
        .with_context(|| format!("cannot set the permissions of {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

#[cfg(unix)]
fn set_permissions(file: &fs::File, target: &Path, mode: Mode) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let permissions = match fs::metadata(target) {
        Ok(existing) => existing.permissions(),
        Err(_) => fs::Permissions::from_mode(match mode {
            Mode::Public => 0o644,
            Mode::Private => 0o600,
            Mode::Executable => 0o755,
        }),
    };
    file.set_permissions(permissions)
}

#[cfg(not(unix))]
fn set_permissions(_file: &fs::File, _target: &Path, _mode: Mode) -> io::Result<()> {
    Ok(())
}

/// Writes `bytes` to `path` atomically, or to stdout for `None`.
pub fn write_output(path: Option<&Path>, bytes: &[u8], mode: Mode) -> Result<()> {
    match path {
        Some(p) if p != Path::new("-") => write_atomically(p, bytes, mode),
        _ => {
            let mut out = io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
            Ok(())
        }
    }
}

/// Whether a file name asks for YAML (matches kubeseal: a `.yaml` or `.yml`
/// output file name switches the format to YAML).
pub fn is_yaml_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.json");
        fs::write(&target, "old").unwrap();
        write_atomically(&target, b"new", Mode::Public).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only the target remains");
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_created_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("key.pem");
        write_atomically(&target, b"k", Mode::Private).unwrap();
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn yaml_extensions_are_recognised() {
        assert!(is_yaml_name(Path::new("a/b.yaml")));
        assert!(is_yaml_name(Path::new("b.yml")));
        assert!(!is_yaml_name(Path::new("b.json")));
        assert!(!is_yaml_name(Path::new("yaml")));
    }
}
