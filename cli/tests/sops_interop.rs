//! Interop with the real sops (built by tests/reference-tools/build.sh):
//! files written by `coffer sops` open with sops and the reverse, in every
//! format, so users can switch tools without re-encrypting.

mod common;

use common::{RECIPIENT, Sandbox, ok};

const CASES: &[(&str, &str)] = &[
    (
        "doc.yaml",
        "# c\napiVersion: v1\nstringData:\n    key: value\n    n: 42\n    f: 0.25\n    b: false\n    d: 2024-05-06T07:08:09Z\n    list:\n        - x\n        - y: z\n    skip_unencrypted: clear\n---\nsecond: doc\n",
    ),
    (
        "doc.json",
        "{\n\t\"a\": \"b\",\n\t\"n\": 3,\n\t\"nested\": {\n\t\t\"t\": true\n\t}\n}\n",
    ),
    ("doc.env", "#comment\nFOO=bar\nMULTI=a\\nb\n"),
    ("doc.ini", "[section]\nkey   = value\nother = 2\n"),
    ("doc.bin", "raw binary-ish content\nwith lines\n"),
];

#[test]
fn files_encrypted_by_coffer_decrypt_with_sops() {
    let sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    for (name, plain) in CASES {
        sb.write(name, plain);
        let enc = ok(sb.coffer(&["sops", "encrypt", "--age", RECIPIENT, name]));
        let enc_name = format!("coffer-{name}");
        sb.write(&enc_name, &enc);
        let dec = ok(sb.sops(&["decrypt", &enc_name]).unwrap());
        let ours = ok(sb.coffer(&["sops", "decrypt", &enc_name]));
        assert_eq!(dec, ours, "sops and coffer disagree on {name}");
        if !name.ends_with(".yaml") {
            assert_eq!(&dec, plain, "{name}");
        }
    }
}

#[test]
fn files_encrypted_by_sops_decrypt_with_coffer() {
    let sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    for (name, plain) in CASES {
        sb.write(name, plain);
        let enc = ok(sb.sops(&["encrypt", "--age", RECIPIENT, name]).unwrap());
        let enc_name = format!("sops-{name}");
        sb.write(&enc_name, &enc);
        let ours = ok(sb.coffer(&["sops", "decrypt", &enc_name]));
        let theirs = ok(sb.sops(&["decrypt", &enc_name]).unwrap());
        assert_eq!(ours, theirs, "coffer and sops disagree on {name}");
    }
}

#[test]
fn sops_encrypted_yaml_matches_coffer_layout() {
    // Same plaintext, same rule: the two tools lay the file out identically
    // (values differ only by their random IVs), so switching tools keeps diffs small.
    let sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    sb.write("p.yaml", CASES[0].1);
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .take_while(|l| !l.starts_with("sops:"))
            .map(|l| l.split("ENC[").next().unwrap().to_string())
            .collect()
    };
    let a = ok(sb.coffer(&["sops", "encrypt", "--age", RECIPIENT, "p.yaml"]));
    let b = ok(sb.sops(&["encrypt", "--age", RECIPIENT, "p.yaml"]).unwrap());
    assert_eq!(strip(&a), strip(&b));
}

#[test]
fn sops_edits_to_a_coffer_file_keep_working_both_ways() {
    let sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    sb.write("s.yaml", "a: one\nb: two\n");
    ok(sb.coffer(&["sops", "encrypt", "-i", "--age", RECIPIENT, "s.yaml"]));
    ok(sb
        .sops(&["set", "s.yaml", r#"["b"]"#, r#""three""#])
        .unwrap());
    assert_eq!(
        ok(sb.coffer(&["sops", "decrypt", "s.yaml"])),
        "a: one\nb: three\n"
    );
    ok(sb.coffer(&["sops", "set", "s.yaml", r#"["a"]"#, r#""uno""#]));
    assert_eq!(
        ok(sb.sops(&["decrypt", "s.yaml"]).unwrap()),
        "a: uno\nb: three\n"
    );
}

#[test]
fn shamir_key_groups_interoperate() {
    let sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{RECIPIENT}]\n      - age: [{RECIPIENT}]\n      - age: [{}]\n",
            common::RECIPIENT2
        ),
    );
    sb.write("s.yaml", "secret: shared\n");
    let ours = ok(sb.coffer(&["sops", "encrypt", "s.yaml"]));
    assert!(
        ours.contains("key_groups:") && ours.contains("shamir_threshold: 2"),
        "{ours}"
    );
    sb.write("ours.yaml", &ours);
    assert_eq!(
        ok(sb.sops(&["decrypt", "ours.yaml"]).unwrap()),
        "secret: shared\n"
    );
    let theirs = ok(sb.sops(&["encrypt", "s.yaml"]).unwrap());
    sb.write("theirs.yaml", &theirs);
    assert_eq!(
        ok(sb.coffer(&["sops", "decrypt", "theirs.yaml"])),
        "secret: shared\n"
    );
}

#[test]
fn mac_only_encrypted_and_regex_rules_interoperate() {
    let sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    sb.write("s.yaml", "data:\n    k: v\nmeta:\n    name: app\n");
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {RECIPIENT}\n    encrypted_regex: ^data$\n    mac_only_encrypted: true\n"),
    );
    for tool_encrypts_with_coffer in [true, false] {
        let enc = if tool_encrypts_with_coffer {
            ok(sb.coffer(&["sops", "encrypt", "s.yaml"]))
        } else {
            ok(sb.sops(&["encrypt", "s.yaml"]).unwrap())
        };
        assert!(
            enc.contains("mac_only_encrypted: true") && enc.contains("name: app"),
            "{enc}"
        );
        sb.write("e.yaml", &enc);
        assert_eq!(
            ok(sb.coffer(&["sops", "decrypt", "e.yaml"])),
            "data:\n    k: v\nmeta:\n    name: app\n"
        );
        assert_eq!(
            ok(sb.sops(&["decrypt", "e.yaml"]).unwrap()),
            "data:\n    k: v\nmeta:\n    name: app\n"
        );
    }
}

#[test]
fn ssh_rsa_recipients_encrypt_for_sops_and_coffer_refuses_rsa_decryption() {
    let sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    let key = sb.path("id_rsa");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
        .arg(&key)
        .status();
    if !keygen.is_ok_and(|s| s.success()) {
        eprintln!("!!!!! SKIPPING ssh-rsa test: ssh-keygen is not available !!!!!");
        return;
    }
    let public = std::fs::read_to_string(sb.path("id_rsa.pub")).unwrap();
    sb.write("s.yaml", "a: secret\n");
    let enc = ok(sb.coffer(&["sops", "encrypt", "--age", public.trim(), "s.yaml"]));
    sb.write("e.yaml", enc);
    let mut cmd = std::process::Command::new(common::sops_binary().unwrap());
    cmd.current_dir(sb.dir.path())
        .env_clear()
        .env("HOME", sb.dir.path())
        .env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &key)
        .args(["decrypt", "e.yaml"]);
    assert_eq!(ok(cmd.output().unwrap()), "a: secret\n");
    let out = sb.coffer_env(
        &["sops", "decrypt", "e.yaml"],
        &[("SOPS_AGE_SSH_PRIVATE_KEY_FILE", key.to_str().unwrap())],
    );
    let (code, err) = common::fail(out);
    assert_eq!(code, 128);
    assert!(err.contains("ssh-rsa identities cannot decrypt"), "{err}");
}
