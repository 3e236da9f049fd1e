//! Label selectors evaluated locally (ClusterSecretStore `conditions`,
//! ClusterExternalSecret `namespaceSelectors`), with Kubernetes' semantics.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` satisfy `selector`: every `matchLabels` pair and every
/// `matchExpressions` requirement (`In`, `NotIn`, `Exists`, `DoesNotExist`).
/// An empty selector matches everything; an unknown operator matches
/// nothing.
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let pairs = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions = selector.match_expressions.iter().flatten().all(|req| {
        let value = labels.get(&req.key);
        let values = req.values.as_deref().unwrap_or_default();
        match req.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    pairs && expressions
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn selectors_follow_kubernetes_semantics() {
        let team_a = labels(&[("team", "a"), ("env", "prod")]);
        let by_label = LabelSelector {
            match_labels: Some(labels(&[("team", "a")])),
            ..Default::default()
        };
        assert!(matches(&by_label, &team_a));
        assert!(!matches(&by_label, &labels(&[("team", "b")])));
        let not_in = LabelSelector {
            match_expressions: Some(vec![expr("env", "NotIn", &["dev"])]),
            ..Default::default()
        };
        assert!(matches(&not_in, &team_a));
        assert!(matches(&not_in, &labels(&[])));
        let exists = LabelSelector {
            match_expressions: Some(vec![
                expr("team", "Exists", &[]),
                expr("env", "In", &["prod"]),
            ]),
            ..Default::default()
        };
        assert!(matches(&exists, &team_a));
        assert!(!matches(&exists, &labels(&[("team", "a")])));
        assert!(matches(&LabelSelector::default(), &labels(&[])));
    }
}
