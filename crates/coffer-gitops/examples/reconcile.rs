//! A small reconciler built on coffer-gitops: reads every manifest file of a
//! directory (`*.yaml`, `*.yml`, `*.json`, in name order), decrypts them in
//! one call (SOPS documents, Secret data holding SOPS documents,
//! SealedSecrets), and server-side applies the result to the cluster of the
//! current kubeconfig.
//!
//! ```text
//! cargo run -p coffer-gitops --example reconcile -- DIR \
//!     [--age-identity FILE]... [--sealing-key FILE]... [--mac verify|warn|skip]
//! ```
//!
//! Keys also come from the SOPS environment (`SOPS_AGE_KEY_FILE`, ...).
//! Nothing is applied unless the whole directory decrypts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use coffer_gitops::{Decryptor, Input, Keyring, MacPolicy, Options};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};

/// The field manager of everything this reconciler applies.
pub const FIELD_MANAGER: &str = "coffer-gitops-example";

/// What one run applied: `Kind namespace/name` per object, in order.
pub type Applied = Vec<String>;

/// The manifest files of `dir`, in name order.
fn manifest_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.retain(|p| {
        p.is_file()
            && p.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
    });
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let bytes =
                std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
            Ok((p.display().to_string(), bytes))
        })
        .collect()
}

/// Decrypts the manifests of `dir` and server-side applies them.
pub async fn reconcile_directory(
    client: kube::Client,
    dir: &Path,
    decryptor: &Decryptor,
) -> Result<Applied> {
    let files = manifest_files(dir)?;
    let decryptor = decryptor.clone();
    // Decryption is CPU-bound and runs its own threads: off the runtime.
    let decrypted = tokio::task::spawn_blocking(move || {
        let inputs: Vec<Input<'_>> = files
            .iter()
            .map(|(name, bytes)| Input { name, bytes })
            .collect();
        decryptor.decrypt_inputs(&inputs)
    })
    .await??;
    for warning in &decrypted.report.warnings {
        eprintln!("warning: {warning}");
    }
    let mut resources: HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)> = HashMap::new();
    let mut applied = Vec::new();
    for doc in &decrypted.documents {
        let object = doc.to_object()?;
        let types = object
            .types
            .as_ref()
            .with_context(|| format!("{}: no apiVersion or kind", doc.object))?;
        let gvk = GroupVersionKind::try_from(types)?;
        if !resources.contains_key(&gvk) {
            let found = kube::discovery::pinned_kind(&client, &gvk)
                .await
                .with_context(|| format!("{}: unknown kind", doc.object))?;
            resources.insert(gvk.clone(), found);
        }
        let (resource, capabilities) = &resources[&gvk];
        let name = object
            .metadata
            .name
            .clone()
            .with_context(|| format!("{}: no name", doc.object))?;
        let api: Api<DynamicObject> = match (&capabilities.scope, &object.metadata.namespace) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, resource),
            (Scope::Namespaced, None) => Api::default_namespaced_with(client.clone(), resource),
            (Scope::Cluster, _) => Api::all_with(client.clone(), resource),
        };
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await
        .with_context(|| format!("{}: apply failed", doc.object))?;
        let at = object
            .metadata
            .namespace
            .map_or(name.clone(), |ns| format!("{ns}/{name}"));
        applied.push(format!("{} {at}", gvk.kind));
    }
    Ok(applied)
}

fn usage() -> ! {
    eprintln!(
        "usage: reconcile DIR [--age-identity FILE]... [--sealing-key FILE]... [--mac verify|warn|skip]"
    );
    std::process::exit(2)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut keyring = Keyring::new();
    let mut options = Options::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--age-identity" => {
                let file = args.next().unwrap_or_else(|| usage());
                keyring.add_age_identity_file(file.as_ref())?;
            }
            "--sealing-key" => {
                let file = args.next().unwrap_or_else(|| usage());
                keyring.add_sealing_key_file(file.as_ref())?;
            }
            "--mac" => {
                options.mac = match args.next().as_deref() {
                    Some("verify") => MacPolicy::Verify,
                    Some("warn") => MacPolicy::Warn,
                    Some("skip") => MacPolicy::Skip,
                    _ => usage(),
                }
            }
            _ if dir.is_none() && !arg.starts_with('-') => dir = Some(PathBuf::from(arg)),
            _ => usage(),
        }
    }
    let Some(dir) = dir else { usage() };
    keyring.add_sops_environment();
    if keyring.is_empty() {
        bail!("no key: give --age-identity, --sealing-key or set SOPS_AGE_KEY_FILE");
    }
    let client = kube::Client::try_default().await?;
    let decryptor = Decryptor::with_options(keyring, options);
    for applied in reconcile_directory(client, &dir, &decryptor).await? {
        eprintln!("applied {applied}");
    }
    Ok(())
}
