//! Prometheus metrics, kept in process and rendered in the text exposition
//! format on the metrics port. Names match Bitnami sealed-secrets where the
//! metric exists there, so existing dashboards and alerts keep working;
//! the `coffer_reconcile_*` metrics carry a `controller` label so every
//! controller in the process shares them. Bitnami's per-object and HTTP
//! metrics are in [`bitnami`].

pub mod bitnami;
mod process;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds (seconds) of the reconcile-duration buckets: Prometheus'
/// client defaults, which span a skipped reconcile (milliseconds) to a slow
/// API server (seconds).
pub const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The controller's counters. One instance per controller, shared through
/// the context (tests read it directly).
#[derive(Debug, Default)]
pub struct Metrics {
    kube_requests: AtomicU64,
    unseal_requests: AtomicU64,
    decryptions: AtomicU64,
    unseal_errors: Mutex<BTreeMap<(String, String), u64>>,
    /// By (controller, result).
    reconcile_durations: Mutex<BTreeMap<(&'static str, &'static str), Histogram>>,
    /// By (controller, error label).
    reconcile_errors: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Bitnami's condition and HTTP metrics.
    pub bitnami: bitnami::BitnamiMetrics,
}

/// A histogram with [`DURATION_BUCKETS`]: per-bucket counts (not yet
/// cumulative), the sum and the count.
#[derive(Debug, Default, Clone)]
pub(crate) struct Histogram {
    buckets: [u64; DURATION_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    pub(crate) fn observe(&mut self, seconds: f64) {
        if let Some(i) = DURATION_BUCKETS.iter().position(|le| seconds <= *le) {
            self.buckets[i] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// Appends the series of metric `name` with `labels` (rendered, no
    /// braces): cumulative buckets, `+Inf`, sum and count.
    pub(crate) fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (le, n) in DURATION_BUCKETS.iter().zip(self.buckets) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
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

    /// Records how long one reconcile of `controller` took
    /// (`coffer_reconcile_duration_seconds`), by `result` (`success` or
    /// `error`).
    pub fn observe_reconcile(
        &self,
        controller: &'static str,
        result: &'static str,
        elapsed: Duration,
    ) {
        let mut histograms = self
            .reconcile_durations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        histograms
            .entry((controller, result))
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one reconcile of `controller` that failed and is retried with
    /// backoff (`coffer_reconcile_errors_total`), by error label.
    pub fn reconcile_error(&self, controller: &'static str, error: &'static str) {
        let mut errors = self
            .reconcile_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *errors.entry((controller, error)).or_default() += 1;
    }

    /// Reconciles of `controller` timed so far (all results).
    pub fn reconciles_timed(&self, controller: &str) -> u64 {
        let histograms = self
            .reconcile_durations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        histograms
            .iter()
            .filter(|((c, _), _)| *c == controller)
            .map(|(_, h)| h.count)
            .sum()
    }

    /// Kubernetes API requests sent so far (each watch counts once per
    /// (re)connection), when the client was built by [`counting_client`].
    pub fn kube_requests(&self) -> u64 {
        self.kube_requests.load(Ordering::Relaxed)
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
            "coffer_kube_requests_total",
            "Total number of requests sent to the Kubernetes API server",
            self.kube_requests(),
        );
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
        drop(errors);
        self.render_reconcile(&mut out);
        self.bitnami.render(&mut out);
        process::render(&mut out);
        out
    }

    fn render_reconcile(&self, out: &mut String) {
        let name = "coffer_reconcile_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time taken by one reconcile, by controller and result"
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        let histograms = self
            .reconcile_durations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for ((controller, result), h) in histograms.iter() {
            let labels = format!("controller=\"{controller}\",result=\"{result}\"");
            h.render(out, name, &labels);
        }
        render_controller_runtime(out, &histograms);
        drop(histograms);
        let name = "coffer_reconcile_errors_total";
        let _ = writeln!(
            out,
            "# HELP {name} Reconciles that failed and are retried with backoff, by controller and error"
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        let errors = self
            .reconcile_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for ((controller, error), value) in errors.iter() {
            let _ = writeln!(
                out,
                "{name}{{controller=\"{controller}\",error=\"{error}\"}} {value}"
            );
        }
    }
}

/// controller-runtime's reconcile metrics, which ESO's Grafana dashboard
/// reads, from the same observations: `controller_runtime_reconcile_total`
/// by controller and result, `controller_runtime_reconcile_errors_total`,
/// and `controller_runtime_reconcile_time_seconds` by controller.
fn render_controller_runtime(
    out: &mut String,
    histograms: &BTreeMap<(&'static str, &'static str), Histogram>,
) {
    let mut by_controller: BTreeMap<&'static str, Histogram> = BTreeMap::new();
    for ((controller, _), h) in histograms {
        let merged = by_controller.entry(controller).or_default();
        for (total, n) in merged.buckets.iter_mut().zip(h.buckets) {
            *total += n;
        }
        merged.sum += h.sum;
        merged.count += h.count;
    }
    let name = "controller_runtime_reconcile_total";
    let _ = writeln!(
        out,
        "# HELP {name} Total number of reconciliations per controller"
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    for ((controller, result), h) in histograms {
        let _ = writeln!(
            out,
            "{name}{{controller=\"{controller}\",result=\"{result}\"}} {}",
            h.count
        );
    }
    let name = "controller_runtime_reconcile_errors_total";
    let _ = writeln!(
        out,
        "# HELP {name} Total number of reconciliation errors per controller"
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    for controller in by_controller.keys() {
        let errors = histograms
            .get(&(*controller, "error"))
            .map_or(0, |h| h.count);
        let _ = writeln!(out, "{name}{{controller=\"{controller}\"}} {errors}");
    }
    let name = "controller_runtime_reconcile_time_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Length of time per reconciliation per controller"
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (controller, h) in &by_controller {
        let labels = format!("controller=\"{controller}\"");
        h.render(out, name, &labels);
    }
}

/// A client for `config` whose every request is counted in `metrics`
/// (`coffer_kube_requests_total`): what the controller costs the API server.
pub fn counting_client(
    config: kube::Config,
    metrics: Arc<Metrics>,
) -> Result<kube::Client, kube::Error> {
    let count =
        tower::util::MapRequestLayer::new(move |request: http::Request<kube::client::Body>| {
            metrics.kube_requests.fetch_add(1, Ordering::Relaxed);
            request
        });
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&count)
        .build())
}

impl coffer_external::ReconcileTimer for Metrics {
    fn observe(&self, controller: &'static str, result: &'static str, elapsed: Duration) {
        self.observe_reconcile(controller, result, elapsed);
    }
}

/// The `coffer_leader` gauge: 1 on the replica that holds the leader Lease
/// (or runs without election), 0 on followers.
pub fn render_leader(leading: bool) -> String {
    let name = "coffer_leader";
    format!(
        "# HELP {name} Whether this replica is the leader (runs the writers)\n# TYPE {name} gauge\n{name} {}\n",
        u8::from(leading)
    )
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    let _ = writeln!(out, "{name} {value}");
}

/// Escapes a label value as the exposition format requires.
pub(crate) fn escape(value: &str) -> String {
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

    #[test]
    fn reconcile_durations_render_as_cumulative_prometheus_histogram() {
        let m = Metrics::default();
        m.observe_reconcile("sealedsecret", "success", Duration::from_millis(3));
        m.observe_reconcile("sealedsecret", "success", Duration::from_millis(30));
        m.observe_reconcile("sealedsecret", "success", Duration::from_secs(20));
        m.reconcile_error("sealedsecret", "kube");
        let text = m.render();
        let series = "coffer_reconcile_duration_seconds_bucket{controller=\"sealedsecret\",result=\"success\"";
        for (le, n) in [
            ("0.005", 1),
            ("0.025", 1),
            ("0.05", 2),
            ("10", 2),
            ("+Inf", 3),
        ] {
            assert!(
                text.contains(&format!("{series},le=\"{le}\"}} {n}\n")),
                "le={le}: {text}"
            );
        }
        assert!(text.contains("# TYPE coffer_reconcile_duration_seconds histogram\n"));
        assert!(text.contains(
            "coffer_reconcile_duration_seconds_count{controller=\"sealedsecret\",result=\"success\"} 3\n"
        ));
        assert!(text.contains(
            "coffer_reconcile_errors_total{controller=\"sealedsecret\",error=\"kube\"} 1\n"
        ));
        assert_eq!(m.reconciles_timed("sealedsecret"), 3);
        assert!(render_leader(false).ends_with("coffer_leader 0\n"));
    }
}
