//! Which name, namespace and scope a Secret is sealed for: kubeseal's rules
//! (its `Seal`), decided here once. [`seal_secret`](crate::seal_secret)
//! follows the scope rule; `coffer seal` gathers its flags into a
//! [`Placement`] and calls [`place`] before sealing.
//!
//! The scope rule ([`sealing_scope`]): an explicit namespace-wide or
//! cluster-wide scope replaces the Secret's own scope annotations; an
//! explicit strict scope does not, since strict is kubeseal's default and
//! kubeseal cannot tell it from no flag at all. So a Secret annotated
//! cluster-wide stays cluster-wide under `--scope strict`, as with kubeseal.

use std::collections::BTreeMap;

use coffer_crypto::Scope;
use k8s_openapi::api::core::v1::Secret;

use crate::error::{Error, Result};
use crate::meta::set_scope_annotations;

/// What a sealer was told besides the Secret (kubeseal's flags).
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// `--scope`, when given (see the scope rule in the module header).
    pub scope: Option<Scope>,
    /// `--allow-empty-data`: seal a Secret without data. Without it, an
    /// empty Secret is refused as most likely a mistake (kubeseal does).
    pub allow_empty_data: bool,
    /// `--name`: replaces the Secret's name when not empty.
    pub name: Option<String>,
    /// Replaces the Secret's namespace (the target's, when merging into an
    /// existing SealedSecret).
    pub namespace_override: Option<String>,
    /// `-n/--namespace` given explicitly: a Secret that names another
    /// namespace is refused rather than sealed for the wrong one.
    pub explicit_namespace: Option<String>,
}

/// The scope a Secret is sealed with: `requested` when it is namespace- or
/// cluster-wide, otherwise the scope the Secret's `annotations` declare.
pub fn sealing_scope(
    requested: Option<Scope>,
    annotations: Option<&BTreeMap<String, String>>,
) -> Scope {
    match requested {
        Some(scope) if scope != Scope::Strict => scope,
        _ => annotations.map_or(Scope::Strict, Scope::from_annotations),
    }
}

/// Writes the scope rule's outcome onto the Secret's own annotations, as
/// kubeseal does before sealing (so it reaches the template too): only an
/// explicit namespace- or cluster-wide scope changes them.
pub(crate) fn apply_requested_scope(
    annotations: &mut Option<BTreeMap<String, String>>,
    requested: Option<Scope>,
) {
    if let Some(scope) = requested.filter(|s| *s != Scope::Strict) {
        set_scope_annotations(annotations.get_or_insert_default(), scope);
    }
}

/// Applies `placement` to `secret` in kubeseal's order: refuse an empty
/// Secret, override the name (a name is required) and the namespace, write
/// the scope onto its annotations; then a Secret whose scope needs a
/// namespace and that names none gets `default_namespace()` (asked only
/// then: the kubeconfig is read only when needed), and one that names
/// another namespace than an explicit `-n` is refused. Returns the scope
/// the Secret is now sealed with by [`seal_secret`](crate::seal_secret).
pub fn place(
    secret: &mut Secret,
    placement: &Placement,
    default_namespace: impl FnOnce() -> std::result::Result<String, String>,
) -> Result<Scope> {
    let has_data = secret.data.as_ref().is_some_and(|d| !d.is_empty())
        || secret.string_data.as_ref().is_some_and(|d| !d.is_empty());
    if !has_data && !placement.allow_empty_data {
        return Err(Error::EmptySecret);
    }
    if let Some(name) = placement.name.as_ref().filter(|n| !n.is_empty()) {
        secret.metadata.name = Some(name.clone());
    }
    let name = secret
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or(Error::SecretWithoutName)?;
    if let Some(ns) = &placement.namespace_override {
        secret.metadata.namespace = Some(ns.clone());
    }
    apply_requested_scope(&mut secret.metadata.annotations, placement.scope);
    let scope = sealing_scope(None, secret.metadata.annotations.as_ref());
    if scope == Scope::ClusterWide {
        return Ok(scope);
    }
    match secret.metadata.namespace.clone().filter(|n| !n.is_empty()) {
        // NB: the default namespace is not looked up for a Secret that
        // names its own; only an explicit -n can contradict it.
        Some(own) => {
            if let Some(given) = placement.explicit_namespace.as_ref().filter(|g| **g != own) {
                return Err(Error::NamespaceMismatch {
                    name,
                    own,
                    given: given.clone(),
                });
            }
        }
        None => {
            let ns = default_namespace().map_err(|reason| Error::DefaultNamespace { reason })?;
            if ns.is_empty() {
                return Err(Error::SecretWithoutNamespace { name, scope });
            }
            secret.metadata.namespace = Some(ns);
        }
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn secret(namespace: Option<&str>, scope_annotation: Option<&str>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("db".into()),
                namespace: namespace.map(str::to_owned),
                annotations: scope_annotation
                    .map(|a| BTreeMap::from([(a.to_owned(), "true".to_owned())])),
                ..ObjectMeta::default()
            },
            string_data: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
            ..Secret::default()
        }
    }

    fn unused() -> std::result::Result<String, String> {
        panic!("the default namespace must not be looked up")
    }

    #[test]
    fn explicit_strict_leaves_the_secrets_own_scope_as_kubeseal_does() {
        let cw = Some(coffer_crypto::CLUSTER_WIDE_ANNOTATION);
        let nw = Some(coffer_crypto::NAMESPACE_WIDE_ANNOTATION);
        let cases = [
            (None, None, Scope::Strict),
            (Some(Scope::Strict), None, Scope::Strict),
            (Some(Scope::Strict), cw, Scope::ClusterWide),
            (None, nw, Scope::NamespaceWide),
            (Some(Scope::NamespaceWide), cw, Scope::NamespaceWide),
            (Some(Scope::ClusterWide), nw, Scope::ClusterWide),
        ];
        for (requested, annotation, want) in cases {
            let mut s = secret(Some("prod"), annotation);
            let placement = Placement {
                scope: requested,
                ..Placement::default()
            };
            let got = place(&mut s, &placement, unused).unwrap();
            assert_eq!(got, want, "{requested:?} on {annotation:?}");
            let annotations = s.metadata.annotations.as_ref();
            assert_eq!(
                sealing_scope(None, annotations),
                want,
                "written onto the Secret"
            );
        }
    }

    #[test]
    fn namespace_comes_from_the_secret_the_override_or_the_default() {
        let mut s = secret(None, None);
        place(&mut s, &Placement::default(), || Ok("team".into())).unwrap();
        assert_eq!(s.metadata.namespace.as_deref(), Some("team"));

        let mut s = secret(Some("prod"), None);
        let merge = Placement {
            namespace_override: Some("target".into()),
            ..Placement::default()
        };
        place(&mut s, &merge, unused).unwrap();
        assert_eq!(s.metadata.namespace.as_deref(), Some("target"));

        let mut s = secret(None, Some(coffer_crypto::CLUSTER_WIDE_ANNOTATION));
        place(&mut s, &Placement::default(), unused).unwrap();
        assert_eq!(s.metadata.namespace, None, "cluster-wide needs none");
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let explicit = Placement {
            explicit_namespace: Some("other".into()),
            ..Placement::default()
        };
        let err = place(&mut secret(Some("prod"), None), &explicit, unused).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("namespace mismatch")
                && text.contains("\"prod\"")
                && text.contains("\"other\""),
            "{text}"
        );

        let err = place(&mut secret(None, None), &Placement::default(), || {
            Ok(String::new())
        })
        .unwrap_err();
        assert!(matches!(err, Error::SecretWithoutNamespace { .. }), "{err}");
        let err = place(&mut secret(None, None), &Placement::default(), || {
            Err("no kubeconfig".into())
        })
        .unwrap_err();
        assert!(err.to_string().contains("no kubeconfig"), "{err}");

        let mut empty = secret(Some("prod"), None);
        empty.string_data = None;
        let err = place(&mut empty.clone(), &Placement::default(), unused).unwrap_err();
        assert!(err.to_string().contains("--allow-empty-data"), "{err}");
        let allowed = Placement {
            allow_empty_data: true,
            ..Placement::default()
        };
        place(&mut empty, &allowed, unused).expect("allowed");

        let mut unnamed = secret(Some("prod"), None);
        unnamed.metadata.name = None;
        let err = place(&mut unnamed.clone(), &Placement::default(), unused).unwrap_err();
        assert!(matches!(err, Error::SecretWithoutName), "{err}");
        let named = Placement {
            name: Some("db2".into()),
            ..Placement::default()
        };
        place(&mut unnamed, &named, unused).unwrap();
        assert_eq!(unnamed.metadata.name.as_deref(), Some("db2"));
    }
}
