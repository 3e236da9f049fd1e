//! Reconciling one ExternalSecret: decide whether a sync is due
//! ([`schedule`]), read the stores ([`fetch`]), build and write the Secret
//! ([`build`], [`write`]), then record the outcome in the `Ready` condition,
//! Events and metrics, as ESO does.
//!
//! A failure never touches the existing Secret: it sets `Ready=False` with
//! a message naming the store, field and key, and the reconcile is retried
//! with backoff (or after the provider's throttling delay).
//!
//! The decisions are pure functions in [`plan`]; this module reads what
//! they need and performs them.

mod plan;

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use coffer_api::ExternalSecret;
use coffer_api::external::{
    ExternalSecretStatus, REASON_DELETED, REASON_MISSING_PROVIDER_SECRET,
    REASON_SECRET_SYNCED_ERROR, REASON_UPDATE_FAILED,
};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::schedule::{self, Decision};
use crate::transform::SecretData;
use crate::{build, fetch, write};
use plan::{Due, Observed, Outcome, Step, set_ready};

/// First retry delay after a failure; doubles up to [`RETRY_MAX`].
const RETRY_BASE: Duration = Duration::from_secs(5);
/// Longest retry delay after repeated failures.
const RETRY_MAX: Duration = Duration::from_secs(300);

/// The retry backoff of ExternalSecrets: 5 s, 10 s, ... 5 min, doubled
/// only by retries that were due: a failed sync writes the Ready condition,
/// whose watch event wakes the ExternalSecret again at once.
pub(crate) fn retries() -> crate::Retries {
    crate::Retries::new(RETRY_BASE, RETRY_MAX).escalating_only_when_due()
}

/// Reconciles one ExternalSecret (timed and counted), if it is this
/// replica's to sync (see `Config::partition`); one that is not waits
/// for a change, or for this replica to gain its shard.
pub async fn reconcile(es: Arc<ExternalSecret>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = es.namespace().unwrap_or_default();
    let name = es.name_any();
    let partition = ctx.config.partition.as_deref();
    // NB: boxed: a sync's future is large (clippy::large_futures).
    let sync = Box::pin(timed(&es, &ctx));
    let synced = coffer_shard::gated(partition, &namespace, &name, sync).await;
    synced.unwrap_or(Ok(Action::await_change()))
}

async fn timed(es: &Arc<ExternalSecret>, ctx: &Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let namespace = es.namespace().unwrap_or_default();
    let name = es.name_any();
    let result = reconcile_inner(es, ctx).await;
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
        kind = error.metric_label(),
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

async fn sync_if_due(es: &ExternalSecret, ctx: &Context) -> Result<Action> {
    let interval = plan::validate(es)?;
    let due = plan::observe(es, interval, observe(ctx, es));
    let why = match schedule::decide(&due.inputs) {
        Decision::Wait(after) => return Ok(Action::requeue(after)),
        Decision::Idle => return Ok(Action::await_change()),
        Decision::SyncNow(why) => why,
    };
    tracing::debug!(
        external_secret = %format!("{}/{}", es.namespace().unwrap_or_default(), es.name_any()),
        ?why,
        "syncing"
    );

    let started_wall = SystemTime::now();
    let started = Instant::now();
    let Some(gathered) = fetch::gather(ctx, es, plan::max_age(es, &due, why)).await? else {
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
    let step = plan::after_read(es, gathered.data.is_empty());
    let outcome = perform(ctx, es, step, gathered.data).await?;
    mark_done(ctx, es, &due, fetched_wall, outcome).await?;
    let next = schedule::after_sync(
        due.inputs.policy,
        due.inputs.interval,
        fetched_wall,
        SystemTime::now(),
    );
    Ok(match next {
        Decision::Wait(after) => Action::requeue(after),
        _ => Action::await_change(),
    })
}

/// What the schedule needs besides the ExternalSecret: its Secret's
/// summary and this process's record of the object.
fn observe(ctx: &Context, es: &ExternalSecret) -> Observed {
    let uid = es.meta().uid.clone().unwrap_or_default();
    let name = es.name_any();
    let target = es.spec.target.secret_name(&name);
    Observed {
        now: SystemTime::now(),
        secret: ctx.secrets.get(&es.namespace().unwrap_or_default(), target),
        last_sync: ctx
            .last_sync
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&uid)
            .cloned(),
        first_since_start: ctx.first_sight(&uid),
    }
}

/// Performs `step` with the data read, announcing what changed.
async fn perform(
    ctx: &Context,
    es: &ExternalSecret,
    step: Step,
    data: SecretData,
) -> Result<Outcome> {
    Ok(match step {
        Step::Delete => {
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
        }
        Step::Retain => Outcome::Retained,
        Step::Write => {
            let desired = build::build(ctx, es, data).await?;
            let written = write::write(ctx, es, desired).await?;
            if let Some((reason, note)) = plan::event_for(written) {
                publish(ctx, es, EventType::Normal, reason, note).await;
            }
            Outcome::Written(written)
        }
    })
}

async fn mark_done(
    ctx: &Context,
    es: &ExternalSecret,
    due: &Due,
    fetched: SystemTime,
    outcome: Outcome,
) -> Result<()> {
    let status = plan::done_status(es, due, fetched, outcome);
    ctx.metrics
        .ready(&es.namespace().unwrap_or_default(), &es.name_any(), true);
    if plan::status_write_needed(es.status.as_ref(), &status, ctx.config.refresh_time_slack) {
        patch_status(ctx, es, &status).await?;
    }
    ctx.last_sync
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            es.meta().uid.clone().unwrap_or_default(),
            (fetched, due.version.clone()),
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
