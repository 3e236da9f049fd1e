//! The decisions of a sync, from the observed objects alone: whether it is
//! due (from the ExternalSecret, its Secret's summary and this process's
//! record of its last sync), how fresh its reads must be, what to do with
//! what was read, and the status and Event that record the outcome.
//! [`super::sync_if_due`] performs them.

use std::time::{Duration, SystemTime};

use coffer_api::ExternalSecret;
use coffer_api::external::{
    CONDITION_READY, CreationPolicy, DeletionPolicy, ExternalSecretCondition, ExternalSecretStatus,
    LocalObjectReference, REASON_CREATED, REASON_SECRET_DELETED, REASON_SECRET_MISSING,
    REASON_SECRET_SYNCED, REASON_UPDATED, RefreshPolicy,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::error::{Error, Result};
use crate::hash::synced_resource_version;
use crate::schedule::{self, Inputs, Why};
use crate::secrets::SecretSummary;
use crate::write::Written;

/// What the reconcile observed besides the ExternalSecret.
pub(super) struct Observed {
    /// Now, wall clock.
    pub(super) now: SystemTime,
    /// The target Secret's summary from the watch, if it is a managed one.
    pub(super) secret: Option<SecretSummary>,
    /// This process's last sync of the object (when its data was read, the
    /// version synced): the watch cache may not have that status write yet.
    pub(super) last_sync: Option<(SystemTime, String)>,
    /// This process has not reconciled the object before.
    pub(super) first_since_start: bool,
}

/// What decides a sync, and what its status will record.
#[derive(Debug, Clone)]
pub(super) struct Due {
    /// The schedule's inputs.
    pub(super) inputs: Inputs,
    /// The object's generation-and-metadata version, recorded once synced.
    pub(super) version: String,
}

/// The schedule's inputs for `es`, which [`validate`] accepted with this
/// refresh `interval`.
pub(super) fn observe(es: &ExternalSecret, interval: Duration, observed: Observed) -> Due {
    let status = es.status.clone().unwrap_or_default();
    let version = synced_resource_version(
        es.metadata.generation.unwrap_or_default(),
        es.metadata
            .annotations
            .as_ref()
            .unwrap_or(&Default::default()),
        es.metadata.labels.as_ref().unwrap_or(&Default::default()),
    );
    let last_reason = ready(&status).and_then(|c| c.reason.as_deref());
    // Whether a Secret is expected: not for None/Orphan (not policed, as
    // ESO), nor after the last sync deleted it or found no Merge target.
    let expect_secret = !matches!(
        es.spec.target.creation_policy(),
        CreationPolicy::None | CreationPolicy::Orphan
    ) && !matches!(
        last_reason,
        Some(REASON_SECRET_DELETED | REASON_SECRET_MISSING)
    );
    let secret_intact = !expect_secret || observed.secret.as_ref().is_some_and(|s| s.intact());
    let mut refresh_time = status.refresh_time.as_ref().map(|t| SystemTime::from(t.0));
    let mut synced_version = status.synced_resource_version.clone();
    if let Some((time, recorded)) = observed.last_sync
        && refresh_time.is_none_or(|t| t < time)
    {
        refresh_time = Some(time);
        synced_version = Some(recorded);
    }
    let inputs = Inputs {
        now: observed.now,
        refresh_time,
        synced_current_version: synced_version.as_deref() == Some(version.as_str()),
        secret_intact,
        interval,
        policy: es.spec.refresh_policy(),
        jitter: schedule::jitter_fraction(es.metadata.uid.as_deref().unwrap_or_default()),
        first_since_start: observed.first_since_start,
    };
    Due { inputs, version }
}

/// ESO's admission rules, checked here since Coffer has no webhook; the
/// refresh interval when they pass.
pub(super) fn validate(es: &ExternalSecret) -> Result<Duration> {
    let target = &es.spec.target;
    let (creation, deletion) = (target.creation_policy(), target.deletion_policy());
    if deletion == DeletionPolicy::Delete
        && matches!(
            creation,
            CreationPolicy::Merge | CreationPolicy::None | CreationPolicy::CreateOrMerge
        )
    {
        return Err(Error::InvalidSpec(
            "deletionPolicy=Delete must not be used when the controller doesn't own the secret. Please set creationPolicy=Owner"
                .to_owned(),
        ));
    }
    if deletion == DeletionPolicy::Merge && creation == CreationPolicy::None {
        return Err(Error::InvalidSpec(
            "deletionPolicy=Merge must not be used with creationPolicy=None. There is no Secret to merge with".to_owned(),
        ));
    }
    if es.spec.data.is_empty() && es.spec.data_from.is_empty() {
        return Err(Error::InvalidSpec(
            "either data or dataFrom should be specified".to_owned(),
        ));
    }
    es.spec
        .refresh_interval()
        .map_err(|e| Error::InvalidSpec(format!("spec.refreshInterval: {e}")))
}

/// How old a shared read may be. Reads younger than half the interval are
/// fresh enough: ExternalSecrets sharing a key then read it once per cycle,
/// and the next refresh is scheduled from the read's time, so no Secret
/// gets staler than its interval. Not for a synced ExternalSecret that
/// changed (a force-sync annotation, an edit): its user asked for what the
/// provider has now.
pub(super) fn max_age(es: &ExternalSecret, due: &Due, why: Why) -> Duration {
    let synced_before = es.status.as_ref().is_some_and(|s| s.refresh_time.is_some());
    let asked_for_now = why == Why::Changed && synced_before;
    if due.inputs.policy == RefreshPolicy::Periodic && !asked_for_now {
        due.inputs.interval / 2
    } else {
        Duration::ZERO
    }
}

/// What to do with the data read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Build the Secret and write it.
    Write,
    /// Nothing was found and `deletionPolicy: Delete`: delete the Secret.
    Delete,
    /// Nothing was found and `deletionPolicy: Retain`: keep the Secret.
    Retain,
}

/// Decides what the data read leads to. `deletionPolicy: Merge` (and any
/// read that found data) writes: an empty read under `Merge` removes our
/// keys, as ESO does. A read that failed never gets here (see
/// [`crate::fetch`]), so a provider error never empties a Secret.
pub(super) fn after_read(es: &ExternalSecret, found_nothing: bool) -> Step {
    match es.spec.target.deletion_policy() {
        DeletionPolicy::Delete if found_nothing => Step::Delete,
        DeletionPolicy::Retain if found_nothing => Step::Retain,
        _ => Step::Write,
    }
}

/// How a successful sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Written(Written),
    Deleted,
    Retained,
}

/// The Event a write is announced with, if any (`reason`, `note`).
pub(super) fn event_for(written: Written) -> Option<(&'static str, &'static str)> {
    match written {
        Written::Created => Some((REASON_CREATED, "secret created")),
        Written::Updated => Some((REASON_UPDATED, "secret updated")),
        _ => None,
    }
}

/// The status recording a successful sync of data read at `fetched`.
pub(super) fn done_status(
    es: &ExternalSecret,
    due: &Due,
    fetched: SystemTime,
    outcome: Outcome,
) -> ExternalSecretStatus {
    let name = es.name_any();
    let target = es.spec.target.secret_name(&name).to_owned();
    let (reason, message, binding) = match outcome {
        Outcome::Written(Written::MergeTargetMissing) => (
            REASON_SECRET_MISSING,
            "secret will not be created due to CreationPolicy=Merge",
            None,
        ),
        Outcome::Written(Written::Skipped) => (REASON_SECRET_SYNCED, "secret synced", None),
        Outcome::Written(_) => (REASON_SECRET_SYNCED, "secret synced", Some(target)),
        Outcome::Deleted => (
            REASON_SECRET_DELETED,
            "secret deleted due to DeletionPolicy=Delete",
            None,
        ),
        Outcome::Retained => (
            REASON_SECRET_SYNCED,
            "secret retained due to DeletionPolicy=Retain",
            None,
        ),
    };
    let mut status = es.status.clone().unwrap_or_default();
    set_ready(&mut status, true, reason, message);
    status.refresh_time = Some(Time(
        Timestamp::try_from(fetched).unwrap_or_else(|_| Timestamp::now()),
    ));
    status.synced_resource_version = Some(due.version.clone());
    if let Some(b) = binding {
        status.binding = Some(LocalObjectReference { name: b });
    }
    status
}

/// Whether a successful sync's status must be written. Always, unless
/// `slack` (`--refresh-time-slack`) is set: then a sync that changes
/// nothing in the status but `refreshTime` skips the write while the
/// recorded `refreshTime` is less than `slack` older than the new one, so
/// `refreshTime` lags the last refresh by less than `slack`. The schedule
/// does not depend on it: this process keeps its own record of each sync.
pub(super) fn status_write_needed(
    current: Option<&ExternalSecretStatus>,
    new: &ExternalSecretStatus,
    slack: Duration,
) -> bool {
    let Some(current) = current else {
        return true;
    };
    if slack.is_zero() {
        return true;
    }
    let (Some(recorded), Some(refreshed)) = (&current.refresh_time, &new.refresh_time) else {
        return true;
    };
    let behind = refreshed.0.duration_since(recorded.0);
    let same_otherwise = ExternalSecretStatus {
        refresh_time: current.refresh_time.clone(),
        ..new.clone()
    } == *current;
    !same_otherwise || behind.is_negative() || behind.unsigned_abs() >= slack
}

pub(super) fn ready(status: &ExternalSecretStatus) -> Option<&ExternalSecretCondition> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == CONDITION_READY)
}

/// Sets the `Ready` condition, keeping `lastTransitionTime` when the
/// status does not change.
pub(super) fn set_ready(status: &mut ExternalSecretStatus, ok: bool, reason: &str, message: &str) {
    let value = if ok { "True" } else { "False" };
    let transition = match ready(status) {
        Some(c) if c.status == value => c.last_transition_time.clone(),
        _ => Some(Time(Timestamp::now())),
    };
    status.conditions.retain(|c| c.type_ != CONDITION_READY);
    status.conditions.push(ExternalSecretCondition {
        type_: CONDITION_READY.to_owned(),
        status: value.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        last_transition_time: transition,
    });
}

#[cfg(test)]
mod tests;
