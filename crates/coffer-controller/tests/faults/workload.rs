//! The workload: SealedSecrets `ss-<i>` and ExternalSecrets `es-<i>` (even
//! `i` from OpenBao, odd from moto), each producing a Secret of the same
//! name with one key, `value`, whose value names the object and the
//! generation of its input (`ss-3-g2`): a stale or foreign value shows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_api::{ExternalSecret, SealedSecret};
use coffer_controller::sealed::keys::{KeyRegistry, LoadedKey};
use coffer_testenv::Fault;
use coffer_testenv::external::{self, ExternalSecretManifest};
use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams};

use crate::fixture::{Fixture, eventually};

/// ExternalSecrets refresh this often, so that a fault meets reads.
const REFRESH: &str = "3s";

/// Whether `name` is one of the workload's Secrets.
pub fn is_workload(name: &str) -> bool {
    name.starts_with("ss-") || name.starts_with("es-")
}

/// Whether `secret` holds exactly one of its workload values (any
/// generation): not empty, not partial, not another object's.
pub fn holds_a_workload_value(secret: &Secret) -> bool {
    let prefix = format!("{}-g", secret.name_any());
    let data = secret.data.clone().unwrap_or_default();
    data.len() == 1
        && data
            .get("value")
            .is_some_and(|v| v.0.starts_with(prefix.as_bytes()))
}

fn value(name: &str, generation: usize) -> String {
    format!("{name}-g{generation}")
}

fn remote_key(fx: &Fixture, i: usize) -> String {
    format!("{}/es-{i}", fx.ns.name())
}

impl Fixture {
    /// The controller's sealing key, once it has made it.
    pub async fn sealing_key(&self) -> Arc<LoadedKey> {
        eventually("the controller's sealing key", || async {
            let keys = KeyRegistry::load(
                self.client.clone(),
                self.ctrl_ns.name(),
                "sealed-secrets-key",
            )
            .await
            .map_err(|e| e.to_string())?;
            keys.newest().map_err(|e| e.to_string())
        })
        .await
    }

    /// Names and uids of the key Secrets.
    pub async fn key_secrets(&self) -> BTreeSet<(String, String)> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), self.ctrl_ns.name());
        let params = ListParams::default().labels(coffer_sealed::key_secret::LABEL);
        api.list(&params)
            .await
            .expect("list key Secrets")
            .items
            .iter()
            .map(|s| (s.name_any(), s.uid().unwrap_or_default()))
            .collect()
    }

    /// Creates or updates every SealedSecret with generation `generation`'s
    /// value, sealed to `key`.
    pub async fn seal_all(&self, key: &LoadedKey, generation: usize) {
        let api: Api<SealedSecret> = Api::namespaced(self.client.clone(), self.ns.name());
        let params = PatchParams::apply("coffer-faults").force();
        for i in 0..self.n {
            let name = format!("ss-{i}");
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(self.ns.name().to_owned()),
                    ..ObjectMeta::default()
                },
                data: Some(BTreeMap::from([(
                    "value".to_owned(),
                    ByteString(value(&name, generation).into_bytes()),
                )])),
                ..Secret::default()
            };
            let sealed = coffer_sealed::seal_secret(&secret, key.certificate().public_key(), None)
                .expect("seal");
            api.patch(&name, &params, &Patch::Apply(&sealed))
                .await
                .unwrap_or_else(|e| panic!("apply SealedSecret {name}: {e}"));
        }
    }

    /// Writes generation `generation` of every ExternalSecret's remote
    /// value, straight to OpenBao and moto (not through the proxies).
    pub async fn seed(&self, generation: usize) {
        let v = |i: usize| serde_json::json!({ "value": value(&format!("es-{i}"), generation) });
        // OpenBao takes a few writes at a time; moto answers concurrent
        // creates with an occasional 500, so it gets one at a time.
        let vault = futures::stream::iter((0..self.n).step_by(2))
            .map(|i| async move { self.env.vault.put(&remote_key(self, i), v(i)).await })
            .buffer_unordered(8)
            .collect::<Vec<()>>();
        let aws = async {
            for i in (1..self.n).step_by(2) {
                let key = remote_key(self, i);
                self.env.aws.put(&key, &v(i).to_string()).await;
            }
        };
        futures::join!(vault, aws);
    }

    /// Creates every ExternalSecret.
    pub async fn external_secrets(&self) {
        for i in 0..self.n {
            let store = if i % 2 == 0 { "vault" } else { "aws" };
            let es = ExternalSecretManifest::new(&format!("es-{i}"), store)
                .refresh(REFRESH)
                .property("value", &remote_key(self, i), "value");
            external::apply(&self.client, self.ns.name(), &es.to_string()).await;
        }
    }

    /// The whole workload at generation 1, created (the controller's key
    /// must exist).
    pub async fn create_workload(&self, key: &LoadedKey) {
        self.seed(1).await;
        self.seal_all(key, 1).await;
        self.external_secrets().await;
    }

    /// How many workload Secrets hold their expected value now, and the
    /// first that does not (by name).
    pub async fn progress(&self, sealed: usize, external: usize) -> (usize, Option<String>) {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), self.ns.name());
        let secrets: BTreeMap<String, Secret> = api
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.name_any(), s))
            .collect();
        let expected = (0..self.n)
            .map(|i| (format!("ss-{i}"), sealed))
            .chain((0..self.n).map(|i| (format!("es-{i}"), external)));
        let mut done = 0;
        let mut first_missing = None;
        for (name, generation) in expected {
            let want = value(&name, generation);
            let ok = secrets.get(&name).is_some_and(|s| {
                let data = s.data.clone().unwrap_or_default();
                data.len() == 1 && data.get("value").is_some_and(|v| v.0 == want.as_bytes())
            });
            if ok {
                done += 1;
            } else if first_missing.is_none() {
                first_missing = Some(format!("Secret {name} at generation {generation}"));
            }
        }
        (done, first_missing)
    }

    /// Returns as soon as the first workload Secret holds its generation-1
    /// value (polling every 10 ms: a controller unseals a batch fast).
    pub async fn first_written(&self) {
        let deadline = Instant::now() + crate::fixture::TIMEOUT;
        while self.progress(1, 1).await.0 == 0 {
            assert!(Instant::now() < deadline, "no workload Secret was written");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Makes every provider read take a second longer (or not), so that a
    /// batch is still in flight a moment after it started.
    pub fn slow_providers(&self, slow: bool) {
        let fault = if slow {
            Fault::Delay(Duration::from_secs(1))
        } else {
            Fault::None
        };
        self.vault_proxy.set(fault);
        self.aws_proxy.set(fault);
    }

    /// Every Secret at its generation, every SealedSecret `Synced=True` and
    /// every ExternalSecret `Ready=True`; else what is not yet.
    pub async fn converged(&self, sealed: usize, external: usize) -> Result<(), String> {
        if let (_, Some(missing)) = self.progress(sealed, external).await {
            return Err(missing);
        }
        let ss: Api<SealedSecret> = Api::namespaced(self.client.clone(), self.ns.name());
        for s in ss
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
        {
            let synced = s.status.as_ref().is_some_and(|st| {
                st.conditions
                    .iter()
                    .any(|c| c.type_ == "Synced" && c.status == "True")
            });
            if !synced {
                return Err(format!("SealedSecret {} not Synced=True", s.name_any()));
            }
        }
        let es: Api<ExternalSecret> = Api::namespaced(self.client.clone(), self.ns.name());
        for e in es
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
        {
            let ready = e.status.as_ref().is_some_and(|st| {
                st.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            });
            if !ready {
                return Err(format!("ExternalSecret {} not Ready=True", e.name_any()));
            }
        }
        Ok(())
    }

    /// Waits until [`Fixture::converged`]; returns how long that took.
    pub async fn wait_converged(&self, sealed: usize, external: usize) -> Duration {
        let started = Instant::now();
        eventually(
            &format!("SealedSecrets at generation {sealed}, ExternalSecrets at {external}"),
            || self.converged(sealed, external),
        )
        .await;
        started.elapsed()
    }

    /// Asserts that every ExternalSecret's Secret still exists with
    /// generation `generation` (or, with `or_next`, the next one): what a
    /// provider fault must leave in place.
    pub async fn assert_external_kept(&self, generation: usize, or_next: bool) {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), self.ns.name());
        for i in 0..self.n {
            let name = format!("es-{i}");
            let secret = api
                .get_opt(&name)
                .await
                .expect("read Secret")
                .unwrap_or_else(|| panic!("Secret {name} is gone during the fault"));
            let data = secret.data.unwrap_or_default();
            let got = data.get("value").map(|v| v.0.clone()).unwrap_or_default();
            let kept = got == value(&name, generation).into_bytes()
                || (or_next && got == value(&name, generation + 1).into_bytes());
            assert!(
                kept && data.len() == 1,
                "Secret {name} lost generation {generation} during the fault"
            );
        }
    }
}
