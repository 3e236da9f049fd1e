//! A value opens only where its scope allows: the label binds it to a
//! namespace and name (strict), a namespace (namespace-wide) or nothing
//! (cluster-wide), and every other label is refused with a clear error.

mod common;

use std::collections::BTreeMap;

use coffer_crypto::{
    CLUSTER_WIDE_ANNOTATION, Error, NAMESPACE_WIDE_ANNOTATION, Scope, seal, unseal,
};
use common::key_2048;

/// (scope, namespace, name) where a SealedSecret may live.
type Place = (Scope, &'static str, &'static str);

const PLACES: [Place; 9] = [
    (Scope::Strict, "prod", "db"),
    (Scope::Strict, "prod", "cache"),
    (Scope::Strict, "staging", "db"),
    (Scope::NamespaceWide, "prod", "db"),
    (Scope::NamespaceWide, "prod", "cache"),
    (Scope::NamespaceWide, "staging", "db"),
    (Scope::ClusterWide, "prod", "db"),
    (Scope::ClusterWide, "staging", "cache"),
    // A namespace-wide label equal to a strict label's namespace part.
    (Scope::NamespaceWide, "prod/db", "x"),
];

fn label((scope, namespace, name): Place) -> String {
    scope.label(namespace, name)
}

#[test]
fn value_opens_exactly_where_its_label_matches() {
    let key = key_2048();
    for sealed_at in PLACES {
        let sealed = seal(key.public_key(), label(sealed_at).as_bytes(), b"v").unwrap();
        for opened_at in PLACES {
            let result = unseal(
                std::slice::from_ref(key),
                label(opened_at).as_bytes(),
                &sealed,
            );
            if label(sealed_at) == label(opened_at) {
                assert_eq!(
                    result.unwrap().plaintext(),
                    b"v",
                    "{sealed_at:?} at {opened_at:?}"
                );
            } else {
                let err = result.unwrap_err();
                assert!(
                    matches!(&err, Error::NoKeyOpened { label, .. } if *label == self::label(opened_at)),
                    "{sealed_at:?} opened at {opened_at:?}: {err}"
                );
            }
        }
    }
}

#[test]
fn unseal_rejects_value_sealed_for_other_namespace() {
    let key = key_2048();
    let sealed = seal(key.public_key(), b"prod/db", b"v").unwrap();
    let err = unseal(std::slice::from_ref(key), b"staging/db", &sealed).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no private key could decrypt the value sealed for scope strict (\"staging/db\"): the \
         value was sealed with another key, or for another namespace, name or scope (tried 1 \
         key(s))"
    );
}

#[test]
fn unseal_rejects_value_sealed_with_another_key_naming_the_scope_tried() {
    let sealed = seal(common::other_key_2048().public_key(), b"team-a", b"v").unwrap();
    let err = unseal(std::slice::from_ref(key_2048()), b"team-a", &sealed).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "no private key could decrypt the value sealed for scope namespace-wide (\"team-a\")"
        ),
        "{err}"
    );
    let err = unseal(std::slice::from_ref(key_2048()), b"", &sealed).unwrap_err();
    assert!(
        err.to_string().contains("for scope cluster-wide (\"\")"),
        "{err}"
    );
}

#[test]
fn annotations_choose_the_label_a_value_opens_with() {
    let key = key_2048();
    let cases = [
        (vec![], "prod/db"),
        (vec![(NAMESPACE_WIDE_ANNOTATION, "true")], "prod"),
        (vec![(CLUSTER_WIDE_ANNOTATION, "true")], ""),
        (
            vec![
                (NAMESPACE_WIDE_ANNOTATION, "true"),
                (CLUSTER_WIDE_ANNOTATION, "true"),
            ],
            "",
        ),
    ];
    for (pairs, expected_label) in cases {
        let annotations: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let scope = Scope::from_annotations(&annotations);
        let sealed = seal(key.public_key(), expected_label.as_bytes(), b"v").unwrap();
        let label = scope.label("prod", "db");
        assert_eq!(label, expected_label);
        assert!(unseal(std::slice::from_ref(key), label.as_bytes(), &sealed).is_ok());
    }
}
