//! Polling for readiness, failing fast when the process being waited on has
//! exited.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::Error;
use crate::process::{self, ProcessLog};

/// Polls `check` every 100 ms until it returns true, `log`'s process exits,
/// or `timeout` passes.
pub async fn until<F, Fut>(
    what: &str,
    log: &ProcessLog,
    timeout: Duration,
    mut check: F,
) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return Ok(());
        }
        if let Some(status) = process::exited(log) {
            return Err(Error::Exited {
                name: log.name.clone(),
                status,
                log: log.tail(40),
            });
        }
        if start.elapsed() > timeout {
            return Err(Error::NotReady {
                what: what.to_string(),
                timeout,
                log: log.tail(40),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether `url` answers with a success status.
pub async fn http_ok(client: &reqwest::Client, url: &str) -> bool {
    matches!(client.get(url).send().await, Ok(resp) if resp.status().is_success())
}
