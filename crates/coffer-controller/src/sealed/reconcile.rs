//! Reconcile SealedSecret → Secret: the I/O around [`plan`].
//!
//! One pass: hash the SealedSecret's inputs; if the cache of Secrets we
//! wrote shows its Secret ours and unchanged, stop without an API request.
//! Otherwise read the Secret (unless neither Secret watch knows one of
//! that name: then it is planned as missing, and a create refused with 409
//! reads it and plans again) and follow the plan: refuse a foreign Secret,
//! keep an unchanged one, or unseal (coffer-sealed, the function the CLI
//! uses too) and create or replace it. The outcome is reported as the
//! `Synced` condition, an Event and metrics. Every outcome is idempotent;
//! what is retried and why is spelled out in [`plan::Outcome`] and
//! [`plan::Failure`].

use std::sync::Arc;
use std::time::Duration;

use coffer_api::SealedSecret;
use coffer_external::Retries;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};

use crate::Shutdown;
use crate::context::{Context, FIELD_MANAGER};
use crate::error::{Error, Result};
use crate::sealed::plan::{self, Class, Failure, Outcome, Plan, Write};
use crate::sealed::secret::Plain;
use crate::sealed::state::StatusWrite;
use crate::sealed::watches;

/// The `controller` label of this controller's metrics.
pub const CONTROLLER: &str = "sealedsecret";

/// First retry delay after an API error; doubled on each further error of
/// the same SealedSecret, up to [`RETRY_MAX`].
const RETRY_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay.
const RETRY_MAX: Duration = Duration::from_secs(300);

/// The retry backoff of SealedSecrets (1 s, 2 s, 4 s, ... up to 5 minutes),
/// the implementation the ExternalSecret controller uses too.
pub(crate) fn retries() -> Retries {
    Retries::new(RETRY_BASE, RETRY_MAX)
}

/// Reconciles in flight at once (per watched namespace). Unbounded, a cold
/// start over thousands of SealedSecrets holds every request and plaintext
/// in memory at once for no gain: decryption is CPU-bound and the API server
/// is one connection pool. (`benches/scale.rs` measures the effect.)
const CONCURRENCY: u16 = 32;

/// Runs the SealedSecret controller over one namespace (or all) until
/// `stop` fires, then lets in-flight reconciles finish and returns.
/// SealedSecrets are watched through `label_selector` (if any): one it does
/// not match is never unsealed. Secrets are watched by name (see
/// [`watches`]), so a deleted or edited Secret is put back; a new key
/// re-triggers everything.
pub async fn run(
    ctx: Arc<Context>,
    namespace: Option<String>,
    label_selector: Option<String>,
    stop: Shutdown,
) {
    let (sealed_api, secret_api, secret_meta_api) = match &namespace {
        Some(ns) => (
            Api::<SealedSecret>::namespaced(ctx.client.clone(), ns),
            Api::<Secret>::namespaced(ctx.client.clone(), ns),
            Api::namespaced(ctx.client.clone(), ns),
        ),
        None => (
            Api::all(ctx.client.clone()),
            Api::all(ctx.client.clone()),
            Api::all(ctx.client.clone()),
        ),
    };
    let mut sealed_watch = watcher::Config::default();
    if let Some(selector) = &label_selector {
        sealed_watch = sealed_watch.labels(selector);
    }
    let key_changes = changes(ctx.keys.subscribe());
    // NB: a shard gained (see `crate::shard`) makes every SealedSecret due
    // again; those of other shards return at once.
    let gains = coffer_shard::gains(
        ctx.shards
            .as_ref()
            .map(|s| s as &dyn coffer_shard::Partition),
    );
    let recorder = ctx
        .sealed
        .written
        .recorder(namespace.clone(), ctx.keys.clone());
    let others_recorder = ctx.sealed.others.recorder(namespace.clone());
    // NB: the cache drops each SealedSecret's managedFields, which nothing
    // here reads and which, once a status is written, weigh about as much
    // as the rest of the object (benches/scale.rs measures peak memory).
    let (cache, writer) = reflector::store();
    let sealed_events = reflector::reflector(
        writer,
        watcher(sealed_api, sealed_watch)
            .modify(|s: &mut SealedSecret| s.managed_fields_mut().clear())
            .default_backoff(),
    )
    .applied_objects();
    let controller = Controller::for_stream(sealed_events, cache);
    let sealed_secrets = controller.store();
    let sweep = sweep(ctx.clone(), controller.store());
    let controller = controller
        .watches_stream(watches::owned(secret_api, recorder), |s: Secret| {
            watches::sealed_secret_of(&s.metadata)
        })
        .watches_stream(
            watches::others(secret_meta_api, others_recorder),
            move |s| watches::existing_sealed_secret(&sealed_secrets, &s.metadata),
        )
        .with_config(controller::Config::default().concurrency(CONCURRENCY))
        .reconcile_all_on(futures::stream::select(key_changes, gains))
        .graceful_shutdown_on(stop.fired())
        .run(own_reconcile, error_policy, ctx.clone())
        .for_each(|result| {
            // NB: a deleted SealedSecret shows up here (its trigger finds
            // no object): Bitnami unregisters its condition then.
            if let Err(controller::Error::ObjectNotFound(gone)) = &result {
                ctx.metrics
                    .bitnami
                    .forget_conditions(gone.namespace.as_deref().unwrap_or_default(), &gone.name);
            }
            async move {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "reconcile trigger failed");
                }
            }
        });
    // The sweep never ends on its own; the controller ends at shutdown.
    tokio::select! {
        () = controller => {}
        () = sweep => {}
    }
}

/// Every [`coffer_external::SWEEP_EVERY`], forgets what the state keeps
/// for SealedSecrets the cache no longer holds: no reconcile runs for a
/// deleted object, so nothing else would, and under create/delete churn
/// the maps would grow for the life of the process.
async fn sweep(ctx: Arc<Context>, cache: Store<SealedSecret>) {
    coffer_external::sweep_every(coffer_external::SWEEP_EVERY, || {
        if coffer_external::listed(&cache) {
            let live = cache
                .state()
                .iter()
                .filter_map(|s| s.metadata.uid.clone())
                .collect();
            ctx.sealed.prune(&live);
            // NB: with shards, a SealedSecret another replica now holds is
            // that replica's to report; its condition here would go stale.
            if let Some(shards) = &ctx.shards {
                for sealed in cache.state() {
                    let (ns, name) = (sealed.namespace().unwrap_or_default(), sealed.name_any());
                    if !coffer_shard::Partition::holds(shards, &ns, &name) {
                        ctx.metrics.bitnami.forget_conditions(&ns, &name);
                    }
                }
            }
        }
    })
    .await;
}

/// [`timed_reconcile`], if the SealedSecret is this replica's (see
/// [`crate::shard`]); one that is not waits for a change, or for this
/// replica to gain its shard.
async fn own_reconcile(sealed: Arc<SealedSecret>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = sealed.namespace().unwrap_or_default();
    let name = sealed.name_any();
    let partition = ctx
        .shards
        .as_ref()
        .map(|s| s as &dyn coffer_shard::Partition);
    coffer_shard::gated(
        partition,
        &namespace,
        &name,
        timed_reconcile(sealed.clone(), ctx.clone()),
    )
    .await
    .unwrap_or(Ok(Action::await_change()))
}

/// [`reconcile`], timed into the reconcile-duration histogram; a success
/// resets the object's retry backoff.
async fn timed_reconcile(sealed: Arc<SealedSecret>, ctx: Arc<Context>) -> Result<Action> {
    let started = std::time::Instant::now();
    let result = reconcile(sealed.clone(), ctx.clone()).await;
    let outcome = if result.is_ok() { "success" } else { "error" };
    ctx.metrics
        .observe_reconcile(CONTROLLER, outcome, started.elapsed());
    if result.is_ok() {
        ctx.sealed
            .retries
            .forget(sealed.metadata.uid.as_deref().unwrap_or_default());
    }
    result
}

/// Retries API failures with exponential backoff per SealedSecret (1 s,
/// 2 s, 4 s, ... up to 5 minutes), counting each; the failure was already
/// reported as an Event and condition.
fn error_policy(sealed: Arc<SealedSecret>, error: &Error, ctx: Arc<Context>) -> Action {
    let uid = sealed.metadata.uid.as_deref().unwrap_or_default();
    let (attempt, delay) = ctx.sealed.retries.failed(uid);
    ctx.metrics
        .reconcile_error(CONTROLLER, error.metric_label());
    // Matches Bitnami's work queue: `--max-unseal-retries` requeues, then
    // the object is forgotten until it (or its Secret, or the keys) change.
    if attempt > ctx.sealed.max_unseal_retries {
        ctx.sealed.retries.forget(uid);
        tracing::warn!(
            sealed_secret = %coffer_sealed::object_ref(&sealed.metadata),
            error = %error,
            retries = ctx.sealed.max_unseal_retries,
            "reconcile failed; giving up until the SealedSecret changes"
        );
        return Action::await_change();
    }
    tracing::warn!(
        sealed_secret = %coffer_sealed::object_ref(&sealed.metadata),
        error = %error,
        attempt,
        retry_in = ?delay,
        "reconcile failed; retrying"
    );
    Action::requeue(delay)
}

/// Reconciles one SealedSecret.
pub async fn reconcile(sealed: Arc<SealedSecret>, ctx: Arc<Context>) -> Result<Action> {
    ctx.metrics.unseal_request();
    if sealed.metadata.deletion_timestamp.is_some() {
        // The garbage collector removes the owned Secret.
        return Ok(Action::await_change());
    }
    let namespace = sealed.namespace().unwrap_or_default();
    let object = coffer_sealed::object_ref(&sealed.metadata);
    let uid = sealed.metadata.uid.clone().unwrap_or_default();
    let outcome = match sync(&sealed, &ctx, &namespace).await {
        Ok((outcome, attempt)) => {
            let mut failures = ctx
                .sealed
                .last_failure
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match outcome.remember_failure() {
                Some(true) => failures.insert(uid, attempt),
                Some(false) => failures.remove(&uid),
                None => None,
            };
            outcome
        }
        Err(e) => {
            // NB: reported like Bitnami (Event + condition), then retried.
            let _ = perform_report(
                &ctx,
                &sealed,
                &namespace,
                plan::report_api_error(&e.to_string()),
            )
            .await;
            return Err(e);
        }
    };
    tracing::debug!(sealed_secret = %object, ?outcome, "reconciled");
    if let Outcome::Failed(f) = &outcome {
        tracing::warn!(sealed_secret = %object, reason = f.reason, message = %f.message, "cannot sync SealedSecret");
    }
    let report = plan::report(&outcome);
    let retry = report.retry;
    perform_report(&ctx, &sealed, &namespace, report).await?;
    if retry {
        return Err(Error::RenderTimedOut { object });
    }
    Ok(Action::await_change())
}

/// Counts, publishes and writes what `report` says.
async fn perform_report(
    ctx: &Context,
    sealed: &SealedSecret,
    namespace: &str,
    report: plan::Report,
) -> Result<()> {
    if let Some(metric) = report.error_metric {
        ctx.metrics.unseal_error(metric, namespace);
    }
    if let Some((type_, reason, note)) = &report.event {
        publish(ctx, sealed, *type_, reason, note).await;
    }
    match &report.condition {
        Some((synced, reason, message)) => {
            write_status(ctx, sealed, *synced, reason, message).await
        }
        None => Ok(()),
    }
}

/// Brings the Secret in line with the SealedSecret. API errors are returned
/// (retried); everything else is an [`Outcome`], with the inputs of this
/// attempt (see `SealedState::last_failure`).
async fn sync(sealed: &SealedSecret, ctx: &Context, namespace: &str) -> Result<(Outcome, String)> {
    let name = sealed.name_any();
    let hash = coffer_sealed::inputs_hash(sealed);
    ctx.sealed.ready(namespace).await;
    if let Some(cached) = ctx.sealed.written.get(namespace, &name)
        && plan::classify(sealed, &hash, &cached, &ctx.keys) == Class::Unchanged
    {
        // NB: no API request; a stale entry cannot get here, since every
        // change to the Secret updates the cache before it triggers us.
        return Ok((Outcome::Unchanged, String::new()));
    }
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    // Neither watch knows a Secret of this name (a cold start: every
    // SealedSecret): plan it missing without reading. The create is
    // atomic; if a Secret exists after all (created since, or a hashed
    // name that went stale), it is refused with 409, and the pass is
    // planned again from the Secret as read, under the same rules.
    if ctx.sealed.unseen(namespace, &name) {
        match sync_with(sealed, ctx, namespace, &secrets, &hash, None).await {
            Err(e) if e.is_already_exists() => {}
            other => return other,
        }
    }
    let existing = secrets
        .get_opt(&name)
        .await
        .map_err(Error::kube(format!("read Secret {namespace}/{name}")))?
        .map(Plain);
    sync_with(sealed, ctx, namespace, &secrets, &hash, existing).await
}

/// [`sync`] given the Secret as read (`None`: it does not exist).
async fn sync_with(
    sealed: &SealedSecret,
    ctx: &Context,
    namespace: &str,
    secrets: &Api<Secret>,
    hash: &str,
    existing: Option<Plain>,
) -> Result<(Outcome, String)> {
    let uid = sealed.metadata.uid.as_deref();
    let attempt = format!(
        "{hash} {} {}",
        ctx.keys.version(),
        existing
            .as_ref()
            .and_then(|s| s.metadata.resource_version.as_deref())
            .unwrap_or("-")
    );
    let repeated = ctx
        .sealed
        .last_failure
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(uid.unwrap_or_default())
        .is_some_and(|last| *last == attempt);
    if repeated {
        return Ok((Outcome::Repeated, attempt));
    }
    let existing = existing.as_deref();
    let outcome = match plan::plan(sealed, existing, hash, &ctx.keys) {
        Plan::Refuse(failure) => Outcome::Failed(failure),
        Plan::Keep { relabel } => {
            if let Some(target) = relabel {
                replace(secrets, namespace, &target, "label").await?;
            }
            Outcome::Unchanged
        }
        Plan::Unseal => unseal_and_write(sealed, ctx, namespace, secrets, existing, hash).await?,
    };
    Ok((outcome, attempt))
}

/// Unseals `sealed` on the render pool and performs the [`plan::write_plan`].
async fn unseal_and_write(
    sealed: &SealedSecret,
    ctx: &Context,
    namespace: &str,
    secrets: &Api<Secret>,
    existing: Option<&Secret>,
    hash: &str,
) -> Result<Outcome> {
    ctx.metrics.decryption();
    let keys = ctx.keys.private_keys();
    let (owned, limits) = (sealed.clone(), ctx.sealed.template_limits);
    // NB: RSA decryption and templates are CPU-bound and a tenant chooses
    // how much: they run on the render pool, never on the async runtime.
    let opened = ctx
        .renders
        .run(move || coffer_sealed::unseal_with(&owned, &keys, &limits).map_err(Box::new))
        .await;
    let unsealed = match opened {
        Ok(unsealed) => unsealed.into_secret(),
        Err(e) => return Ok(Outcome::Failed(Failure::unseal(&e))),
    };
    let name = sealed.name_any();
    match plan::write_plan(sealed, existing, unsealed, hash, &ctx.keys) {
        Write::Nothing => {}
        Write::Create(desired) => {
            let created = secrets
                .create(&PostParams::default(), &desired)
                .await
                .map_err(Error::kube(format!("create Secret {namespace}/{name}")))?;
            drop(Plain(created));
        }
        Write::Replace(target) => match replace(secrets, namespace, &target, "update").await {
            Ok(()) => {}
            Err(Error::Kube { source, action }) => {
                return match Failure::of_write(&source, namespace, &name) {
                    Some(failure) => Ok(Outcome::Failed(failure)),
                    None => Err(Error::Kube { source, action }),
                };
            }
            Err(e) => return Err(e),
        },
    }
    Ok(Outcome::Written)
}

/// Replaces the Secret with `target`; `verb` names the step in an error.
async fn replace(
    secrets: &Api<Secret>,
    namespace: &str,
    target: &Secret,
    verb: &str,
) -> Result<()> {
    let name = target.name_any();
    let written = secrets
        .replace(&name, &PostParams::default(), target)
        .await
        .map_err(Error::kube(format!("{verb} Secret {namespace}/{name}")))?;
    drop(Plain(written));
    Ok(())
}

/// Publishes an Event on the SealedSecret; failures are logged, not fatal.
async fn publish(ctx: &Context, sealed: &SealedSecret, type_: EventType, reason: &str, note: &str) {
    coffer_external::events::publish(&ctx.recorder, sealed, "Unseal", type_, reason, note).await;
}

/// Writes the `Synced` condition and `observedGeneration` through the
/// status subresource (server-side apply, field manager
/// [`FIELD_MANAGER`]), only when [`plan::next_status`] says they change
/// and this very condition was not written over this version of the
/// object already ([`crate::sealed::state::SealedState::status_unseen`]);
/// not at all with `--update-status=false` (Bitnami).
async fn write_status(
    ctx: &Context,
    sealed: &SealedSecret,
    synced: bool,
    reason: &str,
    message: &str,
) -> Result<()> {
    let namespace = sealed.namespace().unwrap_or_default();
    let name = sealed.name_any();
    let observe = || {
        let instance = sealed
            .labels()
            .get("app.kubernetes.io/instance")
            .map_or("", String::as_str);
        let status = if synced { "True" } else { "False" };
        ctx.metrics.bitnami.observe_condition(
            &namespace,
            &name,
            instance,
            plan::CONDITION_SYNCED,
            status,
        );
    };
    let uid = sealed.metadata.uid.as_deref().unwrap_or_default();
    let write = StatusWrite {
        over: sealed.resource_version().unwrap_or_default(),
        synced,
        reason: reason.to_owned(),
        message: message.to_owned(),
    };
    let unseen = ctx.sealed.status_unseen(uid, &write);
    // As Bitnami: without --update-status the condition is computed (and
    // exported) but not written.
    let new_status = (ctx.sealed.update_status && !unseen)
        .then(|| plan::next_status(sealed, synced, reason, message, Time(Timestamp::now())))
        .flatten();
    let Some(new_status) = new_status else {
        observe();
        return Ok(());
    };
    let patch = serde_json::json!({
        "apiVersion": SealedSecret::api_version(&()),
        "kind": SealedSecret::kind(&()),
        "status": new_status,
    });
    let api: Api<SealedSecret> = Api::namespaced(ctx.client.clone(), &namespace);
    if let Err(e) = api
        .patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(patch),
        )
        .await
    {
        ctx.metrics.unseal_error("status", &namespace);
        return Err(Error::kube(format!(
            "write status of SealedSecret {namespace}/{name}"
        ))(e));
    }
    ctx.sealed.status_written(uid, write);
    observe();
    Ok(())
}

/// Yields `()` each time the key registry changes (after the value at
/// subscription time), to re-reconcile everything with the new keys.
fn changes(rx: tokio::sync::watch::Receiver<u64>) -> impl futures::Stream<Item = ()> + Send {
    futures::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        Some(((), rx))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_per_failure_up_to_five_minutes() {
        let retries = retries();
        let delays: Vec<u64> = (1..=10).map(|n| retries.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(retries.delay(u32::MAX), RETRY_MAX);
    }
}
