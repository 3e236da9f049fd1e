//! Read-after-write consistency with Vault Enterprise replication
//! (`readYourWrites`, `forwardInconsistent`), as the Go client's
//! `ReadYourWrites` does it: the last `X-Vault-Index` a response carried is
//! sent back on every later request of the same client, so a performance
//! standby that has not caught up with that state waits for it (or, with
//! `X-Vault-Inconsistent: forward-active-node`, forwards the request to
//! the active node).
//!
//! Vault without replication sends no index; then nothing is sent back.

use std::sync::{Mutex, PoisonError};

use reqwest::header::{HeaderMap, HeaderValue};

/// The replication-state header, in responses and requests.
pub(super) const INDEX_HEADER: &str = "X-Vault-Index";
/// Asks a standby to forward a request it cannot serve consistently.
pub(super) const INCONSISTENT_HEADER: &str = "X-Vault-Inconsistent";
const FORWARD_ACTIVE_NODE: &str = "forward-active-node";
/// A longer index is not kept (Vault's are about a hundred bytes).
const MAX_INDEX: usize = 4096;

/// One client's consistency settings and the last state it saw.
#[derive(Debug, Default)]
pub(super) struct Consistency {
    read_your_writes: bool,
    forward: bool,
    last_index: Mutex<Option<HeaderValue>>,
}

impl Consistency {
    /// Matches ESO, where `forwardInconsistent` turns read-your-writes on
    /// too. Unlike ESO, which sends the forwarding header only when both
    /// are set, `forwardInconsistent` alone sends it: the field asks for it.
    pub fn new(read_your_writes: bool, forward_inconsistent: bool) -> Self {
        Consistency {
            read_your_writes: read_your_writes || forward_inconsistent,
            forward: forward_inconsistent,
            last_index: Mutex::new(None),
        }
    }

    /// Adds the consistency headers to a request.
    pub fn add_to(&self, headers: &mut HeaderMap) {
        if self.forward {
            headers.insert(
                INCONSISTENT_HEADER,
                HeaderValue::from_static(FORWARD_ACTIVE_NODE),
            );
        }
        if self.read_your_writes
            && let Some(index) = self.lock().clone()
        {
            headers.insert(INDEX_HEADER, index);
        }
    }

    /// Remembers the index a response carried.
    pub fn record(&self, response: &HeaderMap) {
        if !self.read_your_writes {
            return;
        }
        if let Some(index) = response
            .get(INDEX_HEADER)
            .filter(|v| !v.is_empty() && v.len() <= MAX_INDEX)
        {
            *self.lock() = Some(index.clone());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<HeaderValue>> {
        self.last_index
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(index: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(INDEX_HEADER, HeaderValue::from_str(index).unwrap());
        headers
    }

    fn sent(c: &Consistency) -> HeaderMap {
        let mut headers = HeaderMap::new();
        c.add_to(&mut headers);
        headers
    }

    #[test]
    fn read_your_writes_sends_back_the_last_index_seen() {
        let c = Consistency::new(true, false);
        assert!(sent(&c).is_empty(), "nothing seen yet");
        c.record(&response("state-1"));
        c.record(&HeaderMap::new());
        assert_eq!(sent(&c).get(INDEX_HEADER).unwrap(), "state-1");
        c.record(&response("state-2"));
        assert_eq!(sent(&c).get(INDEX_HEADER).unwrap(), "state-2");
        assert!(sent(&c).get(INCONSISTENT_HEADER).is_none());
        c.record(&response(&"x".repeat(MAX_INDEX + 1)));
        assert_eq!(sent(&c).get(INDEX_HEADER).unwrap(), "state-2");
    }

    #[test]
    fn forward_inconsistent_forwards_and_implies_read_your_writes() {
        let c = Consistency::new(false, true);
        c.record(&response("state-1"));
        let headers = sent(&c);
        assert_eq!(
            headers.get(INCONSISTENT_HEADER).unwrap(),
            "forward-active-node"
        );
        assert_eq!(headers.get(INDEX_HEADER).unwrap(), "state-1");
    }

    #[test]
    fn without_either_option_nothing_is_kept_or_sent() {
        let c = Consistency::new(false, false);
        c.record(&response("state-1"));
        assert!(sent(&c).is_empty());
    }
}
