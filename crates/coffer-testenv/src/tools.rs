//! Finds the binaries the environment runs: from the environment variables
//! that `tests/setup.sh` prints, or by running that script, which builds or
//! installs whatever is missing (the first time only) and prints them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

/// The workspace root, where `tests/setup.sh` and `crds/` live.
///
/// Found at run time from the running package's directory (cargo sets
/// `CARGO_MANIFEST_DIR` for every test process), not from where this crate
/// was compiled: cargo reuses a shared target directory's outputs across
/// checkouts at different paths (CI's clone and a working copy), and a path
/// baked in at compile time would then point into the other checkout.
pub fn workspace_root() -> PathBuf {
    let compiled = || Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Some(start) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        return compiled();
    };
    Path::new(&start)
        .ancestors()
        .find(|dir| dir.join("tests/setup.sh").is_file())
        .map_or_else(compiled, Path::to_path_buf)
}

/// The directory named by `var`, or the one `tests/setup.sh <component>`
/// prints for it.
pub fn locate(var: &str, component: &str) -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let script = workspace_root().join("tests/setup.sh");
    eprintln!(
        "coffer-testenv: {var} is not set; running {} {component}",
        script.display()
    );
    let output = Command::new(&script)
        .arg(component)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|source| Error::Spawn {
            program: script.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::Setup {
            component: component.to_string(),
            status: output.status,
        });
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix(var)?.strip_prefix('=').map(PathBuf::from))
        .ok_or_else(|| Error::SetupOutput {
            var: var.to_string(),
        })
}

/// The directory of the reference tools (kubeseal, sops, helm, Bitnami's
/// controller and chart, the Go template runner): `COFFER_REFERENCE_TOOLS_DIR`,
/// or what `tests/setup.sh reference-tools` builds or finds cached (run
/// once per process).
///
/// # Panics
/// When the tools cannot be built or found; the message says why.
pub fn reference_tools_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        locate("COFFER_REFERENCE_TOOLS_DIR", "reference-tools")
            .unwrap_or_else(|e| panic!("reference tools: {e}"))
    })
}

/// The reference tool `name` in [`reference_tools_dir`].
///
/// # Panics
/// As [`reference_tools_dir`].
pub fn reference_tool(name: &str) -> PathBuf {
    reference_tools_dir().join(name)
}
