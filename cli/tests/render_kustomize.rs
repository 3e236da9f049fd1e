//! `coffer render` with the real kustomize v5.8.1 (tests/reference-tools)
//! and the local control plane: a kustomization mixing a plain resource, a
//! SOPS-encrypted Secret, a SealedSecret (real kubeseal), a kustomize
//! `secretGenerator` over a SOPS-encrypted file (a SOPS document inside
//! Secret data) and the coffer KRM generator (a dotenv and a binary file),
//! built with `kustomize build --enable-alpha-plugins --enable-exec`,
//! piped through `coffer render` and server-side applied; the Secrets are
//! read back from the API server and checked value by value.

mod render_common;

use std::collections::BTreeMap;

use coffer_testenv::TestEnv;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams};
use render_common::*;

const ER: &[&str] = &["--encrypted-regex", "^(data|stringData)$"];
const PW: &str = "PLAIN-kz-pw-41c9";
const SEALED_PW: &str = "PLAIN-kz-sealed-0e7b";
const ENV_PW: &str = "PLAIN-kz-env-93aa";
const CONF_PW: &str = "PLAIN-kz-conf-d15c";

fn values(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    secret
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kustomize_build_with_the_krm_function_is_rendered_and_applied_value_by_value() {
    let env = TestEnv::shared().await;
    let ns = env.namespace("render-kustomize").await;
    let ns = ns.name().to_owned();
    let sb = Sandbox::new();
    let coffer = env!("CARGO_BIN_EXE_coffer");

    sb.write(
        "configmap.yaml",
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: {ns}\ndata:\n  greeting: hello\n"),
    );
    sb.sops_encrypt(
        "secret.enc.yaml",
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-secret\n  namespace: {ns}\nstringData:\n  password: {PW}\n").as_bytes(),
        ER,
    );
    let sealed = sb.kubeseal(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sealed\n  namespace: {ns}\nstringData:\n  password: {SEALED_PW}\n"
    ));
    sb.write("sealed.yaml", sealed);
    sb.sops_encrypt(
        "config.yaml",
        format!("password: {CONF_PW}\n").as_bytes(),
        &[],
    );
    sb.sops_encrypt(
        "app.env",
        format!("USER=admin\nPASSWORD={ENV_PW}\n").as_bytes(),
        &[],
    );
    let blob: Vec<u8> = (0..=255u8).collect();
    sb.sops_encrypt(
        "blob.bin",
        &blob,
        &["--input-type", "binary", "--output-type", "binary"],
    );
    sb.write(
        "generator.yaml",
        format!(
            "apiVersion: coffer.dev/v1\nkind: SecretGenerator\nmetadata:\n  name: gen\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: {coffer}\n        args: [render]\nsecretFrom:\n- metadata: {{name: generated, namespace: {ns}}}\n  type: Opaque\n  envs: [app.env]\n  binaryFiles: [blob=blob.bin]\n"
        ),
    );
    sb.write(
        "kustomization.yaml",
        format!(
            "resources: [configmap.yaml, secret.enc.yaml, sealed.yaml]\ngenerators: [generator.yaml]\nsecretGenerator:\n- name: from-file\n  namespace: {ns}\n  options: {{disableNameSuffixHash: true}}\n  files: [config.yaml]\n"
        ),
    );
    let key_file = sb.p("keys.txt");
    let built = sb.tool(
        "kustomize",
        &["build", "--enable-alpha-plugins", "--enable-exec", "."],
        &[("SOPS_AGE_KEY_FILE", &key_file)],
        None,
    );
    let built = String::from_utf8(built).unwrap();
    // The build holds the KRM generator's plaintext; the SOPS resource and
    // the generator's SOPS file are still encrypted, the SealedSecret sealed.
    assert!(
        built.contains("kind: SealedSecret") && built.contains("ENC["),
        "{built}"
    );

    sb.write("sealing-key.json", sealing_key_secret());
    let out = sb.render_env(
        &[
            "--sealing-key",
            &sb.p("sealing-key.json"),
            "--require-unsealed",
        ],
        &[("SOPS_AGE_KEY_FILE", &key_file)],
        Some(built.as_bytes()),
    );
    let rendered = succeeded(&out);
    assert!(
        !rendered.contains("ENC[") && !rendered.contains("SealedSecret"),
        "{rendered}"
    );

    // Server-side apply, document by document.
    let client = env.client().await;
    let params = PatchParams::apply("coffer-render-test").force();
    let mut applied = 0;
    for doc in serde_saphyr::from_multiple::<serde_json::Value>(&rendered).unwrap() {
        let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
        match doc["kind"].as_str().unwrap() {
            "Secret" => {
                let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
                api.patch(&name, &params, &Patch::Apply(&doc))
                    .await
                    .unwrap();
            }
            "ConfigMap" => {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
                api.patch(&name, &params, &Patch::Apply(&doc))
                    .await
                    .unwrap();
            }
            other => panic!("unexpected kind {other}"),
        }
        applied += 1;
    }
    assert_eq!(applied, 5);

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let get = |name: &'static str| {
        let secrets = secrets.clone();
        async move { values(&secrets.get(name).await.unwrap()) }
    };
    assert_eq!(
        get("sops-secret").await,
        BTreeMap::from([("password".into(), PW.as_bytes().to_vec())])
    );
    assert_eq!(
        get("sealed").await,
        BTreeMap::from([("password".into(), SEALED_PW.as_bytes().to_vec())])
    );
    assert_eq!(
        get("from-file").await,
        BTreeMap::from([(
            "config.yaml".into(),
            format!("password: {CONF_PW}\n").into_bytes()
        )])
    );
    assert_eq!(
        get("generated").await,
        BTreeMap::from([
            ("USER".into(), b"admin".to_vec()),
            ("PASSWORD".into(), ENV_PW.as_bytes().to_vec()),
            ("blob".into(), blob.clone()),
        ])
    );
    let cm: Api<ConfigMap> = Api::namespaced(client, &ns);
    assert_eq!(
        cm.get("plain").await.unwrap().data.unwrap()["greeting"],
        "hello"
    );
}
