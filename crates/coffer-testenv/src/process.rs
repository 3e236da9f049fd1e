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
    /// Each child with its log file, which names it uniquely, and how it was
    /// started (to start it again after [`stop`]).
    children: Vec<(PathBuf, Child, Launch)>,
    dirs: Vec<PathBuf>,
}

/// What a child was started with, kept so that [`start_again`] can start it
/// with the same arguments, environment and directory (and so the same data
/// directory and ports).
#[derive(Debug, Clone)]
struct Launch {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: PathBuf,
}

/// How [`stop`] ends a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM, then SIGKILL if it has not exited within 20 s: an orderly
    /// restart.
    Term,
    /// SIGKILL: a crash.
    Kill,
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

/// Starts `program` with `args`, its output written to `<dir>/<name>.log`,
/// and registers it to be killed when the test binary exits.
pub fn spawn(
    name: &str,
    program: &Path,
    args: &[String],
    env: &[(&str, &str)],
    dir: &Path,
) -> Result<ProcessLog, Error> {
    let path = dir.join(format!("{name}.log"));
    let launch = Launch {
        program: program.to_path_buf(),
        args: args.to_vec(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        dir: dir.to_path_buf(),
    };
    let log = File::create(&path).map_err(|source| Error::Io {
        what: path.clone(),
        source,
    })?;
    let child = launch_child(&launch, log, &path)?;
    lock_registry().children.push((path.clone(), child, launch));
    Ok(ProcessLog {
        name: name.to_string(),
        path,
    })
}

/// Stops the child that writes `log` and waits for it to exit. Its entry
/// stays, so that [`start_again`] can start it again.
pub fn stop(log: &ProcessLog, how: Stop) -> Result<(), Error> {
    let pid = {
        let mut registry = lock_registry();
        let (_, child, _) = find(&mut registry, log)?;
        if child.try_wait().ok().flatten().is_some() {
            return Ok(());
        }
        child.id()
    };
    let signal = match how {
        Stop::Term => libc::SIGTERM,
        Stop::Kill => libc::SIGKILL,
    };
    // SAFETY: kill(2) with a pid this process spawned and has not reaped
    // (try_wait above saw it running, and only this module reaps).
    unsafe { libc::kill(pid as libc::pid_t, signal) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut registry = lock_registry();
        let (_, child, _) = find(&mut registry, log)?;
        if child.try_wait().ok().flatten().is_some() {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(());
        }
        drop(registry);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Starts the child that wrote `log` again, after [`stop`], as it was
/// started first; its output is appended to the same log.
pub fn start_again(log: &ProcessLog) -> Result<(), Error> {
    let launch = {
        let mut registry = lock_registry();
        let (_, child, launch) = find(&mut registry, log)?;
        if child.try_wait().ok().flatten().is_none() {
            return Err(Error::StillRunning {
                name: log.name.clone(),
            });
        }
        launch.clone()
    };
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&log.path)
        .map_err(|source| Error::Io {
            what: log.path.clone(),
            source,
        })?;
    let child = launch_child(&launch, file, &log.path)?;
    let mut registry = lock_registry();
    let (_, slot, _) = find(&mut registry, log)?;
    *slot = child;
    Ok(())
}

fn find<'r>(
    registry: &'r mut Registry,
    log: &ProcessLog,
) -> Result<&'r mut (PathBuf, Child, Launch), Error> {
    registry
        .children
        .iter_mut()
        .find(|(path, _, _)| *path == log.path)
        .ok_or_else(|| Error::UnknownChild {
            name: log.name.clone(),
        })
}

/// Starts `launch` from the supervisor thread, its output going to `log`.
fn launch_child(launch: &Launch, log: File, path: &Path) -> Result<Child, Error> {
    let log2 = log.try_clone().map_err(|source| Error::Io {
        what: path.to_path_buf(),
        source,
    })?;
    let mut command = Command::new(&launch.program);
    command
        .args(&launch.args)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&launch.dir)
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
    reply_rx
        .recv()
        .map_err(|_| Error::Supervisor)?
        .map_err(|source| Error::Spawn {
            program: launch.program.clone(),
            source,
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
    let (_, child, _) = registry
        .children
        .iter_mut()
        .find(|(path, _, _)| *path == log.path)?;
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
        for (_, child, _) in &mut registry.children {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_child_starts_again_with_the_same_arguments_appending_to_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let args = [
            "-c".to_string(),
            "echo started $GREETING; exec sleep 60".into(),
        ];
        let log = spawn(
            "sleeper",
            Path::new("/bin/sh"),
            &args,
            &[("GREETING", "hello")],
            dir.path(),
        )
        .unwrap();
        let lines = |n: usize| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while log.tail(10).lines().count() < n && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        };
        lines(1);
        assert!(matches!(start_again(&log), Err(Error::StillRunning { .. })));
        stop(&log, Stop::Kill).unwrap();
        assert!(exited(&log).is_some(), "stop waits for the exit");
        start_again(&log).unwrap();
        assert!(exited(&log).is_none(), "running again");
        lines(2);
        stop(&log, Stop::Term).unwrap();
        assert_eq!(log.tail(10), "started hello\nstarted hello");
    }
}
