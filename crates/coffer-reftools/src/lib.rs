//! Finds the binaries Coffer's tests run: from the environment variables
//! that `tests/setup.sh` prints, or by running that script, which builds or
//! installs whatever is missing (the first time only) and prints them.
//!
//! One locator for every test: coffer-testenv re-exports it, and the core
//! crates (crypto, sops, template), whose tests must not build a
//! Kubernetes client, use it directly. Standard library only.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// What went wrong finding a binary, naming the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `tests/setup.sh` could not be started.
    #[error("cannot start {program}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `tests/setup.sh` failed.
    #[error("tests/setup.sh {component} failed ({status})")]
    Setup {
        component: String,
        status: ExitStatus,
    },
    /// `tests/setup.sh` succeeded but did not print the expected variable.
    #[error("tests/setup.sh printed no {var}=... line")]
    SetupOutput { var: String },
    /// `tests/reference-tools/build.sh <tool>` failed, or printed no
    /// directory holding the tool.
    #[error("tests/reference-tools/build.sh {tool} failed ({status}); run it to see why")]
    Build { tool: String, status: String },
}

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
        "coffer-reftools: {var} is not set; running {} {component}",
        script.display()
    );
    let output = run_script(&script, component)?;
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

/// Runs `script arg`, its stderr (progress) passed through, and returns
/// what it printed on stdout and how it exited.
fn run_script(script: &Path, arg: &str) -> Result<std::process::Output, Error> {
    Command::new(script)
        .arg(arg)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|source| Error::Spawn {
            program: script.to_path_buf(),
            source,
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

/// A reference tool that `tests/reference-tools/build.sh` builds only when
/// named (`build.sh eso`: too large a build for every test run): from
/// `COFFER_REFERENCE_TOOLS_DIR` when that holds it, else from what the
/// script, run here, builds or finds cached and prints.
pub fn optional_reference_tool(name: &str) -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os("COFFER_REFERENCE_TOOLS_DIR").filter(|d| !d.is_empty()) {
        let tool = Path::new(&dir).join(name);
        if tool.exists() {
            return Ok(tool);
        }
    }
    let script = workspace_root().join("tests/reference-tools/build.sh");
    eprintln!(
        "coffer-reftools: building {name} with {} {name}",
        script.display()
    );
    let output = run_script(&script, name)?;
    let failed = |status: String| Error::Build {
        tool: name.to_string(),
        status,
    };
    if !output.status.success() {
        return Err(failed(output.status.to_string()));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let dir = stdout.lines().last().unwrap_or_default().trim();
    let tool = Path::new(dir).join(name);
    if dir.is_empty() || !tool.exists() {
        return Err(failed(format!("no {name} in {dir:?}")));
    }
    Ok(tool)
}

/// As [`reference_tool`], for tests that can do without it: `None`, said
/// loudly on stderr, where the tools can be neither found nor built
/// (`COFFER_REFERENCE_TOOLS_DIR` unset and no Go to build them with).
///
/// # Panics
/// As [`reference_tools_dir`], when Go is there but the build fails.
pub fn reference_tool_or_skip(name: &str) -> Option<PathBuf> {
    let located = std::env::var_os("COFFER_REFERENCE_TOOLS_DIR").is_some_and(|d| !d.is_empty());
    let have_go = || {
        Command::new("go")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !located && !have_go() {
        eprintln!(
            "\n!!!!! SKIPPING: no {name}: COFFER_REFERENCE_TOOLS_DIR is unset and Go, \
             which builds the reference tools, is not installed !!!!!\n"
        );
        return None;
    }
    let tool = reference_tool(name);
    assert!(
        tool.is_file(),
        "no {name} in {}",
        reference_tools_dir().display()
    );
    Some(tool)
}
