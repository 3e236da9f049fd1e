//! The stop signal every task of the controller watches.

use std::future::Future;

use tokio::sync::watch;

/// A one-shot stop signal, cloned to everything that must stop: fires on
/// process shutdown, or (for a writer) when leadership is lost. Also fires
/// if its sender is dropped.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    /// A new signal and the sender that fires it (`send(true)`).
    pub fn new() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown { rx })
    }

    /// Wraps a receiver: fires when it holds `true` or its sender is gone.
    pub fn from_receiver(rx: watch::Receiver<bool>) -> Shutdown {
        Shutdown { rx }
    }

    /// Resolves once the signal fires.
    pub async fn wait(&mut self) {
        let _ = self.rx.wait_for(|stop| *stop).await;
    }

    /// An owned future that resolves once the signal fires (for APIs such
    /// as kube's `graceful_shutdown_on`).
    pub fn fired(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut this = self.clone();
        async move { this.wait().await }
    }
}
