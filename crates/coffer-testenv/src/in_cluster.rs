//! Runs a program as if in a Pod. Kubernetes clients that read only
//! in-cluster configuration (Bitnami's controller, External Secrets
//! Operator) look for `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`
//! and, under `/var/run/secrets/kubernetes.io/serviceaccount`, a
//! ServiceAccount token, the API server's CA and the namespace.
//!
//! The files are put there in a private mount namespace (`unshare
//! --mount`, then a tmpfs over `/var/run` holding only them), so nothing on
//! the machine changes and no other process sees them. That needs the
//! right to mount (root, as CI runs); without it the program fails to
//! start and its log says why.

use std::path::{Path, PathBuf};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::Kubeconfig;

use crate::Error;

/// Where a Pod's service-account files are.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Longest life the test's token asks for.
const TOKEN_SECONDS: i64 = 3600;

/// A ServiceAccount's in-cluster configuration: the three files a Pod gets
/// and the API server's address.
#[derive(Debug)]
pub struct InCluster {
    dir: PathBuf,
    host: String,
    port: String,
    server: String,
    username: String,
}

impl InCluster {
    /// Creates ServiceAccount `name` in `namespace`, bound to ClusterRole
    /// `cluster_role` by a ClusterRoleBinding the namespace owns (so the
    /// garbage collector removes it with the namespace), requests a token
    /// for it and writes the Pod's files into a new directory under
    /// `parent`. The API server's address and CA come from `kubeconfig`.
    pub async fn service_account(
        client: &kube::Client,
        kubeconfig: &Path,
        parent: &Path,
        namespace: &str,
        name: &str,
        cluster_role: &str,
    ) -> Result<Self, Error> {
        let kube = |what: String| move |source| Error::Kube { what, source };
        let pp = PostParams::default();
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        accounts
            .create(&pp, &account)
            .await
            .map_err(kube(format!("create ServiceAccount {namespace}/{name}")))?;

        let owner = Api::<Namespace>::all(client.clone())
            .get(namespace)
            .await
            .map_err(kube(format!("read Namespace {namespace}")))?;
        let binding_name = format!("{namespace}-{name}");
        let binding = ClusterRoleBinding {
            metadata: ObjectMeta {
                name: Some(binding_name.clone()),
                owner_references: Some(vec![OwnerReference {
                    api_version: "v1".to_owned(),
                    kind: "Namespace".to_owned(),
                    name: namespace.to_owned(),
                    uid: owner.metadata.uid.unwrap_or_default(),
                    ..OwnerReference::default()
                }]),
                ..ObjectMeta::default()
            },
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".to_owned()),
                kind: "ClusterRole".to_owned(),
                name: cluster_role.to_owned(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".to_owned(),
                name: name.to_owned(),
                namespace: Some(namespace.to_owned()),
                ..Subject::default()
            }]),
        };
        Api::<ClusterRoleBinding>::all(client.clone())
            .create(&pp, &binding)
            .await
            .map_err(kube(format!("create ClusterRoleBinding {binding_name}")))?;

        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(TOKEN_SECONDS),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let answer: TokenRequest = accounts
            .create_subresource("token", name, &pp, &request)
            .await
            .map_err(kube(format!("request a token for {namespace}/{name}")))?;
        let token = answer.status.and_then(|s| s.token).unwrap_or_default();

        let (server, ca) = server_and_ca(kubeconfig)?;
        let authority = server
            .strip_prefix("https://")
            .unwrap_or(&server)
            .trim_end_matches('/');
        let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "443"));
        let dir = parent.join(format!("in-cluster-{namespace}-{name}"));
        let write = |file: &str, bytes: &[u8]| {
            let path = dir.join(file);
            std::fs::write(&path, bytes).map_err(|source| Error::Io { what: path, source })
        };
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            what: dir.clone(),
            source,
        })?;
        write("token", token.as_bytes())?;
        write("ca.crt", &ca)?;
        write("namespace", namespace.as_bytes())?;
        Ok(InCluster {
            server: server.clone(),
            username: username(namespace, name),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: port.to_owned(),
            dir,
        })
    }

    /// The user the API server knows this ServiceAccount as (what its
    /// audit log names, [`crate::Options::audited_users`]).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Writes a kubeconfig for this ServiceAccount (its token, the API
    /// server and its CA) into the files' directory and returns its path:
    /// for a program run out of cluster as this account.
    pub fn kubeconfig(&self) -> Result<PathBuf, Error> {
        let read = |file: &str| {
            let path = self.dir.join(file);
            std::fs::read_to_string(&path).map_err(|source| Error::Io { what: path, source })
        };
        let kubeconfig = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "in-cluster", "cluster": {
                "server": self.server,
                "certificate-authority": self.dir.join("ca.crt"),
            }}],
            "users": [{"name": self.username, "user": {"token": read("token")?}}],
            "contexts": [{"name": "in-cluster", "context": {
                "cluster": "in-cluster", "user": self.username, "namespace": read("namespace")?,
            }}],
            "current-context": "in-cluster",
        });
        let path = self.dir.join("kubeconfig");
        // JSON is valid YAML, and every client reads it as a kubeconfig.
        std::fs::write(&path, kubeconfig.to_string()).map_err(|source| Error::Io {
            what: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// A command that runs `program` with this in-cluster configuration
    /// and nothing else: no kubeconfig (`KUBECONFIG` removed, `HOME` an
    /// empty directory). Add its arguments to the command.
    pub fn command(&self, program: &Path) -> tokio::process::Command {
        // NB: $0 is the files' directory; "$@" the program and arguments.
        let script = format!(
            "set -e; mount -t tmpfs -o mode=0755 coffer-in-cluster /var/run; \
             mkdir -p {SERVICE_ACCOUNT_DIR}; \
             cp \"$0/token\" \"$0/ca.crt\" \"$0/namespace\" {SERVICE_ACCOUNT_DIR}/; \
             exec \"$@\""
        );
        let home = self.dir.join("home");
        let _ = std::fs::create_dir_all(&home);
        let mut command = tokio::process::Command::new("unshare");
        command
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .arg(&self.dir)
            .arg(program)
            .env_remove("KUBECONFIG")
            .env("HOME", home)
            .env("KUBERNETES_SERVICE_HOST", &self.host)
            .env("KUBERNETES_SERVICE_PORT", &self.port);
        command
    }
}

/// The name the API server gives ServiceAccount `namespace/name`.
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// The current context's server URL and CA certificate (PEM).
fn server_and_ca(kubeconfig: &Path) -> Result<(String, Vec<u8>), Error> {
    let wrap = |source: Box<dyn std::error::Error + Send + Sync>| Error::Kubeconfig {
        path: kubeconfig.to_path_buf(),
        source,
    };
    let config = Kubeconfig::read_from(kubeconfig).map_err(|e| wrap(Box::new(e)))?;
    let context = config
        .contexts
        .iter()
        .find(|c| Some(&c.name) == config.current_context.as_ref())
        .and_then(|c| c.context.as_ref())
        .ok_or_else(|| wrap("no current context".into()))?;
    let cluster = config
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
        .ok_or_else(|| wrap(format!("no cluster {}", context.cluster).into()))?;
    let server = cluster
        .server
        .clone()
        .ok_or_else(|| wrap("the cluster has no server".into()))?;
    let ca = if let Some(path) = &cluster.certificate_authority {
        std::fs::read(path).map_err(|source| Error::Io {
            what: PathBuf::from(path),
            source,
        })?
    } else if let Some(data) = &cluster.certificate_authority_data {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| wrap(Box::new(e)))?
    } else {
        return Err(wrap("the cluster has no certificate authority".into()));
    };
    Ok((server, ca))
}
