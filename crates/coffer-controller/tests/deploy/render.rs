//! The manifests as users get them: rendered by the real `kustomize build`
//! and `helm template` (built from the versions pinned in
//! tests/reference-tools), never by string substitution in the tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::deploy_dir;

/// The kustomizations under deploy/kustomize: both controllers (the base)
/// and each alone.
pub(crate) const OVERLAYS: &[&str] = &[
    "base",
    "overlays/sealed-secrets",
    "overlays/external-secrets",
];

/// `helm template` runs, each a name and its `--set-json` values, covering
/// the chart's defaults and every option values.yaml documents.
pub(crate) const HELM_OPTIONS: &[(&str, &[&str])] = &[
    ("defaults", &[]),
    ("sealed-secrets only", &["externalSecrets.enabled=false"]),
    ("external-secrets only", &["sealedSecrets.enabled=false"]),
    (
        "optional objects off",
        &[
            "networkPolicy.enabled=false",
            "podDisruptionBudget.enabled=false",
            "keySecretsPolicy.enabled=false",
            "serviceProxier.enabled=false",
        ],
    ),
    (
        "one replica without leader election",
        &["replicas=1", "leaderElection.enabled=false"],
    ),
    (
        "every value set",
        &[
            r#"image={"repository":"registry.example/coffer","tag":"1.2.3","pullPolicy":"Always"}"#,
            r#"leaderElection={"enabled":true,"leaseName":"coffer-lease","leaseDuration":"20s","renewGrace":"7s","shards":3}"#,
            r#"service={"name":"coffer","port":9090}"#,
            r#"metrics={"port":9091}"#,
            r#"controller={"keyPrefix":"coffer-key","keySize":2048,"keyRenewPeriod":"720h","keyCutoffTime":"Mon, 02 Jan 2006 15:04:05 -0700","namespaces":["team-a","team-b"],"labelSelector":"team=payments","rateLimit":"5","rateLimitBurst":"3","logFormat":"text"}"#,
            r#"resources={"requests":{"cpu":"100m","memory":"256Mi"},"limits":{"memory":"1Gi"}}"#,
            "podDisruptionBudget.minAvailable=\"50%\"",
            r#"networkPolicy={"enabled":true,"metricsFrom":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}],"apiServerPorts":[443],"providerPorts":[443,8200,8443]}"#,
            r#"serviceMonitor={"enabled":true,"interval":"1m","labels":{"release":"prometheus"}}"#,
        ],
    ),
];

/// The reference tool `name` (`COFFER_REFERENCE_TOOLS_DIR`, else what
/// `tests/setup.sh reference-tools` builds or finds cached).
pub(crate) fn tool(name: &str) -> PathBuf {
    coffer_testenv::reference_tool(name)
}

/// Runs a reference tool; its stdout, or its stderr as the error.
pub(crate) fn run(name: &str, args: &[&str], dir: &Path) -> Result<String, String> {
    let out = Command::new(tool(name))
        .args(args)
        .current_dir(dir)
        // helm keeps no state of ours: caches, config and plugins in a
        // scratch place, never the user's.
        .env(
            "HELM_CACHE_HOME",
            std::env::temp_dir().join("coffer-helm/cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("coffer-helm/config"),
        )
        .env(
            "HELM_DATA_HOME",
            std::env::temp_dir().join("coffer-helm/data"),
        )
        .output()
        .unwrap_or_else(|e| panic!("run {name}: {e}"));
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stderr}{stdout}"))
    }
}

/// Every document of a multi-document YAML stream.
pub(crate) fn parse(what: &str, text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_else(|e| panic!("{what}: the output is not YAML: {e}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// `kustomize build deploy/kustomize/<overlay>`.
pub(crate) fn kustomize(overlay: &str) -> Vec<Value> {
    let dir = deploy_dir().join("kustomize");
    let out = run("kustomize", &["build", overlay], &dir)
        .unwrap_or_else(|e| panic!("kustomize build {overlay}: {e}"));
    parse(&format!("kustomize build {overlay}"), &out)
}

/// `helm template` of the chart into kube-system, CRDs included, with
/// `--set-json` values.
pub(crate) fn helm(values: &[&str]) -> Result<Vec<Value>, String> {
    let mut args = vec![
        "template",
        "coffer",
        "helm/coffer",
        "--namespace",
        "kube-system",
        "--include-crds",
    ];
    for v in values {
        args.extend(["--set-json", v]);
    }
    let out = run("helm", &args, &deploy_dir())?;
    Ok(parse(&format!("helm template {values:?}"), &out))
}

/// One rendering of the manifests, named for messages.
pub(crate) struct Rendering {
    pub name: String,
    pub docs: Vec<Value>,
}

/// Every kustomization and every `helm template` run in [`HELM_OPTIONS`],
/// rendered once per test binary.
pub(crate) fn all() -> &'static [Rendering] {
    static ALL: OnceLock<Vec<Rendering>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut out: Vec<Rendering> = OVERLAYS
            .iter()
            .map(|o| Rendering {
                name: format!("kustomize build {o}"),
                docs: kustomize(o),
            })
            .collect();
        for (name, values) in HELM_OPTIONS {
            out.push(Rendering {
                name: format!("helm template ({name})"),
                docs: helm(values).unwrap_or_else(|e| panic!("helm template ({name}): {e}")),
            });
        }
        out
    })
}

/// The rendering called `name` (as [`all`] names them).
pub(crate) fn named(name: &str) -> &'static Rendering {
    all()
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no rendering {name:?}"))
}
