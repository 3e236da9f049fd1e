//! Shard membership: which replicas are alive, from one Lease each.
//!
//! A replica's member Lease, `<lease-name>-member-<hash of its identity>`,
//! labelled [`MEMBER_OF`]` = <lease-name>`, holds its identity and its
//! `--shards` ([`SHARDS_ANNOTATION`]) and is renewed (by server-side apply,
//! one request) at every refresh, after the group was read. A member
//! is live while its `renewTime` plus its duration is in the future (by
//! this replica's clock: the usual leader-election assumption of small
//! skew). Member Leases expired for several durations (replicas that were
//! killed) are deleted by whoever sees them; a replica that stops cleanly
//! deletes its own.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, Preconditions};

use crate::context::FIELD_MANAGER;
use crate::lease::LeaseConfig;

/// The label that marks member Leases, valued with the leader Lease's
/// name (hashed when it is too long for a label value).
pub const MEMBER_OF: &str = "coffer.dev/shard-member-of";

/// The member Lease annotation that says how many shards (`--shards`)
/// the member counts.
pub const SHARDS_ANNOTATION: &str = "coffer.dev/shards";

/// A live member: its identity and the shard count it announces (`None`
/// when it announces none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The replica's identity.
    pub identity: String,
    /// Its `--shards`.
    pub shards: Option<u32>,
}

/// What one refresh read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The live members, sorted by identity.
    pub members: Vec<Member>,
    /// Every replica with a member Lease, live or expired (not yet
    /// forgotten), sorted.
    pub known: Vec<String>,
    /// Who holds the leader Lease (`None`: nobody, or no such Lease).
    pub leader: Option<String>,
}

/// How many lease durations an expired member Lease is kept before it is
/// deleted (a replica paused that long rejoins under its own name).
const FORGET_AFTER: u32 = 4;

/// This replica's membership.
pub struct Membership {
    api: Api<Lease>,
    /// This member Lease's name.
    name: String,
    /// The leader Lease's name.
    leader: String,
    /// The label value shared by the group.
    group: String,
    identity: String,
    duration: Duration,
}

impl Membership {
    /// The membership of the replica `config.identity` in the group of
    /// the leader Lease `config.name`.
    pub fn new(client: kube::Client, config: &LeaseConfig) -> Membership {
        let group = if config.name.len() <= 63 {
            config.name.clone()
        } else {
            format!("{:016x}", coffer_shard::stable_hash(&config.name))
        };
        Membership {
            api: Api::namespaced(client, &config.namespace),
            name: member_lease_name(&config.name, &config.identity),
            leader: config.name.clone(),
            group,
            identity: config.identity.clone(),
            duration: config.duration.max(Duration::from_secs(1)),
        }
    }

    /// This replica's identity, as it appears among the members.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Reads the group, then renews this replica's member Lease (so a
    /// replica that cannot read stops renewing, and the others stop
    /// counting on it): the live members, sorted by identity, this one
    /// included; and who holds the leader Lease. Deletes members long
    /// expired.
    pub async fn refresh(&self, shards: u32) -> Result<Group, kube::Error> {
        let now = SystemTime::now();
        let (mut members, mut known) = self.live(now).await?;
        let leader = self
            .api
            .get_opt(&self.leader)
            .await?
            .and_then(|lease| lease.spec?.holder_identity);
        self.announce(shards).await?;
        members.insert(self.identity.clone(), Some(shards));
        known.insert(self.identity.clone());
        Ok(Group {
            members: members
                .into_iter()
                .map(|(identity, shards)| Member { identity, shards })
                .collect(),
            known: known.into_iter().collect(),
            leader,
        })
    }

    /// Creates or renews this replica's member Lease, which says how many
    /// shards it counts.
    pub async fn announce(&self, shards: u32) -> Result<(), kube::Error> {
        let lease = serde_json::json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "labels": {MEMBER_OF: self.group},
                "annotations": {SHARDS_ANNOTATION: shards.to_string()},
            },
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.duration.as_secs(),
                "renewTime": MicroTime(k8s_openapi::jiff::Timestamp::now()),
            },
        });
        self.api
            .patch(
                &self.name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(lease),
            )
            .await?;
        Ok(())
    }

    /// The live members at `now` and the shard count each announces, and
    /// every member with a Lease, live or expired; deletes members long
    /// expired.
    async fn live(
        &self,
        now: SystemTime,
    ) -> Result<(BTreeMap<String, Option<u32>>, BTreeSet<String>), kube::Error> {
        let listed = self
            .api
            .list(&ListParams::default().labels(&format!("{MEMBER_OF}={}", self.group)))
            .await?;
        let mut live = BTreeMap::new();
        let mut known = BTreeSet::new();
        for lease in listed.items {
            let Some(name) = lease.metadata.name.clone() else {
                continue;
            };
            let shards = lease
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(SHARDS_ANNOTATION)?.parse().ok());
            let resource_version = lease.metadata.resource_version.clone();
            let Some(spec) = lease.spec else { continue };
            let (Some(identity), Some(renewed)) = (spec.holder_identity, spec.renew_time) else {
                continue;
            };
            let duration = spec
                .lease_duration_seconds
                .and_then(|d| u64::try_from(d).ok())
                .map_or(self.duration, Duration::from_secs);
            let expires = SystemTime::from(renewed.0) + duration;
            known.insert(identity.clone());
            if expires > now {
                live.insert(identity, shards);
            } else if expires + duration * FORGET_AFTER < now && name != self.name {
                tracing::info!(member = %identity, "forgetting a shard member gone for long");
                // NB: only the version read: a member renewed since stays.
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        resource_version,
                        uid: None,
                    }),
                    ..DeleteParams::default()
                };
                if let Err(e) = self.api.delete(&name, &params).await {
                    tracing::debug!(error = %e, lease = %name, "cannot delete a member Lease");
                }
            }
        }
        Ok((live, known))
    }

    /// Deletes this replica's member Lease (a clean stop): the others
    /// take its shards without waiting for it to expire.
    pub async fn leave(&self) {
        match self.api.delete(&self.name, &DeleteParams::default()).await {
            Ok(_) => tracing::info!("left the shard membership"),
            Err(e) => tracing::warn!(error = %e, "cannot delete the member Lease; it will expire"),
        }
    }
}

/// `<lease-name>-member-<16 hex digits of the identity's hash>`.
fn member_lease_name(lease_name: &str, identity: &str) -> String {
    format!(
        "{lease_name}-member-{:016x}",
        coffer_shard::stable_hash(identity)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_lease_names_are_valid_and_differ_per_identity() {
        let a = member_lease_name("coffer-controller", "pod-a_0011aabb");
        let b = member_lease_name("coffer-controller", "pod-a_0011aabc");
        assert_ne!(a, b);
        assert!(
            a.starts_with("coffer-controller-member-") && a.len() == 25 + 16,
            "{a}"
        );
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        );
    }
}
