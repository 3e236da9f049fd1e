//! Running the documents of a build on every core: scoped threads pulling
//! the next index from a shared counter (documents differ a lot in cost, so
//! no fixed split), results put back in input order. std only: a scope per
//! call is cheap next to one age unwrap or RSA decryption, and a library
//! should not impose a global thread pool on its callers.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Stack of each worker: parsing and tree walks recurse once per nesting
/// level, and the caller's thread (a 2 MiB `spawn_blocking` thread, say)
/// may be small. Reserved, not committed: untouched pages cost nothing.
const WORKER_STACK: usize = 16 << 20;

/// `f` applied to every item on up to `threads` threads (always threads of
/// our own, with [`WORKER_STACK`]); results in order. A panic in `f` is
/// re-raised in the caller.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                std::thread::Builder::new()
                    .name("coffer-gitops".to_owned())
                    .stack_size(WORKER_STACK)
                    .spawn_scoped(scope, || {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(item) = items.get(i) else { break };
                            done.push((i, f(item)));
                        }
                        done
                    })
            })
            .collect();
        for worker in workers {
            // NB: a worker that could not start leaves its share to the
            // others (the counter is shared); only if none started does the
            // caller's thread do the work.
            let Ok(worker) = worker else { continue };
            let done = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (i, r) in done {
                results[i] = Some(r);
            }
        }
    });
    // Items no worker took (none could be started) are done here.
    for (i, slot) in results.iter_mut().enumerate() {
        if slot.is_none() {
            *slot = Some(f(&items[i]));
        }
    }
    results.into_iter().flatten().collect()
}

/// `f` run on a thread of our own with [`WORKER_STACK`] (on the caller's
/// thread if none can be started).
pub(crate) fn on_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let mut f = Some(f);
    let result = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("coffer-gitops".to_owned())
            .stack_size(WORKER_STACK)
            .spawn_scoped(scope, || f.take().map(|f| f()));
        match worker {
            Ok(worker) => worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => None,
        }
    });
    match (result, f) {
        (Some(result), _) => result,
        (None, Some(f)) => f(),
        (None, None) => unreachable!("the worker ran f"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_input_order_on_any_thread_count() {
        let items: Vec<usize> = (0..100).collect();
        for threads in [1, 2, 7, 200] {
            assert_eq!(
                map(&items, threads, |i| i * 2),
                items.iter().map(|i| i * 2).collect::<Vec<_>>()
            );
        }
        assert!(map(&Vec::<usize>::new(), 4, |i| *i).is_empty());
    }
}
