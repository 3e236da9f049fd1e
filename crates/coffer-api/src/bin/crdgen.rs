//! Writes every CRD into the workspace's `crds/` directory and the copies
//! that `deploy/` carries (kustomize and Helm read no file outside their
//! own root), or only into the directory given as the first argument.

#![forbid(unsafe_code)]

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo run` sets CARGO_MANIFEST_DIR; the compile-time value is only a
    // fallback (it names the checkout that built the binary).
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let root = manifest_dir.join("../..");
    let dirs = match std::env::args_os().nth(1) {
        Some(dir) => vec![PathBuf::from(dir)],
        None => vec![
            root.join("crds"),
            root.join("deploy/kustomize/crds"),
            root.join("deploy/helm/coffer/crds"),
        ],
    };
    for dir in dirs {
        std::fs::create_dir_all(&dir)?;
        for (file, crd) in coffer_api::crds::all() {
            let path = dir.join(file);
            std::fs::write(&path, coffer_api::crds::render(&crd)?)?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}
