//! Reconcile SealedSecret → Secret.
//!
//! One pass: hash the SealedSecret's inputs; if its Secret exists, is ours
//! and is exactly what we wrote for those inputs, stop without decrypting.
//! Otherwise unseal (coffer-sealed, the function the CLI uses too), build
//! the Secret with Bitnami's ownership rules (owner reference, `managed`,
//! `patch`, refuse a foreign Secret), create or update it, and report the
//! outcome as the `Synced` condition, an Event and metrics. Every outcome is
//! idempotent; what is retried and why is spelled out in [`Outcome`].

use std::sync::Arc;
use std::time::Duration;

use coffer_api::{SealedSecret, SealedSecretCondition, SealedSecretStatus};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use crate::Shutdown;
use crate::context::{Context, FIELD_MANAGER};
use crate::error::{Error, Result};
use crate::sealed::{secret, watches};

/// Event reason and condition reason on success (matches Bitnami).
pub const REASON_UNSEALED: &str = "Unsealed";
/// Event and condition reason when the values cannot be unsealed.
pub const REASON_UNSEAL_FAILED: &str = "ErrUnsealFailed";
/// Event and condition reason when the Secret cannot be written.
pub const REASON_UPDATE_FAILED: &str = "ErrUpdateFailed";
/// The condition type (matches Bitnami).
pub const CONDITION_SYNCED: &str = "Synced";

/// The `controller` label of this controller's metrics.
pub const CONTROLLER: &str = "sealedsecret";

/// First retry delay after an API error; doubled on each further error of
/// the same SealedSecret, up to [`RETRY_MAX`].
const RETRY_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay.
const RETRY_MAX: Duration = Duration::from_secs(300);

/// Reconciles in flight at once (per watched namespace). Unbounded, a cold
/// start over thousands of SealedSecrets holds every request and plaintext
/// in memory at once for no gain: decryption is CPU-bound and the API server
/// is one connection pool. (`benches/scale.rs` measures the effect.)
const CONCURRENCY: u16 = 32;

/// What one reconcile did.
#[derive(Debug)]
enum Outcome {
    /// The Secret was already what the SealedSecret makes: nothing decrypted.
    Unchanged,
    /// The Secret was created or updated (or found equal after decrypting).
    Written,
    /// The last attempt failed with exactly these inputs; it is already
    /// reported, and trying again would fail the same way.
    Repeated,
    /// A failure that retrying cannot fix until the SealedSecret, the
    /// Secret or the keys change (each of which triggers a reconcile);
    /// except with `retry`: a template that ran out of time, which may
    /// render when tried again (with backoff) on a less busy machine.
    Failed {
        reason: &'static str,
        metric: &'static str,
        message: String,
        retry: bool,
    },
}

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
    let recorder = ctx.written.recorder(namespace.clone(), ctx.keys.clone());
    let controller = Controller::new(sealed_api, sealed_watch);
    let sealed_secrets = controller.store();
    controller
        .watches_stream(watches::owned(secret_api, recorder), |s: Secret| {
            watches::sealed_secret_of(&s.metadata)
        })
        .watches_stream(watches::others(secret_meta_api), move |s| {
            watches::existing_sealed_secret(&sealed_secrets, &s.metadata)
        })
        .with_config(controller::Config::default().concurrency(CONCURRENCY))
        .reconcile_all_on(key_changes)
        .graceful_shutdown_on(stop.fired())
        .run(timed_reconcile, error_policy, ctx.clone())
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
        })
        .await;
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
        let uid = sealed.metadata.uid.as_deref().unwrap_or_default();
        ctx.retries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
    }
    result
}

/// Retries API failures with exponential backoff per SealedSecret (1 s,
/// 2 s, 4 s, ... up to 5 minutes), counting each; the failure was already
/// reported as an Event and condition.
fn error_policy(sealed: Arc<SealedSecret>, error: &Error, ctx: Arc<Context>) -> Action {
    let uid = sealed.metadata.uid.clone().unwrap_or_default();
    let attempt = {
        let mut retries = ctx.retries.lock().unwrap_or_else(|e| e.into_inner());
        let n = retries.entry(uid).or_insert(0);
        *n = n.saturating_add(1);
        *n
    };
    ctx.metrics
        .reconcile_error(CONTROLLER, error.metric_label());
    // Matches Bitnami's work queue: `--max-unseal-retries` requeues, then
    // the object is forgotten until it (or its Secret, or the keys) change.
    if attempt > ctx.max_unseal_retries {
        ctx.retries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(sealed.metadata.uid.as_deref().unwrap_or_default());
        tracing::warn!(
            sealed_secret = %coffer_sealed::object_ref(&sealed.metadata),
            error = %error,
            retries = ctx.max_unseal_retries,
            "reconcile failed; giving up until the SealedSecret changes"
        );
        return Action::await_change();
    }
    let delay = retry_delay(attempt);
    tracing::warn!(
        sealed_secret = %coffer_sealed::object_ref(&sealed.metadata),
        error = %error,
        attempt,
        retry_in = ?delay,
        "reconcile failed; retrying"
    );
    Action::requeue(delay)
}

/// The delay before retry number `attempt` (1-based).
fn retry_delay(attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
    RETRY_BASE.saturating_mul(factor).min(RETRY_MAX)
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
            let mut failures = ctx.last_failure.lock().unwrap_or_else(|e| e.into_inner());
            match &outcome {
                Outcome::Failed { retry: false, .. } => failures.insert(uid, attempt),
                Outcome::Repeated => None,
                Outcome::Failed { retry: true, .. } | Outcome::Unchanged | Outcome::Written => {
                    failures.remove(&uid)
                }
            };
            outcome
        }
        Err(e) => {
            // NB: reported like Bitnami (Event + condition), then retried.
            ctx.metrics.unseal_error("update", &namespace);
            publish(
                &ctx,
                &sealed,
                EventType::Warning,
                REASON_UPDATE_FAILED,
                &e.to_string(),
            )
            .await;
            let _ = write_status(&ctx, &sealed, false, REASON_UPDATE_FAILED, &e.to_string()).await;
            return Err(e);
        }
    };
    tracing::debug!(sealed_secret = %object, ?outcome, "reconciled");
    match outcome {
        Outcome::Repeated => {}
        Outcome::Unchanged => {
            write_status(&ctx, &sealed, true, REASON_UNSEALED, SUCCESS_MESSAGE).await?;
        }
        Outcome::Written => {
            publish(
                &ctx,
                &sealed,
                EventType::Normal,
                REASON_UNSEALED,
                SUCCESS_MESSAGE,
            )
            .await;
            write_status(&ctx, &sealed, true, REASON_UNSEALED, SUCCESS_MESSAGE).await?;
        }
        Outcome::Failed {
            reason,
            metric,
            message,
            retry,
        } => {
            tracing::warn!(sealed_secret = %object, reason, %message, "cannot sync SealedSecret");
            ctx.metrics.unseal_error(metric, &namespace);
            publish(&ctx, &sealed, EventType::Warning, reason, &message).await;
            write_status(&ctx, &sealed, false, reason, &message).await?;
            if retry {
                return Err(Error::RenderTimedOut { object });
            }
        }
    }
    Ok(Action::await_change())
}

const SUCCESS_MESSAGE: &str = "SealedSecret unsealed successfully";

/// Brings the Secret in line with the SealedSecret. API errors are returned
/// (retried); everything else is an [`Outcome`], with the inputs of this
/// attempt (see `Context::last_failure`).
async fn sync(sealed: &SealedSecret, ctx: &Context, namespace: &str) -> Result<(Outcome, String)> {
    let name = sealed.name_any();
    let hash = coffer_sealed::inputs_hash(sealed);
    ctx.written.ready(namespace).await;
    if let Some(cached) = ctx.written.get(namespace, &name)
        && cached.is_unchanged_for(sealed, &hash)
    {
        // NB: no API request; a stale entry cannot get here, since every
        // change to the Secret updates the cache before it triggers us.
        return Ok((Outcome::Unchanged, String::new()));
    }
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let existing = secrets
        .get_opt(&name)
        .await
        .map_err(Error::kube(format!("read Secret {namespace}/{name}")))?
        .map(secret::Plain);
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
        .last_failure
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(uid.unwrap_or_default())
        .is_some_and(|last| *last == attempt);
    if repeated {
        return Ok((Outcome::Repeated, attempt));
    }
    let outcome = decide(sealed, ctx, namespace, &secrets, existing, &hash).await?;
    Ok((outcome, attempt))
}

/// The body of [`sync`]: skip, refuse, or unseal and write.
async fn decide(
    sealed: &SealedSecret,
    ctx: &Context,
    namespace: &str,
    secrets: &Api<Secret>,
    existing: Option<secret::Plain>,
    hash: &str,
) -> Result<Outcome> {
    let name = sealed.name_any();
    let set_owner = !secret::skips_owner_reference(sealed);

    if let Some(existing) = &existing {
        // NB: without an owner reference (skip-set-owner-references), the
        // Secret we wrote earlier is known by our inputs-hash annotation;
        // Bitnami instead refuses its own Secret on the next pass.
        let ours = secret::is_ours(existing, sealed);
        if !ours && !secret::is_managed(existing) && !secret::is_patched(existing) {
            return Ok(Outcome::Failed {
                reason: REASON_UPDATE_FAILED,
                metric: "unmanaged",
                message: format!(
                    "Resource {name:?} already exists and is not managed by SealedSecret"
                ),
                retry: false,
            });
        }
        if let Some(expected) = secret::expected_keys(sealed)
            && (ours || !set_owner)
            && secret::is_unchanged(existing, hash, &expected, &ctx.keys)
        {
            if !secret::is_labelled(existing.metadata.labels.as_ref()) {
                relabel(secrets, existing, hash, ctx).await?;
            }
            return Ok(Outcome::Unchanged);
        }
        if let Some(expected) = secret::expected_keys(sealed)
            && secret::is_unsealed_by_predecessor(existing, sealed, &expected)
        {
            // NB: no write either; see is_unsealed_by_predecessor.
            return Ok(Outcome::Unchanged);
        }
    }

    ctx.metrics.decryption();
    let keys = ctx.keys.private_keys();
    let (owned, limits) = (sealed.clone(), ctx.template_limits);
    // NB: RSA decryption and templates are CPU-bound and a tenant chooses
    // how much: they run on the render pool, never on the async runtime.
    let opened = ctx
        .renders
        .run(move || coffer_sealed::unseal_with(&owned, &keys, &limits).map_err(Box::new))
        .await;
    let unsealed = match opened {
        Ok(unsealed) => unsealed,
        Err(e) => {
            let retry = matches!(&*e, coffer_sealed::Error::Template { source, .. } if source.is_deadline());
            return Ok(Outcome::Failed {
                reason: REASON_UNSEAL_FAILED,
                metric: "unseal",
                message: format!("Failed to unseal: {e}"),
                retry,
            });
        }
    };
    let mut desired = secret::Plain(unsealed.into_secret());
    desired.metadata.owner_references = if set_owner {
        secret::owner_reference(sealed).map(|r| vec![r])
    } else {
        None
    };

    let Some(existing) = existing else {
        // NB: the API server defaults an unset type to Opaque; set it here so
        // the digest covers what is stored.
        desired.type_.get_or_insert_with(|| "Opaque".to_owned());
        secret::stamp(&mut desired, hash, &ctx.keys);
        let created = secrets
            .create(&PostParams::default(), &desired)
            .await
            .map_err(Error::kube(format!("create Secret {namespace}/{name}")))?;
        drop(secret::Plain(created));
        return Ok(Outcome::Written);
    };
    let mut target = secret::Plain(secret::merge(&existing, desired.take()));
    secret::stamp(&mut target, hash, &ctx.keys);
    if !secret::differs(&existing, &target) {
        return Ok(Outcome::Written);
    }
    match secrets
        .replace(&name, &PostParams::default(), &target)
        .await
    {
        Ok(written) => {
            drop(secret::Plain(written));
            Ok(Outcome::Written)
        }
        Err(e) if is_immutable_error(&e) => Ok(Outcome::Failed {
            reason: REASON_UPDATE_FAILED,
            metric: "update",
            // Matches Bitnami's message for this case.
            message: format!(
                "Error updating {namespace}/{name}: the target Secret is immutable. Once a Secret \
                 is marked as immutable, it is not possible to revert this change nor to mutate \
                 the contents of the data field. You can only delete and recreate the Secret."
            ),
            retry: false,
        }),
        Err(e) => Err(Error::kube(format!("update Secret {namespace}/{name}"))(e)),
    }
}

/// Labels a Secret written before [`secret::OWNED_LABEL`] existed (by an
/// older coffer), without decrypting: its data is verified unchanged, only
/// the label and the digest over it are new. From then on the Secret watch
/// sees it.
async fn relabel(
    secrets: &Api<Secret>,
    existing: &Secret,
    hash: &str,
    ctx: &Context,
) -> Result<()> {
    let mut target = secret::Plain(existing.clone());
    secret::stamp(&mut target, hash, &ctx.keys);
    let name = existing.name_any();
    let written = secrets
        .replace(&name, &PostParams::default(), &target)
        .await
        .map_err(Error::kube(format!(
            "label Secret {}/{name}",
            existing.namespace().unwrap_or_default()
        )))?;
    drop(secret::Plain(written));
    Ok(())
}

/// The API server's refusal to change an immutable Secret.
fn is_immutable_error(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.message.ends_with("field is immutable when `immutable` is set"))
}

/// Publishes an Event on the SealedSecret; failures are logged, not fatal.
async fn publish(ctx: &Context, sealed: &SealedSecret, type_: EventType, reason: &str, note: &str) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note.to_owned()),
        action: "Unseal".to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &sealed.object_ref(&())).await {
        tracing::warn!(error = %e, reason, "failed to publish Event");
    }
}

/// Writes the `Synced` condition and `observedGeneration` through the
/// status subresource (server-side apply, field manager
/// [`FIELD_MANAGER`]), only when they change, so a reconcile does not
/// trigger itself; not at all with `--update-status=false` (Bitnami).
async fn write_status(
    ctx: &Context,
    sealed: &SealedSecret,
    synced: bool,
    reason: &str,
    message: &str,
) -> Result<()> {
    let status = if synced { "True" } else { "False" };
    let namespace = sealed.namespace().unwrap_or_default();
    let name = sealed.name_any();
    let observe = || {
        let instance = sealed
            .labels()
            .get("app.kubernetes.io/instance")
            .map_or("", String::as_str);
        ctx.metrics.bitnami.observe_condition(
            &namespace,
            &name,
            instance,
            CONDITION_SYNCED,
            status,
        );
    };
    if !ctx.update_status {
        // As Bitnami: the condition is computed (and exported) but not
        // written.
        observe();
        return Ok(());
    }
    let current = sealed
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == CONDITION_SYNCED));
    let generation = sealed.metadata.generation;
    let observed = sealed.status.as_ref().and_then(|s| s.observed_generation);
    if let Some(c) = current
        && c.status == status
        && c.reason.as_deref() == Some(reason)
        && c.message.as_deref() == Some(message)
        && observed == generation
    {
        observe();
        return Ok(());
    }
    let now = Time(Timestamp::now());
    let transition = match current {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Some(now.clone()),
    };
    let new_status = SealedSecretStatus {
        observed_generation: generation,
        conditions: vec![SealedSecretCondition {
            type_: CONDITION_SYNCED.to_owned(),
            status: status.to_owned(),
            last_update_time: Some(now),
            last_transition_time: transition,
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
        }],
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
        let delays: Vec<u64> = (1..=10).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(retry_delay(u32::MAX), RETRY_MAX);
    }
}
