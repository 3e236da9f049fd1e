//! The example reconciler (`examples/reconcile.rs`), compiled into this
//! test and run against the real local control plane: a directory holding a
//! SOPS-encrypted Secret, a generated Secret whose data holds a SOPS
//! document, a SealedSecret sealed by the real kubeseal and a plain
//! ConfigMap is decrypted and server-side applied; the Secrets in the
//! cluster are then checked value by value.

mod common;

#[allow(dead_code)]
#[path = "../examples/reconcile.rs"]
mod reconcile;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coffer_gitops::Options;
use coffer_testenv::TestEnv;
use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;

#[tokio::test]
async fn the_example_reconciler_applies_a_decrypted_directory() {
    let env = TestEnv::shared().await;
    let namespace = env.namespace("example-reconciler").await;
    let ns = namespace.name().to_owned();
    let client = env.client().await;

    let sb = Sandbox::new();
    let sops_secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-sops\n  namespace: {ns}\ntype: Opaque\nstringData:\n  password: example-sops-secret\n"
    );
    let enc = sb.sops_encrypt(
        "plain/a.yaml",
        sops_secret.as_bytes(),
        &["--encrypted-regex", "^stringData$"],
    );
    sb.write("manifests/10-sops.yaml", enc);

    let env_file = sb.sops_encrypt("app.env", b"TOKEN=example-env-secret\n", &[]);
    sb.write(
        "manifests/20-generated.yaml",
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: generated\n  namespace: {ns}\ndata:\n  app.env: {}\n  plain: {}\n",
            STANDARD.encode(env_file),
            STANDARD.encode("in-clear")
        ),
    );

    let sealed = sb.kubeseal(
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-sealed\n  namespace: {ns}\n  labels:\n    app: example\nstringData:\n  api-key: example-sealed-secret\n"
        ),
        &[],
    );
    sb.write("manifests/30-sealed.yaml", sealed);
    sb.write(
        "manifests/40-plain.json",
        format!(
            "{{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"plain\", \"namespace\": \"{ns}\"}}, \"data\": {{\"k\": \"v\"}}}}"
        ),
    );
    sb.write("manifests/README.md", "not a manifest");

    let decryptor = decryptor(Options::default());
    let applied = reconcile::reconcile_directory(client.clone(), &sb.path("manifests"), &decryptor)
        .await
        .unwrap();
    assert_eq!(
        applied,
        [
            format!("Secret {ns}/from-sops"),
            format!("Secret {ns}/generated"),
            format!("Secret {ns}/from-sealed"),
            format!("ConfigMap {ns}/plain"),
        ]
    );

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let value = |s: &Secret, k: &str| s.data.as_ref().unwrap()[k].0.clone();
    let from_sops = secrets.get("from-sops").await.unwrap();
    assert_eq!(value(&from_sops, "password"), b"example-sops-secret");
    assert_eq!(from_sops.type_.as_deref(), Some("Opaque"));
    assert!(from_sops.data.as_ref().unwrap().len() == 1);

    let generated = secrets.get("generated").await.unwrap();
    assert_eq!(value(&generated, "app.env"), b"TOKEN=example-env-secret\n");
    assert_eq!(value(&generated, "plain"), b"in-clear");

    let from_sealed = secrets.get("from-sealed").await.unwrap();
    assert_eq!(value(&from_sealed, "api-key"), b"example-sealed-secret");
    assert_eq!(
        from_sealed.metadata.labels.as_ref().unwrap()["app"],
        "example"
    );
    let managers: Vec<_> = from_sealed
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.as_deref())
        .collect();
    assert!(managers.contains(&reconcile::FIELD_MANAGER), "{managers:?}");

    let config: Api<ConfigMap> = Api::namespaced(client, &ns);
    assert_eq!(config.get("plain").await.unwrap().data.unwrap()["k"], "v");
}
