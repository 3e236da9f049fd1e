//! [`Args`] to [`Config`]: the controller's namespace (Bitnami's rules),
//! the namespaces it watches, key settings, limits; and the refusal of
//! every flag value coffer accepts but cannot honour.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sealed::key_settings::KeySettings;
use crate::{Config, HttpLimits, LeaseConfig, RateLimit};

use super::{Args, LogFormat, values};

/// Where Kubernetes mounts the pod's namespace (Bitnami's fallback for its
/// own namespace).
pub const SERVICE_ACCOUNT_NAMESPACE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// Last resort for the controller's namespace (Bitnami's is `default`;
/// coffer keeps its historical `kube-system`).
const FALLBACK_NAMESPACE: &str = "kube-system";

/// Why the client-side rate-limit flags (Bitnami's and ESO's) are refused.
const NO_CLIENT_RATE_LIMIT: &str =
    "the API client has no client-side rate limit; use the API server's priority and fairness";

/// The longest `--lease-name` with `--shards`: member Leases are named
/// `<lease-name>-member-<16 hex digits>`, and names have at most 253.
const MAX_SHARDED_LEASE_NAME: usize = 253 - 24;

/// Why the flags cannot start a controller; names the flag.
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    /// A Bitnami flag value whose behaviour coffer does not have.
    #[error("{flag}: not supported by coffer-controller ({reason})")]
    Unsupported {
        /// The flag and value as given, e.g. `--old-gc-behavior=true`.
        flag: &'static str,
        /// Why, and what coffer does instead.
        reason: &'static str,
    },
    /// A value the parser accepted but that does not make sense here.
    #[error("{flag}: {reason}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// What the process environment adds to the flags (Bitnami's
/// `myNamespace()`): `POD_NAMESPACE`, then the service account's
/// namespace file.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `POD_NAMESPACE`, if set and not empty.
    pub pod_namespace: Option<String>,
    /// The file holding the service account's namespace.
    pub service_account_namespace: PathBuf,
}

impl Environment {
    /// This process's environment.
    pub fn from_process() -> Environment {
        Environment {
            pod_namespace: std::env::var("POD_NAMESPACE").ok(),
            service_account_namespace: PathBuf::from(SERVICE_ACCOUNT_NAMESPACE),
        }
    }

    /// The controller's namespace when `--namespace` is not given: as
    /// Bitnami, `POD_NAMESPACE`, else the service account's namespace
    /// file (trimmed), else (coffer's) `kube-system`.
    pub fn namespace(&self) -> String {
        if let Some(ns) = self.pod_namespace.as_deref().filter(|ns| !ns.is_empty()) {
            return ns.to_owned();
        }
        read_namespace_file(&self.service_account_namespace)
            .unwrap_or_else(|| FALLBACK_NAMESPACE.to_owned())
    }
}

fn read_namespace_file(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let ns = text.trim();
    (!ns.is_empty()).then(|| ns.to_owned())
}

/// How the binary sets up logging (Bitnami's `--log-level`,
/// `--log-format`, `--log-info-stdout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logging {
    /// The most verbose level written (unless `RUST_LOG` says otherwise).
    pub level: tracing::Level,
    /// Text or JSON lines.
    pub format: LogFormat,
    /// Info and debug to stdout, warnings and errors to stderr; else all
    /// to stderr.
    pub info_to_stdout: bool,
}

impl Args {
    /// Logging as the flags ask.
    pub fn logging(&self) -> Logging {
        Logging {
            level: self.log_level,
            format: self.log_format,
            info_to_stdout: self.log_info_stdout,
        }
    }

    /// The controller's configuration, or the first flag coffer cannot
    /// honour.
    pub fn config(&self, env: &Environment) -> Result<Config, FlagError> {
        self.refuse_unsupported()?;
        let namespace = self
            .namespace
            .clone()
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| env.namespace());
        let keys = KeySettings {
            prefix: self.key_prefix.clone(),
            validity: self.key_ttl,
            common_name: self.my_cn.clone(),
            order: self.key_order_priority,
            annotations: values::key_values(&self.privatekey_annotations).map_err(|reason| {
                FlagError::Invalid {
                    flag: "--privatekey-annotations",
                    reason,
                }
            })?,
            labels: values::key_values(&self.privatekey_labels).map_err(|reason| {
                FlagError::Invalid {
                    flag: "--privatekey-labels",
                    reason,
                }
            })?,
        };
        let watch_namespaces = self.watch_namespaces(&namespace)?;
        let leader_election = self.leader_elect.then(|| LeaseConfig {
            duration: self.lease_duration,
            grace: self.lease_renew_grace,
            ..LeaseConfig::new(&self.lease_name, &namespace)
        });
        let shards = self.shards(leader_election.is_some())?;
        let template_limits = coffer_template::Limits {
            max_duration: self.template_timeout,
            ..coffer_template::Limits::default()
        };
        let external_secrets = self.external_secrets.then(|| coffer_external::Config {
            namespaces: watch_namespaces.clone(),
            controller_class: self.controller_class.clone(),
            concurrency: self.concurrent,
            flood_gate: self.enable_flood_gate,
            store_requeue_interval: self.store_requeue_interval,
            refresh_time_slack: self.refresh_time_slack,
            aws_endpoints: coffer_external::AwsEndpoints {
                secrets_manager: self.aws_secretsmanager_endpoint.clone(),
                sts: self.aws_sts_endpoint.clone(),
                ssm: self.aws_ssm_endpoint.clone(),
            },
            template_limits,
            ..coffer_external::Config::default()
        });
        Ok(Config {
            controller_namespace: namespace,
            keys,
            key_size: self.key_size,
            key_renew_period: self
                .key_renew_period
                .or(self.rotate_period)
                .unwrap_or(Duration::from_secs(720 * 3600)),
            key_cutoff: self.key_cutoff_time,
            watch_namespaces,
            label_selector: self.label_selector.clone().filter(|s| !s.is_empty()),
            listen_addr: Some(self.listen_addr),
            metrics_addr: Some(self.listen_metrics_addr),
            rate_limit: (self.rate_limit > 0.0).then_some(RateLimit {
                per_second: self.rate_limit,
                burst: self.rate_limit_burst.max(1),
            }),
            http_limits: HttpLimits {
                read_timeout: self.read_timeout,
                write_timeout: self.write_timeout,
                max_connections: self.max_connections as usize,
                max_values: self.max_request_values as usize,
            },
            leader_election,
            shards,
            sealed_secrets: self.sealed_secrets,
            update_status: self.update_status,
            max_unseal_retries: self.max_unseal_retries,
            metrics_omit_secret_labels: self.metrics_omit_secret_labels,
            external_secrets,
            template_limits,
        })
    }

    /// `--shards`: 1 to [`crate::shard::MAX_SHARDS`], and above 1 only
    /// with leader election (whose Lease names the shard Leases) and a
    /// lease name that leaves room for the member Leases' suffix.
    fn shards(&self, leader_election: bool) -> Result<u32, FlagError> {
        let max = crate::shard::MAX_SHARDS;
        let reason = if self.shards == 0 || self.shards > max {
            format!("must be between 1 and {max}")
        } else if self.shards > 1 && !leader_election {
            "needs leader election: drop --leader-elect=false".to_owned()
        } else if self.shards > 1 && self.lease_name.len() > MAX_SHARDED_LEASE_NAME {
            return Err(FlagError::Invalid {
                flag: "--lease-name",
                reason: format!(
                    "at most {MAX_SHARDED_LEASE_NAME} characters with --shards: the member Leases add 24 to it"
                ),
            });
        } else {
            return Ok(self.shards);
        };
        Err(FlagError::Invalid {
            flag: "--shards",
            reason,
        })
    }

    /// The namespaces watched; empty means all. Bitnami: every namespace,
    /// unless `--all-namespaces=false` or `--additional-namespaces` is
    /// given, then the controller's own plus the additional ones.
    fn watch_namespaces(&self, own: &str) -> Result<Vec<String>, FlagError> {
        let additional = values::namespace_list(&self.additional_namespaces);
        let namespaces = values::namespace_list(&self.namespaces);
        let bitnami_scoped = !self.all_namespaces || !additional.is_empty();
        if !bitnami_scoped {
            return Ok(namespaces);
        }
        if !namespaces.is_empty() {
            return Err(FlagError::Invalid {
                flag: "--namespaces",
                reason: "cannot be combined with --all-namespaces=false or \
                         --additional-namespaces; list every namespace in one of them"
                    .to_owned(),
            });
        }
        let mut scoped = vec![own.to_owned()];
        scoped.extend(additional.into_iter().filter(|ns| ns != own));
        Ok(scoped)
    }

    /// Bitnami flags whose given value asks for behaviour coffer lacks.
    fn refuse_unsupported(&self) -> Result<(), FlagError> {
        let refusals: [(bool, &'static str, &'static str); 8] = [
            (
                !self.accept_deprecated_v1_data,
                "--accept-deprecated-v1-data=false",
                "SealedSecrets with the deprecated spec.data are always opened",
            ),
            (
                self.old_gc_behavior,
                "--old-gc-behavior=true",
                "unsealed Secrets are owned by their SealedSecret and removed by \
                 Kubernetes' garbage collector",
            ),
            (
                !self.watch_for_secrets,
                "--watch-for-secrets=false",
                "key Secrets are always watched, so replicas share new keys",
            ),
            (
                self.skip_recreate,
                "--skip-recreate=true",
                "the controller watches the Secrets it writes to put back deleted or \
                 edited ones and to skip unchanged ones",
            ),
            (
                self.kubeclient_qps.is_some(),
                "--kubeclient-qps",
                NO_CLIENT_RATE_LIMIT,
            ),
            (
                self.kubeclient_burst.is_some(),
                "--kubeclient-burst",
                NO_CLIENT_RATE_LIMIT,
            ),
            (
                self.client_qps.is_some(),
                "--client-qps",
                NO_CLIENT_RATE_LIMIT,
            ),
            (
                self.client_burst.is_some(),
                "--client-burst",
                NO_CLIENT_RATE_LIMIT,
            ),
        ];
        match refusals.into_iter().find(|(refused, _, _)| *refused) {
            Some((_, flag, reason)) => Err(FlagError::Unsupported { flag, reason }),
            None => Ok(()),
        }
    }
}
