//! The SealedSecret reconcile's decisions, case by case, without a cluster:
//! each case is an observed SealedSecret and Secret and what the reconcile
//! must do with them.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::ObjectMeta;

use super::*;
use crate::sealed::test_keys::registry;
use crate::sealed::written::WrittenSecret;

const HASH: &str = "inputs-1";

/// The SealedSecret `ns/db` with uid `uid-1`, sealing `password`; without
/// an owner reference when `skip_owner`.
fn sealed(skip_owner: bool) -> SealedSecret {
    let mut sealed = SealedSecret::new("db", coffer_api::SealedSecretSpec::default());
    sealed.metadata.namespace = Some("ns".into());
    sealed.metadata.uid = Some("uid-1".into());
    sealed.spec.encrypted_data = BTreeMap::from([("password".to_owned(), "AgB...".to_owned())]);
    if skip_owner {
        sealed.spec.template = Some(coffer_api::SecretTemplateSpec {
            metadata: Some(ObjectMeta {
                annotations: Some(BTreeMap::from([(
                    coffer_sealed::SKIP_SET_OWNER_REFERENCES_ANNOTATION.to_owned(),
                    "true".to_owned(),
                )])),
                ..ObjectMeta::default()
            }),
            ..Default::default()
        });
    }
    sealed
}

/// What unsealing [`sealed`] makes.
fn unsealed(value: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some("db".into()),
            namespace: Some("ns".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "password".to_owned(),
            ByteString(value.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

/// The Secret this controller creates for `sealed` (inputs [`HASH`]).
fn created(sealed: &SealedSecret, keys: &KeyRegistry) -> Secret {
    match write_plan(sealed, None, unsealed("v1"), HASH, keys) {
        Write::Create(mut s) => s.take(),
        other => panic!("expected a create, got {other:?}"),
    }
}

fn owner(uid: &str) -> OwnerReference {
    OwnerReference {
        controller: Some(true),
        uid: uid.into(),
        ..OwnerReference::default()
    }
}

fn annotate(mut s: Secret, key: &str) -> Secret {
    s.metadata
        .annotations
        .get_or_insert_default()
        .insert(key.to_owned(), "true".to_owned());
    s
}

fn set_value(mut s: Secret, key: &str, value: &str) -> Secret {
    s.data
        .get_or_insert_default()
        .insert(key.to_owned(), ByteString(value.as_bytes().to_vec()));
    s
}

/// What [`plan`] decided, in a word.
fn verdict(plan: &Plan) -> &'static str {
    match plan {
        Plan::Refuse(_) => "refuse",
        Plan::Keep { relabel: None } => "keep",
        Plan::Keep { relabel: Some(_) } => "relabel",
        Plan::Unseal => "unseal",
    }
}

#[tokio::test]
async fn plan_refuses_keeps_or_unseals_by_ownership_and_digest() {
    let keys = registry().await;
    let owned = sealed(false);
    let unowned = sealed(true);
    let ours = created(&owned, &keys);
    let ours_unowned = created(&unowned, &keys);
    let foreign = unsealed("theirs");

    let mut unlabelled = unsealed("v1");
    unlabelled.metadata.owner_references = Some(vec![owner("uid-1")]);
    unlabelled.type_ = Some("Opaque".into());
    secret::stamp_digest(&mut unlabelled, HASH, &keys);

    let mut other_owner = ours.clone();
    other_owner.metadata.owner_references = Some(vec![owner("uid-0")]);
    let mut deprecated = owned.clone();
    deprecated.spec.data = Some("AgB...".into());
    let mut handed_over_unowned = annotate(ours_unowned.clone(), secret::MANAGED_ANNOTATION);
    handed_over_unowned.metadata.owner_references = Some(vec![owner("something-else")]);
    secret::stamp(&mut handed_over_unowned, HASH, &keys);

    let cases: Vec<(&str, &SealedSecret, Option<Secret>, &str, &str)> = vec![
        ("no Secret yet", &owned, None, HASH, "unseal"),
        ("ours, unchanged", &owned, Some(ours.clone()), HASH, "keep"),
        (
            "ours, a value edited",
            &owned,
            Some(set_value(ours.clone(), "password", "edited")),
            HASH,
            "unseal",
        ),
        (
            "ours, a sealed key deleted",
            &owned,
            Some(Secret {
                data: Some(BTreeMap::new()),
                ..ours.clone()
            }),
            HASH,
            "unseal",
        ),
        (
            "ours, a key added by someone: the sealed keys are intact",
            &owned,
            Some(set_value(ours.clone(), "extra", "x")),
            HASH,
            "keep",
        ),
        (
            "ours, SealedSecret changed",
            &owned,
            Some(ours.clone()),
            "inputs-2",
            "unseal",
        ),
        (
            "ours, written before the label",
            &owned,
            Some(unlabelled),
            HASH,
            "relabel",
        ),
        ("foreign", &owned, Some(foreign.clone()), HASH, "refuse"),
        (
            "controlled by an earlier SealedSecret of that name",
            &owned,
            Some(other_owner.clone()),
            HASH,
            "refuse",
        ),
        (
            "foreign, managed",
            &owned,
            Some(annotate(foreign.clone(), secret::MANAGED_ANNOTATION)),
            HASH,
            "unseal",
        ),
        (
            "foreign, patch",
            &owned,
            Some(annotate(foreign.clone(), secret::PATCH_ANNOTATION)),
            HASH,
            "unseal",
        ),
        (
            "earlier owner, managed",
            &owned,
            Some(annotate(other_owner, secret::MANAGED_ANNOTATION)),
            HASH,
            "unseal",
        ),
        (
            "no owner reference asked, ours",
            &unowned,
            Some(ours_unowned.clone()),
            HASH,
            "keep",
        ),
        (
            "no owner reference asked, a foreign Secret",
            &unowned,
            Some(foreign.clone()),
            HASH,
            "refuse",
        ),
        (
            "no owner reference asked, handed over and controlled elsewhere",
            &unowned,
            Some(handed_over_unowned),
            HASH,
            "keep",
        ),
        (
            "deprecated whole-Secret form: its keys are sealed",
            &deprecated,
            Some(ours.clone()),
            HASH,
            "unseal",
        ),
    ];
    for (case, sealed, existing, hash, want) in cases {
        let got = plan(sealed, existing.as_ref(), hash, &keys);
        assert_eq!(verdict(&got), want, "{case}");
        if let Plan::Refuse(f) = &got {
            assert_eq!(
                (f.reason, f.metric, f.retry),
                (REASON_UPDATE_FAILED, "unmanaged", false)
            );
            assert!(
                f.message.contains("\"db\" already exists"),
                "{case}: {}",
                f.message
            );
        }
        if let Plan::Keep {
            relabel: Some(target),
        } = &got
        {
            assert!(
                secret::is_labelled(target.metadata.labels.as_ref()),
                "{case}"
            );
            assert_eq!(
                target.data,
                existing.as_ref().unwrap().data,
                "{case}: data kept"
            );
        }
        // The cache (a summary without data) never skips a Secret the
        // reconcile would not skip after reading it.
        if let Some(written) = existing.as_ref().and_then(|s| WrittenSecret::of(s, &keys)) {
            let cached = classify(sealed, hash, &written, &keys);
            let read = classify(sealed, hash, existing.as_ref().unwrap(), &keys);
            assert!(
                cached != Class::Unchanged || read == Class::Unchanged,
                "{case}"
            );
            if case != "ours, a key added by someone: the sealed keys are intact" {
                assert_eq!(cached, read, "{case}: the cache and the Secret agree");
            }
        }
    }
}

#[tokio::test]
async fn write_plan_creates_replaces_or_leaves_the_secret() {
    let keys = registry().await;
    let owned = sealed(false);
    let ours = created(&owned, &keys);
    assert_eq!(ours.type_.as_deref(), Some("Opaque"), "the stored default");
    assert_eq!(
        ours.metadata.owner_references.as_ref().unwrap()[0].uid,
        "uid-1"
    );
    assert!(secret::is_labelled(ours.metadata.labels.as_ref()));
    assert_eq!(secret::inputs_hash_of(&ours), Some(HASH));
    let unowned = created(&sealed(true), &keys);
    assert_eq!(
        unowned.metadata.owner_references, None,
        "skip-set-owner-references"
    );

    let again = write_plan(&owned, Some(&ours), unsealed("v1"), HASH, &keys);
    assert!(matches!(again, Write::Nothing), "{again:?}");

    let edited = set_value(ours.clone(), "password", "edited");
    let Write::Replace(target) = write_plan(&owned, Some(&edited), unsealed("v1"), HASH, &keys)
    else {
        panic!("an edited Secret is put back");
    };
    assert_eq!(target.data, ours.data);

    let patched = set_value(
        annotate(unsealed("old"), secret::PATCH_ANNOTATION),
        "theirs",
        "kept",
    );
    let Write::Replace(target) = write_plan(&owned, Some(&patched), unsealed("v1"), HASH, &keys)
    else {
        panic!("a patched Secret gets the sealed keys");
    };
    let data = target.data.as_ref().unwrap();
    assert_eq!(data["password"].0, b"v1");
    assert_eq!(data["theirs"].0, b"kept", "patch keeps the other keys");
    assert_eq!(
        target.metadata.owner_references, None,
        "patch alone does not take ownership"
    );

    let managed = annotate(unsealed("old"), secret::MANAGED_ANNOTATION);
    let Write::Replace(target) = write_plan(&owned, Some(&managed), unsealed("v1"), HASH, &keys)
    else {
        panic!("a managed Secret is taken over");
    };
    assert_eq!(
        target.metadata.owner_references.as_ref().unwrap()[0].uid,
        "uid-1"
    );
}

#[test]
fn only_an_immutable_secret_makes_a_write_error_final() {
    let api_error = |message: &str| {
        kube::Error::Api(
            kube::core::Status::failure(message, "Invalid")
                .with_code(422)
                .boxed(),
        )
    };
    let immutable = api_error(
        "Secret \"db\" is invalid: data: Forbidden: field is immutable when `immutable` is set",
    );
    let failure = Failure::of_write(&immutable, "ns", "db").expect("final");
    assert_eq!(
        (failure.reason, failure.metric, failure.retry),
        (REASON_UPDATE_FAILED, "update", false)
    );
    assert!(
        failure
            .message
            .starts_with("Error updating ns/db: the target Secret is immutable")
    );
    assert_eq!(
        Failure::of_write(&api_error("conflict"), "ns", "db"),
        None,
        "retried"
    );
}

#[test]
fn each_outcome_reports_its_event_condition_and_metric() {
    let failure = |retry| Failure {
        reason: REASON_UNSEAL_FAILED,
        metric: "unseal",
        message: "Failed to unseal: no key".into(),
        retry,
    };
    let success = Some((true, REASON_UNSEALED, SUCCESS_MESSAGE.to_owned()));
    let failed = Some((
        false,
        REASON_UNSEAL_FAILED,
        "Failed to unseal: no key".to_owned(),
    ));
    let cases = [
        (
            Outcome::Unchanged,
            None,
            success.clone(),
            None,
            false,
            Some(false),
        ),
        (
            Outcome::Written,
            Some(EventType::Normal),
            success,
            None,
            false,
            Some(false),
        ),
        (Outcome::Repeated, None, None, None, false, None),
        (
            Outcome::Failed(failure(false)),
            Some(EventType::Warning),
            failed.clone(),
            Some("unseal"),
            false,
            Some(true),
        ),
        (
            Outcome::Failed(failure(true)),
            Some(EventType::Warning),
            failed,
            Some("unseal"),
            true,
            Some(false),
        ),
    ];
    for (outcome, event, condition, metric, retry, remember) in cases {
        let report = report(&outcome);
        assert_eq!(report.event.map(|e| e.0), event, "{outcome:?}");
        assert_eq!(report.condition, condition, "{outcome:?}");
        assert_eq!(report.error_metric, metric, "{outcome:?}");
        assert_eq!(report.retry, retry, "{outcome:?}");
        assert_eq!(outcome.remember_failure(), remember, "{outcome:?}");
    }
    let api = report_api_error("failed to read Secret ns/db");
    assert_eq!(
        api.event.map(|e| (e.0, e.1)),
        Some((EventType::Warning, REASON_UPDATE_FAILED))
    );
    assert!(api.retry);
}

#[test]
fn status_is_written_only_when_the_condition_changes() {
    let at = |s| Time(Timestamp::from_second(s).unwrap());
    let mut sealed = sealed(false);
    sealed.metadata.generation = Some(2);
    let first = next_status(&sealed, true, REASON_UNSEALED, SUCCESS_MESSAGE, at(100)).unwrap();
    assert_eq!(first.observed_generation, Some(2));
    assert_eq!(first.conditions[0].last_transition_time, Some(at(100)));
    sealed.status = Some(first);
    assert_eq!(
        next_status(&sealed, true, REASON_UNSEALED, SUCCESS_MESSAGE, at(200)),
        None,
        "the same condition again writes nothing"
    );

    sealed.metadata.generation = Some(3);
    let regenerated =
        next_status(&sealed, true, REASON_UNSEALED, SUCCESS_MESSAGE, at(300)).unwrap();
    assert_eq!(regenerated.observed_generation, Some(3));
    assert_eq!(
        regenerated.conditions[0].last_transition_time,
        Some(at(100)),
        "same status: the transition time stays"
    );

    let failed = next_status(&sealed, false, REASON_UNSEAL_FAILED, "Failed", at(400)).unwrap();
    assert_eq!(failed.conditions[0].status, "False");
    assert_eq!(failed.conditions[0].last_transition_time, Some(at(400)));
}
