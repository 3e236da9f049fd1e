//! deploy/argocd: the Config Management Plugin, the repo-server patch and
//! the Component have the shapes Argo CD and kustomize expect, and the
//! plugin's discover and generate commands, run as Argo CD runs them (sh
//! in the application directory) with the built coffer and the real
//! kustomize on PATH, find and render a test kustomization.

mod render_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use render_common::*;
use serde_json::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/argocd")
}

fn yaml(name: &str) -> Value {
    serde_saphyr::from_str(&std::fs::read_to_string(deploy().join(name)).unwrap()).unwrap()
}

fn shell(sb: &Sandbox, dir: &Path, command: &Value, stdin_null: bool) -> std::process::Output {
    let argv: Vec<&str> = command
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let bin_dirs = [
        Path::new(env!("CARGO_BIN_EXE_coffer"))
            .parent()
            .unwrap()
            .to_path_buf(),
        tools_dir().to_path_buf(),
    ];
    let path = std::env::join_paths(
        bin_dirs
            .iter()
            .cloned()
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", sb.dir.path())
        .env("SOPS_AGE_KEY_FILE", sb.path("keys.txt"));
    if stdin_null {
        cmd.stdin(Stdio::null());
    }
    cmd.output().unwrap()
}

#[test]
fn the_plugin_patch_and_component_have_the_expected_shapes() {
    let plugin = yaml("plugin.yaml");
    assert_eq!(plugin["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(plugin["kind"], "ConfigManagementPlugin");
    assert!(plugin["spec"]["discover"]["find"]["command"].is_array());
    let generate = plugin["spec"]["generate"]["command"][2].as_str().unwrap();
    assert!(
        generate.contains("kustomize build .") && generate.contains("coffer render"),
        "{generate}"
    );

    let patch = yaml("repo-server-patch.yaml");
    assert_eq!(patch["kind"], "Deployment");
    assert_eq!(patch["metadata"]["name"], "argocd-repo-server");
    let sidecar = &patch["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(sidecar["command"][0], "/var/run/argocd/argocd-cmp-server");
    let mounts: Vec<&str> = sidecar["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    for m in [
        "/var/run/argocd",
        "/home/argocd/cmp-server/plugins",
        "/home/argocd/cmp-server/config/plugin.yaml",
        "/var/run/coffer/keys",
    ] {
        assert!(mounts.contains(&m), "{m} in {mounts:?}");
    }
    assert_eq!(sidecar["securityContext"]["runAsNonRoot"], true);

    // The Component builds with the real kustomize onto a repo-server.
    let sb = Sandbox::new();
    for f in [
        "plugin.yaml",
        "repo-server-patch.yaml",
        "kustomization.yaml",
    ] {
        sb.write(
            &format!("argocd/{f}"),
            std::fs::read(deploy().join(f)).unwrap(),
        );
    }
    sb.write(
        "install/repo-server.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: argocd-repo-server\nspec:\n  template:\n    spec:\n      containers:\n      - name: argocd-repo-server\n        image: argocd\n",
    );
    sb.write(
        "install/kustomization.yaml",
        "resources: [repo-server.yaml]\ncomponents: [../argocd]\n",
    );
    let built = String::from_utf8(sb.tool("kustomize", &["build", "install"], &[], None)).unwrap();
    assert!(
        built.contains("name: coffer-render-plugin") && built.contains("name: coffer-render\n"),
        "{built}"
    );
    assert!(
        built.contains("kind: ConfigManagementPlugin"),
        "the plugin is in the ConfigMap: {built}"
    );
}

#[test]
fn the_plugins_commands_discover_and_render_a_kustomization() {
    let sb = Sandbox::new();
    const PW: &str = "PLAIN-argo-6a1f";
    const SEALED: &str = "PLAIN-argo-sealed-c3d2";
    sb.sops_encrypt(
        "app/secret.yaml",
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {PW}\n"
        )
        .as_bytes(),
        &["--encrypted-regex", "^stringData$"],
    );
    let sealed = sb.kubeseal(&format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: default\nstringData:\n  password: {SEALED}\n"));
    sb.write("app/sealed.yaml", sealed);
    sb.write(
        "app/kustomization.yaml",
        "resources: [secret.yaml, sealed.yaml]\n",
    );
    sb.write("keys/sealing-keys.yaml", sealing_key_secret());
    sb.write("plain/kustomization.yaml", "resources: [cm.yaml]\n");
    sb.write(
        "plain/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );

    let plugin = yaml("plugin.yaml");
    let discover = &plugin["spec"]["discover"]["find"]["command"];
    let found = shell(&sb, &sb.path("app"), discover, true);
    assert!(
        found.status.success() && !found.stdout.is_empty(),
        "discovered"
    );
    let found = shell(&sb, &sb.path("plain"), discover, true);
    assert!(
        found.stdout.is_empty(),
        "a kustomization with nothing encrypted is not claimed"
    );

    let mut generate = plugin["spec"]["generate"]["command"].clone();
    let script = generate[2]
        .as_str()
        .unwrap()
        .replace("/var/run/coffer/keys", &sb.p("keys"));
    generate[2] = Value::String(script);
    let out = shell(&sb, &sb.path("app"), &generate, true);
    let rendered = succeeded(&out);
    use base64::Engine;
    assert!(rendered.contains(PW), "{rendered}");
    assert!(
        rendered.contains(&base64::engine::general_purpose::STANDARD.encode(SEALED)),
        "{rendered}"
    );

    // A broken build: nothing on stdout (Argo CD would prune on empty
    // manifests), a failure, no plaintext.
    sb.write(
        "app/kustomization.yaml",
        "resources: [secret.yaml, missing.yaml]\n",
    );
    let out = shell(&sb, &sb.path("app"), &generate, true);
    let err = failed(&out, &[PW, SEALED]);
    assert!(
        err.contains("no document") || err.contains("empty"),
        "{err}"
    );
}
