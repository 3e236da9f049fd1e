//! The SealedSecret reconcile's decisions, as pure functions of what it
//! observed: the SealedSecret, its Secret (read from the API server, or the
//! summary the written-Secrets cache keeps), the keys. [`super::reconcile`]
//! performs them and does nothing else. Each decision is made here once:
//! - [`classify`]: is the Secret ours (or handed over), and is it exactly
//!   what these inputs make? The same function answers for the cache and
//!   for the Secret after a GET.
//! - [`plan`]: refuse, keep or unseal, before decrypting anything.
//! - [`write_plan`]: create, replace or leave the Secret, after unsealing.
//! - [`Failure`]: which failures are final and what they say.
//! - [`report`] and [`next_status`]: the Event, condition and metric of
//!   each outcome.

use std::collections::BTreeSet;

use coffer_api::{SealedSecret, SealedSecretCondition, SealedSecretStatus};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::runtime::events::EventType;

use crate::sealed::keys::KeyRegistry;
use crate::sealed::secret::{self, Plain};

/// Event reason and condition reason on success (matches Bitnami).
pub const REASON_UNSEALED: &str = "Unsealed";
/// Event and condition reason when the values cannot be unsealed.
pub const REASON_UNSEAL_FAILED: &str = "ErrUnsealFailed";
/// Event and condition reason when the Secret cannot be written.
pub const REASON_UPDATE_FAILED: &str = "ErrUpdateFailed";
/// The condition type (matches Bitnami).
pub const CONDITION_SYNCED: &str = "Synced";
/// The message of a successful reconcile (matches Bitnami).
pub const SUCCESS_MESSAGE: &str = "SealedSecret unsealed successfully";

/// What the reconcile knows of an existing Secret: the Secret itself, or
/// the data-free summary the written-Secrets cache keeps of it.
pub(crate) trait Observed {
    /// The uids of its controller owner references.
    fn controllers(&self) -> Vec<&str>;
    /// The inputs hash this controller wrote it for, if it did.
    fn inputs_hash(&self) -> Option<&str>;
    /// It carries `sealedsecrets.bitnami.com/managed: "true"`.
    fn is_managed(&self) -> bool;
    /// It carries `sealedsecrets.bitnami.com/patch: "true"`.
    fn is_patched(&self) -> bool;
    /// Its digest proves that it holds the `expected` keys with exactly
    /// what this controller wrote. `false` when it cannot be told.
    fn proves_intact(&self, expected: &BTreeSet<String>, keys: &KeyRegistry) -> bool;
}

impl Observed for Secret {
    fn controllers(&self) -> Vec<&str> {
        self.owner_references()
            .iter()
            .filter(|r| r.controller == Some(true))
            .map(|r| r.uid.as_str())
            .collect()
    }
    fn inputs_hash(&self) -> Option<&str> {
        secret::inputs_hash_of(self)
    }
    fn is_managed(&self) -> bool {
        secret::is_managed(self)
    }
    fn is_patched(&self) -> bool {
        secret::is_patched(self)
    }
    fn proves_intact(&self, expected: &BTreeSet<String>, keys: &KeyRegistry) -> bool {
        secret::is_intact(self, expected, keys)
    }
}

/// What an existing Secret is to a SealedSecret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Neither ours nor handed over (`managed` or `patch`): never touched.
    Foreign,
    /// Ours (or handed over, without an owner reference) and exactly what
    /// these inputs make: nothing to decrypt.
    Unchanged,
    /// Ours or handed over, and not shown to be unchanged: unseal and write.
    Stale,
}

/// Whether `observed` is `sealed`'s Secret, to be kept in sync without
/// any annotation: its controller is this SealedSecret (by uid); or, when
/// the SealedSecret asks for no owner reference
/// (`skip-set-owner-references`), this controller wrote it and nothing
/// controls it. A Secret controlled by anything else (another SealedSecret,
/// or an earlier SealedSecret of the same name, by uid) is not ours, even
/// if we wrote it once: only `sealedsecrets.bitnami.com/managed: "true"`
/// hands it over, as in Bitnami.
fn is_ours(sealed: &SealedSecret, observed: &impl Observed) -> bool {
    let controllers = observed.controllers();
    let uid = sealed.metadata.uid.as_deref();
    uid.is_some_and(|uid| controllers.contains(&uid))
        || (secret::skips_owner_reference(sealed)
            && observed.inputs_hash().is_some()
            && controllers.is_empty())
}

/// Classifies the Secret `observed` for `sealed`, whose inputs hash is
/// `inputs_hash`.
pub(crate) fn classify(
    sealed: &SealedSecret,
    inputs_hash: &str,
    observed: &impl Observed,
    keys: &KeyRegistry,
) -> Class {
    let ours = is_ours(sealed, observed);
    if !ours && !observed.is_managed() && !observed.is_patched() {
        return Class::Foreign;
    }
    // NB: without an owner reference (skip-set-owner-references), a Secret
    // handed over and written by us is known by our inputs-hash annotation;
    // Bitnami instead refuses its own Secret on the next pass. The deprecated
    // whole-Secret form seals its keys, so it is never shown unchanged.
    let unchanged = (ours || secret::skips_owner_reference(sealed))
        && observed.inputs_hash() == Some(inputs_hash)
        && secret::expected_keys(sealed)
            .is_some_and(|expected| observed.proves_intact(&expected, keys));
    if unchanged {
        Class::Unchanged
    } else {
        Class::Stale
    }
}

/// A failure that retrying cannot fix until the SealedSecret, the Secret
/// or the keys change (each of which triggers a reconcile); except with
/// `retry`: a template that ran out of time, which may render when tried
/// again (with backoff) on a less busy machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Event and condition reason.
    pub reason: &'static str,
    /// The `reason` label of the unseal-errors metric.
    pub metric: &'static str,
    /// Event and condition message; never a secret value.
    pub message: String,
    /// Retry with backoff.
    pub retry: bool,
}

impl Failure {
    /// The Secret `name` exists and is someone else's.
    fn foreign(name: &str) -> Failure {
        Failure {
            reason: REASON_UPDATE_FAILED,
            metric: "unmanaged",
            message: format!("Resource {name:?} already exists and is not managed by SealedSecret"),
            retry: false,
        }
    }

    /// The values could not be unsealed (or the template not rendered).
    pub(crate) fn unseal(e: &coffer_sealed::Error) -> Failure {
        let retry =
            matches!(e, coffer_sealed::Error::Template { source, .. } if source.is_deadline());
        Failure {
            reason: REASON_UNSEAL_FAILED,
            metric: "unseal",
            message: format!("Failed to unseal: {e}"),
            retry,
        }
    }

    /// The failure a refused write of Secret `namespace/name` is, if
    /// retrying cannot fix it: the Secret is immutable. Other API errors
    /// are retried.
    pub(crate) fn of_write(e: &kube::Error, namespace: &str, name: &str) -> Option<Failure> {
        let immutable = matches!(e, kube::Error::Api(s) if s.message.ends_with("field is immutable when `immutable` is set"));
        immutable.then(|| Failure {
            reason: REASON_UPDATE_FAILED,
            metric: "update",
            // Matches Bitnami's message for this case.
            message: format!(
                "Error updating {namespace}/{name}: the target Secret is immutable. Once a Secret \
                 is marked as immutable, it is not possible to revert this change nor to mutate \
                 the contents of the data field. You can only delete and recreate the Secret."
            ),
            retry: false,
        })
    }
}

/// What to do before decrypting anything.
#[derive(Debug)]
pub(crate) enum Plan {
    /// The Secret is someone else's: report it, do not touch it.
    Refuse(Failure),
    /// The Secret is already what the SealedSecret makes. With `relabel`
    /// (a Secret written by an older coffer, without [`secret::OWNED_LABEL`]),
    /// write this copy of it, labelled and stamped, so the watch sees it.
    Keep { relabel: Option<Box<Plain>> },
    /// Decrypt, then [`write_plan`].
    Unseal,
}

/// Plans the reconcile of `sealed` (inputs hash `inputs_hash`) given its
/// Secret as read, if any.
pub(crate) fn plan(
    sealed: &SealedSecret,
    existing: Option<&Secret>,
    inputs_hash: &str,
    keys: &KeyRegistry,
) -> Plan {
    let Some(existing) = existing else {
        return Plan::Unseal;
    };
    match classify(sealed, inputs_hash, existing, keys) {
        Class::Foreign => Plan::Refuse(Failure::foreign(&sealed.name_any())),
        // A Secret Bitnami's controller unsealed from this generation
        // (by its own status record) is kept as it is, without a write.
        Class::Stale
            if secret::expected_keys(sealed).is_some_and(|expected| {
                secret::is_unsealed_by_predecessor(existing, sealed, &expected)
            }) =>
        {
            Plan::Keep { relabel: None }
        }
        Class::Stale => Plan::Unseal,
        Class::Unchanged => {
            let relabel = (!secret::is_labelled(existing.metadata.labels.as_ref())).then(|| {
                // Its data is verified unchanged: only the label and the
                // digest over it are new.
                let mut target = Plain(existing.clone());
                secret::stamp(&mut target, inputs_hash, keys);
                Box::new(target)
            });
            Plan::Keep { relabel }
        }
    }
}

/// What to write once the SealedSecret is unsealed.
#[derive(Debug)]
pub(crate) enum Write {
    /// No Secret exists: create this one.
    Create(Plain),
    /// Replace the existing Secret with this one.
    Replace(Plain),
    /// The existing Secret is already exactly this.
    Nothing,
}

/// Builds the Secret to write from `unsealed` (what the SealedSecret makes)
/// and `existing` (already classified as not foreign), with Bitnami's
/// ownership rules, stamped so a later reconcile can skip it.
pub(crate) fn write_plan(
    sealed: &SealedSecret,
    existing: Option<&Secret>,
    unsealed: Secret,
    inputs_hash: &str,
    keys: &KeyRegistry,
) -> Write {
    let mut desired = Plain(unsealed);
    desired.metadata.owner_references = if secret::skips_owner_reference(sealed) {
        None
    } else {
        secret::owner_reference(sealed).map(|r| vec![r])
    };
    let Some(existing) = existing else {
        // NB: the API server defaults an unset type to Opaque; set it here so
        // the digest covers what is stored.
        desired.type_.get_or_insert_with(|| "Opaque".to_owned());
        secret::stamp(&mut desired, inputs_hash, keys);
        return Write::Create(desired);
    };
    let mut target = Plain(secret::merge(existing, desired.take()));
    secret::stamp(&mut target, inputs_hash, keys);
    if secret::differs(existing, &target) {
        Write::Replace(target)
    } else {
        Write::Nothing
    }
}

/// What one reconcile did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The Secret was already what the SealedSecret makes: nothing decrypted.
    Unchanged,
    /// The Secret was created or updated (or found equal after decrypting).
    Written,
    /// The last attempt failed with exactly these inputs; it is already
    /// reported, and trying again would fail the same way.
    Repeated,
    /// See [`Failure`].
    Failed(Failure),
}

impl Outcome {
    /// Whether to remember this attempt's inputs as failed (`Some(true)`),
    /// forget a failure (`Some(false)`), or leave the memory as it is.
    pub(crate) fn remember_failure(&self) -> Option<bool> {
        match self {
            Outcome::Failed(f) if !f.retry => Some(true),
            Outcome::Repeated => None,
            Outcome::Failed(_) | Outcome::Unchanged | Outcome::Written => Some(false),
        }
    }
}

/// How an outcome is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    /// An Event on the SealedSecret: type, reason, note.
    pub event: Option<(EventType, &'static str, String)>,
    /// The `Synced` condition: status, reason, message.
    pub condition: Option<(bool, &'static str, String)>,
    /// The `reason` label of the unseal-errors metric to count.
    pub error_metric: Option<&'static str>,
    /// Return an error, so the object is retried with backoff.
    pub retry: bool,
}

/// How `outcome` is reported. Success publishes an Event only when the
/// Secret was written (not on every pass over an unchanged one); a repeated
/// failure was reported by the attempt that saw it first.
pub(crate) fn report(outcome: &Outcome) -> Report {
    let success = || Some((true, REASON_UNSEALED, SUCCESS_MESSAGE.to_owned()));
    match outcome {
        Outcome::Repeated => Report {
            event: None,
            condition: None,
            error_metric: None,
            retry: false,
        },
        Outcome::Unchanged => Report {
            event: None,
            condition: success(),
            error_metric: None,
            retry: false,
        },
        Outcome::Written => Report {
            event: Some((
                EventType::Normal,
                REASON_UNSEALED,
                SUCCESS_MESSAGE.to_owned(),
            )),
            condition: success(),
            error_metric: None,
            retry: false,
        },
        Outcome::Failed(f) => Report {
            event: Some((EventType::Warning, f.reason, f.message.clone())),
            condition: Some((false, f.reason, f.message.clone())),
            error_metric: Some(f.metric),
            retry: f.retry,
        },
    }
}

/// How an API error (retried) is reported, like Bitnami: an Event and the
/// condition, counted as an update error.
pub(crate) fn report_api_error(message: &str) -> Report {
    Report {
        event: Some((EventType::Warning, REASON_UPDATE_FAILED, message.to_owned())),
        condition: Some((false, REASON_UPDATE_FAILED, message.to_owned())),
        error_metric: Some("update"),
        retry: true,
    }
}

/// The status to write for the `Synced` condition, or `None` when the
/// SealedSecret already has it (and has observed its generation), so a
/// reconcile does not trigger itself. The transition time moves only when
/// the condition's status does.
pub(crate) fn next_status(
    sealed: &SealedSecret,
    synced: bool,
    reason: &str,
    message: &str,
    now: Time,
) -> Option<SealedSecretStatus> {
    let status = if synced { "True" } else { "False" };
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
        return None;
    }
    let transition = match current {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Some(now.clone()),
    };
    Some(SealedSecretStatus {
        observed_generation: generation,
        conditions: vec![SealedSecretCondition {
            type_: CONDITION_SYNCED.to_owned(),
            status: status.to_owned(),
            last_update_time: Some(now),
            last_transition_time: transition,
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
        }],
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
