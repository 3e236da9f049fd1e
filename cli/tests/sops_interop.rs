//! Interop with the real sops (built by tests/reference-tools/build.sh):
//! files written by `coffer sops` open with sops and the reverse, in every
//! format and for every age recipient type (X25519, post-quantum
//! mlkem768x25519, ssh-rsa), so users can switch tools without re-encrypting.

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

/// The shared post-quantum vector's identity file (its public key is on
/// the comment line).
const PQ_KEY_FILE: &str = include_str!("../../crates/coffer-sops/tests/data/age-pq-key.txt");

fn pq_recipient() -> &'static str {
    PQ_KEY_FILE
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
}

/// A fresh ssh-rsa key pair made by ssh-keygen: (private key path, public
/// key line), or None (loudly) when ssh-keygen is missing.
fn ssh_rsa_key(sb: &Sandbox) -> Option<(std::path::PathBuf, String)> {
    let key = sb.path("id_rsa");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "3072", "-N", "", "-C", "", "-f"])
        .arg(&key)
        .status();
    if !keygen.is_ok_and(|s| s.success()) {
        eprintln!("!!!!! SKIPPING ssh-rsa test: ssh-keygen is not available !!!!!");
        return None;
    }
    let public = std::fs::read_to_string(sb.path("id_rsa.pub")).unwrap();
    Some((key, public.trim().to_string()))
}

/// Encrypts every case with each tool to `recipient` and decrypts it with
/// the other, with the identities in `env` only.
fn both_ways_in_every_format(sb: &Sandbox, recipient: &str, env: &[(&str, &str)]) {
    let sops = |args: &[&str]| {
        let mut cmd = std::process::Command::new(common::sops_binary().unwrap());
        cmd.current_dir(sb.dir.path())
            .env_clear()
            .env("HOME", sb.dir.path())
            .envs(env.iter().copied())
            .args(args);
        ok(cmd.output().unwrap())
    };
    for (name, plain) in CASES {
        sb.write(name, plain);
        let theirs = sops(&["encrypt", "--age", recipient, name]);
        sb.write(&format!("sops-{name}"), &theirs);
        let ours = ok(sb.coffer(&["sops", "encrypt", "--age", recipient, name]));
        sb.write(&format!("coffer-{name}"), &ours);
        let reference = sops(&["decrypt", &format!("sops-{name}")]);
        let by_coffer = ok(sb.coffer_env(&["sops", "decrypt", &format!("sops-{name}")], env));
        assert_eq!(by_coffer, reference, "coffer reading sops's {name}");
        let by_sops = sops(&["decrypt", &format!("coffer-{name}")]);
        assert_eq!(by_sops, reference, "sops reading coffer's {name}");
        if !name.ends_with(".yaml") {
            assert_eq!(&by_sops, plain, "{name}");
        }
    }
}

#[test]
fn post_quantum_files_interoperate_with_sops_in_every_format() {
    let mut sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    let key_file = sb.write("pq-keys.txt", PQ_KEY_FILE);
    sb.key_file = Some(key_file.clone());
    both_ways_in_every_format(
        &sb,
        pq_recipient(),
        &[("SOPS_AGE_KEY_FILE", key_file.to_str().unwrap())],
    );
}

#[test]
fn ssh_rsa_files_interoperate_with_sops_in_every_format() {
    let mut sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    let Some((key, public)) = ssh_rsa_key(&sb) else {
        return;
    };
    sb.key_file = None;
    both_ways_in_every_format(
        &sb,
        &public,
        &[("SOPS_AGE_SSH_PRIVATE_KEY_FILE", key.to_str().unwrap())],
    );
}

#[test]
fn a_file_for_x25519_post_quantum_and_ssh_rsa_recipients_opens_with_any_one_identity() {
    let mut sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    let Some((rsa_key, rsa_public)) = ssh_rsa_key(&sb) else {
        return;
    };
    let pq_keys = sb.write("pq-keys.txt", PQ_KEY_FILE);
    let x_keys = sb.key_file.take().unwrap();
    let recipients = format!("{RECIPIENT},{},{rsa_public}", pq_recipient());
    sb.write("s.yaml", "a: mixed\n");
    let ours = ok(sb.coffer(&["sops", "encrypt", "--age", &recipients, "s.yaml"]));
    let theirs = ok(sb
        .sops(&["encrypt", "--age", &recipients, "s.yaml"])
        .unwrap());
    sb.write("ours.yaml", ours);
    sb.write("theirs.yaml", theirs);
    let identities = [
        ("SOPS_AGE_KEY_FILE", x_keys.to_str().unwrap()),
        ("SOPS_AGE_KEY_FILE", pq_keys.to_str().unwrap()),
        ("SOPS_AGE_SSH_PRIVATE_KEY_FILE", rsa_key.to_str().unwrap()),
    ];
    for file in ["ours.yaml", "theirs.yaml"] {
        for id in identities {
            let out = sb.coffer_env(&["sops", "decrypt", file], &[id]);
            assert_eq!(ok(out), "a: mixed\n", "{file} with {}={}", id.0, id.1);
        }
    }
}

#[test]
fn a_post_quantum_file_for_another_identity_fails_as_sops_does() {
    let mut sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    sb.write("s.yaml", "a: secret\n");
    let enc = ok(sb.coffer(&["sops", "encrypt", "--age", pq_recipient(), "s.yaml"]));
    sb.write("e.yaml", enc);
    // The sandbox's key file holds only the X25519 identity; a second
    // file holds a post-quantum identity of another recipient.
    let theirs = sb.sops(&["decrypt", "e.yaml"]).unwrap();
    let (sops_code, _) = common::fail(theirs);
    let (code, err) = common::fail(sb.coffer(&["sops", "decrypt", "e.yaml"]));
    assert_eq!(code, sops_code);
    assert!(err.contains(pq_recipient()), "{err}");
    assert!(!err.contains("AGE-SECRET-KEY"), "{err}");
    let other = coffer_sops::PqIdentity::generate();
    let other_file = sb.write("other.txt", format!("{}\n", other.to_bech32().as_str()));
    sb.key_file = Some(other_file);
    let (code, err) = common::fail(sb.coffer(&["sops", "decrypt", "e.yaml"]));
    assert_eq!(code, sops_code);
    assert!(err.contains("no identity matched"), "{err}");
}

#[test]
fn post_quantum_keys_from_age_keygen_work_in_sops_yaml_rules_and_updatekeys() {
    let mut sb = Sandbox::new();
    let Some(sops) = common::sops_binary() else {
        return;
    };
    // age-keygen of the filippo.io/age that sops pins (tests/reference-tools).
    let keygen = sops.parent().unwrap().join("age-keygen");
    let pq_file = sb.path("pq.txt");
    let made = std::process::Command::new(&keygen)
        .args(["-pq", "-o"])
        .arg(&pq_file)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let text = std::fs::read_to_string(&pq_file).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    let secret = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-PQ-1"))
        .unwrap();
    // Coffer derives the same recipient from the identity as age does.
    let ours = coffer_sops::PqIdentity::parse(secret).unwrap();
    assert_eq!(ours.to_public().to_bech32(), recipient);

    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {recipient}\n"),
    );
    sb.write("s.yaml", "a: b\n");
    let x25519_keys = sb.key_file.replace(pq_file.clone()).unwrap();
    ok(sb.coffer(&["sops", "encrypt", "-i", "s.yaml"]));
    assert_eq!(ok(sb.sops(&["decrypt", "s.yaml"]).unwrap()), "a: b\n");
    // updatekeys adds an X25519 recipient, unwrapping with the PQ identity.
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {recipient},{RECIPIENT}\n"),
    );
    ok(sb.coffer(&["sops", "updatekeys", "-y", "s.yaml"]));
    sb.key_file = Some(x25519_keys);
    assert_eq!(ok(sb.sops(&["decrypt", "s.yaml"]).unwrap()), "a: b\n");
    assert_eq!(ok(sb.coffer(&["sops", "decrypt", "s.yaml"])), "a: b\n");
}
