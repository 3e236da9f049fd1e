//! ESO's metrics, with ESO's names and labels so existing dashboards and
//! alerts keep working: `externalsecret_sync_calls_total`,
//! `externalsecret_sync_calls_error`, `externalsecret_status_condition`,
//! `externalsecret_reconcile_duration` (a gauge in nanoseconds, as ESO) and
//! `externalsecret_provider_api_calls_count{provider,call,status}`.
//!
//! Reconcile-duration histograms are recorded by the controller binary
//! through [`ReconcileTimer`], so both controllers share one histogram
//! family.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use coffer_providers::{CallObserver, CallStatus};

/// Receives the duration of every reconcile (the controller's
/// `coffer_reconcile_duration_seconds` histogram).
pub trait ReconcileTimer: Send + Sync {
    /// One reconcile of `controller` ended with `result` after `elapsed`.
    fn observe(&self, controller: &'static str, result: &'static str, elapsed: Duration);
}

type Key = (String, String);

/// The metric-name prefix of ClusterExternalSecret series.
const CES_PREFIX: &str = "clusterexternalsecret";

/// The ExternalSecret controller's metrics.
#[derive(Default)]
pub struct Metrics {
    sync_calls: Mutex<BTreeMap<Key, u64>>,
    sync_errors: Mutex<BTreeMap<Key, u64>>,
    /// Ready condition status per (namespace, name): true, false.
    ready: Mutex<BTreeMap<Key, bool>>,
    durations: Mutex<BTreeMap<Key, u128>>,
    provider_calls: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>,
    /// Ready condition status per store and ClusterExternalSecret:
    /// (metric prefix, namespace, name).
    ready_by_kind: Mutex<BTreeMap<(&'static str, String, String), bool>>,
    timer: Option<Arc<dyn ReconcileTimer>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn key(namespace: &str, name: &str) -> Key {
    (namespace.to_owned(), name.to_owned())
}

impl Metrics {
    /// Metrics that also report reconcile durations to `timer`.
    pub fn with_timer(timer: Arc<dyn ReconcileTimer>) -> Self {
        Metrics {
            timer: Some(timer),
            ..Default::default()
        }
    }

    /// One reconcile of an ExternalSecret, whatever its outcome.
    pub fn sync_call(&self, namespace: &str, name: &str, elapsed: Duration, ok: bool) {
        *lock(&self.sync_calls)
            .entry(key(namespace, name))
            .or_default() += 1;
        lock(&self.durations).insert(key(namespace, name), elapsed.as_nanos());
        if let Some(timer) = &self.timer {
            timer.observe(
                "externalsecret",
                if ok { "success" } else { "error" },
                elapsed,
            );
        }
    }

    /// One failed sync.
    pub fn sync_error(&self, namespace: &str, name: &str) {
        *lock(&self.sync_errors)
            .entry(key(namespace, name))
            .or_default() += 1;
    }

    /// The ExternalSecret's `Ready` condition now has this status.
    pub fn ready(&self, namespace: &str, name: &str, ready: bool) {
        lock(&self.ready).insert(key(namespace, name), ready);
    }

    /// A store's `Ready` condition now has this status (`kind` is
    /// `SecretStore` or `ClusterSecretStore`; `namespace` empty for the
    /// latter).
    pub fn store_ready(&self, kind: &str, namespace: &str, name: &str, ready: bool) {
        let prefix = if kind == "ClusterSecretStore" {
            "clustersecretstore"
        } else {
            "secretstore"
        };
        lock(&self.ready_by_kind).insert((prefix, namespace.to_owned(), name.to_owned()), ready);
    }

    /// A ClusterExternalSecret's `Ready` condition now has this status
    /// (`clusterexternalsecret_status_condition`, as ESO's).
    pub fn cluster_external_secret_ready(&self, name: &str, ready: bool) {
        lock(&self.ready_by_kind).insert((CES_PREFIX, String::new(), name.to_owned()), ready);
    }

    /// Keeps only the ClusterExternalSecret series whose name `keep`
    /// accepts (those deleted since go).
    pub fn retain_cluster_external_secrets(&self, keep: impl Fn(&str) -> bool) {
        lock(&self.ready_by_kind).retain(|(prefix, _, n), _| *prefix != CES_PREFIX || keep(n));
    }

    /// Keeps only the store series for which `keep(kind prefix, namespace,
    /// name)` is true (stores deleted since go).
    pub fn retain_stores(&self, keep: impl Fn(&str, &str, &str) -> bool) {
        lock(&self.ready_by_kind)
            .retain(|(prefix, ns, n), _| *prefix == CES_PREFIX || keep(prefix, ns, n));
    }

    /// The ExternalSecret is gone: drop its series (all of them, as ESO's
    /// `RemoveMetrics` does).
    pub fn forget(&self, namespace: &str, name: &str) {
        let k = key(namespace, name);
        self.retain(|ns, n| (ns, n) != (k.0.as_str(), k.1.as_str()));
    }

    /// Keeps only the series of ExternalSecrets for which `keep(namespace,
    /// name)` is true.
    pub fn retain(&self, keep: impl Fn(&str, &str) -> bool) {
        let keep = |(ns, n): &Key| keep(ns, n);
        lock(&self.sync_calls).retain(|k, _| keep(k));
        lock(&self.sync_errors).retain(|k, _| keep(k));
        lock(&self.ready).retain(|k, _| keep(k));
        lock(&self.durations).retain(|k, _| keep(k));
    }

    /// Provider calls so far with these labels.
    pub fn provider_calls(&self, provider: &str, call: &str, status: &str) -> u64 {
        lock(&self.provider_calls)
            .iter()
            .filter(|((p, c, s), _)| *p == provider && *c == call && *s == status)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Reconciles of one ExternalSecret so far.
    pub fn sync_calls(&self, namespace: &str, name: &str) -> u64 {
        lock(&self.sync_calls)
            .get(&key(namespace, name))
            .copied()
            .unwrap_or(0)
    }

    /// Appends the Prometheus text exposition of every metric to `out`.
    pub fn render(&self, out: &mut String) {
        counter(
            out,
            "externalsecret_sync_calls_total",
            "Total number of the External Secret sync calls",
            &lock(&self.sync_calls),
        );
        counter(
            out,
            "externalsecret_sync_calls_error",
            "Total number of the External Secret sync errors",
            &lock(&self.sync_errors),
        );
        let name = "externalsecret_status_condition";
        let _ = writeln!(
            out,
            "# HELP {name} The status condition of a specific External Secret"
        );
        let _ = writeln!(out, "# TYPE {name} gauge");
        for ((ns, es), ready) in lock(&self.ready).iter() {
            for (status, on) in [("True", *ready), ("False", !*ready)] {
                let _ = writeln!(
                    out,
                    "{name}{{condition=\"Ready\",name=\"{}\",namespace=\"{}\",status=\"{status}\"}} {}",
                    escape(es),
                    escape(ns),
                    u8::from(on)
                );
            }
        }
        for (prefix, what) in [
            ("secretstore", "Secret Store"),
            ("clustersecretstore", "Cluster Secret Store"),
            (CES_PREFIX, "Cluster External Secret"),
        ] {
            let name = format!("{prefix}_status_condition");
            let _ = writeln!(
                out,
                "# HELP {name} The status condition of a specific {what}"
            );
            let _ = writeln!(out, "# TYPE {name} gauge");
            for ((p, ns, store), ready) in lock(&self.ready_by_kind).iter() {
                if *p != prefix {
                    continue;
                }
                for (status, on) in [("True", *ready), ("False", !*ready)] {
                    let _ = writeln!(
                        out,
                        "{name}{{condition=\"Ready\",name=\"{}\",namespace=\"{}\",status=\"{status}\"}} {}",
                        escape(store),
                        escape(ns),
                        u8::from(on)
                    );
                }
            }
        }
        let name = "externalsecret_reconcile_duration";
        let _ = writeln!(
            out,
            "# HELP {name} The duration time to reconcile the External Secret"
        );
        let _ = writeln!(out, "# TYPE {name} gauge");
        for ((ns, es), nanos) in lock(&self.durations).iter() {
            let _ = writeln!(
                out,
                "{name}{{name=\"{}\",namespace=\"{}\"}} {nanos}",
                escape(es),
                escape(ns)
            );
        }
        let name = "externalsecret_provider_api_calls_count";
        let _ = writeln!(
            out,
            "# HELP {name} Number of API calls towards the secret provider"
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        for ((provider, call, status), n) in lock(&self.provider_calls).iter() {
            let _ = writeln!(
                out,
                "{name}{{call=\"{call}\",provider=\"{provider}\",status=\"{status}\"}} {n}"
            );
        }
    }
}

fn counter(out: &mut String, name: &str, help: &str, values: &BTreeMap<Key, u64>) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for ((ns, es), n) in values {
        let _ = writeln!(
            out,
            "{name}{{name=\"{}\",namespace=\"{}\"}} {n}",
            escape(es),
            escape(ns)
        );
    }
}

/// Escapes a label value for the text exposition format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl CallObserver for Metrics {
    fn provider_call(&self, provider: &'static str, call: &'static str, status: CallStatus) {
        *lock(&self.provider_calls)
            .entry((provider, call, status.as_str()))
            .or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_eso_metric_names_and_labels() {
        let m = Metrics::default();
        m.sync_call("ns", "db", Duration::from_millis(2), true);
        m.ready("ns", "db", true);
        m.provider_call("AWS/SecretsManager", "GetSecretValue", CallStatus::Success);
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("externalsecret_sync_calls_total{name=\"db\",namespace=\"ns\"} 1\n"),
            "{out}"
        );
        assert!(out.contains(
            "externalsecret_status_condition{condition=\"Ready\",name=\"db\",namespace=\"ns\",status=\"True\"} 1\n"
        ));
        assert!(out.contains(
            "externalsecret_status_condition{condition=\"Ready\",name=\"db\",namespace=\"ns\",status=\"False\"} 0\n"
        ));
        assert!(
            out.contains(
                "externalsecret_reconcile_duration{name=\"db\",namespace=\"ns\"} 2000000\n"
            )
        );
        assert!(out.contains(
            "externalsecret_provider_api_calls_count{call=\"GetSecretValue\",provider=\"AWS/SecretsManager\",status=\"success\"} 1\n"
        ));
    }

    #[test]
    fn cluster_external_secrets_have_their_condition_series_until_deleted() {
        let m = Metrics::default();
        m.cluster_external_secret_ready("all-ns", false);
        m.cluster_external_secret_ready("gone", true);
        m.store_ready("ClusterSecretStore", "", "vault", true);
        // a sweep of deleted stores leaves ClusterExternalSecrets alone
        m.retain_stores(|_, _, _| false);
        m.retain_cluster_external_secrets(|name| name != "gone");
        let mut out = String::new();
        m.render(&mut out);
        for (status, value) in [("True", 0), ("False", 1)] {
            let series = format!(
                "clusterexternalsecret_status_condition{{condition=\"Ready\",name=\"all-ns\",namespace=\"\",status=\"{status}\"}} {value}\n"
            );
            assert!(out.contains(&series), "{series} in {out}");
        }
        assert!(!out.contains("name=\"gone\""), "{out}");
        assert!(!out.contains("name=\"vault\""), "{out}");
    }

    #[test]
    fn a_forgotten_external_secret_has_no_series_left() {
        let m = Metrics::default();
        for name in ["gone", "kept"] {
            m.sync_call("ns", name, Duration::from_millis(2), false);
            m.sync_error("ns", name);
            m.ready("ns", name, false);
        }
        m.forget("ns", "gone");
        let mut out = String::new();
        m.render(&mut out);
        assert!(!out.contains("name=\"gone\""), "{out}");
        for series in [
            "externalsecret_sync_calls_total{name=\"kept\"",
            "externalsecret_sync_calls_error{name=\"kept\"",
            "externalsecret_status_condition{condition=\"Ready\",name=\"kept\"",
            "externalsecret_reconcile_duration{name=\"kept\"",
        ] {
            assert!(out.contains(series), "{series} in {out}");
        }
    }
}
