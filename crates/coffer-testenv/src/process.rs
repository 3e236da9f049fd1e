//! Child processes that cannot outlive the test binary.
//!
//! Every child (etcd, kube-apiserver, ...) is spawned from one long-lived
//! supervisor thread with `PR_SET_PDEATHSIG = SIGKILL`. The kernel delivers
//! that signal when the *thread* that forked the child exits; the supervisor
//! thread only exits with the process, so children die with the test binary
//! however it ends: normal exit, a panic, `abort`, or `kill -9`.
//!
//! On an orderly exit an `atexit` handler also stops the children and removes
//! the environment's temporary directories, so nothing is left on disk.

// NB: one of the two places with unsafe code (the other is lib.rs's
// `export_aws_env`). `pre_exec` and `atexit` are
// inherently unsafe interfaces; what each block relies on is written beside it.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use crate::Error;

/// A request to the supervisor thread: the command, and where to send the
/// result of spawning it.
type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Children and directories to clean up at exit.
#[derive(Default)]
struct Registry {
    /// Each child with its log file, which names it uniquely.
    children: Vec<(PathBuf, Child)>,
    dirs: Vec<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    children: Vec::new(),
    dirs: Vec::new(),
});
static SUPERVISOR: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();

/// A running child process whose output goes to a log file.
#[derive(Debug, Clone)]
pub struct ProcessLog {
    /// Short name, e.g. `kube-apiserver`.
    pub name: String,
    /// The file holding the child's stdout and stderr.
    pub path: PathBuf,
}

impl ProcessLog {
    /// The last `lines` lines of the child's log.
    pub fn tail(&self, lines: usize) -> String {
        tail_of_file(&self.path, lines).unwrap_or_else(|e| format!("(cannot read log: {e})"))
    }
}

/// Starts `program` with `args`, its output appended to `<dir>/<name>.log`,
/// and registers it to be killed when the test binary exits.
pub fn spawn(
    name: &str,
    program: &Path,
    args: &[String],
    env: &[(&str, &str)],
    dir: &Path,
) -> Result<ProcessLog, Error> {
    let path = dir.join(format!("{name}.log"));
    let log = File::create(&path).map_err(|source| Error::Io {
        what: path.clone(),
        source,
    })?;
    let log2 = log.try_clone().map_err(|source| Error::Io {
        what: path.clone(),
        source,
    })?;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (prctl, getppid) and allocates nothing on the
    // success path.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The supervisor may have died between fork and prctl.
            if libc::getppid() == 1 {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }

    let (reply_tx, reply_rx) = mpsc::channel();
    supervisor()
        .lock()
        .map_err(|_| Error::Supervisor)?
        .send((command, reply_tx))
        .map_err(|_| Error::Supervisor)?;
    let child = reply_rx
        .recv()
        .map_err(|_| Error::Supervisor)?
        .map_err(|source| Error::Spawn {
            program: program.to_path_buf(),
            source,
        })?;
    lock_registry().children.push((path.clone(), child));
    Ok(ProcessLog {
        name: name.to_string(),
        path,
    })
}

/// File in each environment directory that names the owning process.
const OWNER_FILE: &str = "owner.pid";

/// Registers a directory to be removed when the test binary exits, and marks
/// it with this process's id for [`remove_orphaned_dirs`].
pub fn remove_at_exit(dir: PathBuf) -> Result<(), Error> {
    let owner = dir.join(OWNER_FILE);
    std::fs::write(&owner, std::process::id().to_string()).map_err(|source| Error::Io {
        what: owner,
        source,
    })?;
    lock_registry().dirs.push(dir);
    Ok(())
}

/// Removes environment directories (`<temp>/<prefix>*`) whose owning process
/// is gone: a test binary killed with SIGKILL cannot clean up after itself
/// (its children die with it, but their state stays on disk).
pub fn remove_orphaned_dirs(prefix: &str) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(prefix));
        let Ok(pid) = std::fs::read_to_string(path.join(OWNER_FILE)) else {
            continue;
        };
        if ours && !Path::new("/proc").join(pid.trim()).exists() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Whether the child that writes `log` has exited, and with what status.
pub fn exited(log: &ProcessLog) -> Option<std::process::ExitStatus> {
    let mut registry = lock_registry();
    let (_, child) = registry
        .children
        .iter_mut()
        .find(|(path, _)| *path == log.path)?;
    child.try_wait().ok().flatten()
}

fn lock_registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn supervisor() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    SUPERVISOR.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("coffer-testenv-supervisor".into())
            .spawn(move || {
                // NB: this thread must never return: its exit would SIGKILL
                // every child (PR_SET_PDEATHSIG is per forking thread). The
                // sender lives in a static, so `recv` never fails.
                while let Ok((mut command, reply)) = rx.recv() {
                    let _ = reply.send(command.spawn());
                }
                loop {
                    std::thread::park();
                }
            })
            .expect("spawning the supervisor thread");
        // SAFETY: `cleanup_at_exit` is an `extern "C" fn()` that never
        // unwinds (it catches panics) and only touches statics.
        unsafe {
            libc::atexit(cleanup_at_exit);
        }
        Mutex::new(tx)
    })
}

extern "C" fn cleanup_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        // try_lock: a thread holding the lock at exit must not deadlock us;
        // PDEATHSIG still kills the children in that case.
        let Ok(mut registry) = REGISTRY.try_lock() else {
            return;
        };
        for (_, child) in &mut registry.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for dir in &registry.dirs {
            crate::leak::save(dir);
            let _ = std::fs::remove_dir_all(dir);
        }
    });
}

fn tail_of_file(path: &Path, lines: usize) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    // Reading the last 64 KiB is plenty for a few dozen lines.
    file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    Ok(all[all.len().saturating_sub(lines)..].join("\n"))
}
