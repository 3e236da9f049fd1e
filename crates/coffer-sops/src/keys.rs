//! age master keys: wrapping the data key (or its Shamir part) for each
//! recipient as an armored age file, and unwrapping it with the identities
//! found where sops looks for them (`SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`,
//! `SOPS_AGE_KEY_CMD`, `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, `~/.ssh/id_ed25519`
//! and `<config dir>/sops/age/keys.txt`), all combined as sops combines them.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::{Error, Result};

/// Where identities come from: environment lookups, injectable for tests.
pub trait Env {
    /// The value of an environment variable.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Parses a recipient string as sops does (X25519, post-quantum
/// mlkem768x25519, ssh-ed25519, ssh-rsa).
pub fn parse_recipient(recipient: &str) -> Result<Box<dyn age::Recipient + Send>> {
    let r = recipient.trim();
    let bad = |reason: String| Error::Recipient {
        recipient: r.to_string(),
        reason,
    };
    if r.starts_with("age1pq1") {
        return crate::pq::Recipient::parse(r)
            .map(|x| Box::new(x) as Box<dyn age::Recipient + Send>)
            .map_err(|e| bad(format!("not a valid age post-quantum public key: {e}")));
    }
    if r.starts_with("age1") && r.matches('1').count() > 1 {
        return Err(bad(
            "unsupported recipient type: age plugins are not supported".into(),
        ));
    }
    if r.starts_with("age1") {
        return age::x25519::Recipient::from_str(r)
            .map(|x| Box::new(x) as Box<dyn age::Recipient + Send>)
            .map_err(|e| bad(format!("not a valid age X25519 public key: {e}")));
    }
    if r.starts_with("ssh-") {
        return age::ssh::Recipient::from_str(r)
            .map(|x| Box::new(x) as Box<dyn age::Recipient + Send>)
            .map_err(|e| bad(format!("not a valid ssh public key: {e:?}")));
    }
    Err(bad("unknown recipient type".into()))
}

/// Wraps `secret` for one recipient as an armored age file (sops's `enc`).
pub fn wrap(secret: &[u8], recipient: &str) -> Result<String> {
    let r = parse_recipient(recipient)?;
    let fail = |e: &dyn std::fmt::Display| Error::Wrap {
        recipient: recipient.to_string(),
        reason: e.to_string(),
    };
    let enc = age::Encryptor::with_recipients(std::iter::once(r.as_ref() as &dyn age::Recipient))
        .map_err(|e| fail(&e))?;
    let mut out = Vec::new();
    let armored = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(|e| fail(&e))?;
    let mut w = enc.wrap_output(armored).map_err(|e| fail(&e))?;
    w.write_all(secret).map_err(|e| fail(&e))?;
    w.finish().and_then(|a| a.finish()).map_err(|e| fail(&e))?;
    let mut s = String::from_utf8(out).map_err(|e| fail(&e))?;
    // Matches sops: the armored file ends with a newline.
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

/// The stanza types in an armored age file's header (`X25519`, `ssh-ed25519`,
/// `mlkem768x25519`, …): what the unit tests and the age_stanza fuzz target
/// check a wrapped key by.
#[cfg(any(test, feature = "fuzzing"))]
pub fn stanza_types(enc: &str) -> Vec<String> {
    let body: String = enc
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----") && !l.is_empty())
        .collect();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(body) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(8192)]).into_owned();
    text.lines()
        .take_while(|l| !l.starts_with("---"))
        .filter_map(|l| l.strip_prefix("-> "))
        .filter_map(|l| l.split(' ').next().map(str::to_string))
        .collect()
}

/// The key type inside an OpenSSH private key (`ssh-ed25519`, `ssh-rsa`, …).
fn ssh_key_type(pem: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(pem).ok()?;
    if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        return Some("ssh-rsa".into());
    }
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .map(str::trim)
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    let mut rest = bytes.strip_prefix(b"openssh-key-v1\0")?;
    let string = |rest: &mut &[u8]| -> Option<Vec<u8>> {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let s = rest.get(4..4 + len)?.to_vec();
        *rest = &rest[4 + len..];
        Some(s)
    };
    for _ in 0..3 {
        string(&mut rest)?; // cipher, kdf, kdf options
    }
    rest = rest.get(4..)?; // number of keys
    let public = string(&mut rest)?;
    let mut p = &public[..];
    String::from_utf8(string(&mut p)?).ok()
}

/// Whatever unwraps a document's data key: [`Identities`], or a caller's
/// wrapper around them (a cache shared across documents, identities loaded
/// on first use). Shared across threads, so `Sync`.
pub trait Unwrapper: Sync {
    /// Unwraps `enc`, the armored age file holding the data key (or a
    /// Shamir part) for `recipient`. The error says why, never with key
    /// material.
    fn unwrap_key(
        &self,
        recipient: &str,
        enc: &str,
    ) -> std::result::Result<Zeroizing<Vec<u8>>, String>;

    /// What was looked at and gave nothing, to explain a failure.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

impl Unwrapper for Identities {
    fn unwrap_key(
        &self,
        _recipient: &str,
        enc: &str,
    ) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
        self.unwrap(enc)
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
}

/// Identities loaded from the environment as `coffer sops` reads them
/// ([`Identities::load`]), on first use: the first recipient asked for is
/// the one `SOPS_AGE_KEY_CMD` is told about (`SOPS_AGE_RECIPIENT`), as sops
/// tells it the file's first age recipient.
pub struct EnvIdentities<'e> {
    env: &'e (dyn Env + Sync),
    loaded: std::sync::OnceLock<Identities>,
}

impl<'e> EnvIdentities<'e> {
    /// Nothing loaded yet.
    pub fn new(env: &'e (dyn Env + Sync)) -> EnvIdentities<'e> {
        EnvIdentities {
            env,
            loaded: std::sync::OnceLock::new(),
        }
    }

    fn get(&self, recipient: &str) -> &Identities {
        self.loaded
            .get_or_init(|| Identities::load(self.env, recipient))
    }
}

impl Unwrapper for EnvIdentities<'_> {
    fn unwrap_key(
        &self,
        recipient: &str,
        enc: &str,
    ) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
        self.get(recipient).unwrap(enc)
    }

    fn notes(&self) -> Vec<String> {
        self.get("").notes.clone()
    }
}

/// The age identities available to unwrap data keys, with notes about
/// sources that were absent or unusable (never their contents).
pub struct Identities {
    ids: Vec<Box<dyn age::Identity + Send + Sync>>,
    /// What was looked at and why it gave nothing.
    pub notes: Vec<String>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identities({} loaded)", self.ids.len())
    }
}

fn user_config_dir(env: &dyn Env) -> Option<PathBuf> {
    // Go's os.UserConfigDir on Unix: $XDG_CONFIG_HOME, else $HOME/.config.
    match env.var("XDG_CONFIG_HOME") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => env
            .var("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".config")),
    }
}

/// Splits a command line like a POSIX shell would for simple cases (sops uses shlex).
fn split_command(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

fn run_command(cmd: &str, recipient: &str) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    let args = split_command(cmd);
    let (prog, rest) = args.split_first().ok_or("empty command")?;
    let out = std::process::Command::new(prog)
        .args(rest)
        .env("SOPS_AGE_RECIPIENT", recipient)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("failed to execute command {cmd}: {e}"))?;
    if !out.status.success() {
        return Err(format!("command {cmd} failed with {}", out.status));
    }
    Ok(Zeroizing::new(out.stdout))
}

impl Default for Identities {
    fn default() -> Identities {
        Identities::empty()
    }
}

impl Identities {
    /// No identities.
    pub fn empty() -> Identities {
        Identities {
            ids: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds every identity and note of `other`.
    pub fn extend(&mut self, other: Identities) {
        self.ids.extend(other.ids);
        self.notes.extend(other.notes);
    }

    /// How many identities were loaded.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether none were loaded.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds age identities from identity-file text (`AGE-SECRET-KEY-1…` and
    /// post-quantum `AGE-SECRET-KEY-PQ-1…` lines,
    /// `#` comments); with `words`, several keys may share a line (`SOPS_AGE_KEY`).
    pub fn add_age_keys(&mut self, text: &str, source: &str, words: bool) -> Result<usize> {
        let mut n = 0;
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let keys: Vec<&str> = if words {
                line.split_whitespace().collect()
            } else {
                vec![line.trim()]
            };
            for k in keys {
                let fail = |reason: &str| Error::Identity {
                    source_name: source.to_string(),
                    reason: reason.to_string(),
                };
                if k.starts_with("AGE-SECRET-KEY-PQ-1") {
                    let id = crate::pq::Identity::parse(k).map_err(|e| {
                        fail(&format!("not a valid AGE-SECRET-KEY-PQ-1 identity: {e}"))
                    })?;
                    self.ids.push(Box::new(id));
                    n += 1;
                    continue;
                }
                if k.starts_with("AGE-PLUGIN-") {
                    self.notes.push(format!(
                        "{source}: skipped an age plugin identity (plugins are not supported)"
                    ));
                    continue;
                }
                let id = age::x25519::Identity::from_str(k)
                    .map_err(|_| fail("not an AGE-SECRET-KEY-1 identity"))?;
                self.ids.push(Box::new(id));
                n += 1;
            }
        }
        Ok(n)
    }

    /// Adds an OpenSSH private key (ssh-ed25519 or ssh-rsa) as an identity.
    pub fn add_ssh_key(&mut self, pem: &[u8], source: &str) -> Result<()> {
        let fail = |reason: String| Error::Identity {
            source_name: source.to_string(),
            reason,
        };
        // NB: age decrypts ssh-rsa with the rsa crate (RUSTSEC-2023-0071,
        // Marvin timing attack); we keep it off every decrypt path and
        // decrypt ssh-rsa stanzas with aws-lc-rs instead (crate::ssh_rsa).
        match ssh_key_type(pem).as_deref() {
            Some("ssh-ed25519") => {}
            Some("ssh-rsa") => {
                let id = crate::ssh_rsa::Identity::from_openssh(pem)
                    .map_err(|e| fail(format!("ssh-rsa key: {e}")))?;
                self.ids.push(Box::new(id));
                return Ok(());
            }
            Some(other) => return Err(fail(format!("unsupported ssh key type {other}"))),
            None => return Err(fail("not an OpenSSH private key".into())),
        }
        let id = age::ssh::Identity::from_buffer(pem, Some(source.to_string()))
            .map_err(|e| fail(e.to_string()))?;
        match id {
            age::ssh::Identity::Unencrypted(_) => {
                self.ids.push(Box::new(id));
                Ok(())
            }
            age::ssh::Identity::Encrypted(_) => Err(fail(
                "passphrase-protected ssh keys are not supported".into(),
            )),
            age::ssh::Identity::Unsupported(_) => Err(fail("unsupported ssh key type".into())),
        }
    }

    /// Loads every identity source sops reads, in sops's order. `recipient`
    /// is passed to key commands as `SOPS_AGE_RECIPIENT`.
    pub fn load(env: &dyn Env, recipient: &str) -> Identities {
        let mut ids = Identities::empty();
        let note_err = |ids: &mut Identities, r: Result<()>| {
            if let Err(e) = r {
                ids.notes.push(e.to_string());
            }
        };
        // SSH keys first, as sops does.
        match env.var("SOPS_AGE_SSH_PRIVATE_KEY_FILE") {
            Some(path) => {
                let r = std::fs::read(&path)
                    .map(Zeroizing::new)
                    .map_err(|e| Error::Identity {
                        source_name: path.clone(),
                        reason: e.to_string(),
                    })
                    .and_then(|b| ids.add_ssh_key(&b, &path));
                note_err(&mut ids, r);
            }
            None => ids
                .notes
                .push("SOPS_AGE_SSH_PRIVATE_KEY_FILE is not set".into()),
        }
        if let Some(cmd) = env.var("SOPS_AGE_SSH_PRIVATE_KEY_CMD") {
            let r = run_command(&cmd, recipient)
                .map_err(|e| Error::Identity {
                    source_name: "SOPS_AGE_SSH_PRIVATE_KEY_CMD".into(),
                    reason: e,
                })
                .and_then(|b| ids.add_ssh_key(&b, "SOPS_AGE_SSH_PRIVATE_KEY_CMD"));
            note_err(&mut ids, r);
        }
        if let Some(home) = env.var("HOME").filter(|h| !h.is_empty()) {
            let p = PathBuf::from(home).join(".ssh").join("id_ed25519");
            if let Ok(b) = std::fs::read(&p) {
                let b = Zeroizing::new(b);
                let r = ids.add_ssh_key(&b, &p.display().to_string());
                note_err(&mut ids, r);
            }
        }
        let mut found_age_source = false;
        if let Some(k) = env.var("SOPS_AGE_KEY") {
            let k = Zeroizing::new(k);
            found_age_source = true;
            let r = ids.add_age_keys(&k, "SOPS_AGE_KEY", true).map(drop);
            note_err(&mut ids, r);
        } else {
            ids.notes.push("SOPS_AGE_KEY is not set".into());
        }
        if let Some(path) = env.var("SOPS_AGE_KEY_FILE") {
            found_age_source = true;
            let r = match std::fs::read_to_string(&path) {
                Ok(t) => ids.add_age_keys(&Zeroizing::new(t), &path, false).map(drop),
                Err(e) => Err(Error::Identity {
                    source_name: "SOPS_AGE_KEY_FILE".into(),
                    reason: format!("failed to open {path}: {e}"),
                }),
            };
            note_err(&mut ids, r);
        } else {
            ids.notes.push("SOPS_AGE_KEY_FILE is not set".into());
        }
        if let Some(cmd) = env.var("SOPS_AGE_KEY_CMD") {
            found_age_source = true;
            let r = run_command(&cmd, recipient)
                .map_err(|e| Error::Identity {
                    source_name: "SOPS_AGE_KEY_CMD".into(),
                    reason: e,
                })
                .and_then(|out| {
                    let text = String::from_utf8_lossy(&out).into_owned();
                    ids.add_age_keys(&Zeroizing::new(text), "SOPS_AGE_KEY_CMD", false)
                        .map(drop)
                });
            note_err(&mut ids, r);
        }
        if let Some(dir) = user_config_dir(env) {
            let p = dir.join("sops").join("age").join("keys.txt");
            match std::fs::read_to_string(&p) {
                Ok(t) => {
                    let r = ids
                        .add_age_keys(&Zeroizing::new(t), &p.display().to_string(), false)
                        .map(drop);
                    note_err(&mut ids, r);
                }
                Err(_) if !found_age_source => ids
                    .notes
                    .push(format!("did not find keys in {}", p.display())),
                Err(_) => {}
            }
        }
        ids
    }

    /// Unwraps an armored age file with these identities.
    pub fn unwrap(&self, enc: &str) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
        if self.ids.is_empty() {
            return Err("no age identities were found".into());
        }
        let reader = ArmoredReader::new(enc.trim_start().as_bytes());
        let dec = age::Decryptor::new(reader).map_err(|e| format!("malformed age file: {e}"))?;
        let mut r = dec
            .decrypt(self.ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => {
                    "no identity matched any of the recipients".to_string()
                }
                other => other.to_string(),
            })?;
        let mut out = Zeroizing::new(Vec::new());
        r.read_to_end(&mut out)
            .map_err(|e| format!("age payload: {e}"))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AGE-SECRET-KEY-1RH87A5Z54ZGUR9S0AS3R6WHFSEFNPLYMAKF5Z2CEU7R06VRJ0A3Q7242AM";
    const RECIPIENT: &str = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";

    #[test]
    fn wrapped_key_unwraps_with_matching_identity_only() {
        let enc = wrap(&[9u8; 32], RECIPIENT).unwrap();
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(stanza_types(&enc).iter().any(|t| t == "X25519"));
        let mut ids = Identities::empty();
        ids.add_age_keys(KEY, "test", false).unwrap();
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[9u8; 32]);
        let mut other = Identities::empty();
        other
            .add_age_keys(
                &age::x25519::Identity::generate()
                    .to_string()
                    .expose_secret_str(),
                "t",
                false,
            )
            .unwrap();
        assert!(other.unwrap(&enc).is_err());
    }

    use age::secrecy::{ExposeSecret, SecretString};

    trait Expose {
        fn expose_secret_str(&self) -> String;
    }
    impl Expose for SecretString {
        fn expose_secret_str(&self) -> String {
            self.expose_secret().to_string()
        }
    }

    #[test]
    fn post_quantum_keys_wrap_and_unwrap_through_age_files() {
        let id = crate::pq::Identity::generate();
        let recipient = id.to_public().to_bech32();
        let enc = wrap(&[7u8; 32], &recipient).unwrap();
        assert!(stanza_types(&enc).iter().any(|t| t == "mlkem768x25519"));
        let mut ids = Identities::empty();
        ids.add_age_keys(&id.to_bech32(), "test", false).unwrap();
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[7u8; 32]);
        let mut other = Identities::empty();
        let stranger = crate::pq::Identity::generate().to_bech32();
        other.add_age_keys(&stranger, "t", false).unwrap();
        let err = other.unwrap(&enc).unwrap_err();
        assert!(err.contains("no identity matched"), "{err}");
        let err = parse_recipient("age1pq1abc").err().unwrap().to_string();
        assert!(
            err.contains("not a valid age post-quantum public key"),
            "{err}"
        );
    }

    #[test]
    fn identity_errors_never_echo_the_key() {
        let mut ids = Identities::empty();
        let err = ids
            .add_age_keys(
                "AGE-SECRET-KEY-1NOTAVALIDKEYBUTSECRETLOOKING",
                "SOPS_AGE_KEY",
                true,
            )
            .unwrap_err();
        assert!(!err.to_string().contains("NOTAVALIDKEY"));
    }

    #[test]
    fn sops_age_key_accepts_several_keys_on_one_line() {
        let a = age::x25519::Identity::generate()
            .to_string()
            .expose_secret_str();
        let env = move |name: &str| (name == "SOPS_AGE_KEY").then(|| format!("{a} {KEY}"));
        let ids = Identities::load(&env, RECIPIENT);
        assert_eq!(ids.len(), 2);
    }

    #[test]
    fn shell_split_handles_quotes() {
        assert_eq!(
            split_command(r#"sh -c 'echo "a b"' x"#),
            ["sh", "-c", "echo \"a b\"", "x"]
        );
    }
}
