//! Running writers only while leading: started on gaining the lease, told
//! to stop on losing it or at shutdown, dropped at the lease deadline at
//! the latest.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use super::Leadership;
use crate::Shutdown;

/// How long a writer may take to finish its in-flight work after being told
/// to stop, before it is dropped mid-way (reconciles are idempotent). It is
/// dropped sooner when the lease deadline comes first.
pub const WRITER_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause before restarting a writer that returned by itself.
const RESTART_AFTER: Duration = Duration::from_secs(2);

/// Runs `writer` each time this replica gains leadership, until shutdown.
///
/// The writer gets a [`Shutdown`] that fires when leadership is lost or the
/// process shuts down; it should then stop taking new work and return once
/// in-flight work is done. It is dropped if that takes longer than
/// [`WRITER_STOP_TIMEOUT`], or as soon as the lease deadline passes
/// ([`Leadership::until_expired`]): after it, another replica may lead. A
/// writer that returns by itself is restarted (after a pause) while
/// leadership lasts.
pub async fn while_leader<F, Fut>(
    name: &'static str,
    leadership: Leadership,
    mut shutdown: Shutdown,
    mut writer: F,
) where
    F: FnMut(Shutdown) -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        tokio::select! {
            () = leadership.until_leader() => {}
            () = shutdown.wait() => return,
        }
        tracing::info!(writer = name, "leading: starting");
        let (stop_tx, stop_rx) = watch::channel(false);
        let run = writer(Shutdown::from_receiver(stop_rx));
        tokio::pin!(run);
        let shutting_down = tokio::select! {
            () = &mut run => {
                tracing::warn!(writer = name, "writer ended by itself; restarting");
                tokio::time::sleep(RESTART_AFTER).await;
                continue;
            }
            () = leadership.until_follower() => false,
            () = leadership.until_expired() => false,
            () = shutdown.wait() => true,
        };
        tracing::info!(
            writer = name,
            shutting_down,
            "stopping: finishing in-flight work"
        );
        let _ = stop_tx.send(true);
        tokio::select! {
            biased;
            () = &mut run => {}
            () = tokio::time::sleep(WRITER_STOP_TIMEOUT) => {
                tracing::warn!(writer = name, "in-flight work did not finish in time; dropped");
            }
            () = leadership.until_expired() => {
                tracing::warn!(
                    writer = name,
                    "the lease may expire before in-flight work finishes; dropped"
                );
            }
        }
        if shutting_down {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::super::Holder;
    use super::*;

    #[tokio::test]
    async fn writer_runs_only_while_leading_and_is_told_to_stop() {
        let (holder, leadership) = Holder::new();
        let far = || Instant::now() + Duration::from_secs(3600);
        let (stop_tx, shutdown) = Shutdown::new();
        let (runs_tx, mut runs) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
        let task = tokio::spawn(while_leader(
            "test",
            leadership,
            shutdown,
            move |mut stop| {
                let runs = runs_tx.clone();
                async move {
                    let _ = runs.send("started");
                    stop.wait().await;
                    let _ = runs.send("stopped");
                }
            },
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(runs.try_recv().is_err(), "a follower does not write");
        holder.lead(far());
        assert_eq!(runs.recv().await, Some("started"));
        holder.step_down();
        assert_eq!(
            runs.recv().await,
            Some("stopped"),
            "losing the lease stops it"
        );
        holder.lead(far());
        assert_eq!(runs.recv().await, Some("started"), "regaining restarts it");
        let _ = stop_tx.send(true);
        assert_eq!(runs.recv().await, Some("stopped"), "shutdown stops it");
        task.await.unwrap();
    }

    #[tokio::test]
    async fn writer_that_ignores_stop_is_dropped_at_the_lease_deadline() {
        let (holder, leadership) = Holder::new();
        let (_stop_tx, shutdown) = Shutdown::new();
        let (dropped_tx, dropped) = tokio::sync::oneshot::channel::<()>();
        struct Flag(Option<tokio::sync::oneshot::Sender<()>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                if let Some(tx) = self.0.take() {
                    let _ = tx.send(());
                }
            }
        }
        let mut flag = Some(Flag(Some(dropped_tx)));
        holder.lead(Instant::now() + Duration::from_secs(1));
        tokio::spawn(while_leader(
            "stubborn",
            leadership,
            shutdown,
            move |_stop| {
                let flag = flag.take();
                async move {
                    let _flag = flag;
                    // Busy until long after the lease is gone, stop or not.
                    std::future::pending::<()>().await;
                }
            },
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        holder.step_down();
        // Dropped at the deadline (1 s), not after WRITER_STOP_TIMEOUT.
        tokio::time::timeout(Duration::from_secs(5), dropped)
            .await
            .expect("dropped at the deadline")
            .unwrap();
    }

    #[tokio::test]
    async fn writer_is_stopped_when_the_deadline_passes_while_still_leading() {
        let (holder, leadership) = Holder::new();
        let (_stop_tx, shutdown) = Shutdown::new();
        let (runs_tx, mut runs) = tokio::sync::mpsc::unbounded_channel::<Instant>();
        holder.lead(Instant::now() + Duration::from_millis(200));
        tokio::spawn(while_leader(
            "renewal-hung",
            leadership,
            shutdown,
            move |mut stop| {
                let runs = runs_tx.clone();
                async move {
                    stop.wait().await;
                    let _ = runs.send(Instant::now());
                }
            },
        ));
        let stopped = tokio::time::timeout(Duration::from_secs(5), runs.recv())
            .await
            .expect("told to stop")
            .unwrap();
        assert!(
            holder.is_leading(),
            "the election has not noticed (a hung renewal)"
        );
        assert!(
            stopped >= holder.valid_until(),
            "told to stop at the deadline"
        );
    }
}
