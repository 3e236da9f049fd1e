//! [`RenderPool`]: where CPU-bound work that a tenant's object drives runs
//! (template renders, and in the controller the whole SealedSecret unseal
//! with its RSA decryption), so that it never blocks the async runtime that
//! serves HTTP, renews the leader Lease and runs every other reconcile.
//!
//! The work goes to tokio's blocking threads, at most `size` at once: a
//! flood of objects with expensive templates queues here instead of taking
//! every blocking thread. A render cannot be cancelled once started, so
//! each one is bounded by its own limits (steps, bytes, values and the
//! wall-clock deadline of `coffer_template::Limits`); the permit is held
//! until the work really ends, even if the reconcile that asked for it was
//! dropped meanwhile. One pool is shared by both controllers of a process.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

/// A bounded pool of blocking threads for renders; cloning shares it.
#[derive(Clone)]
pub struct RenderPool {
    permits: Arc<Semaphore>,
    size: usize,
    running: Arc<AtomicUsize>,
}

impl RenderPool {
    /// A pool that runs at most `size` (at least 1) pieces of work at once.
    pub fn new(size: usize) -> RenderPool {
        let size = size.max(1);
        RenderPool {
            permits: Arc::new(Semaphore::new(size)),
            size,
            running: Arc::default(),
        }
    }

    /// How many pieces of work run at once by default: one per CPU (the
    /// work is CPU-bound; more would only queue in the kernel), at least 2,
    /// at most 8.
    pub fn default_size() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
    }

    /// How many pieces of work run at once at most.
    pub fn size(&self) -> usize {
        self.size
    }

    /// How many are running right now (not counting those waiting).
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Runs `work` on a blocking thread once a slot is free, and returns
    /// its result. A panic in `work` is resumed here.
    pub async fn run<T, F>(&self, work: F) -> T
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        // NB: the semaphore is never closed, so acquiring cannot fail.
        let permit = self.permits.clone().acquire_owned().await;
        let running = self.running.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            running.fetch_add(1, Ordering::Relaxed);
            let _done = Done(&running);
            work()
        });
        match task.await {
            Ok(value) => value,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

/// Counts a piece of work as done when dropped (also on a panic).
struct Done<'a>(&'a AtomicUsize);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Default for RenderPool {
    fn default() -> Self {
        RenderPool::new(RenderPool::default_size())
    }
}

impl std::fmt::Debug for RenderPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderPool")
            .field("size", &self.size)
            .field("running", &self.running())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn runs_at_most_size_at_once_off_the_runtime_thread() {
        let pool = RenderPool::new(2);
        let (release, wait) = mpsc::channel::<()>();
        let wait = Arc::new(std::sync::Mutex::new(wait));
        let runtime_thread = std::thread::current().id();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let (pool, wait) = (pool.clone(), wait.clone());
            tasks.push(tokio::spawn(async move {
                pool.run(move || {
                    let _ = wait.lock().unwrap().recv();
                    std::thread::current().id()
                })
                .await
            }));
        }
        // The runtime (one thread here) keeps running while two block.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while pool.running() < 2 {
            assert!(tokio::time::Instant::now() < deadline, "work never started");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(pool.running(), 2, "the third waits for a slot");
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        for t in tasks {
            assert_ne!(t.await.unwrap(), runtime_thread);
        }
        assert_eq!(pool.running(), 0);
    }
}
