//! What both CLI test harnesses (`common` for sops, `seal_harness` for
//! seal and keygen) read from a finished command.

use std::process::Output;

/// stdout of a successful run, or a panic showing stderr.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed with {:?}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
