//! Writes every CRD into the workspace's `crds/` directory (or the directory
//! given as the first argument).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../crds"));
    std::fs::create_dir_all(&dir)?;
    for (file, crd) in coffer_api::crds::all() {
        let path = dir.join(file);
        std::fs::write(&path, coffer_api::crds::render(&crd)?)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
