//! Prometheus metrics, kept in process and rendered in the text exposition
//! format on the metrics port. Names match Bitnami sealed-secrets where the
//! metric exists there, so existing dashboards and alerts keep working.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The controller's counters. One instance per controller, shared through
/// the context (tests read it directly).
#[derive(Debug, Default)]
pub struct Metrics {
    unseal_requests: AtomicU64,
    decryptions: AtomicU64,
    unseal_errors: Mutex<BTreeMap<(String, String), u64>>,
}

impl Metrics {
    /// Counts one reconcile of a SealedSecret
    /// (`sealed_secrets_controller_unseal_requests_total`).
    pub fn unseal_request(&self) {
        self.unseal_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one SealedSecret actually decrypted
    /// (`coffer_unseal_decryptions_total`): reconciles that found the Secret
    /// unchanged do not count.
    pub fn decryption(&self) {
        self.decryptions.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one failure (`sealed_secrets_controller_unseal_errors_total`),
    /// with Bitnami's reasons: `unseal`, `update`, `unmanaged`, `status`,
    /// `fetch`.
    pub fn unseal_error(&self, reason: &str, namespace: &str) {
        let mut errors = self.unseal_errors.lock().unwrap_or_else(|e| e.into_inner());
        *errors
            .entry((reason.to_owned(), namespace.to_owned()))
            .or_default() += 1;
    }

    /// Reconciles counted so far.
    pub fn unseal_requests(&self) -> u64 {
        self.unseal_requests.load(Ordering::Relaxed)
    }

    /// Decryptions counted so far.
    pub fn decryptions(&self) -> u64 {
        self.decryptions.load(Ordering::Relaxed)
    }

    /// Failures counted so far for `reason` in `namespace`.
    pub fn unseal_errors(&self, reason: &str, namespace: &str) -> u64 {
        let errors = self.unseal_errors.lock().unwrap_or_else(|e| e.into_inner());
        errors
            .get(&(reason.to_owned(), namespace.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        counter(
            &mut out,
            "sealed_secrets_controller_unseal_requests_total",
            "Total number of sealed secret unseal requests",
            self.unseal_requests(),
        );
        counter(
            &mut out,
            "coffer_unseal_decryptions_total",
            "Total number of SealedSecrets decrypted (reconciles that found the Secret unchanged do not decrypt)",
            self.decryptions(),
        );
        let name = "sealed_secrets_controller_unseal_errors_total";
        let _ = writeln!(
            out,
            "# HELP {name} Total number of sealed secret unseal errors by reason"
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        let errors = self.unseal_errors.lock().unwrap_or_else(|e| e.into_inner());
        for ((reason, namespace), value) in errors.iter() {
            let _ = writeln!(
                out,
                "{name}{{namespace=\"{}\",reason=\"{}\"}} {value}",
                escape(namespace),
                escape(reason)
            );
        }
        out
    }
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    let _ = writeln!(out, "{name} {value}");
}

/// Escapes a label value as the exposition format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_counters_with_bitnami_names_and_labels() {
        let m = Metrics::default();
        m.unseal_request();
        m.unseal_request();
        m.decryption();
        m.unseal_error("unseal", "prod");
        let text = m.render();
        assert!(
            text.contains("sealed_secrets_controller_unseal_requests_total 2\n"),
            "{text}"
        );
        assert!(
            text.contains("coffer_unseal_decryptions_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "sealed_secrets_controller_unseal_errors_total{namespace=\"prod\",reason=\"unseal\"} 1\n"
            ),
            "{text}"
        );
        assert_eq!(m.unseal_errors("unseal", "prod"), 1);
        assert_eq!(m.unseal_errors("update", "prod"), 0);
    }
}
