//! `coffer seal` from the outside: each kubeseal flag with its input and the
//! output or error a user sees, with a key pair made by `coffer keygen`, and
//! interop both ways with the real kubeseal for all three scopes.

mod seal_harness;

use std::io::{Read, Write};
use std::net::TcpListener;

use seal_harness::{PASSWORD, SECRET_YAML, Sandbox, b64, fail, json_docs, ok};
use serde_json::Value;

/// `coffer seal --cert cert.pem -f secret.yaml -w OUT`.
fn seal_to_file(sb: &Sandbox, out: &str) {
    ok(sb.coffer(
        &["seal", "--cert", "cert.pem", "-f", "secret.yaml", "-w", out],
        None,
    ));
}

/// `coffer seal --recovery-unseal` of `sealed.yaml` with `key.pem`: the
/// Secrets' JSON.
fn recovery_unseal_file(sb: &Sandbox) -> String {
    ok(sb.coffer(
        &[
            "seal",
            "--recovery-unseal",
            "--recovery-private-key",
            "key.pem",
            "-f",
            "sealed.yaml",
        ],
        None,
    ))
}

/// Seals SECRET_YAML (plus `extra` flags) and returns the JSON output.
fn seal_json(sb: &Sandbox, extra: &[&str]) -> Value {
    let mut args = vec!["seal", "--cert", "cert.pem"];
    args.extend_from_slice(extra);
    let out = ok(sb.coffer(&args, Some(SECRET_YAML.as_bytes())));
    let mut docs = json_docs(&out);
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

/// Opens SealedSecret text with key.pem and returns the Secret documents.
fn unseal(sb: &Sandbox, sealed: &str) -> Vec<Value> {
    let out = ok(sb.coffer(
        &[
            "seal",
            "--recovery-unseal",
            "--recovery-private-key",
            "key.pem",
        ],
        Some(sealed.as_bytes()),
    ));
    json_docs(&out)
}

#[test]
fn sealed_secret_is_json_by_default_and_opens_with_the_private_key() {
    let sb = Sandbox::with_key();
    let sealed = seal_json(&sb, &[]);
    assert_eq!(sealed["kind"], "SealedSecret");
    assert_eq!(sealed["apiVersion"], "bitnami.com/v1alpha1");
    assert_eq!(sealed["metadata"]["name"], "db");
    assert_eq!(sealed["metadata"]["namespace"], "prod");
    assert_eq!(sealed["spec"]["template"]["type"], "Opaque");
    assert_eq!(
        sealed["spec"]["template"]["metadata"]["labels"]["app"],
        "web"
    );
    let text = sealed.to_string();
    assert!(!text.contains(PASSWORD) && !text.contains("aHVudGVyMi1zM2NyM3Q="));
    let secret = &unseal(&sb, &text)[0];
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(b64(secret["data"]["password"].as_str().unwrap()), PASSWORD);
    assert_eq!(b64(secret["data"]["user"].as_str().unwrap()), "admin");
}

#[test]
fn yaml_output_by_flag_or_by_output_file_name() {
    let sb = Sandbox::with_key();
    sb.write("secret.yaml", SECRET_YAML);
    let yaml = ok(sb.coffer(
        &[
            "seal",
            "--cert",
            "cert.pem",
            "-f",
            "secret.yaml",
            "-o",
            "yaml",
        ],
        None,
    ));
    assert!(
        yaml.starts_with("---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n"),
        "{yaml}"
    );

    seal_to_file(&sb, "out.yml");
    assert!(sb.read("out.yml").starts_with("---\n"));
    ok(sb.coffer(
        &[
            "seal",
            "--cert",
            "cert.pem",
            "-f",
            "secret.yaml",
            "--sealed-secret-file",
            "out.json",
        ],
        None,
    ));
    assert_eq!(json_docs(&sb.read("out.json"))[0]["kind"], "SealedSecret");

    let err = fail(sb.coffer(
        &[
            "seal",
            "--cert",
            "cert.pem",
            "-f",
            "secret.yaml",
            "-o",
            "xml",
        ],
        None,
    ));
    assert!(err.contains("unsupported output format: xml"), "{err}");
}

#[test]
fn output_file_is_replaced_only_when_sealing_succeeds() {
    let sb = Sandbox::with_key();
    sb.write("out.json", "previous");
    let err = fail(sb.coffer(
        &["seal", "--cert", "cert.pem", "-w", "out.json"],
        Some(b"kind: Secret\nmetadata: {name: x, namespace: y}\n"),
    ));
    assert!(err.contains("no data"), "{err}");
    assert_eq!(sb.read("out.json"), "previous");
    let leftovers = std::fs::read_dir(sb.dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".coffer-")
        })
        .count();
    assert_eq!(leftovers, 0, "no temporary file is left behind");
}

#[test]
fn every_yaml_document_becomes_a_sealed_secret() {
    let sb = Sandbox::with_key();
    let input = format!(
        "{SECRET_YAML}---\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: api, namespace: prod}}\nstringData: {{token: t0k3n}}\n"
    );
    let out = ok(sb.coffer(&["seal", "--cert", "cert.pem"], Some(input.as_bytes())));
    let docs = json_docs(&out);
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1]["metadata"]["name"], "api");
    let secrets = unseal(&sb, &out);
    assert_eq!(b64(secrets[1]["data"]["token"].as_str().unwrap()), "t0k3n");
}

#[test]
fn json_input_is_accepted() {
    let sb = Sandbox::with_key();
    let input = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"j","namespace":"n"},"stringData":{"k":"v"}}"#;
    let out = ok(sb.coffer(&["seal", "--cert", "cert.pem"], Some(input.as_bytes())));
    assert_eq!(json_docs(&out)[0]["metadata"]["name"], "j");
}

#[test]
fn server_managed_fields_are_stripped() {
    let sb = Sandbox::with_key();
    let input = "\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
  uid: 1234-abcd
  resourceVersion: \"99\"
  generation: 3
  creationTimestamp: \"2024-01-01T00:00:00Z\"
  managedFields: [{manager: kubectl, operation: Update}]
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{\"stringData\":{\"k\":\"hunter2-s3cr3t\"}}'
    keep: me
stringData: {k: v}
";
    let out = ok(sb.coffer(&["seal", "--cert", "cert.pem"], Some(input.as_bytes())));
    for gone in [
        "1234-abcd",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "last-applied",
        PASSWORD,
    ] {
        assert!(!out.contains(gone), "{gone} must be stripped:\n{out}");
    }
    assert_eq!(
        json_docs(&out)[0]["spec"]["template"]["metadata"]["annotations"]["keep"],
        "me"
    );
}

#[test]
fn empty_secret_is_sealed_when_allowed() {
    let sb = Sandbox::with_key();
    let input = EMPTY_SECRET.as_bytes();
    let out = ok(sb.coffer(
        &["seal", "--cert", "cert.pem", "--allow-empty-data"],
        Some(input),
    ));
    assert_eq!(json_docs(&out)[0]["metadata"]["name"], "e");
}

#[test]
fn namespace_flag_fills_a_missing_namespace() {
    let sb = Sandbox::with_key();
    let sealed = seal_json_from(&sb, &["-n", "team"], NO_NAMESPACE.as_bytes());
    assert_eq!(sealed["metadata"]["namespace"], "team");
}

fn seal_json_from(sb: &Sandbox, extra: &[&str], input: &[u8]) -> Value {
    let mut args = vec!["seal", "--cert", "cert.pem"];
    args.extend_from_slice(extra);
    json_docs(&ok(sb.coffer(&args, Some(input)))).remove(0)
}

#[test]
fn default_namespace_comes_from_the_kubeconfig_context() {
    let sb = Sandbox::with_key();
    std::fs::create_dir_all(sb.path(".kube")).unwrap();
    sb.write(
        ".kube/config",
        "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {}}]\ncontexts:\n- {name: a, context: {cluster: c, user: u, namespace: team-a}}\n- {name: b, context: {cluster: c, user: u}}\n",
    );
    let no_ns = b"kind: Secret\nmetadata: {name: a}\nstringData: {k: v}\n";
    assert_eq!(
        seal_json_from(&sb, &[], no_ns)["metadata"]["namespace"],
        "team-a"
    );
    assert_eq!(
        seal_json_from(&sb, &["--context", "b"], no_ns)["metadata"]["namespace"],
        "default"
    );
}

#[test]
fn many_documents_keep_their_order_and_the_first_bad_one_is_named() {
    let sb = Sandbox::with_key();
    let doc = |i: usize| {
        format!(
            "---\nkind: Secret\nmetadata: {{name: s-{i}, namespace: prod}}\nstringData: {{k: v{i}}}\n"
        )
    };
    let good: String = (0..200).map(doc).collect();
    let sealed = json_docs(&ok(
        sb.coffer(&["seal", "--cert", "cert.pem"], Some(good.as_bytes()))
    ));
    let names: Vec<String> = sealed
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        (0..200).map(|i| format!("s-{i}")).collect::<Vec<_>>()
    );

    // Documents 8 and 151 have no data; only the first is reported.
    let empty =
        |i: usize| format!("---\nkind: Secret\nmetadata: {{name: s-{i}, namespace: prod}}\n");
    let bad: String = (0..200)
        .map(|i| if i == 7 || i == 150 { empty(i) } else { doc(i) })
        .collect();
    let err = fail(sb.coffer(&["seal", "--cert", "cert.pem"], Some(bad.as_bytes())));
    assert!(err.contains("document 8 of standard input"), "{err}");
    assert!(!err.contains("document 151"), "{err}");
}

#[test]
fn the_kubeconfig_is_read_only_for_secrets_without_a_namespace() {
    let sb = Sandbox::with_key();
    sb.write("broken-kubeconfig", "{ this is not a kubeconfig");
    let broken = ["--kubeconfig", "broken-kubeconfig"];
    let named = b"kind: Secret\nmetadata: {name: a, namespace: prod}\nstringData: {k: v}\n";
    assert_eq!(
        seal_json_from(&sb, &broken, named)["metadata"]["namespace"],
        "prod"
    );
    let unnamed = b"kind: Secret\nmetadata: {name: a}\nstringData: {k: v}\n";
    let mut args = vec!["seal", "--cert", "cert.pem"];
    args.extend_from_slice(&broken);
    let err = fail(sb.coffer(&args, Some(unnamed)));
    assert!(err.contains("broken-kubeconfig"), "{err}");
}

#[test]
fn scopes_declare_their_annotation_and_bind_values_accordingly() {
    let sb = Sandbox::with_key();
    let strict = seal_json(&sb, &[]);
    assert!(strict["metadata"].get("annotations").is_none());
    let ns_wide = seal_json(&sb, &["--scope", "namespace-wide"]);
    assert_eq!(
        ns_wide["metadata"]["annotations"]["sealedsecrets.bitnami.com/namespace-wide"],
        "true"
    );
    let cluster = seal_json(&sb, &["--scope", "cluster-wide"]);
    assert_eq!(
        cluster["metadata"]["annotations"]["sealedsecrets.bitnami.com/cluster-wide"],
        "true"
    );

    let moved = |mut v: Value, name: &str, ns: &str| {
        v["metadata"]["name"] = name.into();
        v["metadata"]["namespace"] = ns.into();
        v.to_string()
    };
    let unseal_cmd = [
        "seal",
        "--recovery-unseal",
        "--recovery-private-key",
        "key.pem",
    ];
    // strict: renaming breaks it, with an error naming the object and key
    let err = fail(sb.coffer(&unseal_cmd, Some(moved(strict, "other", "prod").as_bytes())));
    assert!(
        err.contains("prod/other") && err.contains("password"),
        "{err}"
    );
    assert!(!err.contains(PASSWORD));
    // namespace-wide: renaming within the namespace is fine, moving is not
    ok(sb.coffer(
        &unseal_cmd,
        Some(moved(ns_wide.clone(), "other", "prod").as_bytes()),
    ));
    fail(sb.coffer(&unseal_cmd, Some(moved(ns_wide, "db", "dev").as_bytes())));
    // cluster-wide: anywhere
    let secrets = json_docs(&ok(
        sb.coffer(&unseal_cmd, Some(moved(cluster, "x", "y").as_bytes()))
    ));
    assert_eq!(
        b64(secrets[0]["data"]["password"].as_str().unwrap()),
        PASSWORD
    );
}

#[test]
fn scope_annotations_on_the_secret_choose_the_scope_without_the_flag() {
    let sb = Sandbox::with_key();
    let input = "kind: Secret\nmetadata:\n  name: a\n  annotations: {sealedsecrets.bitnami.com/cluster-wide: \"true\"}\nstringData: {k: v}\n";
    // Cluster-wide needs no namespace.
    let sealed = seal_json_from(&sb, &[], input.as_bytes());
    assert_eq!(
        sealed["metadata"]["annotations"]["sealedsecrets.bitnami.com/cluster-wide"],
        "true"
    );
    assert!(sealed["metadata"].get("namespace").is_none());
}

#[test]
fn name_flag_overrides_the_secret_name() {
    let sb = Sandbox::with_key();
    assert_eq!(
        seal_json(&sb, &["--name", "renamed"])["metadata"]["name"],
        "renamed"
    );
}

/// Wraps raw values into a SealedSecret to open them with --recovery-unseal.
fn sealed_with(name: &str, ns: &str, annotations: Value, key: &str, value: &str) -> String {
    serde_json::json!({
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "spec": {"encryptedData": {key: value}}
    })
    .to_string()
}

#[test]
fn raw_prints_only_the_base64_of_one_value() {
    let sb = Sandbox::with_key();
    let raw = ok(sb.coffer(
        &[
            "seal",
            "--cert",
            "cert.pem",
            "--raw",
            "--namespace",
            "prod",
            "--name",
            "db",
        ],
        Some(PASSWORD.as_bytes()),
    ));
    assert!(!raw.ends_with('\n') && !raw.contains(' '), "{raw:?}");
    let secret = &unseal(&sb, &sealed_with("db", "prod", Value::Null, "k", &raw))[0];
    assert_eq!(b64(secret["data"]["k"].as_str().unwrap()), PASSWORD);

    sb.write("value.txt", "from-a-file");
    let raw = ok(sb.coffer(
        &[
            "seal",
            "--cert",
            "cert.pem",
            "--raw",
            "--scope",
            "cluster-wide",
            "--from-file",
            "password=value.txt",
        ],
        None,
    ));
    let anns = serde_json::json!({"sealedsecrets.bitnami.com/cluster-wide": "true"});
    let secret = &unseal(&sb, &sealed_with("any", "where", anns, "k", &raw))[0];
    assert_eq!(b64(secret["data"]["k"].as_str().unwrap()), "from-a-file");
}

#[test]
fn merge_into_adds_and_replaces_keys_in_place_keeping_the_file_format() {
    let sb = Sandbox::with_key();
    sb.write("secret.yaml", SECRET_YAML);
    seal_to_file(&sb, "sealed.yaml");
    let before = sb.read("sealed.yaml");
    let update = "kind: Secret\nmetadata: {name: ignored, labels: {tier: db}}\nstringData: {user: root, extra: more}\n";
    ok(sb.coffer(
        &["seal", "--cert", "cert.pem", "--merge-into", "sealed.yaml"],
        Some(update.as_bytes()),
    ));
    let after = sb.read("sealed.yaml");
    assert!(after.starts_with("---\n"), "still YAML:\n{after}");
    assert_ne!(before, after);
    let out = recovery_unseal_file(&sb);
    let secret = &json_docs(&out)[0];
    assert_eq!(secret["metadata"]["name"], "db", "the target's name wins");
    assert_eq!(
        b64(secret["data"]["password"].as_str().unwrap()),
        PASSWORD,
        "kept"
    );
    assert_eq!(
        b64(secret["data"]["user"].as_str().unwrap()),
        "root",
        "replaced"
    );
    assert_eq!(
        b64(secret["data"]["extra"].as_str().unwrap()),
        "more",
        "added"
    );
    assert_eq!(secret["metadata"]["labels"]["tier"], "db");
    assert_eq!(secret["metadata"]["labels"]["app"], "web");
}

#[test]
fn merge_into_a_cluster_wide_sealed_secret_seals_cluster_wide() {
    let sb = Sandbox::with_key();
    sb.write("secret.yaml", SECRET_YAML);
    ok(sb.coffer(
        &[
            "seal",
            "--cert",
            "cert.pem",
            "-f",
            "secret.yaml",
            "--scope",
            "cluster-wide",
            "-w",
            "s.json",
        ],
        None,
    ));
    let update = b"kind: Secret\nmetadata: {name: x}\nstringData: {extra: more}\n";
    ok(sb.coffer(
        &["seal", "--cert", "cert.pem", "--merge-into", "s.json"],
        Some(update),
    ));
    let out = ok(sb.coffer(
        &[
            "seal",
            "--recovery-unseal",
            "--recovery-private-key",
            "key.pem",
            "-f",
            "s.json",
        ],
        None,
    ));
    assert_eq!(
        b64(json_docs(&out)[0]["data"]["extra"].as_str().unwrap()),
        "more"
    );
    let err = fail(sb.coffer(
        &[
            "seal",
            "--cert",
            "cert.pem",
            "--scope",
            "strict",
            "--merge-into",
            "s.json",
        ],
        Some(update),
    ));
    assert!(err.contains("contradicts s.json"), "{err}");
}

#[test]
fn recovery_keys_come_from_pem_or_key_secret_backups_repeated_or_comma_separated() {
    let sb = Sandbox::with_key();
    let sealed = seal_json(&sb, &[]).to_string();
    let other = Sandbox::with_key();
    sb.write("other.pem", other.read("key.pem"));
    // A kubectl-style List backup (JSON) holding the right key.
    let secret: Value = {
        let yaml = sb.read("key.yaml");
        let data = |k: &str| {
            yaml.lines()
                .find_map(|l| l.trim().strip_prefix(k))
                .unwrap()
                .trim()
                .to_owned()
        };
        serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k"},
            "data": {"tls.key": data("tls.key:"), "tls.crt": data("tls.crt:")}})
    };
    sb.write(
        "backup.json",
        serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [secret]}).to_string(),
    );
    for keys in [
        vec!["--recovery-private-key", "other.pem,key.pem"],
        vec![
            "--recovery-private-key",
            "other.pem",
            "--recovery-private-key",
            "key.yaml",
        ],
        vec!["--recovery-private-key", "backup.json"],
    ] {
        let mut args = vec!["seal", "--recovery-unseal"];
        args.extend(keys);
        let out = ok(sb.coffer(&args, Some(sealed.as_bytes())));
        assert_eq!(
            b64(json_docs(&out)[0]["data"]["password"].as_str().unwrap()),
            PASSWORD
        );
    }
}

#[test]
fn re_encrypt_offline_rewrites_the_input_file_for_the_new_key() {
    let sb = Sandbox::with_key();
    let new = Sandbox::with_key();
    sb.write("new-cert.pem", new.read("cert.pem"));
    sb.write("new-key.pem", new.read("key.pem"));
    sb.write("secret.yaml", SECRET_YAML);
    seal_to_file(&sb, "sealed.yaml");
    ok(sb.coffer(
        &[
            "seal",
            "--re-encrypt",
            "--recovery-private-key",
            "key.pem",
            "--cert",
            "new-cert.pem",
            "-f",
            "sealed.yaml",
        ],
        None,
    ));
    assert!(
        sb.read("sealed.yaml").starts_with("---\n"),
        "YAML kept by the file name"
    );
    let open_with = |key: &str| {
        sb.coffer(
            &[
                "seal",
                "--recovery-unseal",
                "--recovery-private-key",
                key,
                "-f",
                "sealed.yaml",
            ],
            None,
        )
    };
    fail(open_with("key.pem"));
    let out = ok(open_with("new-key.pem"));
    assert_eq!(
        b64(json_docs(&out)[0]["data"]["password"].as_str().unwrap()),
        PASSWORD
    );

    // Without keys it asks the controller; with no cluster configured, the
    // error says how to do it offline.
    let err = fail(sb.coffer(&["seal", "--re-encrypt", "-f", "sealed.yaml"], None));
    assert!(
        err.contains("cannot reach the controller kube-system/sealed-secrets-controller")
            && err.contains("--recovery-private-key"),
        "{err}"
    );
}

#[test]
fn validate_offline_with_the_right_key_prints_nothing() {
    let sb = Sandbox::with_key();
    let sealed = seal_json(&sb, &[]).to_string();
    let out = ok(sb.coffer(
        &["seal", "--validate", "--recovery-private-key", "key.pem"],
        Some(sealed.as_bytes()),
    ));
    assert!(out.is_empty());
}

#[test]
fn cert_from_file_url_and_environment() {
    let sb = Sandbox::with_key();
    let url = format!("file://{}", sb.path("cert.pem").display());
    assert_eq!(
        seal_json(&sb, &[]).get("kind"),
        Some(&Value::from("SealedSecret"))
    );
    let out = ok(sb.coffer(&["seal", "--cert", &url], Some(SECRET_YAML.as_bytes())));
    assert_eq!(json_docs(&out).len(), 1);
    let out = ok(sb.coffer_env(
        &["seal"],
        &[("SEALED_SECRETS_CERT", "cert.pem")],
        Some(SECRET_YAML.as_bytes()),
    ));
    assert_eq!(json_docs(&out).len(), 1);
}

/// Serves `body` with `status` to one HTTP request, on a local port.
fn serve_once(status: &'static str, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf);
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(reply.as_bytes()).unwrap();
    });
    format!("http://{addr}/v1/cert.pem")
}

#[test]
fn cert_from_http_url_and_http_errors_named() {
    let sb = Sandbox::with_key();
    let url = serve_once("200 OK", sb.read("cert.pem"));
    let out = ok(sb.coffer(&["seal", "--cert", &url], Some(SECRET_YAML.as_bytes())));
    assert_eq!(json_docs(&out).len(), 1);
    let url = serve_once("404 Not Found", String::new());
    let err = fail(sb.coffer(&["seal", "--cert", &url], Some(SECRET_YAML.as_bytes())));
    assert!(err.contains("404") && err.contains(&url), "{err}");
}

#[test]
fn fetch_cert_copies_the_certificate() {
    let sb = Sandbox::with_key();
    let out = ok(sb.coffer(&["seal", "--fetch-cert", "--cert", "cert.pem"], None));
    assert_eq!(out, sb.read("cert.pem"));
    // kubeseal reads every flag from SEALED_SECRETS_<FLAG> (its flagenv).
    let out = ok(sb.coffer_env(
        &["seal"],
        &[
            ("SEALED_SECRETS_FETCH_CERT", "true"),
            ("SEALED_SECRETS_CERT", "cert.pem"),
            ("SEALED_SECRETS_SEALED_SECRET_FILE", "copy.pem"),
        ],
        None,
    ));
    assert_eq!(out, "");
    assert_eq!(sb.read("copy.pem"), sb.read("cert.pem"));
}

/// A Secret with no data.
const EMPTY_SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: e, namespace: n}\n";
/// A Secret with no namespace.
const NO_NAMESPACE: &str = "kind: Secret\nmetadata: {name: a}\nstringData: {k: v}\n";

/// What a run reads on standard input.
#[derive(Clone, Copy)]
enum Input {
    Nothing,
    Text(&'static str),
    /// SECRET_YAML.
    Secret,
    /// SECRET_YAML sealed to cert.pem (a SealedSecret, JSON).
    Sealed,
}

/// What the user sees: success, or a failure whose message holds each of
/// these strings. Either way, never the secret value.
enum Outcome {
    Succeeds,
    Fails(&'static [&'static str]),
}

use Input::{Nothing, Sealed, Secret, Text};
use Outcome::{Fails, Succeeds};

/// Runs of `coffer seal` against the sandbox of
/// [`each_run_succeeds_or_names_what_is_wrong`]: key.pem/cert.pem (the key
/// pair), other.pem (another key), expired-cert.pem, bad.yaml (document 2
/// has a malformed stringData holding the value) and broken.yaml (not YAML).
const RUNS: &[(&[&str], Input, Outcome)] = &[
    // Input documents
    (
        &["seal", "--cert", "cert.pem"],
        Text(EMPTY_SECRET),
        Fails(&["document 1 of standard input", "--allow-empty-data"]),
    ),
    (
        &["seal", "--cert", "cert.pem"],
        Text("\n---\n"),
        Fails(&["no Secret found in standard input"]),
    ),
    (
        &["seal", "--cert", "cert.pem"],
        Text("kind: ConfigMap\ndata: {a: b}\n"),
        Fails(&["document 1 of standard input is a ConfigMap, not a Secret"]),
    ),
    (
        &["seal", "--cert", "cert.pem", "-f", "bad.yaml"],
        Nothing,
        Fails(&["document 2 of bad.yaml"]),
    ),
    (
        &["seal", "--cert", "cert.pem", "-f", "broken.yaml"],
        Nothing,
        Fails(&["broken.yaml"]),
    ),
    (
        &["seal", "--cert", "cert.pem", "-f", "absent.yaml"],
        Nothing,
        Fails(&["absent.yaml"]),
    ),
    // Namespace and scope
    (
        &["seal", "--cert", "cert.pem", "-n", "other"],
        Secret,
        Fails(&["namespace mismatch", "\"prod\"", "\"other\""]),
    ),
    (
        &["seal", "--cert", "cert.pem"],
        Text(NO_NAMESPACE),
        Fails(&["has no namespace"]),
    ),
    (
        &["seal", "--cert", "cert.pem", "--scope", "galaxy-wide"],
        Secret,
        Fails(&["invalid scope"]),
    ),
    // --raw needs the name and namespace its scope binds to
    (
        &["seal", "--cert", "cert.pem", "--raw", "--namespace", "prod"],
        Text("v"),
        Fails(&["needs --name"]),
    ),
    (
        &["seal", "--cert", "cert.pem", "--raw", "--name", "x"],
        Text("v"),
        Fails(&["needs --namespace"]),
    ),
    (
        &[
            "seal",
            "--cert",
            "cert.pem",
            "--raw",
            "--scope",
            "namespace-wide",
            "-n",
            "p",
        ],
        Text("v"),
        Succeeds,
    ),
    (
        &["seal", "--cert", "cert.pem", "--from-file", "x"],
        Text("v"),
        Fails(&["--from-file requires --raw"]),
    ),
    (
        &[
            "seal",
            "--cert",
            "cert.pem",
            "--raw",
            "--scope",
            "cluster-wide",
            "--from-file",
            "a,b",
        ],
        Nothing,
        Fails(&["only one --from-file"]),
    ),
    // The certificate
    (
        &["seal", "--cert", "expired-cert.pem"],
        Secret,
        Fails(&["expired at 2021-01-01", "expired-cert.pem"]),
    ),
    (
        &["seal", "--cert", "nope.pem"],
        Secret,
        Fails(&["nope.pem"]),
    ),
    // Without --cert, the controller is asked; with no cluster configured,
    // the error points to offline sealing.
    (&["seal"], Secret, Fails(&["--cert"])),
    (&["seal", "--fetch-cert"], Nothing, Fails(&["--cert"])),
    // Recovery keys
    (
        &[
            "seal",
            "--recovery-unseal",
            "--recovery-private-key",
            "other.pem",
        ],
        Sealed,
        Fails(&["no private key could decrypt"]),
    ),
    (
        &[
            "seal",
            "--recovery-unseal",
            "--recovery-private-key",
            "cert.pem",
        ],
        Sealed,
        Fails(&["cert.pem"]),
    ),
    (
        &[
            "seal",
            "--recovery-unseal",
            "--recovery-private-key",
            "missing.pem",
        ],
        Sealed,
        Fails(&["missing.pem"]),
    ),
    (
        &["seal", "--recovery-unseal"],
        Sealed,
        Fails(&["--recovery-private-key"]),
    ),
    (
        &["seal", "--validate", "--recovery-private-key", "other.pem"],
        Sealed,
        Fails(&[
            "1 of 1 SealedSecret(s) in standard input cannot be decrypted",
            "document 1 of standard input",
        ]),
    ),
    (
        &["seal", "--validate"],
        Sealed,
        Fails(&[
            "cannot reach the controller kube-system/sealed-secrets-controller to validate",
            "--recovery-private-key",
        ]),
    ),
];

#[test]
fn each_run_succeeds_or_names_what_is_wrong() {
    let sb = Sandbox::with_key();
    let sealed = seal_json(&sb, &[]).to_string();
    sb.write("other.pem", Sandbox::with_key().read("key.pem"));
    let expired = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/seal/expired-cert.pem"
    );
    sb.write(
        "expired-cert.pem",
        std::fs::read_to_string(expired).unwrap(),
    );
    sb.write(
        "bad.yaml",
        format!("{SECRET_YAML}---\nkind: Secret\nmetadata: {{name: b}}\nstringData: {PASSWORD}\n"),
    );
    sb.write(
        "broken.yaml",
        format!("kind: Secret\nstringData:\n  k: \"{PASSWORD}\n  - ["),
    );
    let mut wrong = Vec::new();
    for (args, input, outcome) in RUNS {
        let stdin = match input {
            Nothing => None,
            Text(text) => Some(text.as_bytes()),
            Secret => Some(SECRET_YAML.as_bytes()),
            Sealed => Some(sealed.as_bytes()),
        };
        let out = sb.coffer(args, stdin);
        let err = String::from_utf8_lossy(&out.stderr);
        let problem = match outcome {
            Succeeds if !out.status.success() => Some(format!("failed: {err}")),
            Succeeds => None,
            Fails(_) if out.status.success() => Some("succeeded".to_owned()),
            Fails(want) => want
                .iter()
                .find(|w| !err.contains(**w))
                .map(|w| format!("no {w:?} in: {err}")),
        }
        .or_else(|| {
            err.contains(PASSWORD)
                .then(|| format!("the value leaked: {err}"))
        });
        if let Some(problem) = problem {
            wrong.push(format!("coffer {}: {problem}", args.join(" ")));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn help_shows_examples() {
    let sb = Sandbox::new();
    let help = ok(sb.coffer(&["seal", "--help"], None));
    assert!(
        help.contains("Examples:") && help.contains("--recovery-unseal"),
        "{help}"
    );
}

// ---- interop with the real kubeseal ----------------------------------------

const SCOPES: [&str; 3] = ["strict", "namespace-wide", "cluster-wide"];

#[test]
fn kubeseal_sealed_secrets_open_with_coffer_in_every_scope() {
    let sb = Sandbox::with_key();
    for scope in SCOPES {
        let Some(out) = sb.kubeseal(
            &["--cert", "cert.pem", "--scope", scope, "-o", "yaml"],
            Some(SECRET_YAML.as_bytes()),
        ) else {
            return;
        };
        let sealed = ok(out);
        let secret = &unseal(&sb, &sealed)[0];
        assert_eq!(
            b64(secret["data"]["password"].as_str().unwrap()),
            PASSWORD,
            "{scope}"
        );
        assert_eq!(
            b64(secret["data"]["user"].as_str().unwrap()),
            "admin",
            "{scope}"
        );
        assert_eq!(secret["metadata"]["labels"]["app"], "web", "{scope}");
    }
}

#[test]
fn coffer_sealed_secrets_open_with_kubeseal_in_every_scope() {
    let sb = Sandbox::with_key();
    for scope in SCOPES {
        for format in ["json", "yaml"] {
            let sealed = ok(sb.coffer(
                &["seal", "--cert", "cert.pem", "--scope", scope, "-o", format],
                Some(SECRET_YAML.as_bytes()),
            ));
            // kubeseal reads the key Secret made by `coffer keygen`.
            let Some(out) = sb.kubeseal(
                &["--recovery-unseal", "--recovery-private-key", "key.yaml"],
                Some(sealed.as_bytes()),
            ) else {
                return;
            };
            let secret = &json_docs(&ok(out))[0];
            assert_eq!(
                b64(secret["data"]["password"].as_str().unwrap()),
                PASSWORD,
                "{scope} {format}"
            );
            assert_eq!(
                b64(secret["data"]["user"].as_str().unwrap()),
                "admin",
                "{scope} {format}"
            );
        }
    }
}

#[test]
fn templates_render_exactly_as_kubeseal_renders_them() {
    let sb = Sandbox::with_key();
    let sealed = ok(sb.coffer(
        &["seal", "--cert", "cert.pem"],
        Some(SECRET_YAML.as_bytes()),
    ));
    let mut sealed: Value = serde_json::from_str(&sealed).unwrap();
    // Bitnami v0.40's rules, each exercised: a plaintext entry (host) that
    // other templates read, a template over sealed and plaintext keys, a
    // template named like a sealed key (the sealed value wins), a null
    // entry removing a sealed key (still readable by templates).
    sealed["spec"]["template"]["data"] = serde_json::json!({
        "host": "db.prod",
        "dsn": "postgres://{{ .user }}:{{ .password }}@{{ .host }}",
        "password": "shadowed",
        "user": null,
        "upper": "{{ .user | upper }}",
    });
    let sealed = sealed.to_string();
    let Some(out) = sb.kubeseal(
        &["--recovery-unseal", "--recovery-private-key", "key.pem"],
        Some(sealed.as_bytes()),
    ) else {
        return;
    };
    let theirs = json_docs(&ok(out)).remove(0);
    let ours = unseal(&sb, &sealed).remove(0);
    assert_eq!(ours["data"], theirs["data"]);
    let data = &ours["data"];
    assert_eq!(
        b64(data["dsn"].as_str().unwrap()),
        format!("postgres://admin:{PASSWORD}@db.prod")
    );
    assert_eq!(b64(data["password"].as_str().unwrap()), PASSWORD);
    assert_eq!(b64(data["upper"].as_str().unwrap()), "ADMIN");
    assert!(data.get("user").is_none(), "{data}");
}

#[test]
fn raw_values_interoperate_with_kubeseal() {
    let sb = Sandbox::with_key();
    let args = [
        "--cert",
        "cert.pem",
        "--raw",
        "--namespace",
        "prod",
        "--name",
        "db",
    ];
    let Some(out) = sb.kubeseal(&args, Some(PASSWORD.as_bytes())) else {
        return;
    };
    let theirs = ok(out);
    let mut coffer_args = vec!["seal"];
    coffer_args.extend(args);
    let ours = ok(sb.coffer(&coffer_args, Some(PASSWORD.as_bytes())));
    let both = sealed_with("db", "prod", Value::Null, "theirs", &theirs);
    let mut both: Value = serde_json::from_str(&both).unwrap();
    both["spec"]["encryptedData"]["ours"] = ours.into();
    let Some(out) = sb.kubeseal(
        &["--recovery-unseal", "--recovery-private-key", "key.pem"],
        Some(both.to_string().as_bytes()),
    ) else {
        return;
    };
    let secret = &json_docs(&ok(out))[0];
    assert_eq!(b64(secret["data"]["theirs"].as_str().unwrap()), PASSWORD);
    assert_eq!(b64(secret["data"]["ours"].as_str().unwrap()), PASSWORD);
}

// ---- the controller's certificate through the API server -------------------

/// A fake API server: answers the Service lookup and the service-proxy
/// certificate request kubeseal makes, records the paths it was asked for.
fn fake_api_server(cert: String) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::BufRead;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let (log, cert) = (log.clone(), cert.clone());
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
                let mut conn = conn;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                            break;
                        }
                    }
                    let path = request_line
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("")
                        .to_owned();
                    log.lock().unwrap().push(path.clone());
                    let (status, body) = match path.as_str() {
                        "/api/v1/namespaces/ops/services/sealer" => (
                            "200 OK",
                            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"sealer","namespace":"ops"},"spec":{"ports":[{"name":"web","port":8080}]}}"#.to_owned(),
                        ),
                        "/api/v1/namespaces/ops/services/http:sealer:web/proxy/v1/cert.pem" => {
                            ("200 OK", cert.clone())
                        }
                        _ => (
                            "404 Not Found",
                            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#.to_owned(),
                        ),
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

fn write_kubeconfig(sb: &Sandbox, server: &str) {
    std::fs::create_dir_all(sb.path(".kube")).unwrap();
    sb.write(
        ".kube/config",
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters: [{{name: c, cluster: {{server: '{server}'}}}}]\nusers: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: fake, context: {{cluster: c, user: u, namespace: prod}}}}]\n"
        ),
    );
}

#[test]
fn fetch_cert_goes_through_the_api_server_service_proxy() {
    let sb = Sandbox::with_key();
    let (server, seen) = fake_api_server(sb.read("cert.pem"));
    write_kubeconfig(&sb, &server);
    let controller = [
        "--controller-namespace",
        "ops",
        "--controller-name",
        "sealer",
    ];
    let mut args = vec!["seal", "--fetch-cert"];
    args.extend(controller);
    assert_eq!(ok(sb.coffer(&args, None)), sb.read("cert.pem"));
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|p| p == "/api/v1/namespaces/ops/services/http:sealer:web/proxy/v1/cert.pem")
    );

    // Sealing without --cert uses the fetched certificate.
    let mut args = vec!["seal"];
    args.extend(controller);
    let sealed = ok(sb.coffer(&args, Some(SECRET_YAML.as_bytes())));
    assert_eq!(
        b64(unseal(&sb, &sealed)[0]["data"]["password"]
            .as_str()
            .unwrap()),
        PASSWORD
    );

    // A missing controller Service is named, with the flags that fix it.
    let err = fail(sb.coffer(&["seal", "--fetch-cert"], None));
    assert!(
        err.contains("kube-system/sealed-secrets-controller") && err.contains("--controller-name"),
        "{err}"
    );
}
