//! The `coffer sops` subcommands as a user meets them: exit codes shared
//! with sops, `.sops.yaml` rules, identity sources, in-place writes that
//! never damage the original, and the editing commands.

mod common;

use common::{KEY, KEY2, RECIPIENT, RECIPIENT2, Sandbox, fail, ok};

fn encrypted(sb: &Sandbox, name: &str, plain: &str) {
    sb.write(name, plain);
    ok(sb.coffer(&["sops", "encrypt", "-i", "--age", RECIPIENT, name]));
}

#[test]
fn tampered_file_exits_51_and_ignore_mac_still_decrypts() {
    let sb = Sandbox::new();
    encrypted(&sb, "s.yaml", "a: secret\nb_unencrypted: clear\n");
    let tampered = sb
        .read("s.yaml")
        .replace("b_unencrypted: clear", "b_unencrypted: changed");
    sb.write("s.yaml", tampered);
    let (code, err) = fail(sb.coffer(&["sops", "decrypt", "s.yaml"]));
    assert_eq!(code, 51, "{err}");
    assert!(err.contains("MAC mismatch"), "{err}");
    assert_eq!(
        ok(sb.coffer(&["sops", "decrypt", "--ignore-mac", "s.yaml"])),
        "a: secret\nb_unencrypted: changed\n"
    );
}

#[test]
fn missing_identity_exits_128_naming_the_recipient() {
    let mut sb = Sandbox::new();
    encrypted(&sb, "s.yaml", "a: secret\n");
    sb.key_file = None;
    let (code, err) = fail(sb.coffer(&["sops", "decrypt", "s.yaml"]));
    assert_eq!(code, 128, "{err}");
    assert!(err.contains(RECIPIENT), "{err}");
    let (code, _) = fail(sb.coffer_env(&["sops", "decrypt", "s.yaml"], &[("SOPS_AGE_KEY", KEY2)]));
    assert_eq!(code, 128);
}

#[test]
fn encrypting_an_encrypted_file_exits_203() {
    let sb = Sandbox::new();
    encrypted(&sb, "s.yaml", "a: 1\n");
    let (code, _) = fail(sb.coffer(&["sops", "encrypt", "--age", RECIPIENT, "s.yaml"]));
    assert_eq!(code, 203);
}

#[test]
fn in_place_and_output_are_mutually_exclusive_and_missing_files_exit_100() {
    let sb = Sandbox::new();
    sb.write("s.yaml", "a: 1\n");
    let (code, _) = fail(sb.coffer(&[
        "sops", "encrypt", "-i", "--output", "x.yaml", "--age", RECIPIENT, "s.yaml",
    ]));
    assert_eq!(code, 8);
    let (code, _) = fail(sb.coffer(&["sops", "decrypt", "nope.yaml"]));
    assert_eq!(code, 100);
}

#[test]
fn failed_in_place_write_leaves_the_original_intact() {
    let sb = Sandbox::new();
    // A failure before writing (a bad recipient) leaves the file as it was.
    sb.write("s.yaml", "a: secret\n");
    let (code, err) = fail(sb.coffer(&["sops", "encrypt", "-i", "--age", "age1bogus", "s.yaml"]));
    assert_ne!(code, 0);
    assert!(err.contains("age1bogus"), "{err}");
    assert_eq!(sb.read("s.yaml"), "a: secret\n");
    // A failure while writing (read-only directory) too.
    std::fs::create_dir(sb.path("ro")).unwrap();
    sb.write("ro/s.yaml", "a: secret\n");
    let mut perms = std::fs::metadata(sb.path("ro")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(sb.path("ro"), perms.clone()).unwrap();
    let out = sb.coffer(&["sops", "encrypt", "-i", "--age", RECIPIENT, "ro/s.yaml"]);
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(sb.path("ro"), perms).unwrap();
    if out.status.success() {
        eprintln!("note: running as root, the read-only directory case cannot fail here");
        return;
    }
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(sb.read("ro/s.yaml"), "a: secret\n");
}

#[test]
fn sops_yaml_rule_is_found_from_the_files_directory() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: >-\n      {RECIPIENT},\n      {RECIPIENT2}\n  - age: {RECIPIENT2}\n"),
    );
    sb.write(
        "secrets/app/s.yaml",
        "metadata:\n    name: app\nstringData:\n    pw: hunter2\n",
    );
    let enc = ok(sb.coffer(&["sops", "encrypt", "secrets/app/s.yaml"]));
    assert!(enc.contains("name: app") && !enc.contains("hunter2"));
    assert!(enc.contains(RECIPIENT) && enc.contains(RECIPIENT2));
    assert!(enc.contains("encrypted_regex: ^(data|stringData)$"));
    sb.write("other.yaml", "x: y\n");
    let enc = ok(sb.coffer(&["sops", "encrypt", "other.yaml"]));
    assert!(enc.contains(RECIPIENT2) && !enc.contains(RECIPIENT));
}

#[test]
fn no_recipients_exits_111() {
    let sb = Sandbox::new();
    sb.write("s.yaml", "a: 1\n");
    let (code, err) = fail(sb.coffer(&["sops", "encrypt", "s.yaml"]));
    assert_eq!(code, 111, "{err}");
}

#[test]
fn identities_come_from_sops_age_key_command_and_default_keys_file() {
    let mut sb = Sandbox::new();
    encrypted(&sb, "s.yaml", "a: secret\n");
    sb.key_file = None;
    let from_env = sb.coffer_env(
        &["sops", "decrypt", "s.yaml"],
        &[("SOPS_AGE_KEY", &format!("{KEY2} {KEY}"))],
    );
    assert_eq!(ok(from_env), "a: secret\n");
    let cmd = format!("sh -c 'test \"$SOPS_AGE_RECIPIENT\" = {RECIPIENT} && echo {KEY}'");
    let from_cmd = sb.coffer_env(
        &["sops", "decrypt", "s.yaml"],
        &[("SOPS_AGE_KEY_CMD", &cmd)],
    );
    assert_eq!(ok(from_cmd), "a: secret\n");
    sb.write("config/sops/age/keys.txt", format!("{KEY}\n"));
    assert_eq!(ok(sb.coffer(&["sops", "decrypt", "s.yaml"])), "a: secret\n");
}

#[test]
fn ssh_ed25519_recipients_and_identities_work() {
    let sb = Sandbox::new();
    let key = sb.path("id_ed25519");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status();
    if !keygen.is_ok_and(|s| s.success()) {
        eprintln!("!!!!! SKIPPING ssh test: ssh-keygen is not available !!!!!");
        return;
    }
    let public = std::fs::read_to_string(sb.path("id_ed25519.pub")).unwrap();
    let public = public.trim();
    sb.write("s.yaml", "a: secret\n");
    let enc = ok(sb.coffer(&["sops", "encrypt", "--age", public, "s.yaml"]));
    sb.write("e.yaml", enc);
    let out = sb.coffer_env(
        &["sops", "decrypt", "e.yaml"],
        &[("SOPS_AGE_SSH_PRIVATE_KEY_FILE", key.to_str().unwrap())],
    );
    assert_eq!(ok(out), "a: secret\n");
}

#[test]
fn set_changes_one_value_and_keeps_other_ciphertexts() {
    let sb = Sandbox::new();
    encrypted(&sb, "s.yaml", "a: one\nb: two\n");
    let before = sb.read("s.yaml");
    ok(sb.coffer(&["sops", "set", "s.yaml", r#"["b"]"#, r#""deux""#]));
    let after = sb.read("s.yaml");
    let line = |s: &str, k: &str| s.lines().find(|l| l.starts_with(k)).unwrap().to_string();
    assert_eq!(
        line(&before, "a:"),
        line(&after, "a:"),
        "unchanged value keeps its ciphertext"
    );
    assert_ne!(line(&before, "b:"), line(&after, "b:"));
    ok(sb.coffer(&["sops", "set", "s.yaml", r#"["c"]["d"]"#, "5"]));
    assert_eq!(
        ok(sb.coffer(&["sops", "decrypt", "s.yaml"])),
        "a: one\nb: deux\nc:\n    d: 5\n"
    );
    ok(sb.coffer(&["sops", "unset", "s.yaml", r#"["c"]"#]));
    assert_eq!(
        ok(sb.coffer(&["sops", "decrypt", "s.yaml"])),
        "a: one\nb: deux\n"
    );
    let (code, _) = fail(sb.coffer(&["sops", "unset", "s.yaml", r#"["zz"]"#]));
    assert_ne!(code, 0);
    ok(sb.coffer(&["sops", "unset", "--idempotent", "s.yaml", r#"["zz"]"#]));
}

#[test]
fn decrypt_extract_prints_one_value() {
    let sb = Sandbox::new();
    encrypted(&sb, "s.yaml", "data:\n    pw: hunter2\n    num: 3\n");
    assert_eq!(
        ok(sb.coffer(&[
            "sops",
            "decrypt",
            "--extract",
            r#"["data"]["pw"]"#,
            "s.yaml"
        ])),
        "hunter2"
    );
    assert_eq!(
        ok(sb.coffer(&["sops", "decrypt", "--extract", r#"["data"]"#, "s.yaml"])),
        "pw: hunter2\nnum: 3\n"
    );
    let (code, _) = fail(sb.coffer(&["sops", "decrypt", "--extract", r#"["nope"]"#, "s.yaml"]));
    assert_ne!(code, 0);
}

#[test]
fn rotate_changes_the_data_key_and_recipients() {
    let sb = Sandbox::new();
    encrypted(&sb, "s.yaml", "a: secret\n");
    let before = sb.read("s.yaml");
    ok(sb.coffer(&["sops", "rotate", "-i", "--add-age", RECIPIENT2, "s.yaml"]));
    let after = sb.read("s.yaml");
    assert_ne!(
        before.lines().next(),
        after.lines().next(),
        "value re-encrypted"
    );
    assert!(after.contains(RECIPIENT2));
    assert_eq!(
        ok(sb.coffer_env(&["sops", "decrypt", "s.yaml"], &[("SOPS_AGE_KEY", KEY2)])),
        "a: secret\n"
    );
    ok(sb.coffer(&["sops", "rotate", "-i", "--rm-age", RECIPIENT, "s.yaml"]));
    let (code, _) = fail(sb.coffer(&["sops", "decrypt", "s.yaml"]));
    assert_eq!(code, 128);
}

#[test]
fn updatekeys_rewraps_for_the_config_recipients_without_touching_values() {
    let sb = Sandbox::new();
    encrypted(&sb, "s.yaml", "a: secret\n");
    let before = sb.read("s.yaml");
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {RECIPIENT},{RECIPIENT2}\n"),
    );
    ok(sb.coffer(&["sops", "updatekeys", "-y", "s.yaml"]));
    let after = sb.read("s.yaml");
    assert_eq!(
        before.lines().next(),
        after.lines().next(),
        "values untouched"
    );
    assert_eq!(
        ok(sb.coffer_env(&["sops", "decrypt", "s.yaml"], &[("SOPS_AGE_KEY", KEY2)])),
        "a: secret\n"
    );
}

#[test]
fn filestatus_reports_encryption_as_json() {
    let sb = Sandbox::new();
    sb.write("p.yaml", "a: 1\n");
    encrypted(&sb, "s.yaml", "a: 1\n");
    assert_eq!(
        ok(sb.coffer(&["sops", "filestatus", "s.yaml"])),
        "{\"encrypted\":true}\n"
    );
    assert_eq!(
        ok(sb.coffer(&["sops", "filestatus", "p.yaml"])),
        "{\"encrypted\":false}\n"
    );
}

#[test]
fn exec_env_passes_values_and_the_exit_code() {
    let sb = Sandbox::new();
    encrypted(&sb, "s.env", "PASSWORD=hunter2\n");
    let out = ok(sb.coffer(&["sops", "exec-env", "s.env", "echo $PASSWORD"]));
    assert_eq!(out, "hunter2\n");
    let out = sb.coffer(&["sops", "exec-env", "s.env", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn edit_keeps_unchanged_ciphertexts_and_saves_changes() {
    let sb = Sandbox::new();
    encrypted(&sb, "s.yaml", "# note\na: one\nb: two\n");
    let before = sb.read("s.yaml");
    let editor = sb.write("ed.sh", "#!/bin/sh\nsed -i 's/two/TWO/' \"$1\"\n");
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    ok(sb.coffer_env(
        &["sops", "edit", "s.yaml"],
        &[("EDITOR", editor.to_str().unwrap())],
    ));
    let after = sb.read("s.yaml");
    let line = |s: &str, k: &str| s.lines().find(|l| l.starts_with(k)).unwrap().to_string();
    assert_eq!(line(&before, "a:"), line(&after, "a:"));
    assert_eq!(
        line(&before, "#ENC"),
        line(&after, "#ENC"),
        "comment ciphertext kept"
    );
    assert_ne!(line(&before, "b:"), line(&after, "b:"));
    assert_eq!(
        ok(sb.coffer(&["sops", "decrypt", "s.yaml"])),
        "# note\na: one\nb: TWO\n"
    );
    let noop = sb.write("noop.sh", "#!/bin/sh\ntrue\n");
    std::fs::set_permissions(&noop, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (code, _) = fail(sb.coffer_env(
        &["sops", "edit", "s.yaml"],
        &[("EDITOR", noop.to_str().unwrap())],
    ));
    assert_eq!(code, 200);
}

#[test]
fn errors_never_print_secret_values_or_keys() {
    let mut sb = Sandbox::new();
    encrypted(&sb, "s.yaml", "password: hunter2-very-secret\n");
    let tampered = sb.read("s.yaml").replace("password:", "renamed:");
    sb.write("t.yaml", tampered);
    let (_, err) = fail(sb.coffer(&["sops", "decrypt", "t.yaml"]));
    assert!(
        !err.contains("hunter2") && !err.contains("AGE-SECRET-KEY"),
        "{err}"
    );
    sb.key_file = None;
    let (_, err) = fail(sb.coffer_env(
        &["sops", "decrypt", "s.yaml"],
        &[("SOPS_AGE_KEY", "AGE-SECRET-KEY-1BOGUSBOGUS")],
    ));
    assert!(!err.contains("BOGUS") && !err.contains("hunter2"), "{err}");
    let (_, err) = fail(sb.coffer(&[
        "sops",
        "set",
        "s.yaml",
        r#"["password"]"#,
        "not-json-secret",
    ]));
    assert!(!err.contains("not-json-secret"), "{err}");
}

/// Nine levels of nine aliases (9^9 strings) and 100,000 nested lists.
fn hostile_yaml() -> [(&'static str, String, &'static str); 2] {
    let mut bomb = String::from("a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n");
    for (prev, name) in ('a'..'i').zip('b'..='i') {
        let refs = vec![format!("*{prev}"); 9].join(",");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    let deep = format!("k: {}\n", "[".repeat(100_000));
    [
        ("bomb.yaml", bomb, "refusing a possible alias bomb"),
        ("deep.yaml", deep, "collections nested more than 512 deep"),
    ]
}

#[test]
fn encrypt_and_decrypt_refuse_alias_bombs_and_deep_nesting_naming_file_and_line() {
    let sb = Sandbox::new();
    for (name, text, reason) in hostile_yaml() {
        sb.write(name, &text);
        for command in [
            vec!["sops", "encrypt", "--age", RECIPIENT, name],
            vec!["sops", "decrypt", name],
        ] {
            let (code, err) = fail(sb.coffer(&command));
            assert_eq!(code, 1, "{command:?}: {err}");
            assert!(err.contains(&format!("failed to load {name}")), "{err}");
            assert!(err.contains("invalid YAML input at line "), "{err}");
            assert!(err.contains(reason), "{command:?}: {err}");
        }
    }
}
