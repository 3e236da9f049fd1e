//! Reconciling one ExternalSecret: decide whether a sync is due
//! ([`schedule`]), read the stores ([`fetch`]), build and write the Secret
//! ([`build`], [`write`]), then record the outcome in the `Ready` condition,
//! Events and metrics, as ESO does.
//!
//! A failure never touches the existing Secret: it sets `Ready=False` with
//! a message naming the store, field and key, and the reconcile is retried
//! with backoff (or after the provider's throttling delay).

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use coffer_api::ExternalSecret;
use coffer_api::external::{
    CONDITION_READY, CreationPolicy, DeletionPolicy, ExternalSecretCondition, ExternalSecretStatus,
    LocalObjectReference, REASON_CREATED, REASON_DELETED, REASON_MISSING_PROVIDER_SECRET,
    REASON_SECRET_DELETED, REASON_SECRET_MISSING, REASON_SECRET_SYNCED, REASON_SECRET_SYNCED_ERROR,
    REASON_UPDATE_FAILED, REASON_UPDATED, RefreshPolicy,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::hash::synced_resource_version;
use crate::schedule::{self, Decision, Inputs, Why};
use crate::write::Written;
use crate::{build, fetch, write};

/// First retry delay after a failure; doubles up to [`RETRY_MAX`].
const RETRY_BASE: Duration = Duration::from_secs(5);
/// Longest retry delay after repeated failures.
const RETRY_MAX: Duration = Duration::from_secs(300);

/// The retry backoff of ExternalSecrets: 5 s, 10 s, ... 5 min.
pub(crate) fn retries() -> crate::Retries {
    crate::Retries::new(RETRY_BASE, RETRY_MAX)
}

/// Reconciles one ExternalSecret (timed and counted).
pub async fn reconcile(es: Arc<ExternalSecret>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let namespace = es.namespace().unwrap_or_default();
    let name = es.name_any();
    let result = reconcile_inner(&es, &ctx).await;
    ctx.metrics
        .sync_call(&namespace, &name, started.elapsed(), result.is_ok());
    if result.is_ok() {
        ctx.retries
            .forget(es.meta().uid.as_deref().unwrap_or_default());
    }
    result
}

/// Retries with exponential backoff per ExternalSecret (5 s, 10 s, ... 5
/// min), or after the provider's throttling delay when it gave one.
pub fn error_policy(es: Arc<ExternalSecret>, error: &Error, ctx: Arc<Context>) -> Action {
    let (attempt, backoff) = ctx
        .retries
        .failed(es.meta().uid.as_deref().unwrap_or_default());
    let delay = error
        .retry_after()
        .map_or(backoff, |after| after.max(RETRY_BASE));
    tracing::warn!(
        external_secret = %format!("{}/{}", es.namespace().unwrap_or_default(), es.name_any()),
        error = %error,
        attempt,
        retry_in = ?delay,
        "sync failed; the Secret is left as it was"
    );
    Action::requeue(delay)
}

async fn reconcile_inner(es: &ExternalSecret, ctx: &Context) -> Result<Action> {
    if es.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    match sync_if_due(es, ctx).await {
        Ok(action) => Ok(action),
        Err(e) => {
            mark_failed(ctx, es, &e).await;
            if e.is_permanent() {
                Ok(Action::await_change())
            } else {
                Err(e)
            }
        }
    }
}

/// ESO's admission rules, checked here since Coffer has no webhook.
fn validate(es: &ExternalSecret) -> Result<()> {
    let target = &es.spec.target;
    let (creation, deletion) = (target.creation_policy(), target.deletion_policy());
    if deletion == DeletionPolicy::Delete
        && matches!(creation, CreationPolicy::Merge | CreationPolicy::None)
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
    Ok(())
}

async fn sync_if_due(es: &ExternalSecret, ctx: &Context) -> Result<Action> {
    validate(es)?;
    let interval = es
        .spec
        .refresh_interval()
        .map_err(|e| Error::InvalidSpec(format!("spec.refreshInterval: {e}")))?;
    let policy = es.spec.refresh_policy();
    let namespace = es.namespace().unwrap_or_default();
    let name = es.name_any();
    let uid = es.meta().uid.clone().unwrap_or_default();
    let status = es.status.clone().unwrap_or_default();
    let version = synced_resource_version(
        es.metadata.generation.unwrap_or_default(),
        es.metadata
            .annotations
            .as_ref()
            .unwrap_or(&Default::default()),
        es.metadata.labels.as_ref().unwrap_or(&Default::default()),
    );
    let last_reason = ready(&status).and_then(|c| c.reason.clone());
    let target = es.spec.target.secret_name(&name);
    // Whether a Secret is expected: not for None/Orphan (not policed, as
    // ESO), nor after the last sync deleted it or found no Merge target.
    let expect_secret = !matches!(
        es.spec.target.creation_policy(),
        CreationPolicy::None | CreationPolicy::Orphan
    ) && !matches!(
        last_reason.as_deref(),
        Some(REASON_SECRET_DELETED | REASON_SECRET_MISSING)
    );
    let secret_intact = !expect_secret
        || ctx
            .secrets
            .get(&namespace, target)
            .is_some_and(|s| s.intact());
    let mut refresh_time = status.refresh_time.as_ref().map(|t| SystemTime::from(t.0));
    let mut synced_version = status.synced_resource_version.clone();
    // The watch cache may not have our last status write yet.
    if let Some((time, recorded)) = ctx
        .last_sync
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&uid)
        .cloned()
        && refresh_time.is_none_or(|t| t < time)
    {
        refresh_time = Some(time);
        synced_version = Some(recorded);
    }
    let inputs = Inputs {
        now: SystemTime::now(),
        refresh_time,
        synced_current_version: synced_version.as_deref() == Some(version.as_str()),
        secret_intact,
        interval,
        policy,
        jitter: schedule::jitter_fraction(&uid),
        first_since_start: ctx.first_sight(&uid),
    };
    let why = match schedule::decide(&inputs) {
        Decision::Wait(after) => return Ok(Action::requeue(after)),
        Decision::Idle => return Ok(Action::await_change()),
        Decision::SyncNow(why) => why,
    };
    tracing::debug!(external_secret = %format!("{namespace}/{name}"), ?why, "syncing");

    // Reads younger than half the interval are fresh enough: ExternalSecrets
    // sharing a key then read it once per cycle, and the next refresh is
    // scheduled from the read's time, so no Secret gets staler than its
    // interval. Not for a synced ExternalSecret that changed (a force-sync
    // annotation, an edit): its user asked for what the provider has now.
    let asked_for_now = why == Why::Changed && status.refresh_time.is_some();
    let max_age = if policy == RefreshPolicy::Periodic && !asked_for_now {
        interval / 2
    } else {
        Duration::ZERO
    };
    let started_wall = SystemTime::now();
    let started = Instant::now();
    let Some(gathered) = fetch::gather(ctx, es, max_age).await? else {
        // A store belongs to another controller class.
        return Ok(Action::await_change());
    };
    for field in &gathered.missing {
        publish(
            ctx,
            es,
            EventType::Normal,
            REASON_MISSING_PROVIDER_SECRET,
            &format!("secret does not exist at provider using {field}"),
        )
        .await;
    }
    let fetched_wall = started_wall
        .checked_sub(started.saturating_duration_since(gathered.oldest_fetch))
        .unwrap_or(started_wall);

    let deletion = es.spec.target.deletion_policy();
    let outcome = if gathered.data.is_empty() && deletion == DeletionPolicy::Delete {
        if write::delete_target(ctx, es).await? {
            publish(
                ctx,
                es,
                EventType::Normal,
                REASON_DELETED,
                "secret deleted due to DeletionPolicy=Delete",
            )
            .await;
        }
        Outcome::Deleted
    } else if gathered.data.is_empty() && deletion == DeletionPolicy::Retain {
        Outcome::Retained
    } else {
        let desired = build::build(ctx, es, gathered.data).await?;
        let written = write::write(ctx, es, desired).await?;
        match written {
            Written::Created => {
                publish(ctx, es, EventType::Normal, REASON_CREATED, "secret created").await
            }
            Written::Updated => {
                publish(ctx, es, EventType::Normal, REASON_UPDATED, "secret updated").await
            }
            _ => {}
        }
        Outcome::Written(written)
    };
    mark_done(ctx, es, &version, fetched_wall, outcome).await?;
    Ok(
        match schedule::after_sync(policy, interval, fetched_wall, SystemTime::now()) {
            Decision::Wait(after) => Action::requeue(after),
            _ => Action::await_change(),
        },
    )
}

/// How a successful sync ended.
enum Outcome {
    Written(Written),
    Deleted,
    Retained,
}

fn ready(status: &ExternalSecretStatus) -> Option<&ExternalSecretCondition> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == CONDITION_READY)
}

async fn mark_done(
    ctx: &Context,
    es: &ExternalSecret,
    version: &str,
    fetched: SystemTime,
    outcome: Outcome,
) -> Result<()> {
    let name = es.name_any();
    let target = es.spec.target.secret_name(&name).to_owned();
    let (reason, message, binding) = match outcome {
        Outcome::Written(Written::MergeTargetMissing) => (
            REASON_SECRET_MISSING,
            "secret will not be created due to CreationPolicy=Merge",
            None,
        ),
        Outcome::Written(Written::NotWritten) => (REASON_SECRET_SYNCED, "secret synced", None),
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
    status.synced_resource_version = Some(version.to_owned());
    if let Some(b) = binding {
        status.binding = Some(LocalObjectReference { name: b });
    }
    ctx.metrics
        .ready(&es.namespace().unwrap_or_default(), &name, true);
    patch_status(ctx, es, &status).await?;
    ctx.last_sync
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            es.meta().uid.clone().unwrap_or_default(),
            (fetched, version.to_owned()),
        );
    Ok(())
}

async fn mark_failed(ctx: &Context, es: &ExternalSecret, error: &Error) {
    let namespace = es.namespace().unwrap_or_default();
    let name = es.name_any();
    ctx.metrics.sync_error(&namespace, &name);
    ctx.metrics.ready(&namespace, &name, false);
    let message = format!("{}: {error}", error.condition_message());
    publish(ctx, es, EventType::Warning, REASON_UPDATE_FAILED, &message).await;
    let mut status = es.status.clone().unwrap_or_default();
    let before = status.clone();
    set_ready(&mut status, false, REASON_SECRET_SYNCED_ERROR, &message);
    if status == before {
        return;
    }
    if let Err(e) = patch_status(ctx, es, &status).await {
        tracing::warn!(external_secret = %format!("{namespace}/{name}"), error = %e, "could not record the failure in status");
    }
}

/// Sets the `Ready` condition, keeping `lastTransitionTime` when the
/// status does not change.
fn set_ready(status: &mut ExternalSecretStatus, ok: bool, reason: &str, message: &str) {
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

async fn patch_status(
    ctx: &Context,
    es: &ExternalSecret,
    status: &ExternalSecretStatus,
) -> Result<()> {
    let namespace = es.namespace().unwrap_or_default();
    let name = es.name_any();
    let api: Api<ExternalSecret> = Api::namespaced(ctx.client.clone(), &namespace);
    let patch = serde_json::json!({ "status": status });
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(|e| Error::Kube {
            action: format!("write status of ExternalSecret {namespace}/{name}"),
            source: e,
        })?;
    Ok(())
}

/// Publishes an Event on the ExternalSecret; failures are logged only.
async fn publish(ctx: &Context, es: &ExternalSecret, type_: EventType, reason: &str, note: &str) {
    crate::events::publish(&ctx.recorder, es, "Sync", type_, reason, note).await;
}
