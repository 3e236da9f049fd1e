//! kubectl's connection flags, as kubeseal binds them
//! (`clientcmd.RecommendedConfigOverrideFlags("")` in
//! `cmd/kubeseal/main.go`, v0.36 to v0.40) and reads them from
//! `SEALED_SECRETS_<FLAG>`: they override the kubeconfig's cluster, user
//! and context, or, with `--server` and no kubeconfig, make the whole
//! configuration (a token-only identity in CI needs no kubeconfig file).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{ArgAction, Args};
use kube::config::{
    AuthInfo, Cluster, Context as KubeContext, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};

/// The names coffer gives the cluster, user and context it makes from
/// flags alone.
const FROM_FLAGS: &str = "coffer-flags";

/// kubectl's cluster, user and context flags.
#[derive(Args, Debug, Clone, Default, PartialEq)]
pub struct ConnectionArgs {
    /// The address and port of the Kubernetes API server
    #[arg(short = 's', long, env = "SEALED_SECRETS_SERVER")]
    pub server: Option<String>,
    /// Bearer token for authentication to the API server
    #[arg(long, env = "SEALED_SECRETS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The name of the kubeconfig user to use
    #[arg(long, env = "SEALED_SECRETS_USER")]
    pub user: Option<String>,
    /// The name of the kubeconfig cluster to use
    #[arg(long, env = "SEALED_SECRETS_CLUSTER")]
    pub cluster: Option<String>,
    /// Username to impersonate for the operation
    #[arg(long = "as", env = "SEALED_SECRETS_AS")]
    pub impersonate: Option<String>,
    /// Group to impersonate for the operation (repeatable)
    #[arg(long = "as-group", env = "SEALED_SECRETS_AS_GROUP")]
    pub impersonate_groups: Vec<String>,
    /// UID to impersonate for the operation
    #[arg(long = "as-uid", env = "SEALED_SECRETS_AS_UID")]
    pub impersonate_uid: Option<String>,
    /// Path to a cert file for the certificate authority
    #[arg(
        long,
        env = "SEALED_SECRETS_CERTIFICATE_AUTHORITY",
        value_name = "FILE"
    )]
    pub certificate_authority: Option<PathBuf>,
    /// Path to a client certificate file for TLS
    #[arg(long, env = "SEALED_SECRETS_CLIENT_CERTIFICATE", value_name = "FILE")]
    pub client_certificate: Option<PathBuf>,
    /// Path to a client key file for TLS
    #[arg(long, env = "SEALED_SECRETS_CLIENT_KEY", value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// If true, the server's certificate will not be checked for validity
    #[arg(long, env = "SEALED_SECRETS_INSECURE_SKIP_TLS_VERIFY", action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_parser = go_bool)]
    pub insecure_skip_tls_verify: Option<bool>,
    /// Server name to validate the server certificate against (refused:
    /// coffer's client cannot use one)
    #[arg(long, env = "SEALED_SECRETS_TLS_SERVER_NAME")]
    pub tls_server_name: Option<String>,
    /// How long to wait for one server request (`0`: no limit; Go
    /// duration, or whole seconds)
    #[arg(long, env = "SEALED_SECRETS_REQUEST_TIMEOUT", value_parser = request_timeout)]
    pub request_timeout: Option<Duration>,
    /// Username for basic authentication to the API server
    #[arg(long, env = "SEALED_SECRETS_USERNAME")]
    pub username: Option<String>,
    /// Password for basic authentication to the API server
    #[arg(long, env = "SEALED_SECRETS_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// URL of a proxy to reach the API server through (refused: coffer's
    /// client has no proxy support)
    #[arg(long, env = "SEALED_SECRETS_PROXY_URL")]
    pub proxy_url: Option<String>,
    /// If true, ask the server not to compress responses
    #[arg(long, env = "SEALED_SECRETS_DISABLE_COMPRESSION", action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_parser = go_bool)]
    pub disable_compression: Option<bool>,
}

/// Go's `strconv.ParseBool`, as pflag and kubeseal's variables read it.
fn go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("{text:?} is not a boolean (use true or false)")),
    }
}

/// kubectl's `--request-timeout`: a Go duration (`30s`, `1m`) or whole
/// seconds (`30`); `0` means no timeout.
fn request_timeout(text: &str) -> Result<Duration, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| format!("{text:?} is too long"));
    }
    coffer_api::external::parse_go_duration(text).map_err(|e| e.to_string())
}

fn path_text(path: &std::path::Path) -> String {
    path.to_string_lossy().into_owned()
}

impl ConnectionArgs {
    /// Whether any of these flags is given.
    pub fn is_set(&self) -> bool {
        *self != ConnectionArgs::default()
    }

    /// Whether any flag asks for a configuration without a kubeconfig.
    pub fn makes_config(&self) -> bool {
        self.server.is_some()
    }

    /// `kubeconfig` with these flags applied, as clientcmd's overrides:
    /// `--cluster` and `--user` pick entries of the kubeconfig (and must
    /// exist there), the cluster and user flags override fields of the
    /// chosen entries. With no kubeconfig, `--server` makes one.
    pub fn apply(
        &self,
        kubeconfig: Option<Kubeconfig>,
        context: Option<&str>,
    ) -> Result<Kubeconfig> {
        // NB: accepted (kubeseal has them) but refused until coffer's
        // client can honour them, rather than silently ignored.
        if self.tls_server_name.is_some() {
            bail!(
                "--tls-server-name: not supported by coffer (its Kubernetes client verifies \
                 the server's certificate against the host of --server); use a --server \
                 address the certificate names"
            );
        }
        if self.proxy_url.is_some() {
            bail!(
                "--proxy-url: not supported by coffer (its Kubernetes client is built without \
                 proxy support); reach the API server directly, e.g. through `kubectl proxy` \
                 and --server"
            );
        }
        let mut kubeconfig = match kubeconfig {
            Some(k) => k,
            None if self.makes_config() => from_flags(),
            None => bail!("no kubeconfig, and no --server to reach the API server"),
        };
        if kubeconfig.contexts.is_empty() {
            kubeconfig = from_flags();
        }
        let context_name = context
            .map(str::to_owned)
            .or_else(|| kubeconfig.current_context.clone())
            .or_else(|| kubeconfig.contexts.first().map(|c| c.name.clone()))
            .context("the kubeconfig names no context")?;
        let chosen = kubeconfig
            .contexts
            .iter_mut()
            .find(|c| c.name == context_name)
            .with_context(|| format!("context {context_name:?} is not in the kubeconfig"))?
            .context
            .get_or_insert_with(KubeContext::default);
        if let Some(cluster) = &self.cluster {
            chosen.cluster = cluster.clone();
        }
        if let Some(user) = &self.user {
            chosen.user = Some(user.clone());
        }
        let (cluster_name, user_name) = (chosen.cluster.clone(), chosen.user.clone());
        kubeconfig.current_context = Some(context_name);

        let cluster = named_cluster(&mut kubeconfig, &cluster_name, self.cluster.is_some())?;
        if let Some(server) = &self.server {
            cluster.server = Some(server.clone());
        }
        if let Some(ca) = &self.certificate_authority {
            cluster.certificate_authority = Some(path_text(ca));
            cluster.certificate_authority_data = None;
        }
        if let Some(insecure) = self.insecure_skip_tls_verify {
            cluster.insecure_skip_tls_verify = Some(insecure);
        }
        if let Some(name) = &self.tls_server_name {
            cluster.tls_server_name = Some(name.clone());
        }
        if let Some(proxy) = &self.proxy_url {
            cluster.proxy_url = Some(proxy.clone());
        }
        if let Some(disable) = self.disable_compression {
            cluster.disable_compression = Some(disable);
        }

        let user_name = user_name.unwrap_or_else(|| FROM_FLAGS.to_owned());
        let user = named_user(&mut kubeconfig, &user_name, self.user.is_some())?;
        if let Some(token) = &self.token {
            user.token = Some(token.clone().into());
            user.token_file = None;
        }
        if let Some(cert) = &self.client_certificate {
            user.client_certificate = Some(path_text(cert));
            user.client_certificate_data = None;
        }
        if let Some(key) = &self.client_key {
            user.client_key = Some(path_text(key));
            user.client_key_data = None;
        }
        if let Some(name) = &self.username {
            user.username = Some(name.clone());
        }
        if let Some(password) = &self.password {
            user.password = Some(password.clone().into());
        }
        if let Some(who) = &self.impersonate {
            user.impersonate = Some(who.clone());
        }
        if !self.impersonate_groups.is_empty() {
            user.impersonate_groups = Some(self.impersonate_groups.clone());
        }
        if let Some(uid) = &self.impersonate_uid {
            user.impersonate_uid = Some(uid.clone());
        }
        // The context now names the user (it may have named none).
        for named in &mut kubeconfig.contexts {
            if Some(&named.name) == kubeconfig.current_context.as_ref()
                && let Some(c) = &mut named.context
            {
                c.user = Some(user_name.clone());
            }
        }
        Ok(kubeconfig)
    }
}

/// A kubeconfig of one empty cluster, user and context, to fill from flags.
fn from_flags() -> Kubeconfig {
    Kubeconfig {
        clusters: vec![NamedCluster {
            name: FROM_FLAGS.to_owned(),
            cluster: Some(Cluster::default()),
            other: Default::default(),
        }],
        auth_infos: vec![NamedAuthInfo {
            name: FROM_FLAGS.to_owned(),
            auth_info: Some(AuthInfo::default()),
            other: Default::default(),
        }],
        contexts: vec![NamedContext {
            name: FROM_FLAGS.to_owned(),
            context: Some(KubeContext {
                cluster: FROM_FLAGS.to_owned(),
                user: Some(FROM_FLAGS.to_owned()),
                ..KubeContext::default()
            }),
            other: Default::default(),
        }],
        current_context: Some(FROM_FLAGS.to_owned()),
        ..Kubeconfig::default()
    }
}

fn named_cluster<'a>(
    kubeconfig: &'a mut Kubeconfig,
    name: &str,
    must_exist: bool,
) -> Result<&'a mut Cluster> {
    if !kubeconfig.clusters.iter().any(|c| c.name == name) {
        if must_exist {
            bail!("cluster {name:?} is not in the kubeconfig");
        }
        kubeconfig.clusters.push(NamedCluster {
            name: name.to_owned(),
            cluster: Some(Cluster::default()),
            other: Default::default(),
        });
    }
    let named = kubeconfig
        .clusters
        .iter_mut()
        .find(|c| c.name == name)
        .context("cluster just added")?;
    Ok(named.cluster.get_or_insert_with(Cluster::default))
}

fn named_user<'a>(
    kubeconfig: &'a mut Kubeconfig,
    name: &str,
    must_exist: bool,
) -> Result<&'a mut AuthInfo> {
    if !kubeconfig.auth_infos.iter().any(|u| u.name == name) {
        if must_exist {
            bail!("user {name:?} is not in the kubeconfig");
        }
        kubeconfig.auth_infos.push(NamedAuthInfo {
            name: name.to_owned(),
            auth_info: Some(AuthInfo::default()),
            other: Default::default(),
        });
    }
    let named = kubeconfig
        .auth_infos
        .iter_mut()
        .find(|u| u.name == name)
        .context("user just added")?;
    Ok(named.auth_info.get_or_insert_with(AuthInfo::default))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig() -> Kubeconfig {
        Kubeconfig::from_yaml(
            "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: c\n  cluster: {server: 'https://old:6443'}\n- name: d\n  cluster: {server: 'https://other:6443'}\nusers:\n- name: u\n  user: {token: old}\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n",
        )
        .unwrap()
    }

    fn cluster_of(k: &Kubeconfig, name: &str) -> Cluster {
        k.clusters
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .cluster
            .clone()
            .unwrap()
    }

    #[test]
    fn server_and_token_alone_make_a_configuration() {
        let flags = ConnectionArgs {
            server: Some("https://127.0.0.1:6443".into()),
            token: Some("t0ken".into()),
            certificate_authority: Some("/ca.crt".into()),
            ..ConnectionArgs::default()
        };
        let k = flags.apply(None, None).unwrap();
        let cluster = cluster_of(&k, FROM_FLAGS);
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        assert_eq!(cluster.certificate_authority.as_deref(), Some("/ca.crt"));
        let debug = format!("{k:?}");
        assert!(!debug.contains("t0ken"), "the token is not printed");
        assert!(ConnectionArgs::default().apply(None, None).is_err());
    }

    #[test]
    fn flags_override_the_chosen_cluster_and_user() {
        let flags = ConnectionArgs {
            cluster: Some("d".into()),
            server: Some("https://new:6443".into()),
            insecure_skip_tls_verify: Some(true),
            impersonate: Some("jane".into()),
            impersonate_groups: vec!["ops".into(), "dev".into()],
            ..ConnectionArgs::default()
        };
        let k = flags.apply(Some(kubeconfig()), None).unwrap();
        assert_eq!(
            cluster_of(&k, "d").server.as_deref(),
            Some("https://new:6443")
        );
        assert_eq!(
            cluster_of(&k, "c").server.as_deref(),
            Some("https://old:6443")
        );
        assert_eq!(cluster_of(&k, "d").insecure_skip_tls_verify, Some(true));
        let user = k.auth_infos[0].auth_info.clone().unwrap();
        assert_eq!(user.impersonate.as_deref(), Some("jane"));
        assert_eq!(user.impersonate_groups.unwrap(), ["ops", "dev"]);

        let missing = ConnectionArgs {
            user: Some("nobody".into()),
            ..ConnectionArgs::default()
        };
        let err = missing.apply(Some(kubeconfig()), None).unwrap_err();
        assert!(err.to_string().contains("\"nobody\""), "{err}");
    }

    #[test]
    fn flags_the_client_cannot_honour_are_refused_naming_them() {
        for (flags, named) in [
            (
                ConnectionArgs {
                    tls_server_name: Some("api.example".into()),
                    ..ConnectionArgs::default()
                },
                "--tls-server-name",
            ),
            (
                ConnectionArgs {
                    proxy_url: Some("http://proxy:3128".into()),
                    ..ConnectionArgs::default()
                },
                "--proxy-url",
            ),
        ] {
            let err = flags.apply(Some(kubeconfig()), None).unwrap_err();
            assert!(err.to_string().starts_with(named), "{err}");
        }
    }

    #[test]
    fn request_timeout_reads_seconds_and_go_durations() {
        assert_eq!(request_timeout("30"), Ok(Duration::from_secs(30)));
        assert_eq!(request_timeout("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(request_timeout("0"), Ok(Duration::ZERO));
        assert!(request_timeout("soon").is_err());
    }
}
