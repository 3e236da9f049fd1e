//! What `coffer seal` takes from the cluster configuration: the default
//! namespace from the kubeconfig context, and a Kubernetes client for
//! reaching the controller ([`super::controller`]). Matches kubeseal's
//! `clientcmd` use.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::connection::ConnectionArgs;

/// The kubectl-style flags `coffer seal` shares with kubeseal.
#[derive(Debug, Clone, Default)]
pub struct ClusterFlags {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
    /// `-n/--namespace`.
    pub namespace: Option<String>,
    /// kubectl's connection flags (`--server`, `--token`, ...).
    pub connection: ConnectionArgs,
}

/// The namespace a Secret without one is sealed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// The namespace; empty when there is neither `-n` nor a kubeconfig.
    pub name: String,
    /// Whether `-n/--namespace` set it (then a Secret in another namespace
    /// is an error).
    pub explicit: bool,
}

impl ClusterFlags {
    /// Resolves the namespace as kubeseal (client-go) does: `-n`, else the
    /// kubeconfig context's namespace, else `default` when there is a
    /// kubeconfig, else empty.
    pub fn namespace(&self) -> Result<Namespace> {
        if let Some(ns) = &self.namespace {
            return Ok(Namespace {
                name: ns.clone(),
                explicit: true,
            });
        }
        let kubeconfig = match &self.kubeconfig {
            Some(path) => Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?,
            None => match Kubeconfig::read() {
                Ok(k) => k,
                // No kubeconfig at all: client-go yields an empty namespace.
                Err(_) => {
                    return Ok(Namespace {
                        name: String::new(),
                        explicit: false,
                    });
                }
            },
        };
        let context_name = self
            .context
            .clone()
            .or_else(|| kubeconfig.current_context.clone());
        let context = match &context_name {
            Some(name) => {
                let found = kubeconfig.contexts.iter().find(|c| &c.name == name);
                if found.is_none() && self.context.is_some() {
                    bail!("context {name:?} is not in the kubeconfig");
                }
                found.and_then(|c| c.context.as_ref())
            }
            None => None,
        };
        let name = context
            .and_then(|c| c.namespace.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_owned());
        Ok(Namespace {
            name,
            explicit: false,
        })
    }

    /// A client for the kubeconfig (`--kubeconfig`, `--context`), else
    /// the usual kubeconfig or in-cluster configuration; kubectl's
    /// connection flags override it, or make it (`--server`).
    pub async fn client(&self) -> Result<Client> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..KubeConfigOptions::default()
        };
        let mut config = if self.connection.is_set() {
            let kubeconfig =
                match &self.kubeconfig {
                    Some(path) => Some(Kubeconfig::read_from(path).with_context(|| {
                        format!("cannot read the kubeconfig {}", path.display())
                    })?),
                    None => Kubeconfig::read().ok(),
                };
            let kubeconfig = self.connection.apply(kubeconfig, self.context.as_deref())?;
            let mut config =
                Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
            if let Some(timeout) = self.connection.request_timeout {
                // kubectl: `0` means no limit.
                let limit = (!timeout.is_zero()).then_some(timeout);
                config.connect_timeout = limit;
                config.read_timeout = limit;
                config.write_timeout = limit;
            }
            config
        } else {
            self.client_config(&options).await?
        };
        // NB: kube retries 429/503/504 up to 15 times with backoff growing
        // to minutes; a command should fail at once and say why ("no
        // endpoints available for service …"), as kubeseal does.
        config.default_retry = false;
        Ok(Client::try_from(config)?)
    }

    /// The configuration from the kubeconfig alone.
    async fn client_config(&self, options: &KubeConfigOptions) -> Result<Config> {
        let options = options.clone();
        let config = match (&self.kubeconfig, &self.context) {
            (Some(path), _) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?;
                Config::from_custom_kubeconfig(kubeconfig, &options).await?
            }
            (None, Some(_)) => Config::from_kubeconfig(&options).await?,
            (None, None) => Config::infer()
                .await
                .context("no cluster configuration (kubeconfig or in-cluster)")?,
        };
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_kubeconfig(dir: &std::path::Path, namespace_line: &str) -> PathBuf {
        let path = dir.join("config");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: c\n  cluster: {{server: https://127.0.0.1:1}}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: a\n  context: {{cluster: c, user: u{namespace_line}}}\n- name: b\n  context: {{cluster: c, user: u, namespace: team-b}}\n"
            ),
        )
        .unwrap();
        path
    }

    #[test]
    fn explicit_namespace_wins_and_is_marked_explicit() {
        let flags = ClusterFlags {
            namespace: Some("prod".into()),
            ..ClusterFlags::default()
        };
        assert_eq!(
            flags.namespace().unwrap(),
            Namespace {
                name: "prod".into(),
                explicit: true
            }
        );
    }

    #[test]
    fn kubeconfig_context_namespace_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_kubeconfig(dir.path(), ", namespace: team-a");
        let mut flags = ClusterFlags {
            kubeconfig: Some(path),
            ..ClusterFlags::default()
        };
        assert_eq!(flags.namespace().unwrap().name, "team-a");
        flags.context = Some("b".into());
        assert_eq!(flags.namespace().unwrap().name, "team-b");
        flags.context = Some("missing".into());
        assert!(flags.namespace().is_err());
    }

    #[test]
    fn context_without_namespace_means_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_kubeconfig(dir.path(), "");
        let flags = ClusterFlags {
            kubeconfig: Some(path),
            ..ClusterFlags::default()
        };
        assert_eq!(flags.namespace().unwrap().name, "default");
    }
}
