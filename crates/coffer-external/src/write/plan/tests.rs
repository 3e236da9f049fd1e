//! The write plan for each kind of target Secret (missing, ours, foreign,
//! unmarked, written by our field manager, immutable) under each creation
//! policy.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, OwnerReference};

use super::*;
use crate::ownership::ADOPT_ANNOTATION;

const ES: &str = "app";
const TARGET: &str = "app-secret";

fn es(policy: &str, immutable: bool) -> ExternalSecret {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": ES, "namespace": "team", "uid": "u1"},
        "spec": {
            "target": {"name": TARGET, "creationPolicy": policy, "immutable": immutable},
            "data": [{"secretKey": "password", "remoteRef": {"key": "db"}}]
        }
    }))
    .unwrap()
}

fn desired(pairs: &[(&str, &str)]) -> Desired {
    Desired {
        data: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec().into()))
            .collect(),
        ..Desired::default()
    }
}

fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
        .collect()
}

fn controller(kind: &str, api_version: &str, name: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: "u1".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A Secret holding `pairs`, with nothing that makes it anyone's.
fn unmarked(pairs: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(TARGET.into()),
            namespace: Some("team".into()),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(data(pairs)),
        ..Secret::default()
    }
}

/// Our field manager owns `keys` of the Secret's data.
fn written_by_us(mut secret: Secret, keys: &[&str]) -> Secret {
    let fields: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|k| (format!("f:{k}"), serde_json::json!({})))
        .collect();
    secret.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
        manager: Some(field_manager(ES)),
        fields_v1: Some(FieldsV1(serde_json::json!({"f:data": fields}))),
        ..ManagedFieldsEntry::default()
    }]);
    secret
}

/// What an `Owner` sync of `pairs` leaves: controlled by the
/// ExternalSecret, with the controller's labels and data hash.
fn ours(pairs: &[(&str, &str)]) -> Secret {
    let es = es("Owner", false);
    let d = desired(pairs);
    let target = Target::of(&es, &d).unwrap().unwrap();
    let Plan::Create { secret, .. } = plan(&target, &es, &d, None).unwrap() else {
        panic!("a missing Secret is created");
    };
    written_by_us(
        secret.0.clone(),
        &pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
    )
}

fn foreign() -> Secret {
    let mut s = unmarked(&[("tls.crt", "cert")]);
    s.metadata.owner_references = Some(vec![controller(
        "SealedSecret",
        "bitnami.com/v1alpha1",
        TARGET,
    )]);
    // Even handed over, a Secret another controller controls stays its.
    s.metadata.annotations = Some(BTreeMap::from([(ADOPT_ANNOTATION.into(), ES.into())]));
    s
}

fn other_external_secret() -> Secret {
    let mut s = unmarked(&[("password", "old")]);
    s.metadata.owner_references = Some(vec![controller(
        "ExternalSecret",
        "external-secrets.io/v1",
        "other",
    )]);
    s
}

fn adopted() -> Secret {
    let mut s = unmarked(&[("password", "old")]);
    s.metadata.annotations = Some(BTreeMap::from([(ADOPT_ANNOTATION.into(), ES.into())]));
    s
}

fn immutable(mut s: Secret) -> Secret {
    s.immutable = Some(true);
    s
}

/// What the plan should be.
#[derive(Debug, PartialEq)]
enum Expect {
    MergeTargetMissing,
    Unchanged,
    /// Created, with or without our owner reference, deleting orphans.
    Create {
        owned: bool,
        delete_orphans: bool,
    },
    /// Updated to these data keys, with or without our owner reference.
    Update {
        keys: &'static [&'static str],
        owned: bool,
    },
    /// Refused, with this error's metric label.
    Refused(&'static str),
}

fn outcome(policy: &str, immutable: bool, existing: Option<Secret>) -> Expect {
    let es = es(policy, immutable);
    let d = desired(&[("password", "new")]);
    let target = Target::of(&es, &d).unwrap().unwrap();
    let owned = |s: &Secret| ownership::controlled_by(&s.metadata, &es);
    match plan(&target, &es, &d, existing.map(Wiped)) {
        Ok(Plan::MergeTargetMissing) => Expect::MergeTargetMissing,
        Ok(Plan::Unchanged(_)) => Expect::Unchanged,
        Ok(Plan::Create {
            secret,
            delete_orphans,
        }) => Expect::Create {
            owned: owned(&secret),
            delete_orphans,
        },
        Ok(Plan::Update(secret)) => {
            let keys: Vec<&str> = secret
                .data
                .iter()
                .flatten()
                .map(|(k, _)| k.as_str())
                .collect();
            let keys = match keys.as_slice() {
                ["password"] => &["password"][..],
                ["other", "password"] => &["other", "password"][..],
                other => panic!("unexpected keys {other:?}"),
            };
            Expect::Update {
                keys,
                owned: owned(&secret),
            }
        }
        Err(e) => Expect::Refused(e.metric_label()),
    }
}

#[test]
fn each_policy_writes_only_what_is_its_to_write() {
    use Expect::*;
    let orphan_written = || written_by_us(unmarked(&[("password", "old")]), &["password"]);
    let merge_target = || unmarked(&[("other", "theirs"), ("password", "old")]);
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, bool, Option<Secret>, Expect)> = vec![
        ("missing, Owner, never synced", "Owner", false, None, Create { owned: true, delete_orphans: false }),
        ("missing, Orphan", "Orphan", false, None, Create { owned: false, delete_orphans: false }),
        ("missing, Merge", "Merge", false, None, MergeTargetMissing),
        ("ours, Owner, same data", "Owner", false, Some(ours(&[("password", "new")])), Unchanged),
        ("ours, Owner, new data", "Owner", false, Some(ours(&[("password", "old"), ("gone", "x")])), Update { keys: &["password"], owned: true }),
        ("ours, Orphan: released", "Orphan", false, Some(ours(&[("password", "old")])), Update { keys: &["password"], owned: false }),
        ("ours, Merge: keeps owner", "Merge", false, Some(ours(&[("password", "old")])), Update { keys: &["password"], owned: true }),
        ("adopted, Owner", "Owner", false, Some(adopted()), Update { keys: &["password"], owned: true }),
        ("written by our manager, Orphan", "Orphan", false, Some(orphan_written()), Update { keys: &["password"], owned: false }),
        ("written by our manager, Owner", "Owner", false, Some(orphan_written()), Refused("not_ours")),
        ("unmarked, Owner", "Owner", false, Some(unmarked(&[("password", "old")])), Refused("not_ours")),
        ("unmarked, Orphan", "Orphan", false, Some(unmarked(&[("password", "old")])), Refused("not_ours")),
        ("unmarked, Merge keeps others' keys", "Merge", false, Some(merge_target()), Update { keys: &["other", "password"], owned: false }),
        ("foreign, Owner", "Owner", false, Some(foreign()), Refused("foreign_owner")),
        ("foreign, Orphan", "Orphan", false, Some(foreign()), Refused("foreign_owner")),
        ("another ExternalSecret's, Owner", "Owner", false, Some(other_external_secret()), Refused("owned_by_other")),
        ("another ExternalSecret's, Merge", "Merge", false, Some(other_external_secret()), Refused("owned_by_other")),
        ("missing, CreateOrMerge: created, not owned", "CreateOrMerge", false, None, Create { owned: false, delete_orphans: false }),
        ("unmarked, CreateOrMerge keeps others' keys", "CreateOrMerge", false, Some(merge_target()), Update { keys: &["other", "password"], owned: false }),
        ("ours, CreateOrMerge: keeps owner", "CreateOrMerge", false, Some(ours(&[("password", "old")])), Update { keys: &["password"], owned: true }),
        ("another ExternalSecret's, CreateOrMerge", "CreateOrMerge", false, Some(other_external_secret()), Refused("owned_by_other")),
        ("immutable, new data", "Owner", false, Some(immutable(ours(&[("password", "old")]))), Refused("immutable")),
        ("immutable, same data", "Owner", true, Some(immutable(ours(&[("password", "new")]))), Unchanged),
        ("made immutable by the spec", "Owner", true, Some(ours(&[("password", "new")])), Update { keys: &["password"], owned: true }),
    ];
    for (case, policy, immutable, existing, expect) in cases {
        assert_eq!(outcome(policy, immutable, existing), expect, "{case}");
    }
}

#[test]
fn merge_replaces_the_keys_our_manager_owned_and_keeps_the_rest() {
    let es = es("Merge", false);
    let d = desired(&[("password", "new")]);
    let target = Target::of(&es, &d).unwrap().unwrap();
    let existing = written_by_us(
        unmarked(&[("other", "theirs"), ("stale", "ours"), ("password", "old")]),
        &["stale", "password"],
    );
    let Ok(Plan::Update(secret)) = plan(&target, &es, &d, Some(Wiped(existing))) else {
        panic!("a Merge into an existing Secret updates it");
    };
    assert_eq!(
        secret.data,
        Some(data(&[("other", "theirs"), ("password", "new")]))
    );
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get(MANAGED_LABEL).map(String::as_str), Some("true"));
    assert!(
        !labels.contains_key(CREATED_BY_LABEL),
        "Merge marks nothing as ours"
    );
}

#[test]
fn creation_policy_none_writes_nothing_and_forged_marks_are_refused() {
    let d = desired(&[("password", "new")]);
    assert!(Target::of(&es("None", false), &d).unwrap().is_none());
    let mut forged = desired(&[("password", "new")]);
    forged
        .annotations
        .insert(ADOPT_ANNOTATION.to_owned(), "victim".to_owned());
    let Err(err) = Target::of(&es("Owner", false), &forged) else {
        panic!("a forged adopt annotation is refused");
    };
    assert_eq!(err.metric_label(), "invalid_spec");
}

#[test]
fn the_watch_summary_settles_only_an_intact_secret_already_right_for_the_policy() {
    let d = desired(&[("password", "new")]);
    let settled = |policy: &str, secret: &Secret| {
        let es = es(policy, false);
        let target = Target::of(&es, &d).unwrap().unwrap();
        target.settled(&es, &d, Some(&SecretSummary::of(secret)))
    };
    let current = ours(&[("password", "new")]);
    assert!(settled("Owner", &current));
    let mut edited = current.clone();
    edited.data = Some(data(&[("password", "edited by hand")]));
    assert!(!settled("Owner", &edited), "an edited Secret is rewritten");
    assert!(!settled("Owner", &ours(&[("password", "old")])));
    assert!(!settled("Merge", &current), "Merge always reads the Secret");
    assert!(
        !settled("Orphan", &current),
        "Orphan releases our owner reference"
    );
    let es = es("Owner", false);
    assert!(!Target::of(&es, &d).unwrap().unwrap().settled(&es, &d, None));
}

#[test]
fn only_earlier_targets_this_external_secret_may_own_are_orphans() {
    let es = es("Owner", false);
    let meta = |name: &str, s: Secret| ObjectMeta {
        name: Some(name.into()),
        ..s.metadata
    };
    let labelled = vec![
        meta(TARGET, ours(&[])),
        meta("renamed-from", ours(&[])),
        meta("taken-by-other", other_external_secret()),
    ];
    let names: Vec<_> = orphans(&labelled, &es, TARGET)
        .iter()
        .map(|m| m.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["renamed-from"]);
}

#[test]
fn orphans_are_looked_for_only_when_the_target_was_renamed() {
    let d = desired(&[("password", "new")]);
    for (binding, policy, expected) in [
        (None, "Owner", false),
        (Some(TARGET), "Owner", false),
        (Some("earlier-name"), "Owner", true),
        (Some("earlier-name"), "Orphan", false),
    ] {
        let mut es = es(policy, false);
        if let Some(name) = binding {
            es.status = Some(coffer_api::external::ExternalSecretStatus {
                binding: Some(coffer_api::external::LocalObjectReference {
                    name: name.to_owned(),
                }),
                ..Default::default()
            });
        }
        let target = Target::of(&es, &d).unwrap().unwrap();
        let Plan::Create { delete_orphans, .. } = plan(&target, &es, &d, None).unwrap() else {
            panic!("a missing Secret is created");
        };
        assert_eq!(delete_orphans, expected, "{binding:?} {policy}");
    }
}
