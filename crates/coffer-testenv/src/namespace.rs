//! One namespace per test, deleted afterwards unless the test failed.

use std::sync::atomic::{AtomicU32, Ordering};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};

use crate::TestEnv;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A namespace owned by one test. Dropping it deletes the namespace; if the
/// test is panicking, it is kept for inspection and the tail of every child
/// process's log is printed (the test harness shows it with the failure).
#[derive(Debug)]
pub struct TestNamespace {
    name: String,
    env: &'static TestEnv,
}

impl TestNamespace {
    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::ops::Deref for TestNamespace {
    type Target = str;
    fn deref(&self) -> &str {
        &self.name
    }
}

pub(crate) async fn create(env: &'static TestEnv, test: &str) -> TestNamespace {
    let name = unique_name(test);
    let api: Api<Namespace> = Api::all(env.client().await);
    let ns = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            labels: Some([("coffer.dev/test".to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    if let Err(e) = api.create(&PostParams::default(), &ns).await {
        env.print_logs(40);
        panic!("creating test namespace {name}: {e}");
    }
    TestNamespace { name, env }
}

/// `<test>-<pid>-<n>`, lowercased to a valid DNS label of at most 63 bytes.
fn unique_name(test: &str) -> String {
    let suffix = format!(
        "-{:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut base: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    base.truncate(63 - suffix.len());
    let base = base.trim_matches('-');
    let base = if base.is_empty() { "test" } else { base };
    format!("{base}{suffix}")
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed; namespace {} kept for inspection", self.name);
            self.env.print_logs(40);
            return;
        }
        // NB: Drop cannot await, and this may run inside the test's runtime;
        // a short-lived thread with a runtime of its own does the delete.
        let (env, name) = (self.env, self.name.clone());
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let api: Api<Namespace> = Api::all(env.client().await);
                api.delete(&name, &DeleteParams::background())
                    .await
                    .map(|_| ())
                    .map_err(|e| std::io::Error::other(format!("deleting namespace {name}: {e}")))
            })
        })
        .join();
        if let Ok(Err(e)) = deleted {
            eprintln!("coffer-testenv: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unique_name;

    #[test]
    fn namespace_names_are_valid_dns_labels() {
        let name = unique_name("Secret_Seen::Through A Watch, with a very long name indeed!!");
        assert!(name.len() <= 63, "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert!(!name.starts_with('-') && !name.ends_with('-'));
        assert_ne!(unique_name("a"), unique_name("a"), "each call is unique");
    }
}
