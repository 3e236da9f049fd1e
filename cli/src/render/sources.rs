//! `coffer render --sources DIR`: decrypt a kustomization's files before
//! the build, as Flux's kustomize-controller does, so that kustomize's
//! patches and transformers work on plaintext (and never invalidate a SOPS
//! MAC). The directory is copied into a private temporary directory (mode
//! 0700, removed when done), `Decryptor::decrypt_sources` decrypts the copy
//! in place, `kustomize build` builds it, and the build goes through the
//! same decryption as any stream (SealedSecrets, Secret data).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use coffer_gitops::Decryptor;
use zeroize::Zeroizing;

/// Most bytes copied from the source directory (the stream limit).
const MAX_COPY_BYTES: u64 = 256 << 20;
/// Most directory entries copied.
const MAX_COPY_ENTRIES: usize = 100_000;

/// Copies, decrypts and builds `dir`; the build's output.
pub fn build(
    decryptor: &Decryptor,
    dir: &Path,
    kustomize: Option<&Path>,
) -> Result<Zeroizing<Vec<u8>>> {
    if !dir.is_dir() {
        bail!("--sources {}: not a directory", dir.display());
    }
    let tmp = tempfile::Builder::new()
        .prefix("coffer-render-")
        .tempdir()
        .context("creating a temporary directory")?;
    let root = tmp.path().join("src");
    let mut budget = (MAX_COPY_BYTES, MAX_COPY_ENTRIES);
    copy_tree(dir, &root, &mut budget)
        .with_context(|| format!("--sources {}: copying", dir.display()))?;
    let report = decryptor
        .decrypt_sources(&root)
        .map_err(|e| anyhow::anyhow!("--sources {}: {e}", dir.display()))?;
    for w in &report.warnings {
        eprintln!("coffer: warning: {w}");
    }
    for s in &report.skipped {
        eprintln!(
            "coffer: note: {}: {:?} not decrypted: {}",
            s.kustomization.display(),
            s.reference,
            s.reason
        );
    }
    let bin = kustomize.map_or_else(|| PathBuf::from("kustomize"), Path::to_path_buf);
    let out = Command::new(&bin)
        .arg("build")
        .arg(&root)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {} (set --kustomize BIN)", bin.display()))?;
    if !out.status.success() {
        // NB: kustomize's messages may quote the decrypted files: withheld.
        bail!(
            "{} build failed ({}); its messages are withheld because they may quote decrypted \
             files: run it on {} to see them",
            bin.display(),
            out.status,
            dir.display()
        );
    }
    Ok(Zeroizing::new(out.stdout))
}

/// Copies directories, regular files and symlinks (as links), within the
/// budget of bytes and entries.
fn copy_tree(from: &Path, to: &Path, budget: &mut (u64, usize)) -> std::io::Result<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        budget.1 = budget.1.checked_sub(1).ok_or_else(|| too_big("entries"))?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target, budget)?;
        } else if kind.is_file() {
            let len = entry.metadata()?.len();
            budget.0 = budget.0.checked_sub(len).ok_or_else(|| too_big("bytes"))?;
            std::fs::copy(entry.path(), &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        }
    }
    Ok(())
}

fn too_big(what: &str) -> std::io::Error {
    std::io::Error::other(format!(
        "the directory is larger than coffer copies ({MAX_COPY_BYTES} bytes, {MAX_COPY_ENTRIES} entries): too many {what}"
    ))
}
