//! Sealing: Secrets into SealedSecrets (the default mode), one raw value
//! (`--raw`), and new values merged into an existing SealedSecret file
//! (`--merge-into`). kubeseal's rules for name, namespace and scope are
//! `coffer_sealed::place` and the conversion is `coffer_sealed::seal_secret`,
//! the functions the rest of Coffer uses; this module gathers the flags for
//! them (matches kubeseal's `Seal`, `EncryptSecretItem` and
//! `SealMergingInto`).

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use coffer_api::SealedSecret;
use coffer_crypto::{PublicKey, Scope};
use coffer_sealed::Placement;
use k8s_openapi::api::core::v1::Secret;
use zeroize::Zeroizing;

use super::cluster::Namespace;

/// How Secrets are sealed, from the flags.
pub struct SealOptions<'a> {
    /// `--scope`, `--allow-empty-data`, `--name`, `-n`: kubeseal's rules
    /// for them are `coffer_sealed::place`'s.
    pub placement: Placement,
    /// Resolves `-n`/kubeconfig, only when a Secret needs it (called from
    /// several threads; [`memoized_namespace`] reads the kubeconfig once).
    pub namespace: &'a (dyn Fn() -> Result<Namespace> + Sync),
}

/// Seals one Secret as kubeseal would with these flags. `at` names the
/// document for errors ("document 2 of secret.yaml").
pub fn seal_one(
    mut secret: Secret,
    cert: &PublicKey,
    opts: &SealOptions<'_>,
    at: &str,
) -> Result<SealedSecret> {
    let default_namespace = || {
        (opts.namespace)()
            .map(|ns| ns.name)
            .map_err(|e| format!("{e:#}"))
    };
    coffer_sealed::place(&mut secret, &opts.placement, default_namespace)
        .with_context(|| at.to_owned())?;
    coffer_sealed::seal_secret(&secret, cert, opts.placement.scope).with_context(|| at.to_owned())
}

/// Seals every Secret parsed from `source`, on every core (see
/// [`super::parallel`]); the first failing document, in input order, is
/// the one reported.
pub fn seal_all(
    secrets: Vec<Secret>,
    cert: &PublicKey,
    opts: &SealOptions<'_>,
    source: &str,
) -> Result<Vec<SealedSecret>> {
    if secrets.is_empty() {
        // Matches kubeseal's "no secrets found".
        bail!("no Secret found in {source}; the input must be a Secret in JSON or YAML");
    }
    super::parallel::map(secrets, |i, secret| {
        seal_one(
            secret,
            cert,
            opts,
            &format!("document {} of {source}", i + 1),
        )
    })
}

/// `resolve` (the namespace from `-n` or the kubeconfig) run at most once,
/// however many Secrets ask: the kubeconfig is read once per command, as
/// kubeseal does, not once per document.
pub fn memoized_namespace(
    resolve: impl Fn() -> Result<Namespace> + Sync,
) -> impl Fn() -> Result<Namespace> + Sync {
    let once = std::sync::OnceLock::new();
    move || {
        once.get_or_init(|| resolve().map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(anyhow::Error::msg)
    }
}

/// `--raw`: seals one value and returns its base64 (matches kubeseal's
/// `EncryptSecretItem`: name and namespace are needed as the scope needs
/// them, and only the label matters).
pub fn seal_raw(
    value: &[u8],
    cert: &PublicKey,
    scope: Scope,
    namespace: &Namespace,
    name: Option<&str>,
) -> Result<String> {
    let name = name.unwrap_or_default();
    if scope != Scope::ClusterWide && namespace.name.is_empty() {
        bail!("--raw with --scope {scope} needs --namespace");
    }
    if scope == Scope::Strict && name.is_empty() {
        bail!("--raw with --scope strict needs --name");
    }
    let label = scope.label(&namespace.name, name);
    Ok(coffer_crypto::seal_base64(cert, label.as_bytes(), value)?)
}

/// `--from-file [key=]path` for `--raw`: the one value to seal.
pub fn read_raw_value(from_file: &[String]) -> Result<Zeroizing<Vec<u8>>> {
    match from_file {
        [] => Ok(Zeroizing::new(crate::files::read_input(None)?)),
        [one] => {
            // Matches kubectl's --from-file syntax: an optional `key=` prefix.
            let path = one.split_once('=').map_or(one.as_str(), |(_, p)| p);
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read --from-file {path}"))?;
            Ok(Zeroizing::new(bytes))
        }
        _ => bail!("--raw seals one value: give only one --from-file"),
    }
}

/// `--merge-into`: seals `secrets` with the target's name and namespace and
/// adds (or replaces) their keys, template labels, annotations and data in
/// the SealedSecret of `target`. Returns the merged object.
///
/// NB: kubeseal seals the new values with `--scope` (default strict) even
/// when the target declares another scope, producing values its controller
/// cannot open; here the target's scope is used, and a `--scope` that
/// contradicts it is an error.
pub fn merge_into(
    target: &SealedSecret,
    target_name: &Path,
    secrets: Vec<Secret>,
    cert: &PublicKey,
    opts: &SealOptions<'_>,
    source: &str,
) -> Result<SealedSecret> {
    let target_scope = coffer_sealed::sealed_scope(target);
    if let Some(scope) = opts.placement.scope.filter(|s| *s != target_scope) {
        bail!(
            "--scope {scope} contradicts {}, which is sealed {target_scope}",
            target_name.display()
        );
    }
    let name = target
        .metadata
        .name
        .clone()
        .ok_or_else(|| anyhow!("{} has no metadata.name", target_name.display()))?;
    let merge_opts = SealOptions {
        placement: Placement {
            scope: Some(target_scope),
            name: Some(name),
            namespace_override: target.metadata.namespace.clone(),
            ..opts.placement.clone()
        },
        namespace: opts.namespace,
    };
    let mut merged = target.clone();
    for update in seal_all(secrets, cert, &merge_opts, source)? {
        merged
            .spec
            .encrypted_data
            .extend(update.spec.encrypted_data);
        let Some(new_template) = update.spec.template else {
            continue;
        };
        let template = merged.spec.template.get_or_insert_default();
        if let Some(new_meta) = new_template.metadata {
            let meta = template.metadata.get_or_insert_default();
            for (from, to) in [
                (new_meta.labels, &mut meta.labels),
                (new_meta.annotations, &mut meta.annotations),
            ] {
                if let Some(from) = from.filter(|m| !m.is_empty()) {
                    to.get_or_insert_default().extend(from);
                }
            }
        }
        if let Some(data) = new_template.data.filter(|d| !d.is_empty()) {
            template.data.get_or_insert_default().extend(data);
        }
    }
    Ok(merged)
}
