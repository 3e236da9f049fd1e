//! `coffer render` with `kubectl kustomize` (kubectl built from the pinned
//! k8s.io/kubernetes in tests/reference-tools) and the local control plane:
//!
//! - the legacy exec-plugin layout (`coffer render install`) runs under
//!   `kubectl kustomize --enable-alpha-plugins`: a SOPS Secret, a
//!   SealedSecret (real kubeseal) and the coffer `SecretGenerator` (dotenv
//!   and binary file) come out decrypted, and `kubectl apply
//!   --server-side -f -` applies them; the Secrets are read back value by
//!   value;
//! - the README's pipeline `kubectl kustomize . | coffer render | kubectl
//!   apply -f -` does the same without plugins;
//! - the README's warning holds: kubectl skips an exec KRM function
//!   silently (nothing generated, exit 0), which is why it names the two
//!   layouts above for kubectl.

mod render_common;

use std::collections::BTreeMap;

use coffer_testenv::TestEnv;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use render_common::*;

const ER: &[&str] = &["--encrypted-regex", "^(data|stringData)$"];
const PW: &str = "PLAIN-kc-pw-5d20";
const SEALED_PW: &str = "PLAIN-kc-sealed-77a1";
const ENV_PW: &str = "PLAIN-kc-env-0b3e";

fn values(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    secret
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect()
}

/// A kustomization in `k/` with a SOPS Secret and a SealedSecret as
/// resources, plus `extra` written as given; the blob the generator reads.
fn kustomization(sb: &Sandbox, ns: &str, kustomization: &str, extra: &[(&str, String)]) -> Vec<u8> {
    sb.sops_encrypt(
        "k/secret.enc.yaml",
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-secret\n  namespace: {ns}\nstringData:\n  password: {PW}\n").as_bytes(),
        ER,
    );
    let sealed = sb.kubeseal(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sealed\n  namespace: {ns}\nstringData:\n  password: {SEALED_PW}\n"
    ));
    sb.write("k/sealed.yaml", sealed);
    sb.sops_encrypt(
        "k/app.env",
        format!("USER=admin\nPASSWORD={ENV_PW}\n").as_bytes(),
        &[],
    );
    let blob: Vec<u8> = (0..=255u8).rev().collect();
    sb.sops_encrypt(
        "k/blob.bin",
        &blob,
        &["--input-type", "binary", "--output-type", "binary"],
    );
    sb.write("k/sealing-key.json", sealing_key_secret());
    for (name, text) in extra {
        sb.write(&format!("k/{name}"), text);
    }
    sb.write("k/kustomization.yaml", kustomization);
    blob
}

/// `kubectl apply --server-side -f -` of `manifests` on the test cluster.
fn apply(sb: &Sandbox, env: &TestEnv, manifests: &[u8]) -> String {
    let kubeconfig = env.kubeconfig().display().to_string();
    let out = sb.tool(
        "kubectl",
        &["apply", "--server-side", "-f", "-"],
        &[("KUBECONFIG", &kubeconfig)],
        Some(manifests),
    );
    String::from_utf8(out).unwrap()
}

async fn check_secrets(env: &TestEnv, ns: &str, generated: Option<&[u8]>) {
    let secrets: Api<Secret> = Api::namespaced(env.client().await, ns);
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
    if let Some(blob) = generated {
        assert_eq!(
            get("generated").await,
            BTreeMap::from([
                ("USER".into(), b"admin".to_vec()),
                ("PASSWORD".into(), ENV_PW.as_bytes().to_vec()),
                ("blob".into(), blob.to_vec()),
            ])
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_plugin_layout_runs_under_kubectl_kustomize_and_applies_value_by_value() {
    let env = TestEnv::shared().await;
    let ns = env.namespace("render-kubectl-legacy").await;
    let ns = ns.name().to_owned();
    let sb = Sandbox::new();
    succeeded(&sb.render(&["install", &sb.p("plugins")], None));
    let blob = kustomization(
        &sb,
        &ns,
        "resources: [secret.enc.yaml, sealed.yaml]\ngenerators: [gen.yaml]\ntransformers: [render.yaml]\n",
        &[
            (
                "gen.yaml",
                format!("apiVersion: coffer.dev/v1\nkind: SecretGenerator\nmetadata: {{name: gen}}\nsecretFrom:\n- metadata: {{name: generated, namespace: {ns}}}\n  envs: [app.env]\n  binaryFiles: [blob=blob.bin]\n"),
            ),
            (
                "render.yaml",
                "apiVersion: coffer.dev/v1\nkind: Render\nmetadata: {name: render}\nsealingKeyFiles: [sealing-key.json]\nrequireUnsealed: true\n".to_owned(),
            ),
        ],
    );
    let plugins = sb.p("plugins");
    let keys = sb.p("keys.txt");
    let built = sb.tool(
        "kubectl",
        &["kustomize", "--enable-alpha-plugins", "k"],
        &[
            ("KUSTOMIZE_PLUGIN_HOME", &plugins),
            ("SOPS_AGE_KEY_FILE", &keys),
        ],
        None,
    );
    let text = String::from_utf8_lossy(&built);
    assert!(
        !text.contains("ENC[") && !text.contains("SealedSecret"),
        "{text}"
    );
    let applied = apply(&sb, env, &built);
    assert_eq!(
        applied.matches("serverside-applied").count(),
        3,
        "{applied}"
    );
    check_secrets(env, &ns, Some(&blob)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_kustomize_piped_through_coffer_render_applies_value_by_value() {
    let env = TestEnv::shared().await;
    let ns = env.namespace("render-kubectl-pipe").await;
    let ns = ns.name().to_owned();
    let sb = Sandbox::new();
    kustomization(&sb, &ns, "resources: [secret.enc.yaml, sealed.yaml]\n", &[]);
    let built = sb.tool("kubectl", &["kustomize", "k"], &[], None);
    let keys = sb.p("keys.txt");
    let out = sb.render_env(
        &[
            "--sealing-key",
            &sb.p("k/sealing-key.json"),
            "--require-unsealed",
        ],
        &[("SOPS_AGE_KEY_FILE", &keys)],
        Some(&built),
    );
    let rendered = succeeded(&out);
    let applied = apply(&sb, env, rendered.as_bytes());
    assert_eq!(
        applied.matches("serverside-applied").count(),
        2,
        "{applied}"
    );
    check_secrets(env, &ns, None).await;
}

#[test]
fn kubectl_kustomize_skips_an_exec_krm_function_silently() {
    let sb = Sandbox::new();
    let coffer = env!("CARGO_BIN_EXE_coffer");
    kustomization(
        &sb,
        "default",
        "resources: [secret.enc.yaml]\ngenerators: [gen.yaml]\n",
        &[(
            "gen.yaml",
            format!(
                "apiVersion: coffer.dev/v1\nkind: SecretGenerator\nmetadata:\n  name: gen\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: {coffer}\n        args: [render]\nsecretFrom:\n- metadata: {{name: generated}}\n  envs: [app.env]\n"
            ),
        )],
    );
    let keys = sb.p("keys.txt");
    let built = sb.tool(
        "kubectl",
        &["kustomize", "--enable-alpha-plugins", "k"],
        &[("SOPS_AGE_KEY_FILE", &keys)],
        None,
    );
    let text = String::from_utf8_lossy(&built);
    // Exit 0, and the generator's Secret is simply missing.
    assert!(!text.contains("name: generated"), "{text}");
    // The same kustomization with kustomize itself runs the function.
    let built = sb.tool(
        "kustomize",
        &["build", "--enable-alpha-plugins", "--enable-exec", "k"],
        &[("SOPS_AGE_KEY_FILE", &keys)],
        None,
    );
    assert!(
        String::from_utf8_lossy(&built).contains("name: generated"),
        "kustomize itself ran the function"
    );
}
