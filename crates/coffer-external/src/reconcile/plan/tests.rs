//! The sync decisions for each refresh, creation and deletion policy.

use std::collections::BTreeMap;

use coffer_api::external::REASON_SECRET_SYNCED_ERROR;

use super::*;
use crate::hash::{DATA_HASH_ANNOTATION, MANAGED_LABEL};
use crate::schedule::Decision;

const HOUR: Duration = Duration::from_secs(3600);

fn es(spec: serde_json::Value) -> ExternalSecret {
    let mut spec = spec;
    spec["data"] = serde_json::json!([{"secretKey": "password", "remoteRef": {"key": "db"}}]);
    serde_json::from_value(serde_json::json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "app", "namespace": "team", "uid": "u1", "generation": 1},
        "spec": spec,
    }))
    .unwrap()
}

/// `es` as synced `ago` (status written by the last sync, with `reason`).
fn synced(mut es: ExternalSecret, now: SystemTime, ago: Duration, reason: &str) -> ExternalSecret {
    let due = observe(&es, HOUR, observed(now, None));
    let outcome = match reason {
        REASON_SECRET_DELETED => Outcome::Deleted,
        _ => Outcome::Written(Written::Created),
    };
    es.status = Some(done_status(&es, &due, now - ago, outcome));
    es
}

fn edited(mut es: ExternalSecret) -> ExternalSecret {
    es.metadata.generation = Some(2);
    es
}

fn observed(now: SystemTime, secret: Option<SecretSummary>) -> Observed {
    Observed {
        now,
        secret,
        last_sync: None,
        first_since_start: false,
    }
}

fn intact() -> SecretSummary {
    let hash = crate::hash::data_hash([("password", &b"x"[..])]);
    SecretSummary {
        uid: "s1".into(),
        resource_version: "1".into(),
        labels: BTreeMap::from([(MANAGED_LABEL.into(), "true".into())]),
        annotations: BTreeMap::from([(DATA_HASH_ANNOTATION.into(), hash.clone())]),
        type_: Some("Opaque".into()),
        immutable: false,
        data_hash: hash,
        controller: Some(("ExternalSecret".into(), "app".into())),
    }
}

fn edited_by_hand() -> SecretSummary {
    SecretSummary {
        data_hash: "another".into(),
        ..intact()
    }
}

fn decide(es: &ExternalSecret, observed: Observed) -> Decision {
    let interval = validate(es).unwrap();
    schedule::decide(&observe(es, interval, observed).inputs)
}

#[test]
fn each_refresh_policy_syncs_when_eso_would() {
    use Decision::*;
    use Why::*;
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let ten_min = Duration::from_secs(600);
    let periodic = || es(serde_json::json!({"refreshInterval": "1h"}));
    let on_change =
        || es(serde_json::json!({"refreshInterval": "1h", "refreshPolicy": "OnChange"}));
    let once = || es(serde_json::json!({"refreshInterval": "1h", "refreshPolicy": "CreatedOnce"}));
    let orphan =
        || es(serde_json::json!({"refreshInterval": "1h", "target": {"creationPolicy": "Orphan"}}));
    let none =
        || es(serde_json::json!({"refreshInterval": "1h", "target": {"creationPolicy": "None"}}));
    let ok = REASON_SECRET_SYNCED;
    #[rustfmt::skip]
    let cases: Vec<(&str, ExternalSecret, Option<SecretSummary>, Decision)> = vec![
        ("Periodic, never synced", periodic(), None, SyncNow(Changed)),
        ("Periodic, fresh", synced(periodic(), now, ten_min, ok), Some(intact()), Wait(HOUR - ten_min)),
        ("Periodic, overdue", synced(periodic(), now, 2 * HOUR, ok), Some(intact()), SyncNow(Interval)),
        ("Periodic, edited", edited(synced(periodic(), now, ten_min, ok)), Some(intact()), SyncNow(Changed)),
        ("Periodic, Secret gone", synced(periodic(), now, ten_min, ok), None, SyncNow(SecretDrifted)),
        ("Periodic, Secret edited", synced(periodic(), now, ten_min, ok), Some(edited_by_hand()), SyncNow(SecretDrifted)),
        ("Periodic, Secret deleted by DeletionPolicy", synced(periodic(), now, ten_min, REASON_SECRET_DELETED), None, Wait(HOUR - ten_min)),
        ("Orphan: Secret not policed", synced(orphan(), now, ten_min, ok), None, Wait(HOUR - ten_min)),
        ("None: no Secret expected", synced(none(), now, ten_min, ok), None, Wait(HOUR - ten_min)),
        ("OnChange, unchanged", synced(on_change(), now, 2 * HOUR, ok), Some(intact()), Idle),
        ("OnChange, edited", edited(synced(on_change(), now, ten_min, ok)), Some(intact()), SyncNow(Changed)),
        ("OnChange, Secret gone", synced(on_change(), now, ten_min, ok), None, SyncNow(SecretDrifted)),
        ("CreatedOnce, never synced", once(), None, SyncNow(Changed)),
        ("CreatedOnce, edited", edited(synced(once(), now, ten_min, ok)), Some(intact()), Idle),
        ("CreatedOnce, Secret gone", synced(once(), now, ten_min, ok), None, SyncNow(SecretDrifted)),
    ];
    for (case, es, secret, expect) in cases {
        assert_eq!(decide(&es, observed(now, secret)), expect, "{case}");
    }
}

#[test]
fn this_process_own_record_of_a_sync_counts_before_the_watch_shows_it() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let es = es(serde_json::json!({"refreshInterval": "1h"}));
    let version = observe(&es, HOUR, observed(now, None)).version;
    let mut seen = observed(now, Some(intact()));
    seen.last_sync = Some((now - Duration::from_secs(60), version));
    assert_eq!(
        decide(&es, seen),
        Decision::Wait(HOUR - Duration::from_secs(60))
    );
}

#[test]
fn eso_admission_rules_refuse_contradictory_policies() {
    #[rustfmt::skip]
    let cases = [
        (serde_json::json!({"target": {"creationPolicy": "Merge", "deletionPolicy": "Delete"}}), "deletionPolicy=Delete"),
        (serde_json::json!({"target": {"creationPolicy": "None", "deletionPolicy": "Delete"}}), "deletionPolicy=Delete"),
        (serde_json::json!({"target": {"creationPolicy": "None", "deletionPolicy": "Merge"}}), "deletionPolicy=Merge"),
        (serde_json::json!({"refreshInterval": "soon"}), "spec.refreshInterval"),
    ];
    for (spec, names) in cases {
        let err = validate(&es(spec.clone())).unwrap_err();
        assert!(err.to_string().contains(names), "{spec}: {err}");
        assert_eq!(err.metric_label(), "invalid_spec");
    }
    let mut empty = es(serde_json::json!({}));
    empty.spec.data.clear();
    assert!(validate(&empty).is_err(), "no data nor dataFrom");
    for (creation, deletion) in [
        ("Owner", "Delete"),
        ("Orphan", "Merge"),
        ("Merge", "Retain"),
    ] {
        let spec =
            serde_json::json!({"target": {"creationPolicy": creation, "deletionPolicy": deletion}});
        assert!(validate(&es(spec)).is_ok(), "{creation}/{deletion}");
    }
}

#[test]
fn only_a_read_that_found_nothing_deletes_or_retains() {
    #[rustfmt::skip]
    let cases = [
        ("Retain", true, Step::Retain),
        ("Retain", false, Step::Write),
        ("Delete", true, Step::Delete),
        ("Delete", false, Step::Write),
        ("Merge", true, Step::Write),
        ("Merge", false, Step::Write),
    ];
    for (deletion, found_nothing, expect) in cases {
        let es = es(serde_json::json!({"target": {"deletionPolicy": deletion}}));
        assert_eq!(
            after_read(&es, found_nothing),
            expect,
            "{deletion}, {found_nothing}"
        );
    }
}

#[test]
fn shared_reads_may_be_half_an_interval_old_unless_the_user_asked_for_now() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let periodic = es(serde_json::json!({"refreshInterval": "1h"}));
    let on_change = es(serde_json::json!({"refreshInterval": "1h", "refreshPolicy": "OnChange"}));
    let synced_before = synced(periodic.clone(), now, HOUR, REASON_SECRET_SYNCED);
    let age = |es: &ExternalSecret, why| max_age(es, &observe(es, HOUR, observed(now, None)), why);
    assert_eq!(age(&periodic, Why::Changed), HOUR / 2, "first sync");
    assert_eq!(age(&synced_before, Why::Interval), HOUR / 2);
    assert_eq!(age(&synced_before, Why::SecretDrifted), HOUR / 2);
    assert_eq!(age(&synced_before, Why::Changed), Duration::ZERO, "edited");
    assert_eq!(age(&on_change, Why::Changed), Duration::ZERO);
}

#[test]
fn the_status_names_the_outcome_and_binds_only_a_written_secret() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let es = es(serde_json::json!({"target": {"name": "db"}}));
    let due = observe(&es, HOUR, observed(now, None));
    #[rustfmt::skip]
    let cases = [
        (Outcome::Written(Written::Created), REASON_SECRET_SYNCED, Some("db")),
        (Outcome::Written(Written::Updated), REASON_SECRET_SYNCED, Some("db")),
        (Outcome::Written(Written::Unchanged), REASON_SECRET_SYNCED, Some("db")),
        (Outcome::Written(Written::Skipped), REASON_SECRET_SYNCED, None),
        (Outcome::Written(Written::MergeTargetMissing), REASON_SECRET_MISSING, None),
        (Outcome::Deleted, REASON_SECRET_DELETED, None),
        (Outcome::Retained, REASON_SECRET_SYNCED, None),
    ];
    for (outcome, reason, binding) in cases {
        let status = done_status(&es, &due, now, outcome);
        let ready = ready(&status).unwrap();
        assert_eq!(ready.status, "True", "{outcome:?}");
        assert_eq!(ready.reason.as_deref(), Some(reason), "{outcome:?}");
        assert_eq!(
            status.binding.map(|b| b.name).as_deref(),
            binding,
            "{outcome:?}"
        );
        assert_eq!(
            status.synced_resource_version.as_deref(),
            Some(due.version.as_str())
        );
    }
    assert_eq!(
        event_for(Written::Created).map(|e| e.0),
        Some(REASON_CREATED)
    );
    assert_eq!(
        event_for(Written::Updated).map(|e| e.0),
        Some(REASON_UPDATED)
    );
    assert_eq!(event_for(Written::Unchanged), None);
}

#[test]
fn the_ready_condition_keeps_its_transition_time_while_its_value_holds() {
    let mut status = ExternalSecretStatus::default();
    set_ready(&mut status, false, REASON_SECRET_SYNCED_ERROR, "first");
    let first = ready(&status).unwrap().last_transition_time.clone();
    set_ready(&mut status, false, REASON_SECRET_SYNCED_ERROR, "again");
    assert_eq!(ready(&status).unwrap().last_transition_time, first);
    assert_eq!(ready(&status).unwrap().message.as_deref(), Some("again"));
    assert_eq!(status.conditions.len(), 1);
}

#[test]
fn with_a_refresh_time_slack_only_a_status_that_changes_more_than_its_time_is_written() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let minute = Duration::from_secs(60);
    let es = synced(
        es(serde_json::json!({})),
        now,
        minute * 3,
        REASON_SECRET_SYNCED,
    );
    let due = observe(&es, minute, observed(now, None));
    let current = es.status.as_ref();
    let refreshed = |ago: Duration, outcome| done_status(&es, &due, now - ago, outcome);
    let unchanged = Outcome::Written(Written::Unchanged);
    let slack = minute * 5 / 2;

    // Without a slack, every refresh writes (ESO).
    assert!(status_write_needed(
        current,
        &refreshed(Duration::ZERO, unchanged),
        Duration::ZERO
    ));
    // Recorded 3 minutes before this refresh: more than the slack behind.
    assert!(status_write_needed(
        current,
        &refreshed(Duration::ZERO, unchanged),
        slack
    ));
    // 2 minutes behind: less than the slack, and nothing else changes.
    assert!(!status_write_needed(
        current,
        &refreshed(minute, unchanged),
        slack
    ));
    // An updated Secret changes nothing else in the status either.
    let updated = Outcome::Written(Written::Updated);
    assert!(!status_write_needed(
        current,
        &refreshed(minute, updated),
        slack
    ));
    // Anything else that changes is written at once.
    assert!(status_write_needed(
        current,
        &refreshed(minute, Outcome::Deleted),
        slack
    ));
    let edited_es = edited(es.clone());
    let edited_due = observe(&edited_es, minute, observed(now, None));
    let edited_status = done_status(&edited_es, &edited_due, now - minute, unchanged);
    assert!(status_write_needed(current, &edited_status, slack));
    // A first status is always written.
    assert!(status_write_needed(
        None,
        &refreshed(minute, unchanged),
        slack
    ));
}
