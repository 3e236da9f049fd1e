//! A watch on the workload's Secrets for the whole test: every deletion,
//! every Secret that vanished while the watch was re-listing (the API server
//! was down), and every Secret whose data was not one of the workload's
//! values (emptied, or partly written) is recorded. Names only: no value.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use crate::workload;

/// What went wrong with the workload's Secrets, so far.
pub struct SecretWatch {
    violations: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SecretWatch {
    pub fn start(client: kube::Client, namespace: &str) -> SecretWatch {
        let api: Api<Secret> = Api::namespaced(client, namespace);
        let violations = Arc::new(Mutex::new(Vec::new()));
        let record = violations.clone();
        let task = tokio::spawn(async move {
            let mut known = BTreeSet::new();
            let mut relisted = BTreeSet::new();
            let mut events = watcher(api, watcher::Config::default())
                .default_backoff()
                .boxed();
            while let Some(event) = events.next().await {
                let Ok(event) = event else { continue };
                let violation = |what: String| record.lock().unwrap().push(what);
                match event {
                    watcher::Event::Init => relisted.clear(),
                    watcher::Event::InitApply(secret) | watcher::Event::Apply(secret) => {
                        let name = secret.name_any();
                        if !workload::is_workload(&name) {
                            continue;
                        }
                        if !workload::holds_a_workload_value(&secret) {
                            violation(format!("Secret {name} held no workload value"));
                        }
                        relisted.insert(name.clone());
                        known.insert(name);
                    }
                    watcher::Event::InitDone => {
                        for name in known.difference(&relisted) {
                            violation(format!("Secret {name} vanished"));
                        }
                        known = relisted.clone();
                    }
                    watcher::Event::Delete(secret) => {
                        let name = secret.name_any();
                        if workload::is_workload(&name) {
                            violation(format!("Secret {name} was deleted"));
                            known.remove(&name);
                        }
                    }
                }
            }
        });
        SecretWatch { violations, task }
    }

    /// Fails the test if any workload Secret was deleted or emptied.
    pub fn assert_clean(&self) {
        let violations = self.violations.lock().unwrap();
        assert!(violations.is_empty(), "{violations:#?}");
    }
}

impl Drop for SecretWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}
