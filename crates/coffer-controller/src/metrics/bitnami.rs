//! Bitnami's per-object and HTTP metrics, with its names and labels
//! (`pkg/controller/metrics.go`, v0.40.0), so its Grafana dashboard and
//! alerts work unchanged: `sealed_secrets_controller_condition_info`
//! (one gauge per SealedSecret condition: 1 true, 0 unknown, -1 false;
//! left out with `--metrics-omit-secret-labels`, since it names every
//! SealedSecret), `sealed_secrets_controller_http_requests_total` by
//! `path`, `code`, `method` and
//! `sealed_secrets_controller_http_request_duration_seconds` by `path`,
//! `method` (promhttp's labels: lower-case method, numeric code) for the
//! paths Bitnami instruments.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Histogram, escape};

/// The paths Bitnami instruments (`Instrument(path, ...)` in server.go);
/// any other path is not counted, so a caller cannot grow the label set.
const INSTRUMENTED: [&str; 3] = ["/v1/verify", "/v1/rotate", "/v1/cert.pem"];

/// The label of the SealedSecret's `app.kubernetes.io/instance` label.
const INSTANCE_LABEL: &str = "ss_app_kubernetes_io_instance";

/// One condition of one SealedSecret: namespace, name, condition type,
/// instance label.
type ConditionKey = (String, String, String, String);

/// Bitnami's per-object and HTTP metrics.
#[derive(Debug, Default)]
pub struct BitnamiMetrics {
    omit_secret_labels: AtomicBool,
    conditions: Mutex<BTreeMap<ConditionKey, f64>>,
    /// By (path, code, method).
    requests: Mutex<BTreeMap<(&'static str, u16, String), u64>>,
    /// By (path, method).
    durations: Mutex<BTreeMap<(&'static str, String), Histogram>>,
}

impl BitnamiMetrics {
    /// Stops recording `condition_info` (`--metrics-omit-secret-labels`).
    pub fn omit_secret_labels(&self) {
        self.omit_secret_labels.store(true, Ordering::Relaxed);
        self.lock_conditions().clear();
    }

    fn lock_conditions(&self) -> std::sync::MutexGuard<'_, BTreeMap<ConditionKey, f64>> {
        self.conditions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the `status` (`True`, `False`, else unknown) of condition
    /// `type_` of SealedSecret `namespace/name`, replacing what it had.
    pub fn observe_condition(
        &self,
        namespace: &str,
        name: &str,
        instance: &str,
        type_: &str,
        status: &str,
    ) {
        if self.omit_secret_labels.load(Ordering::Relaxed) {
            return;
        }
        let value = match status {
            "True" => 1.0,
            "False" => -1.0,
            _ => 0.0,
        };
        let mut conditions = self.lock_conditions();
        // NB: the instance label may have changed since the last time.
        conditions.retain(|(ns, n, c, _), _| !(ns == namespace && n == name && c == type_));
        conditions.insert(
            (
                namespace.to_owned(),
                name.to_owned(),
                type_.to_owned(),
                instance.to_owned(),
            ),
            value,
        );
    }

    /// Forgets every condition of a deleted SealedSecret.
    pub fn forget_conditions(&self, namespace: &str, name: &str) {
        self.lock_conditions()
            .retain(|(ns, n, _, _), _| !(ns == namespace && n == name));
    }

    /// Counts and times one answered request, if `path` is instrumented.
    pub fn observe_request(&self, path: &str, method: &str, code: u16, elapsed: Duration) {
        let Some(path) = INSTRUMENTED.iter().copied().find(|p| *p == path) else {
            return;
        };
        let method = promhttp_method(method);
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((path, code, method.clone()))
            .or_default() += 1;
        self.durations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((path, method))
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// Appends the Prometheus text of these metrics to `out`.
    pub fn render(&self, out: &mut String) {
        if !self.omit_secret_labels.load(Ordering::Relaxed) {
            let name = "sealed_secrets_controller_condition_info";
            let _ = writeln!(
                out,
                "# HELP {name} Current SealedSecret condition status. Values are -1 (false), 0 (unknown or absent), 1 (true)"
            );
            let _ = writeln!(out, "# TYPE {name} gauge");
            for ((ns, n, c, instance), value) in self.lock_conditions().iter() {
                let _ = writeln!(
                    out,
                    "{name}{{condition=\"{}\",name=\"{}\",namespace=\"{}\",{INSTANCE_LABEL}=\"{}\"}} {value}",
                    escape(c),
                    escape(n),
                    escape(ns),
                    escape(instance)
                );
            }
        }
        let name = "sealed_secrets_controller_http_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} A counter for requests to the wrapped handler."
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        for ((path, code, method), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "{name}{{code=\"{code}\",method=\"{method}\",path=\"{path}\"}} {n}"
            );
        }
        let name = "sealed_secrets_controller_http_request_duration_seconds";
        let _ = writeln!(out, "# HELP {name} A histogram of latencies for requests.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for ((path, method), h) in self
            .durations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let labels = format!("method=\"{method}\",path=\"{path}\"");
            h.render(out, name, &labels);
        }
    }
}

/// The method label as promhttp writes it: lower case for the standard
/// methods, `unknown` for anything else (so a caller cannot grow it).
fn promhttp_method(method: &str) -> String {
    const KNOWN: [&str; 9] = [
        "GET", "PUT", "HEAD", "POST", "DELETE", "CONNECT", "OPTIONS", "NOTIFY", "PATCH",
    ];
    if KNOWN.contains(&method) {
        method.to_ascii_lowercase()
    } else {
        "unknown".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_render_with_bitnamis_labels_and_values_and_can_be_omitted() {
        let m = BitnamiMetrics::default();
        m.observe_condition("team", "db", "prod", "Synced", "True");
        m.observe_condition("team", "api", "", "Synced", "False");
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains(
            "sealed_secrets_controller_condition_info{condition=\"Synced\",name=\"db\",namespace=\"team\",ss_app_kubernetes_io_instance=\"prod\"} 1\n"
        ), "{out}");
        assert!(
            out.contains(
                "name=\"api\",namespace=\"team\",ss_app_kubernetes_io_instance=\"\"} -1\n"
            ),
            "{out}"
        );
        m.forget_conditions("team", "api");
        let mut out = String::new();
        m.render(&mut out);
        assert!(!out.contains("name=\"api\""), "{out}");

        m.omit_secret_labels();
        m.observe_condition("team", "web", "", "Synced", "True");
        let mut out = String::new();
        m.render(&mut out);
        assert!(!out.contains("condition_info"), "{out}");
    }

    #[test]
    fn only_bitnamis_paths_are_counted_with_promhttp_labels() {
        let m = BitnamiMetrics::default();
        m.observe_request("/v1/cert.pem", "GET", 200, Duration::from_millis(3));
        m.observe_request("/v1/verify", "BREW", 429, Duration::from_millis(3));
        m.observe_request("/attacker-chosen", "GET", 404, Duration::from_millis(3));
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains(
            "sealed_secrets_controller_http_requests_total{code=\"200\",method=\"get\",path=\"/v1/cert.pem\"} 1\n"
        ), "{out}");
        assert!(
            out.contains("{code=\"429\",method=\"unknown\",path=\"/v1/verify\"} 1\n"),
            "{out}"
        );
        assert!(!out.contains("attacker"), "{out}");
        assert!(out.contains(
            "sealed_secrets_controller_http_request_duration_seconds_bucket{method=\"get\",path=\"/v1/cert.pem\",le=\"0.005\"} 1\n"
        ), "{out}");
    }
}
