//! One call to open a SOPS document or to make one: bytes, format and keys
//! in, plaintext tree or bytes out (and the reverse), so the CLI and the
//! GitOps library run the same flow: [`format::load_encrypted`] →
//! [`data_key_with`] → [`Session::decrypt_with`] → [`format::emit_plain`].
//!
//! Plaintext comes back in zeroizing buffers ([`Decrypted`]) or in an
//! [`Opened`] tree, which the caller can clear with [`zeroize_tree`].

use zeroize::{Zeroize, Zeroizing};

use crate::envelope::{EncryptOptions, MacCheck, MacPolicy, Session, data_key_with, new_metadata};
use crate::format::{self, Format};
use crate::keys::Unwrapper;
use crate::metadata::Metadata;
use crate::tree::{Branch, Key, Value};
use crate::{Error, Result};

/// An encrypted document, decrypted in memory.
pub struct Opened {
    /// The plaintext documents (metadata removed).
    pub docs: Vec<Branch>,
    /// The `sops` metadata as read.
    pub meta: Metadata,
    /// The data key and cipher (re-encrypting with it keeps unchanged
    /// values' ciphertext).
    pub session: Session,
    /// What came of the MAC check.
    pub mac: MacCheck,
    /// The age recipients whose entries opened the data key, one per key
    /// group used.
    pub recipients: Vec<String>,
}

impl Opened {
    /// The plaintext in `format`.
    pub fn emit(&self, format: Format) -> Result<Zeroizing<Vec<u8>>> {
        format::emit_plain(&self.docs, format).map(Zeroizing::new)
    }
}

/// A document decrypted to bytes.
pub struct Decrypted {
    /// The plaintext in the output format.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// What came of the MAC check.
    pub mac: MacCheck,
    /// The age recipients whose entries opened the data key.
    pub recipients: Vec<String>,
}

/// Reads an encrypted document in `format` and decrypts it with `keys`,
/// checking the MAC as `mac` says. Errors name the failing step
/// ([`Error::Parse`], [`Error::NoDataKey`], [`Error::ValueDecrypt`],
/// [`Error::MacMismatch`], ...), never a value.
///
/// The session remembers every value's IV, so values left unchanged
/// re-encrypt to the same ciphertext (what an editor wants); to only read,
/// use [`open_to_read`].
pub fn open(bytes: &[u8], format: Format, keys: &dyn Unwrapper, mac: MacPolicy) -> Result<Opened> {
    open_with(bytes, format, keys, mac, Session::new)
}

/// [`open`] for reading only: the session keeps no copy of the plaintext.
pub fn open_to_read(
    bytes: &[u8],
    format: Format,
    keys: &dyn Unwrapper,
    mac: MacPolicy,
) -> Result<Opened> {
    open_with(bytes, format, keys, mac, Session::read_only)
}

fn open_with(
    bytes: &[u8],
    format: Format,
    keys: &dyn Unwrapper,
    mac: MacPolicy,
    session: fn(crate::cipher::DataKey) -> Session,
) -> Result<Opened> {
    let (mut docs, meta) = format::load_encrypted(bytes, format)?;
    let (key, recipients) = data_key_with(&meta, keys)?;
    let mut session = session(key);
    let checked = match session.decrypt_with(&mut docs, &meta, mac) {
        Ok(checked) => checked,
        Err(e) => {
            zeroize_tree(&mut docs);
            return Err(e);
        }
    };
    Ok(Opened {
        docs,
        meta,
        session,
        mac: checked,
        recipients,
    })
}

/// [`open`], then the plaintext written in `output`.
pub fn decrypt(
    bytes: &[u8],
    input: Format,
    output: Format,
    keys: &dyn Unwrapper,
    mac: MacPolicy,
) -> Result<Decrypted> {
    let mut opened = open_to_read(bytes, input, keys, mac)?;
    let plaintext = opened.emit(output);
    zeroize_tree(&mut opened.docs);
    Ok(Decrypted {
        plaintext: plaintext?,
        mac: opened.mac,
        recipients: opened.recipients,
    })
}

/// Encrypts a plaintext document in `input` to the recipients and rules of
/// `opts`, written in `output`. Refuses a document that already carries
/// sops metadata ([`Error::AlreadyEncrypted`]).
pub fn encrypt(
    bytes: &[u8],
    input: Format,
    output: Format,
    opts: &EncryptOptions,
) -> Result<Vec<u8>> {
    let mut docs = format::load_plain(bytes, input)?;
    if format::has_metadata(&docs, input) {
        zeroize_tree(&mut docs);
        return Err(Error::AlreadyEncrypted);
    }
    encrypt_docs(docs, output, opts)
}

/// Encrypts documents already read (and checked to carry no metadata) to
/// the recipients and rules of `opts`, written in `output`; the plaintext
/// tree is cleared whatever happens.
pub fn encrypt_docs(
    mut docs: Vec<Branch>,
    output: Format,
    opts: &EncryptOptions,
) -> Result<Vec<u8>> {
    let result = new_metadata(opts).and_then(|(mut meta, key)| {
        Session::new(key).encrypt(&mut docs, &mut meta)?;
        format::emit_encrypted(&docs, &meta, output)
    });
    zeroize_tree(&mut docs);
    result
}

/// Overwrites every string, byte string and comment in `docs` (best
/// effort: numbers and booleans are left), for trees that held plaintext.
pub fn zeroize_tree(docs: &mut [Branch]) {
    for doc in docs {
        zeroize_branch(doc);
    }
}

fn zeroize_branch(branch: &mut Branch) {
    for item in branch {
        match &mut item.key {
            Key::Name(n) => n.zeroize(),
            Key::Comment(c) => c.text.zeroize(),
        }
        zeroize_value(&mut item.value);
    }
}

fn zeroize_value(value: &mut Value) {
    match value {
        Value::Str(s) | Value::Time(s) => s.zeroize(),
        Value::Bytes(b) => b.zeroize(),
        Value::Comment(c) => c.text.zeroize(),
        Value::Map(b) => zeroize_branch(b),
        Value::Seq(items) => items.iter_mut().for_each(zeroize_value),
        Value::Null | Value::Int(_) | Value::Float(_) | Value::Bool(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypt::CryptRule;
    use crate::keys::Identities;

    const KEY: &str = "AGE-SECRET-KEY-1RH87A5Z54ZGUR9S0AS3R6WHFSEFNPLYMAKF5Z2CEU7R06VRJ0A3Q7242AM";
    const RECIPIENT: &str = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";

    fn options() -> EncryptOptions {
        EncryptOptions {
            key_groups: vec![vec![RECIPIENT.into()]],
            shamir_threshold: 0,
            rule: CryptRule::UnencryptedSuffix(crate::DEFAULT_UNENCRYPTED_SUFFIX.into()),
            mac_only_encrypted: false,
        }
    }

    fn identities() -> Identities {
        let mut ids = Identities::empty();
        ids.add_age_keys(KEY, "test", false).unwrap();
        ids
    }

    #[test]
    fn encrypted_document_opens_in_one_call_and_names_the_recipient() {
        let enc = encrypt(b"a: secret-value\n", Format::Yaml, Format::Yaml, &options()).unwrap();
        assert!(!String::from_utf8_lossy(&enc).contains("secret-value"));
        let out = decrypt(
            &enc,
            Format::Yaml,
            Format::Json,
            &identities(),
            MacPolicy::Verify,
        )
        .unwrap();
        assert_eq!(&out.plaintext[..], b"{\n\t\"a\": \"secret-value\"\n}\n");
        assert_eq!(out.mac, MacCheck::Verified);
        assert_eq!(out.recipients, [RECIPIENT]);
        assert!(matches!(
            encrypt(&enc, Format::Yaml, Format::Yaml, &options()),
            Err(Error::AlreadyEncrypted)
        ));
    }

    #[test]
    fn mac_policy_decides_what_a_changed_document_gives() {
        let enc = encrypt(
            b"a: secret-value\nb: 1\n",
            Format::Yaml,
            Format::Yaml,
            &options(),
        )
        .unwrap();
        let text = String::from_utf8(enc).unwrap();
        // An unencrypted value added after encryption, as kustomize adds a
        // namespace: the values still open, the MAC no longer matches.
        let changed = text.replacen("sops:", "extra_unencrypted: x\nsops:", 1);
        let ids = identities();
        let verify = open(changed.as_bytes(), Format::Yaml, &ids, MacPolicy::Verify);
        assert!(matches!(verify, Err(Error::MacMismatch)));
        let warn = open(changed.as_bytes(), Format::Yaml, &ids, MacPolicy::Warn).unwrap();
        assert_eq!(warn.mac, MacCheck::Mismatch);
        let skip = open(changed.as_bytes(), Format::Yaml, &ids, MacPolicy::Skip).unwrap();
        assert_eq!(skip.mac, MacCheck::Skipped);
        assert_eq!(&skip.emit(Format::Yaml).unwrap()[..3], b"a: ");
    }

    #[test]
    fn zeroized_tree_keeps_no_text() {
        let mut docs = format::load_plain(b"a: secret\nb: [x, {c: y}]\n", Format::Yaml).unwrap();
        zeroize_tree(&mut docs);
        let Value::Str(s) = &docs[0][0].value else {
            panic!("a string")
        };
        assert!(s.is_empty());
    }
}
