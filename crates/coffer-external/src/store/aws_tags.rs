//! The STS session tags a store's `role` is assumed with, as ESO makes
//! them (`providers/v1/aws/provider.go`): `sessionTags` as written, or,
//! under `sessionTagsPolicy: Simple`, the tags naming who reads
//! (`esoNamespace`, `esoStoreName`, `esoStoreKind`), plus
//! `customSessionTags` under `Custom` (the three win over a custom tag of
//! the same key). The policy's tags replace `sessionTags`, as in ESO.
//!
//! Bounded as STS bounds them (at most 50 tags, keys of 1 to 128
//! characters, values of at most 256, no key twice), so a store that STS
//! would refuse is refused here first, naming the field.

use coffer_api::external::{AwsProvider, SessionTagsPolicy};

/// STS's limit on session tags per request.
const MAX_TAGS: usize = 50;
const MAX_KEY: usize = 128;
const MAX_VALUE: usize = 256;

/// Who reads through the store: what the policy's tags say.
pub(super) struct Reader<'a> {
    /// The ExternalSecret's namespace.
    pub namespace: &'a str,
    /// The store's name.
    pub store: &'a str,
    /// `SecretStore` or `ClusterSecretStore`.
    pub kind: &'a str,
}

/// The session tags, in a stable order, and whether they depend on the
/// reader's namespace (the session is then that namespace's alone).
pub(super) fn session_tags(
    aws: &AwsProvider,
    reader: &Reader<'_>,
) -> Result<(Vec<(String, String)>, bool), String> {
    let policy = aws.session_tags_policy.unwrap_or_default();
    let (tags, per_namespace, field) = match policy {
        SessionTagsPolicy::None => (
            aws.session_tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect::<Vec<_>>(),
            false,
            "sessionTags",
        ),
        SessionTagsPolicy::Simple | SessionTagsPolicy::Custom => {
            let mut tags: std::collections::BTreeMap<String, String> =
                if policy == SessionTagsPolicy::Custom {
                    aws.custom_session_tags
                        .iter()
                        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                } else {
                    Default::default()
                };
            tags.insert("esoNamespace".into(), reader.namespace.into());
            tags.insert("esoStoreName".into(), reader.store.into());
            tags.insert("esoStoreKind".into(), reader.kind.into());
            (tags.into_iter().collect(), true, "customSessionTags")
        }
    };
    if tags.len() > MAX_TAGS {
        return Err(format!(
            "{field}: {} session tags, STS takes at most {MAX_TAGS}",
            tags.len()
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (key, value) in &tags {
        if key.is_empty() || key.chars().count() > MAX_KEY {
            return Err(format!(
                "{field}: tag key {key:?} must be 1 to {MAX_KEY} characters"
            ));
        }
        if value.chars().count() > MAX_VALUE {
            return Err(format!(
                "{field}: the value of tag {key:?} is longer than {MAX_VALUE} characters"
            ));
        }
        if !seen.insert(key.to_ascii_lowercase()) {
            return Err(format!("{field}: tag key {key:?} is given twice"));
        }
    }
    if let Some(key) = aws
        .transitive_tag_keys
        .iter()
        .find(|k| !tags.iter().any(|(t, _)| t.eq_ignore_ascii_case(k)))
    {
        return Err(format!(
            "transitiveTagKeys: {key:?} is not one of the session tags"
        ));
    }
    Ok((tags, per_namespace))
}

#[cfg(test)]
mod tests {
    use coffer_api::external::AwsTag;

    use super::*;

    fn reader() -> Reader<'static> {
        Reader {
            namespace: "team-a",
            store: "aws",
            kind: "ClusterSecretStore",
        }
    }

    fn tag(key: &str, value: &str) -> AwsTag {
        AwsTag {
            key: key.into(),
            value: value.into(),
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn without_a_policy_the_store_s_tags_are_sent_as_written() {
        let aws = AwsProvider {
            session_tags: vec![tag("team", "payments"), tag("env", "prod")],
            transitive_tag_keys: vec!["team".into()],
            ..AwsProvider::default()
        };
        let (tags, per_namespace) = session_tags(&aws, &reader()).unwrap();
        assert_eq!(tags, pairs(&[("team", "payments"), ("env", "prod")]));
        assert!(!per_namespace);
    }

    #[test]
    fn simple_names_the_reader_and_replaces_the_written_tags() {
        let aws = AwsProvider {
            session_tags: vec![tag("team", "payments")],
            session_tags_policy: Some(SessionTagsPolicy::Simple),
            ..AwsProvider::default()
        };
        let (tags, per_namespace) = session_tags(&aws, &reader()).unwrap();
        assert_eq!(
            tags,
            pairs(&[
                ("esoNamespace", "team-a"),
                ("esoStoreKind", "ClusterSecretStore"),
                ("esoStoreName", "aws"),
            ])
        );
        assert!(per_namespace);
    }

    #[test]
    fn custom_adds_its_tags_but_cannot_forge_the_reader_s() {
        let aws = AwsProvider {
            session_tags_policy: Some(SessionTagsPolicy::Custom),
            custom_session_tags: [
                ("cost-center", "42"),
                ("esoNamespace", "someone-else"),
                ("empty", ""),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..AwsProvider::default()
        };
        let (tags, _) = session_tags(&aws, &reader()).unwrap();
        assert_eq!(
            tags,
            pairs(&[
                ("cost-center", "42"),
                ("esoNamespace", "team-a"),
                ("esoStoreKind", "ClusterSecretStore"),
                ("esoStoreName", "aws"),
            ])
        );
    }

    #[test]
    fn what_sts_would_refuse_is_refused_naming_the_field() {
        let cases = [
            (
                AwsProvider {
                    session_tags: (0..51).map(|i| tag(&format!("k{i}"), "v")).collect(),
                    ..AwsProvider::default()
                },
                "sessionTags: 51 session tags",
            ),
            (
                AwsProvider {
                    session_tags: vec![tag("", "v")],
                    ..AwsProvider::default()
                },
                "sessionTags: tag key \"\"",
            ),
            (
                AwsProvider {
                    session_tags: vec![tag("k", &"v".repeat(257))],
                    ..AwsProvider::default()
                },
                "longer than 256",
            ),
            (
                AwsProvider {
                    session_tags: vec![tag("Team", "a"), tag("team", "b")],
                    ..AwsProvider::default()
                },
                "given twice",
            ),
            (
                AwsProvider {
                    session_tags: vec![tag("team", "a")],
                    transitive_tag_keys: vec!["env".into()],
                    ..AwsProvider::default()
                },
                "transitiveTagKeys: \"env\"",
            ),
        ];
        for (aws, expected) in cases {
            let error = session_tags(&aws, &reader()).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}
