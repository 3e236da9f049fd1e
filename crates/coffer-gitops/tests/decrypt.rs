//! The decryption rules, on documents made at test time with the real sops
//! and kubeseal: SOPS documents of any kind, opt-out annotations, Secret
//! data holding SOPS documents in every format, SealedSecrets, pass-through
//! byte for byte, JSON streams, several inputs, DynamicObjects and single
//! files.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coffer_gitops::{FileFormat, Input, MacCheck, MacPolicy, Options, Outcome};
use common::*;

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\ntype: Opaque\nstringData:\n  password: hunter2-sops-resource\n  port: \"5432\"\n";

#[test]
fn sops_documents_of_any_kind_are_decrypted_and_lose_their_sops_block() {
    let sb = Sandbox::new();
    let secret = sb.sops_encrypt(
        "secret.yaml",
        SECRET.as_bytes(),
        &["--encrypted-regex", "^(data|stringData)$"],
    );
    let custom = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  token: widget-token-42\n  replicas: 3\n";
    // Everything encrypted, kind and name included.
    let widget = sb.sops_encrypt("widget.yaml", custom.as_bytes(), &[]);
    let stream = [secret, b"---\n".to_vec(), widget].concat();
    let out = decryptor(Options::default())
        .decrypt_stream(&stream, "build.yaml")
        .unwrap();
    assert_eq!(out.documents.len(), 2);
    let db = parse(out.documents[0].text());
    assert_eq!(db["stringData"]["password"], "hunter2-sops-resource");
    assert_eq!(db["stringData"]["port"], "5432");
    assert_eq!(db["metadata"]["namespace"], "apps");
    assert!(db.get("sops").is_none());
    let w = parse(out.documents[1].text());
    assert_eq!(w["kind"], "Widget");
    assert_eq!(w["spec"]["token"], "widget-token-42");
    assert_eq!(w["spec"]["replicas"], 3);
    assert!(!out.documents[1].text().contains("sops"));
    for doc in &out.report.documents {
        match &doc.outcome {
            Outcome::Decrypted {
                recipients, mac, ..
            } => {
                assert_eq!(recipients, &[RECIPIENT]);
                assert_eq!(*mac, MacCheck::Verified);
            }
            other => panic!("{other:?}"),
        }
    }
    // The report names the Widget from its decrypted kind and name.
    assert_eq!(
        out.report.documents[1].object.to_string(),
        "Widget w (document 2 of build.yaml)"
    );
    assert_no_plaintext(
        &format!("{:?}", out.report),
        &["hunter2-sops-resource", "widget-token-42"],
    );
    assert_no_plaintext(
        &format!("{out:?}"),
        &["hunter2-sops-resource", "widget-token-42"],
    );
}

#[test]
fn untouched_documents_pass_through_byte_for_byte_in_order() {
    let sb = Sandbox::new();
    let encrypted = sb.sops_encrypt(
        "s.yaml",
        SECRET.as_bytes(),
        &["--encrypted-regex", "^stringData$"],
    );
    let first = "# leading comment, odd spacing kept\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n    k:   'v'   # trailing\n";
    let last =
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\nspec:\n  ports: [{port: 80}]";
    let stream = format!(
        "---\n{first}---\n{}---\n{last}",
        String::from_utf8(encrypted).unwrap()
    );
    let out = decryptor(Options::default())
        .decrypt_stream(stream.as_bytes(), "in")
        .unwrap();
    let texts: Vec<&str> = out.documents.iter().map(|d| d.text()).collect();
    assert_eq!(texts[0], first);
    assert_eq!(texts[2], last);
    assert!(!out.documents[0].changed && out.documents[1].changed && !out.documents[2].changed);
    let bytes = String::from_utf8(out.to_bytes().to_vec()).unwrap();
    assert!(bytes.starts_with(first));
    assert!(bytes.ends_with(&format!("---\n{last}\n")));
    assert_eq!(out.report.documents[0].outcome, Outcome::PassedThrough);
}

#[test]
fn opt_out_annotations_leave_documents_exactly_as_they_are() {
    let sb = Sandbox::new();
    for (annotation, value) in [
        ("kustomize.toolkit.fluxcd.io/decrypt", "Disabled"),
        ("coffer.dev/decrypt", "disabled"),
    ] {
        let plain = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  annotations:\n    {annotation}: {value}\nstringData:\n  a: opted-out-value\n"
        );
        let encrypted = sb.sops_encrypt(
            "o.yaml",
            plain.as_bytes(),
            &["--encrypted-regex", "^stringData$"],
        );
        let text = String::from_utf8(encrypted).unwrap();
        let out = decryptor(Options::default())
            .decrypt_stream(text.as_bytes(), "in")
            .unwrap();
        assert_eq!(out.documents[0].text(), text, "{annotation}");
        assert!(matches!(
            out.report.documents[0].outcome,
            Outcome::OptedOut { .. }
        ));
        assert!(
            out.report
                .warnings
                .iter()
                .any(|w| w.message.contains(annotation)),
            "{:?}",
            out.report.warnings
        );
    }
}

#[test]
fn secret_data_documents_are_decrypted_with_input_by_structure_and_output_by_key_name() {
    let sb = Sandbox::new();
    let env = b"DB_USER=admin\nDB_PASS=env-secret-1\n";
    let yaml = b"api:\n    token: yaml-secret-2\n";
    let json = b"{\n\t\"user\": \"j\",\n\t\"pass\": \"json-secret-3\"\n}";
    let ini = b"[db]\npass = ini-secret-4\n";
    // A JSON file encrypted as binary and stored under a `.json` key: the
    // plaintext is the file, not a `{"data": ...}` wrapper (Flux #654).
    let creds = b"{\"auths\": {\"quay.io\": {\"auth\": \"binary-secret-5\"}}}";
    let blob: Vec<u8> = (0u8..=255).rev().collect();
    let docker = b"auths:\n    r.example.com:\n        auth: docker-secret-6\n";
    // Encrypted files are kept under enc/, for the real sops to decrypt.
    let enc = |name: &str, plain: &[u8], args: &[&str]| {
        sb.sops_encrypt_to(&format!("enc/{name}"), plain, args)
    };
    let data = [
        ("app.env", enc("app.env", env, &[])),
        ("config.yaml", enc("config.yaml", yaml, &[])),
        ("settings.json", enc("settings.json", json, &[])),
        ("db.ini", enc("db.ini", ini, &[])),
        (
            "creds.json",
            enc(
                "creds.txt",
                creds,
                &["--input-type", "binary", "--output-type", "json"],
            ),
        ),
        ("blob", enc("blob.bin", &blob, &[])),
        (".dockerconfigjson", enc("docker.yaml", docker, &[])),
        ("plain.txt", b"not encrypted at all".to_vec()),
    ];
    let mut manifest =
        String::from("apiVersion: v1\nkind: Secret\nmetadata:\n  name: generated\ndata:\n");
    for (key, value) in &data {
        manifest.push_str(&format!("  {key}: {}\n", STANDARD.encode(value)));
    }
    let out = decryptor(Options::default())
        .decrypt_stream(manifest.as_bytes(), "gen.yaml")
        .unwrap();
    let values = secret_data(&parse(out.documents[0].text()));
    assert_eq!(values["app.env"], env);
    assert_eq!(values["creds.json"], creds);
    assert_eq!(values["blob"], blob);
    assert_eq!(values["plain.txt"], b"not encrypted at all");
    // Structured outputs are what the real sops prints for the same file.
    assert_eq!(
        values["settings.json"],
        sb.sops_decrypt("enc/settings.json", &[])
    );
    assert_eq!(values["db.ini"], sb.sops_decrypt("enc/db.ini", &[]));
    assert_eq!(
        values[".dockerconfigjson"],
        sb.sops_decrypt("enc/docker.yaml", &["--output-type", "json"])
    );
    let config: serde_json::Value = serde_saphyr::from_slice(&values["config.yaml"]).unwrap();
    assert_eq!(config["api"]["token"], "yaml-secret-2");

    let Outcome::SecretData { data: reports } = &out.report.documents[0].outcome else {
        panic!("{:?}", out.report.documents[0].outcome)
    };
    let format_of = |key: &str| {
        let r = reports.iter().find(|r| r.key == key).unwrap();
        (r.input, r.output)
    };
    assert_eq!(
        format_of("app.env"),
        (FileFormat::Dotenv, FileFormat::Dotenv)
    );
    assert_eq!(
        format_of("creds.json"),
        (FileFormat::Binary, FileFormat::Binary)
    );
    assert_eq!(
        format_of("settings.json"),
        (FileFormat::Json, FileFormat::Json)
    );
    assert_eq!(
        format_of(".dockerconfigjson"),
        (FileFormat::Yaml, FileFormat::Json)
    );
    assert_eq!(reports.len(), 7);
    assert_no_plaintext(
        &format!("{:?}", out.report),
        &[
            "env-secret-1",
            "yaml-secret-2",
            "json-secret-3",
            "ini-secret-4",
            "binary-secret-5",
        ],
    );
}

#[test]
fn sealed_secrets_become_the_secret_the_controller_writes() {
    let sb = Sandbox::new();
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sealed-db\n  namespace: apps\n  labels:\n    team: core\ntype: Opaque\nstringData:\n  password: sealed-secret-7\n  user: u\n";
    let sealed = sb.kubeseal(secret, &[]);
    let out = decryptor(Options::default())
        .decrypt_stream(sealed.as_bytes(), "sealed.yaml")
        .unwrap();
    let doc = parse(out.documents[0].text());
    assert_eq!(doc["kind"], "Secret");
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["metadata"]["name"], "sealed-db");
    assert_eq!(doc["metadata"]["namespace"], "apps");
    assert_eq!(doc["metadata"]["labels"]["team"], "core");
    assert_eq!(doc["type"], "Opaque");
    let values = secret_data(&doc);
    assert_eq!(values["password"], b"sealed-secret-7");
    assert_eq!(values["user"], b"u");
    // Exactly what the controller's own function makes of it.
    let typed: coffer_api::SealedSecret = serde_saphyr::from_str(&sealed).unwrap();
    let expected = coffer_sealed::unseal(&typed, &[sealing_key().private_key().clone()])
        .unwrap()
        .into_secret();
    let ours: k8s_openapi::api::core::v1::Secret = serde_json::from_value(doc).unwrap();
    assert_eq!(ours, expected);
    assert_eq!(
        out.report.documents[0].outcome,
        Outcome::Unsealed {
            fingerprints: vec![sealing_key().fingerprint().to_string()]
        }
    );
    assert_no_plaintext(&format!("{:?} {out:?}", out.report), &["sealed-secret-7"]);
}

#[test]
fn sealed_secrets_without_a_key_pass_through_with_a_warning() {
    let sb = Sandbox::new();
    let sealed = sb.kubeseal(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: ns1}\nstringData: {a: b}\n",
        &[],
    );
    let mut keyring = coffer_gitops::Keyring::new();
    keyring.add_age_identities(KEY, "k").unwrap();
    let out = coffer_gitops::Decryptor::new(keyring)
        .decrypt_stream(sealed.as_bytes(), "in")
        .unwrap();
    // kubeseal starts its output with a document marker, which is not part
    // of the document's text.
    assert_eq!(out.documents[0].text(), sealed.trim_start_matches("---\n"));
    assert_eq!(
        out.report.documents[0].outcome,
        Outcome::SealedPassedThrough
    );
    assert!(
        out.report.warnings[0]
            .message
            .contains("holds no sealing key")
    );
}

#[test]
fn json_streams_stay_json_and_several_inputs_are_one_build() {
    let sb = Sandbox::new();
    let json_secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "j"},
        "stringData": {"token": "json-stream-secret"}
    });
    let encrypted = sb.sops_encrypt("j.json", json_secret.to_string().as_bytes(), &[]);
    let plain =
        b"{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"c\"}}";
    let json_stream = [encrypted, b"\n".to_vec(), plain.to_vec()].concat();
    let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n";
    let out = decryptor(Options::default())
        .decrypt_inputs(&[
            Input {
                name: "a.json",
                bytes: &json_stream,
            },
            Input {
                name: "b.yaml",
                bytes: yaml,
            },
        ])
        .unwrap();
    assert_eq!(out.documents.len(), 3);
    let decrypted: serde_json::Value = serde_json::from_str(out.documents[0].text()).unwrap();
    assert_eq!(decrypted["stringData"]["token"], "json-stream-secret");
    assert_eq!(out.documents[1].text().as_bytes(), plain);
    assert_eq!(out.report.documents[2].object.source, "b.yaml");
    // Mixed formats come out as one YAML stream (JSON is YAML).
    let stream = String::from_utf8(out.to_bytes().to_vec()).unwrap();
    let objects = out.to_objects().unwrap();
    assert_eq!(objects.len(), 3);
    assert_eq!(stream.matches("---\n").count(), 2);
}

#[test]
fn dynamic_objects_are_decrypted_and_the_mac_caveat_is_explained() {
    let sb = Sandbox::new();
    // Keys in the order a DynamicObject writes them (apiVersion, kind,
    // metadata, then the rest sorted), so the MAC survives the round trip.
    let sorted =
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: o\ndata:\n  k: b2JqZWN0LXNlY3JldA==\n";
    let encrypted = sb.sops_encrypt(
        "o.yaml",
        sorted.as_bytes(),
        &["--encrypted-regex", "^data$"],
    );
    let object: kube_core::DynamicObject = serde_saphyr::from_slice(&encrypted).unwrap();
    let out = decryptor(Options::default())
        .decrypt_objects(std::slice::from_ref(&object))
        .unwrap();
    assert_eq!(out.objects[0].data["data"]["k"], "b2JqZWN0LXNlY3JldA==");
    assert!(out.objects[0].data.get("sops").is_none());

    // Keys in another order (`type` before `stringData`): the MAC cannot
    // be verified any more.
    let unsorted = sb.sops_encrypt(
        "u.yaml",
        SECRET.as_bytes(),
        &["--encrypted-regex", "^stringData$"],
    );
    let object: kube_core::DynamicObject = serde_saphyr::from_slice(&unsorted).unwrap();
    let err = decryptor(Options::default())
        .decrypt_objects(std::slice::from_ref(&object))
        .unwrap_err()
        .to_string();
    assert!(err.contains("MAC does not match"), "{err}");
    assert_no_plaintext(&err, &["hunter2-sops-resource"]);
    let warned = decryptor(Options {
        mac: MacPolicy::Warn,
        ..Options::default()
    })
    .decrypt_objects(&[object])
    .unwrap();
    assert_eq!(
        warned.objects[0].data["stringData"]["password"],
        "hunter2-sops-resource"
    );
    assert_eq!(warned.report.warnings.len(), 1);
}

#[test]
fn single_files_decrypt_as_generators_read_them() {
    let sb = Sandbox::new();
    let env = b"A=generator-secret\n";
    let encrypted = sb.sops_encrypt("secret.env", env, &[]);
    let d = decryptor(Options::default());
    let file = d.decrypt_file(&encrypted, "secret.env").unwrap().unwrap();
    assert_eq!(&file.plaintext[..], env);
    assert_eq!(
        (file.input, file.output),
        (FileFormat::Dotenv, FileFormat::Dotenv)
    );
    assert_eq!(file.recipients, [RECIPIENT]);
    assert!(d.decrypt_file(b"A=plain\n", "plain.env").unwrap().is_none());
    assert_no_plaintext(&format!("{file:?}"), &["generator-secret"]);
}

#[test]
fn the_same_sops_document_in_many_secrets_decrypts_everywhere() {
    let sb = Sandbox::new();
    let shared = sb.sops_encrypt("shared.env", b"K=shared-secret\n", &[]);
    let stream: String = (0..40)
        .map(|i| {
            format!(
                "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s{i}\ndata:\n  app.env: {}\n",
                STANDARD.encode(&shared)
            )
        })
        .collect();
    let out = decryptor(Options::default())
        .decrypt_stream(stream.as_bytes(), "many")
        .unwrap();
    assert_eq!(out.documents.len(), 40);
    for doc in &out.documents {
        assert_eq!(
            secret_data(&parse(doc.text()))["app.env"],
            b"K=shared-secret\n"
        );
    }
}
