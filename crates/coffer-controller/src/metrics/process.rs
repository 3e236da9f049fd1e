//! The process's own gauges, as Go controllers export them through the
//! Prometheus client (Bitnami's and ESO's dashboards read them):
//! `process_resident_memory_bytes`, `process_open_fds`, and, for Go's
//! `go_goroutines`, `coffer_runtime_alive_tasks` (tokio tasks alive).
//! The soak test samples these to tell a leak from a plateau.

use std::fmt::Write;

/// Appends the process gauges to `out`; a value that cannot be read here
/// (no `/proc`, no tokio runtime) is left out rather than reported as 0.
pub(crate) fn render(out: &mut String) {
    if let Some(bytes) = resident_memory_bytes() {
        gauge(
            out,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            bytes,
        );
    }
    if let Some(fds) = open_fds() {
        gauge(
            out,
            "process_open_fds",
            "Number of open file descriptors.",
            fds,
        );
    }
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        gauge(
            out,
            "coffer_runtime_alive_tasks",
            "Number of tokio tasks alive in the controller's runtime.",
            runtime.metrics().num_alive_tasks() as u64,
        );
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    let _ = writeln!(out, "{name} {value}");
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    kib.checked_mul(1024)
}

/// Entries of `/proc/self/fd` (the directory handle itself excluded).
fn open_fds() -> Option<u64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(entries.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn reports_memory_descriptors_and_tasks() {
        let mut out = String::new();
        super::render(&mut out);
        let value = |name: &str| -> u64 {
            out.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or_else(|| panic!("{name} in {out}"))
        };
        assert!(value("process_resident_memory_bytes") > 1 << 20);
        // stdin, stdout, stderr at least (other tests open and close files
        // concurrently, so no exact count).
        assert!(value("process_open_fds") >= 3);
        let _task = tokio::spawn(std::future::pending::<()>());
        let mut with_task = String::new();
        super::render(&mut with_task);
        assert!(
            with_task.contains("coffer_runtime_alive_tasks 1\n"),
            "{with_task}"
        );
    }
}
