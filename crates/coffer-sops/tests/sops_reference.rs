//! The library against the real sops (`coffer_reftools::reference_tool`:
//! `$COFFER_REFERENCE_TOOLS_DIR/sops`, else built by tests/setup.sh) for
//! the recipient types coffer implements itself: a file the library
//! encrypts to a post-quantum or ssh-rsa recipient decrypts with sops, and
//! a file sops encrypts decrypts with the library.
//! (The CLI's tests/sops_interop.rs covers every format and mixed files.)

use std::path::{Path, PathBuf};
use std::process::Command;

use coffer_sops::{EncryptOptions, Format, Identities, MacPolicy};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn sops() -> Option<PathBuf> {
    coffer_reftools::reference_tool_or_skip("sops")
}

/// Encrypts with the library and decrypts with sops, then the reverse;
/// `env` tells sops where the identity is, `ids` holds the same identity.
fn round_trip(sops: &Path, recipient: &str, env: (&str, PathBuf), ids: &Identities) {
    let dir = tempfile::tempdir().unwrap();
    let plain = b"k: v\nnum: 3\n";
    let opts = EncryptOptions {
        key_groups: vec![vec![recipient.to_string()]],
        shamir_threshold: 0,
        rule: coffer_sops::CryptRule::UnencryptedSuffix("_unencrypted".into()),
        mac_only_encrypted: false,
    };
    let ours = coffer_sops::encrypt(plain, Format::Yaml, Format::Yaml, &opts).unwrap();
    std::fs::write(dir.path().join("ours.yaml"), &ours).unwrap();
    std::fs::write(dir.path().join("plain.yaml"), plain).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(sops)
            .current_dir(dir.path())
            .env_clear()
            .env("HOME", dir.path())
            .env(env.0, &env.1)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sops {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    assert_eq!(
        run(&["decrypt", "ours.yaml"]),
        plain,
        "sops reading coffer's file"
    );
    let theirs = run(&["encrypt", "--age", recipient, "plain.yaml"]);
    let dec =
        coffer_sops::decrypt(&theirs, Format::Yaml, Format::Yaml, ids, MacPolicy::Verify).unwrap();
    assert_eq!(&dec.plaintext[..], plain, "coffer reading sops's file");
}

#[test]
fn post_quantum_files_interoperate_with_sops() {
    let Some(sops) = sops() else { return };
    let key_file = data("age-pq-key.txt");
    let text = std::fs::read_to_string(&key_file).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap();
    let mut ids = Identities::empty();
    ids.add_age_keys(&text, "age-pq-key.txt", false).unwrap();
    round_trip(&sops, recipient, ("SOPS_AGE_KEY_FILE", key_file), &ids);
}

#[test]
fn ssh_rsa_files_interoperate_with_sops() {
    let Some(sops) = sops() else { return };
    let key = data("ssh-rsa-key");
    let public = std::fs::read_to_string(data("ssh-rsa-key.pub")).unwrap();
    let mut ids = Identities::empty();
    ids.add_ssh_key(&std::fs::read(&key).unwrap(), "ssh-rsa-key")
        .unwrap();
    round_trip(
        &sops,
        public.trim(),
        ("SOPS_AGE_SSH_PRIVATE_KEY_FILE", key),
        &ids,
    );
}
