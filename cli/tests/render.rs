//! `coffer render` end to end through the binary, on inputs made at test
//! time with the real sops and kubeseal: what a pipeline sees on stdout,
//! stderr and in the exit code. Every error case asserts exit 1, an empty
//! stdout and no plaintext (nor its base64) in stderr; KRM cases assert the
//! same of the ResourceList's results.

mod render_common;

use render_common::*;

const ER: &[&str] = &["--encrypted-regex", "^(data|stringData)$"];
const PW: &str = "PLAIN-pw-8f3a1c";
const PW2: &str = "PLAIN-pw2-77d0e4";
const SEALED_PW: &str = "PLAIN-sealed-5b2d9e";

fn secret(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: app\nstringData:\n  password: {value}\n"
    )
}

const PLAIN: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: app\ndata:\n  greeting: \"hello\"   # kept byte for byte\n";

/// A SOPS Secret, a plain ConfigMap and a SealedSecret in one stream.
fn build(sb: &Sandbox) -> String {
    let enc = sb.sops_encrypt("secret.enc.yaml", secret("db", PW).as_bytes(), ER);
    let sealed = sb.kubeseal(&secret("sealed", SEALED_PW));
    format!(
        "{}---\n{PLAIN}---\n{sealed}",
        String::from_utf8(enc).unwrap()
    )
}

#[test]
fn a_stream_is_decrypted_unsealed_and_passed_through_in_order() {
    let sb = Sandbox::new();
    let input = build(&sb);
    sb.write("sealing-key.json", sealing_key_secret());
    let out = succeeded(&sb.render(
        &[
            "--age-identity",
            &sb.p("keys.txt"),
            "--sealing-key",
            &sb.p("sealing-key.json"),
        ],
        Some(input.as_bytes()),
    ));
    let docs: Vec<&str> = out.split("---\n").collect();
    assert_eq!(docs.len(), 3, "{out}");
    assert!(docs[0].contains(PW) && docs[0].contains("name: db") && !docs[0].contains("sops"));
    assert_eq!(docs[1], PLAIN, "plain documents pass through byte for byte");
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(SEALED_PW);
    assert!(
        docs[2].contains("kind: Secret") && docs[2].contains(&b64),
        "{}",
        docs[2]
    );
    assert!(!out.contains("SealedSecret"));
}

#[test]
fn keys_come_from_the_sops_environment_keyring_files_and_paths_are_read_in_order() {
    let sb = Sandbox::new();
    sb.sops_encrypt("a.yaml", secret("a", PW).as_bytes(), ER);
    sb.sops_encrypt("b.yaml", secret("b", PW2).as_bytes(), ER);
    // SOPS_AGE_KEY_FILE and SOPS_AGE_KEY, as `coffer sops` reads them.
    for env in [
        ("SOPS_AGE_KEY_FILE", sb.p("keys.txt")),
        ("SOPS_AGE_KEY", KEY.to_owned()),
    ] {
        let out = succeeded(&sb.render_env(
            &[&sb.p("a.yaml"), &sb.p("b.yaml")],
            &[(env.0, &env.1)],
            None,
        ));
        let a = out.find(PW).expect("a decrypted");
        let b = out.find(PW2).expect("b decrypted");
        assert!(a < b, "inputs in order");
    }
    // "-" is standard input, between files.
    let stdin = std::fs::read(sb.path("b.yaml")).unwrap();
    let out = succeeded(&sb.render(
        &["--age-identity", &sb.p("keys.txt"), "-", &sb.p("a.yaml")],
        Some(&stdin),
    ));
    assert!(out.find(PW2).unwrap() < out.find(PW).unwrap());
    // --keyring: a Bitnami key Secret opens the SealedSecret.
    let sealed = sb.kubeseal(&secret("sealed", SEALED_PW));
    sb.write("keyring.json", sealing_key_secret());
    let out = succeeded(&sb.render(
        &["--keyring", &sb.p("keyring.json")],
        Some(sealed.as_bytes()),
    ));
    assert!(
        out.contains("kind: Secret") && !out.contains("SealedSecret"),
        "{out}"
    );
}

#[test]
fn a_missing_key_fails_with_no_output_naming_the_document_and_recipient() {
    let sb = Sandbox::new();
    let input = build(&sb);
    let out = sb.render(&[], Some(input.as_bytes()));
    let err = failed(&out, &[PW, SEALED_PW]);
    assert!(
        err.contains("Secret app/db (document 1 of standard input)"),
        "{err}"
    );
    assert!(err.contains(RECIPIENT), "{err}");
}

#[test]
fn a_sealed_secret_without_its_key_passes_through_or_fails_with_require_unsealed() {
    let sb = Sandbox::new();
    let sealed = sb.kubeseal(&secret("sealed", SEALED_PW));
    let out = sb.render(&[], Some(sealed.as_bytes()));
    assert_eq!(succeeded(&out), sealed, "passed through unchanged");
    let warn = String::from_utf8_lossy(&out.stderr);
    assert!(
        warn.contains("warning") && warn.contains("app/sealed"),
        "{warn}"
    );
    let err = failed(
        &sb.render(&["--require-unsealed"], Some(sealed.as_bytes())),
        &[SEALED_PW],
    );
    assert!(
        err.contains("SealedSecret app/sealed") && err.contains("unsealed output is required"),
        "{err}"
    );
}

#[test]
fn a_mac_mismatch_fails_by_default_warns_or_is_skipped_on_request() {
    let sb = Sandbox::new();
    let enc = String::from_utf8(sb.sops_encrypt(
        "s.yaml",
        secret("db", PW).as_bytes(),
        &["--encrypted-regex", "^stringData$"],
    ))
    .unwrap();
    // What a kustomize transformer does: a plain value changed after encryption.
    let patched = enc.replace("name: db", "name: db-patched");
    assert_ne!(patched, enc);
    let err = failed(
        &sb.render(
            &["--age-identity", &sb.p("keys.txt")],
            Some(patched.as_bytes()),
        ),
        &[PW],
    );
    assert!(
        err.contains("MAC does not match") && err.contains("kustomize"),
        "{err}"
    );
    let out = sb.render(
        &["--age-identity", &sb.p("keys.txt"), "--mac", "warn"],
        Some(patched.as_bytes()),
    );
    assert!(succeeded(&out).contains(PW));
    let warn = String::from_utf8_lossy(&out.stderr);
    assert!(warn.contains("warning") && warn.contains("MAC"), "{warn}");
    no_plaintext(&warn, &[PW]);
    let out = sb.render(
        &["--age-identity", &sb.p("keys.txt"), "--mac", "skip"],
        Some(patched.as_bytes()),
    );
    assert!(succeeded(&out).contains(PW));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("MAC"));
    let bad = sb.render(&["--mac", "sometimes"], Some(b""));
    assert!(!bad.status.success() && bad.stdout.is_empty());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--mac"));
}

#[test]
fn leftover_encryption_is_refused_naming_the_document_and_path() {
    let sb = Sandbox::new();
    let enc =
        String::from_utf8(sb.sops_encrypt("s.yaml", secret("db", PW).as_bytes(), ER)).unwrap();
    // An ENC[...] value whose sops block was stripped.
    let stripped: String = enc.split("\nsops:").next().unwrap().to_owned() + "\n";
    let err = failed(
        &sb.render(
            &["--age-identity", &sb.p("keys.txt")],
            Some(stripped.as_bytes()),
        ),
        &[PW],
    );
    assert!(
        err.contains("Secret app/db")
            && err.contains("refusing to output it")
            && err.contains("\"password\""),
        "{err}"
    );
    // A sops block without a MAC.
    let no_mac = format!("{PLAIN}sops:\n  version: 3.13.0\n");
    let err = failed(&sb.render(&[], Some(no_mac.as_bytes())), &[]);
    assert!(
        err.contains("ConfigMap app/plain") && err.contains("sops block"),
        "{err}"
    );
}

#[test]
fn empty_output_is_refused_unless_allowed() {
    let sb = Sandbox::new();
    let err = failed(&sb.render(&[], Some(b"")), &[]);
    assert!(err.contains("allow empty"), "{err}");
    let out = sb.render(&["--allow-empty"], Some(b""));
    assert!(out.status.success() && out.stdout.is_empty());
}

#[test]
fn every_failing_document_is_named_and_nothing_is_printed() {
    let sb = Sandbox::new();
    let a = String::from_utf8(sb.sops_encrypt("a.yaml", secret("a", PW).as_bytes(), ER)).unwrap();
    let b = String::from_utf8(sb.sops_encrypt("b.yaml", secret("b", PW2).as_bytes(), ER)).unwrap();
    sb.write(
        "other-key.txt",
        "AGE-SECRET-KEY-10U7MAELH09KZU63F65P2TYLN7TQM5X6GSDDCQ4YMUGDS3DS6XZMSTYY2PN\n",
    );
    let input = format!("{a}---\n{PLAIN}---\n{b}");
    let err = failed(
        &sb.render(
            &["--age-identity", &sb.p("other-key.txt")],
            Some(input.as_bytes()),
        ),
        &[PW, PW2],
    );
    assert!(err.contains("2 documents failed"), "{err}");
    assert!(
        err.contains("Secret app/a (document 1") && err.contains("Secret app/b (document 3"),
        "{err}"
    );
}

#[test]
fn unreadable_inputs_and_key_files_are_named() {
    let sb = Sandbox::new();
    let err = failed(&sb.render(&[&sb.p("missing.yaml")], None), &[]);
    assert!(err.contains("missing.yaml"), "{err}");
    let err = failed(&sb.render(&[], Some(b"a: [unclosed\n")), &[]);
    assert!(err.contains("standard input"), "{err}");
    sb.write("bad-key.txt", "AGE-SECRET-KEY-1NOTAKEY\n");
    let err = failed(
        &sb.render(
            &["--age-identity", &sb.p("bad-key.txt")],
            Some(PLAIN.as_bytes()),
        ),
        &["AGE-SECRET-KEY-1NOTAKEY"],
    );
    assert!(err.contains("bad-key.txt"), "{err}");
    sb.write("bad-sealing.pem", "not a key");
    let err = failed(
        &sb.render(
            &["--sealing-key", &sb.p("bad-sealing.pem")],
            Some(PLAIN.as_bytes()),
        ),
        &[],
    );
    assert!(err.contains("bad-sealing.pem"), "{err}");
    let err = failed(&sb.render(&["-", "-"], Some(PLAIN.as_bytes())), &[]);
    assert!(err.contains("more than once"), "{err}");
}

fn resource_list(items: &str, config: &str) -> String {
    format!("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n{items}{config}")
}

fn indent(doc: &str) -> String {
    let mut out = String::new();
    for (i, line) in doc.lines().enumerate() {
        out.push_str(if i == 0 { "- " } else { "  " });
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn with_krm_annotations(doc: &str, path: &str) -> String {
    doc.replacen(
        "metadata:\n",
        &format!("metadata:\n  annotations:\n    config.kubernetes.io/index: '0'\n    internal.config.kubernetes.io/path: '{path}'\n    kustomize.config.k8s.io/id: 'x'\n"),
        1,
    )
}

#[test]
fn a_resource_list_is_answered_with_decrypted_items_their_annotations_and_results() {
    let sb = Sandbox::new();
    let enc =
        String::from_utf8(sb.sops_encrypt("s.yaml", secret("db", PW).as_bytes(), ER)).unwrap();
    let sealed = sb.kubeseal(&secret("sealed", SEALED_PW));
    let items = indent(&with_krm_annotations(&enc, "s.yaml"))
        + &indent(&with_krm_annotations(PLAIN, "plain.yaml"))
        + &indent(&sealed);
    let list = resource_list(
        &items,
        "functionConfig:\n  apiVersion: coffer.dev/v1\n  kind: Render\n  metadata: {name: x}\n  ageIdentityFiles: [keys.txt]\n",
    );
    let out = succeeded(&sb.render(&[], Some(list.as_bytes())));
    assert!(
        out.starts_with("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"),
        "{out}"
    );
    assert!(out.contains(PW) && !out.contains("ENC["), "{out}");
    assert_eq!(
        out.matches("internal.config.kubernetes.io/path").count(),
        2,
        "{out}"
    );
    assert!(
        out.contains("internal.config.kubernetes.io/path: s.yaml")
            && out.contains("kustomize.config.k8s.io/id"),
        "{out}"
    );
    // The SealedSecret without its key: passed through, a warning result.
    assert!(
        out.contains("kind: SealedSecret") && out.contains("severity: warning"),
        "{out}"
    );
    let results = &out[out.find("results:").unwrap()..];
    no_plaintext(results, &[PW, SEALED_PW]);
}

#[test]
fn a_failing_resource_list_has_no_item_error_results_and_exit_1() {
    let sb = Sandbox::new();
    let enc =
        String::from_utf8(sb.sops_encrypt("s.yaml", secret("db", PW).as_bytes(), ER)).unwrap();
    let list = resource_list(&(indent(&enc) + &indent(PLAIN)), "");
    let out = sb.render(&[], Some(list.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        stdout.contains("items: []") && stdout.contains("severity: error"),
        "{stdout}"
    );
    assert!(
        stdout.contains("kind: Secret") && stdout.contains("name: db"),
        "resourceRef: {stdout}"
    );
    no_plaintext(&stdout, &[PW]);
    no_plaintext(&String::from_utf8_lossy(&out.stderr), &[PW]);
    // A config field coffer does not know is refused by name.
    let list = resource_list(
        &indent(PLAIN),
        "functionConfig:\n  apiVersion: coffer.dev/v1\n  kind: Render\n  ageKeys: [x]\n",
    );
    let out = sb.render(&[], Some(list.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("unknown field")
            && stdout.contains("ageKeys")
            && stdout.contains("items: []"),
        "{stdout}"
    );
}

#[test]
fn the_generator_builds_secrets_from_encrypted_files_envs_and_binary_files() {
    let sb = Sandbox::new();
    sb.sops_encrypt(
        "app.env",
        format!("USER=admin\nPASSWORD={PW}\n").as_bytes(),
        &[],
    );
    let blob: Vec<u8> = (0..=255u8).rev().collect();
    sb.write(".plain-bin", &blob);
    sb.sops_encrypt(
        "blob.bin",
        &blob,
        &["--input-type", "binary", "--output-type", "binary"],
    );
    sb.sops_encrypt("config.yaml", format!("password: {PW2}\n").as_bytes(), &[]);
    sb.sops_encrypt("extra.yaml", secret("extra", PW2).as_bytes(), &[]);
    let config = "functionConfig:\n  apiVersion: coffer.dev/v1\n  kind: SecretGenerator\n  metadata: {name: gen}\n  ageIdentityFiles: [keys.txt]\n  files: [extra.yaml]\n  secretFrom:\n  - metadata: {name: generated, namespace: app}\n    type: Opaque\n    envs: [app.env]\n    files: [conf.yaml=config.yaml]\n    binaryFiles: [blob=blob.bin]\n";
    let out = succeeded(
        &sb.render(
            &[],
            Some(
                format!(
                    "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n{config}"
                )
                .as_bytes(),
            ),
        ),
    );
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    assert!(out.contains("name: extra") && out.contains(PW2), "{out}");
    assert!(
        out.contains(&format!("PASSWORD: {}", b64(PW.as_bytes()))),
        "{out}"
    );
    assert!(out.contains(&format!("USER: {}", b64(b"admin"))), "{out}");
    assert!(out.contains(&format!("blob: {}", b64(&blob))), "{out}");
    assert!(
        out.contains(&format!(
            "conf.yaml: {}",
            b64(format!("password: {PW2}\n").as_bytes())
        )),
        "{out}"
    );
    // A file outside the working directory is refused, naming the field.
    let outside = config.replace("envs: [app.env]", "envs: [../outside.env]");
    let out = sb.render(
        &[],
        Some(
            format!(
                "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n{outside}"
            )
            .as_bytes(),
        ),
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("secretFrom[0].envs") && stdout.contains("items: []"),
        "{stdout}"
    );
    no_plaintext(&stdout, &[PW, PW2]);
}

#[test]
fn sources_are_decrypted_on_a_copy_before_kustomize_builds_them() {
    let sb = Sandbox::new();
    // A SOPS resource encrypted whole (kind and name too) and a dotenv
    // generator input: a namespace transformer works on the plaintext.
    sb.sops_encrypt("src/secret.yaml", secret("db", PW).as_bytes(), &[]);
    sb.sops_encrypt("src/app.env", format!("PASSWORD={PW2}\n").as_bytes(), &[]);
    sb.write(
        "src/kustomization.yaml",
        "namespace: moved\nresources: [secret.yaml]\nsecretGenerator:\n- name: gen\n  options: {disableNameSuffixHash: true}\n  envs: [app.env]\n",
    );
    let before = std::fs::read(sb.path("src/secret.yaml")).unwrap();
    let kustomize = tools_dir().join("kustomize").display().to_string();
    let out = succeeded(&sb.render(
        &[
            "--age-identity",
            &sb.p("keys.txt"),
            "--sources",
            &sb.p("src"),
            "--kustomize",
            &kustomize,
        ],
        None,
    ));
    use base64::Engine;
    assert!(
        out.contains(PW) && out.contains("namespace: moved"),
        "{out}"
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(PW2);
    assert!(out.contains(&format!("PASSWORD: {b64}")), "{out}");
    assert_eq!(
        std::fs::read(sb.path("src/secret.yaml")).unwrap(),
        before,
        "the sources are not touched"
    );

    // A build that fails: kustomize's messages (which may quote decrypted
    // files) are withheld; nothing on stdout.
    sb.write(
        "src/kustomization.yaml",
        "resources: [secret.yaml, missing.yaml]\n",
    );
    let err = failed(
        &sb.render(
            &[
                "--age-identity",
                &sb.p("keys.txt"),
                "--sources",
                &sb.p("src"),
                "--kustomize",
                &kustomize,
            ],
            None,
        ),
        &[PW, PW2],
    );
    assert!(
        err.contains("build failed") && err.contains("withheld"),
        "{err}"
    );
    // Flags that only make sense together are refused by name.
    let out = sb.render(&["--kustomize", &kustomize], Some(PLAIN.as_bytes()));
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sources"));
    let out = sb.render(&["--sources", &sb.p("src"), &sb.p("x.yaml")], None);
    assert!(!out.status.success() && out.stdout.is_empty());
}

#[test]
fn the_legacy_exec_plugin_layout_works_with_kustomizes_legacy_plugin_loading() {
    let sb = Sandbox::new();
    let out = succeeded(&sb.render(&["install", &sb.p("plugins")], None));
    for (dir, kind) in [("render", "Render"), ("secretgenerator", "SecretGenerator")] {
        let path = sb.path(&format!("plugins/coffer.dev/v1/{dir}/{kind}"));
        assert!(out.contains(path.to_str().unwrap()), "{out}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o111,
            0o111
        );
    }
    sb.sops_encrypt("k/secret.yaml", secret("db", PW).as_bytes(), ER);
    sb.sops_encrypt("k/app.env", format!("PASSWORD={PW2}\n").as_bytes(), &[]);
    sb.write("k/gen.yaml", "apiVersion: coffer.dev/v1\nkind: SecretGenerator\nmetadata: {name: gen}\nsecretFrom:\n- metadata: {name: app}\n  envs: [app.env]\n");
    sb.write(
        "k/tr.yaml",
        "apiVersion: coffer.dev/v1\nkind: Render\nmetadata: {name: tr}\n",
    );
    sb.write(
        "k/kustomization.yaml",
        "resources: [secret.yaml]\ngenerators: [gen.yaml]\ntransformers: [tr.yaml]\n",
    );
    let plugins = sb.p("plugins");
    let keys = sb.p("keys.txt");
    let env = [
        ("KUSTOMIZE_PLUGIN_HOME", plugins.as_str()),
        ("SOPS_AGE_KEY_FILE", keys.as_str()),
    ];
    let built = String::from_utf8(sb.tool(
        "kustomize",
        &["build", "--enable-alpha-plugins", "k"],
        &env,
        None,
    ))
    .unwrap();
    use base64::Engine;
    assert!(built.contains(PW) && !built.contains("ENC["), "{built}");
    assert!(
        built.contains(&format!(
            "PASSWORD: {}",
            base64::engine::general_purpose::STANDARD.encode(PW2)
        )),
        "{built}"
    );
    // Without the key the build fails and no plaintext shows.
    let cmd_env = [("KUSTOMIZE_PLUGIN_HOME", plugins.as_str())];
    let mut cmd = std::process::Command::new(tools_dir().join("kustomize"));
    cmd.args(["build", "--enable-alpha-plugins", "k"])
        .current_dir(sb.dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", sb.dir.path())
        .envs(cmd_env);
    let out = cmd.output().unwrap();
    assert!(!out.status.success() && out.stdout.is_empty());
    no_plaintext(&String::from_utf8_lossy(&out.stderr), &[PW, PW2]);
}
