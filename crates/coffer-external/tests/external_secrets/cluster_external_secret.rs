//! ClusterExternalSecret: one ExternalSecret stamped into every selected
//! namespace, kept as the selection and the template change, with ESO's
//! status (`provisionedNamespaces`, `failedNamespaces`, `Ready`).

use coffer_api::external::ClusterExternalSecretStatus;
use coffer_api::{ClusterExternalSecret, ExternalSecret};
use kube::{Api, ResourceExt};

use crate::common::*;

/// The ClusterExternalSecret controller is cluster-wide: two tests'
/// controllers would both act on both tests' objects, so these tests take
/// turns.
static CLUSTER_CONTROLLER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const LABEL: &str = "coffer.dev/ces";
/// Waits on kube-controller-manager's garbage collector, which lags behind
/// on a loaded machine.
const GC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);

/// Namespaces `worlds`, each with an AWS store `aws`, and a controller
/// (ExternalSecrets in all of them, ClusterExternalSecrets cluster-wide)
/// running in the first.
async fn worlds(test: &str, n: usize) -> Vec<World> {
    let mut worlds = Vec::with_capacity(n);
    for i in 0..n {
        let world = World::without_controller(&format!("{test}-{i}")).await;
        aws_store(&world, "aws").await;
        worlds.push(world);
    }
    let mut config = worlds[0].config();
    config.namespaces = worlds.iter().map(|w| w.name().to_owned()).collect();
    config.cluster_external_secrets = true;
    worlds[0].start_with(config).await;
    worlds
}

fn ces_api(world: &World) -> Api<ClusterExternalSecret> {
    Api::all(world.client.clone())
}

async fn wait_status(
    world: &World,
    name: &str,
    what: &str,
    pred: impl Fn(&ClusterExternalSecretStatus) -> bool,
) -> ClusterExternalSecretStatus {
    let api = ces_api(world);
    eventually(what, || async {
        api.get_opt(name)
            .await
            .ok()
            .flatten()?
            .status
            .filter(|s| pred(s))
    })
    .await
}

fn sorted(names: &[&World]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|w| w.name().to_owned()).collect();
    names.sort();
    names
}

fn ready(status: &ClusterExternalSecretStatus) -> Option<&str> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str())
}

async fn gone(api: &Api<ExternalSecret>, name: &str) -> Option<()> {
    api.get_opt(name).await.ok()?.is_none().then_some(())
}

#[tokio::test]
async fn cluster_external_secret_follows_namespace_labels_and_reports_each_namespace() {
    let _turn = CLUSTER_CONTROLLER.lock().await;
    let w = worlds("ces-labels", 3).await;
    let (a, b, c) = (&w[0], &w[1], &w[2]);
    let key = remote(a, "shared");
    aws_put(&key, "for-all").await;
    // An ExternalSecret of the same name that nobody stamped, in c.
    c.apply(&format!(
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: team-db
  namespace: NAMESPACE
spec:
  secretStoreRef:
    name: aws
  target:
    name: handmade
  data:
  - secretKey: mine
    remoteRef:
      key: {key}
"#
    ))
    .await;
    let selector = a.name().to_owned();
    for w in [a, b] {
        label_namespace(&a.client, w.name(), LABEL, Some(&selector)).await;
    }
    let ces = a.name().to_owned();
    a.apply(&format!(
        r#"
apiVersion: external-secrets.io/v1
kind: ClusterExternalSecret
metadata:
  name: {ces}
spec:
  externalSecretName: team-db
  externalSecretMetadata:
    labels:
      team: payments
    annotations:
      owner: platform
  namespaceSelectors:
  - matchLabels:
      {LABEL}: {selector}
  externalSecretSpec:
    refreshInterval: 1h
    secretStoreRef:
      name: aws
    target:
      name: db
    data:
    - secretKey: value
      remoteRef:
        key: {key}
"#
    ))
    .await;

    for w in [a, b] {
        let secret = w
            .wait_secret("db", "the Secret in a selected namespace", |s| {
                value(s, "value").as_deref() == Some("for-all")
            })
            .await;
        // No template: the ExternalSecret's labels reach the Secret.
        assert_eq!(
            secret.labels().get("team").map(String::as_str),
            Some("payments")
        );
        let es = w.external_secrets().get("team-db").await.unwrap();
        assert_eq!(es.labels()["team"], "payments");
        assert_eq!(es.annotations()["owner"], "platform");
        let owner = &es.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.controller),
            ("ClusterExternalSecret", ces.as_str(), Some(true))
        );
    }
    let status = wait_status(a, &ces, "both namespaces provisioned", |s| {
        s.provisioned_namespaces == sorted(&[a, b])
    })
    .await;
    assert_eq!(status.external_secret_name.as_deref(), Some("team-db"));
    assert!(status.failed_namespaces.is_empty());
    assert_eq!(ready(&status), Some("True"));

    // Selecting c, whose team-db is not ours: c fails, the rest stays.
    label_namespace(&a.client, c.name(), LABEL, Some(&selector)).await;
    let status = wait_status(a, &ces, "c reported as failed", |s| {
        !s.failed_namespaces.is_empty()
    })
    .await;
    assert_eq!(status.failed_namespaces.len(), 1);
    assert_eq!(status.failed_namespaces[0].namespace, c.name());
    assert_eq!(
        status.failed_namespaces[0].reason.as_deref(),
        Some("external secret already exists in namespace")
    );
    let condition = status.conditions.iter().find(|c| c.type_ == "Ready");
    assert_eq!(
        condition.map(|c| (c.status.as_str(), c.message.as_deref())),
        Some(("False", Some("one or more namespaces failed")))
    );
    assert_eq!(status.provisioned_namespaces, sorted(&[a, b]));
    let handmade = c.external_secrets().get("team-db").await.unwrap();
    assert!(handmade.owner_references().is_empty(), "c's was taken over");
    assert_eq!(handmade.spec.target.name.as_deref(), Some("handmade"));

    // Unlabelling b removes its ExternalSecret, and with it the Secret.
    label_namespace(&a.client, b.name(), LABEL, None).await;
    let b_api = b.external_secrets();
    eventually("b's ExternalSecret deleted", || gone(&b_api, "team-db")).await;
    eventually_within("b's Secret garbage-collected", GC_TIMEOUT, || async {
        b.secrets()
            .get_opt("db")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    wait_status(a, &ces, "only a provisioned", |s| {
        s.provisioned_namespaces == sorted(&[a])
    })
    .await;

    // Unselecting c clears its failure.
    label_namespace(&a.client, c.name(), LABEL, None).await;
    let status = wait_status(a, &ces, "Ready again", |s| ready(s) == Some("True")).await;
    assert!(
        status.failed_namespaces.is_empty(),
        "a cleared failure is still reported: {:?}",
        status.failed_namespaces
    );
    assert_eq!(status.provisioned_namespaces, sorted(&[a]));

    // Deleting the ClusterExternalSecret takes its ExternalSecrets along;
    // c's own is left alone.
    ces_api(a).delete(&ces, &Default::default()).await.unwrap();
    let a_api = a.external_secrets();
    eventually_within("a's ExternalSecret garbage-collected", GC_TIMEOUT, || {
        gone(&a_api, "team-db")
    })
    .await;
    assert!(
        c.external_secrets()
            .get_opt("team-db")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn editing_a_cluster_external_secret_updates_force_syncs_and_renames_its_external_secrets() {
    let _turn = CLUSTER_CONTROLLER.lock().await;
    let w = worlds("ces-edit", 2).await;
    let (a, b) = (&w[0], &w[1]);
    let key = remote(a, "edited");
    aws_put(&key, "first").await;
    let ces = a.name().to_owned();
    let manifest = |es_name: &str, secret_key: &str, force: &str| {
        format!(
            r#"
apiVersion: external-secrets.io/v1
kind: ClusterExternalSecret
metadata:
  name: {ces}
  annotations:
    external-secrets.io/force-sync: "{force}"
spec:
  externalSecretName: {es_name}
  namespaces: [{a}, {b}]
  externalSecretSpec:
    refreshInterval: 1h
    secretStoreRef:
      name: aws
    target:
      name: app
    data:
    - secretKey: {secret_key}
      remoteRef:
        key: {key}
"#,
            a = a.name(),
            b = b.name()
        )
    };
    a.apply(&manifest("app", "token", "0")).await;
    for w in [a, b] {
        w.wait_secret("app", "the first sync", |s| {
            value(s, "token").as_deref() == Some("first")
        })
        .await;
    }

    // A new force-sync value on the ClusterExternalSecret reaches every
    // ExternalSecret (ESO copies the annotation), which refresh at once.
    aws_put(&key, "second").await;
    a.apply(&manifest("app", "token", "1")).await;
    for w in [a, b] {
        w.wait_secret("app", "the forced refresh", |s| {
            value(s, "token").as_deref() == Some("second")
        })
        .await;
    }

    // A changed spec is rolled out to every namespace.
    a.apply(&manifest("app", "api-token", "1")).await;
    for w in [a, b] {
        let secret = w
            .wait_secret("app", "the new key", |s| value(s, "api-token").is_some())
            .await;
        assert_eq!(keys(&secret), ["api-token"], "the old key was removed");
    }

    // A new externalSecretName replaces the ExternalSecrets.
    a.apply(&manifest("app-v2", "api-token", "1")).await;
    for w in [a, b] {
        let api = w.external_secrets();
        eventually("the renamed ExternalSecret", || async {
            api.get_opt("app-v2").await.ok()?.map(|_| ())
        })
        .await;
        eventually("the old ExternalSecret deleted", || gone(&api, "app")).await;
        // The Secret passes to the new ExternalSecret once the old one's
        // is garbage-collected.
        w.wait_secret("app", "the Secret owned by app-v2", |s| {
            s.owner_references()
                .iter()
                .any(|o| o.name == "app-v2" && o.controller == Some(true))
                && value(s, "api-token").as_deref() == Some("second")
        })
        .await;
        w.wait_ready("app-v2", "app-v2 Ready", |c| c.status == "True")
            .await;
    }
    // The status settles after the rename: wait for Ready too.
    let status = wait_status(a, &ces, "the new name in status", |s| {
        s.external_secret_name.as_deref() == Some("app-v2") && ready(s) == Some("True")
    })
    .await;
    assert_eq!(status.provisioned_namespaces, sorted(&[a, b]));
    assert_eq!(ready(&status), Some("True"));
    ces_api(a).delete(&ces, &Default::default()).await.unwrap();
}
