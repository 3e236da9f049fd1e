//! Sealing scopes and the RSA-OAEP labels they bind a value to.
//!
//! A sealed value can only be opened with the label it was sealed with, so
//! the label is what pins a value to a namespace and name. Matches Bitnami
//! sealed-secrets (`EncryptionLabel` and `SecretScope` in
//! `pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go`):
//!
//! | scope            | label                  | annotation on the SealedSecret                     |
//! |------------------|------------------------|----------------------------------------------------|
//! | `strict`         | `"<namespace>/<name>"` | none (the default)                                 |
//! | `namespace-wide` | `"<namespace>"`        | `sealedsecrets.bitnami.com/namespace-wide: "true"` |
//! | `cluster-wide`   | `""`                   | `sealedsecrets.bitnami.com/cluster-wide: "true"`   |

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The annotation that makes a SealedSecret namespace-wide when set to `"true"`.
pub const NAMESPACE_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/namespace-wide";

/// The annotation that makes a SealedSecret cluster-wide when set to `"true"`.
pub const CLUSTER_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/cluster-wide";

/// Where a sealed value may be unsealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Scope {
    /// Only as a Secret of this name in this namespace (the default).
    #[default]
    Strict,
    /// As a Secret of any name in this namespace.
    NamespaceWide,
    /// As a Secret of any name in any namespace.
    ClusterWide,
}

impl Scope {
    /// Every scope, strictest first.
    pub const ALL: [Scope; 3] = [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide];

    /// The scope's name as kubeseal's `--scope` flag spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }

    /// The scope that a SealedSecret's annotations declare.
    ///
    /// Matches Bitnami's `SecretScope`: only the exact value `"true"` counts,
    /// and cluster-wide wins when both annotations are set.
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> Scope {
        let is_true = |key: &str| annotations.get(key).is_some_and(|v| v == "true");
        if is_true(CLUSTER_WIDE_ANNOTATION) {
            Scope::ClusterWide
        } else if is_true(NAMESPACE_WIDE_ANNOTATION) {
            Scope::NamespaceWide
        } else {
            Scope::Strict
        }
    }

    /// The annotation that declares this scope (to be set to `"true"`), or
    /// `None` for strict, which is declared by the absence of both.
    pub fn annotation(self) -> Option<&'static str> {
        match self {
            Scope::Strict => None,
            Scope::NamespaceWide => Some(NAMESPACE_WIDE_ANNOTATION),
            Scope::ClusterWide => Some(CLUSTER_WIDE_ANNOTATION),
        }
    }

    /// The RSA-OAEP label for a value of Secret `name` in `namespace`.
    ///
    /// Matches kubeseal: strict is `namespace/name`, namespace-wide is the
    /// namespace, cluster-wide is empty (the other inputs are ignored).
    pub fn label(self, namespace: &str, name: &str) -> String {
        match self {
            Scope::Strict => format!("{namespace}/{name}"),
            Scope::NamespaceWide => namespace.to_owned(),
            Scope::ClusterWide => String::new(),
        }
    }

    /// The scope that produced `label`, for messages: a label with a `/` is
    /// strict, another non-empty label namespace-wide, the empty label
    /// cluster-wide. (Namespace names cannot contain `/`.)
    pub fn of_label(label: &[u8]) -> Scope {
        if label.is_empty() {
            Scope::ClusterWide
        } else if label.contains(&b'/') {
            Scope::Strict
        } else {
            Scope::NamespaceWide
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| Error::InvalidScope(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn labels_match_kubeseal_for_each_scope() {
        assert_eq!(Scope::Strict.label("prod", "db"), "prod/db");
        assert_eq!(Scope::NamespaceWide.label("prod", "db"), "prod");
        assert_eq!(Scope::ClusterWide.label("prod", "db"), "");
    }

    #[test]
    fn scope_names_round_trip_and_unknown_names_are_rejected() {
        for scope in Scope::ALL {
            assert_eq!(scope.to_string().parse::<Scope>().unwrap(), scope);
        }
        let err = "namespace".parse::<Scope>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid scope \"namespace\": must be one of strict, namespace-wide, cluster-wide"
        );
    }

    #[test]
    fn annotations_declare_scope_and_cluster_wide_wins() {
        assert_eq!(Scope::from_annotations(&annotations(&[])), Scope::Strict);
        assert_eq!(
            Scope::from_annotations(&annotations(&[(NAMESPACE_WIDE_ANNOTATION, "true")])),
            Scope::NamespaceWide
        );
        assert_eq!(
            Scope::from_annotations(&annotations(&[(CLUSTER_WIDE_ANNOTATION, "true")])),
            Scope::ClusterWide
        );
        assert_eq!(
            Scope::from_annotations(&annotations(&[
                (NAMESPACE_WIDE_ANNOTATION, "true"),
                (CLUSTER_WIDE_ANNOTATION, "true"),
            ])),
            Scope::ClusterWide
        );
    }

    #[test]
    fn only_the_exact_value_true_sets_a_scope() {
        for value in ["True", "yes", "1", ""] {
            assert_eq!(
                Scope::from_annotations(&annotations(&[(CLUSTER_WIDE_ANNOTATION, value)])),
                Scope::Strict,
                "value {value:?}"
            );
        }
    }

    #[test]
    fn scope_of_label_inverts_label() {
        for scope in Scope::ALL {
            assert_eq!(Scope::of_label(scope.label("ns", "name").as_bytes()), scope);
        }
    }

    #[test]
    fn annotation_names_the_scope_it_declares() {
        for scope in Scope::ALL {
            let anns = match scope.annotation() {
                Some(key) => annotations(&[(key, "true")]),
                None => annotations(&[]),
            };
            assert_eq!(Scope::from_annotations(&anns), scope);
        }
    }
}
