//! The envelope around a document's values: getting the data key out of the
//! metadata (unwrapping with age, recombining Shamir parts across key
//! groups), wrapping a data key for every recipient, and encrypting or
//! decrypting a whole tree with its MAC, as sops's `Tree`/`Metadata` do.

use zeroize::Zeroizing;

use crate::cipher::{Cipher, DataKey};
use crate::crypt::{CryptRule, decrypt_tree, encrypt_tree};
use crate::keys::{Identities, Unwrapper, wrap};
use crate::metadata::{AgeKey, MasterKey, Metadata};
use crate::timefmt::Timestamp;
use crate::tree::{Branch, Value};
use crate::{Error, Result, shamir};

/// The sops version whose file format this crate writes (what `version` says).
pub(crate) const SOPS_FORMAT_VERSION: &str = "3.13.3";

/// What to do with the MAC when decrypting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MacPolicy {
    /// A mismatch is an error (sops's behaviour).
    #[default]
    Verify,
    /// A mismatch is reported ([`MacCheck::Mismatch`]), the values still
    /// decrypted: for documents changed after encryption by a tool that
    /// cannot re-encrypt (kustomize adding a namespace or labels).
    Warn,
    /// The MAC is not checked (sops's `--ignore-mac`).
    Skip,
}

/// What came of the MAC check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacCheck {
    /// The MAC matches the decrypted values.
    Verified,
    /// It does not (only under [`MacPolicy::Warn`]).
    Mismatch,
    /// It was not checked ([`MacPolicy::Skip`]).
    Skipped,
}

/// What `encrypt` needs: recipients per key group and the rules.
#[derive(Clone, Debug)]
pub struct EncryptOptions {
    /// Age recipients, one list per key group (one group unless Shamir is wanted).
    pub key_groups: Vec<Vec<String>>,
    /// How many groups are needed to decrypt (0: all of them).
    pub shamir_threshold: usize,
    /// Which values are encrypted.
    pub rule: CryptRule,
    /// Authenticate only encrypted values.
    pub mac_only_encrypted: bool,
}

/// Recovers the data key with the given identities. When nothing works the
/// error says, per key group, what was tried and why it failed.
pub fn data_key(meta: &Metadata, ids: &Identities) -> Result<DataKey> {
    data_key_with(meta, ids).map(|(key, _)| key)
}

/// Recovers the data key with any [`Unwrapper`], and says which age
/// recipients' entries opened it (one per key group used). Master keys of
/// other types (pgp, kms, ...) are named in the error when nothing else
/// opens a group.
pub(crate) fn data_key_with(
    meta: &Metadata,
    keys: &dyn Unwrapper,
) -> Result<(DataKey, Vec<String>)> {
    let mut parts: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    let mut used: Vec<String> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    for (gi, group) in meta.key_groups.iter().enumerate() {
        let mut got = None;
        let mut group_reasons = Vec::new();
        for key in group {
            match key {
                MasterKey::Age(a) => match keys.unwrap_key(&a.recipient, &a.enc) {
                    Ok(p) => {
                        got = Some(p);
                        used.push(a.recipient.clone());
                        break;
                    }
                    Err(e) => group_reasons.push(format!("age recipient {}: {e}", a.recipient)),
                },
                MasterKey::Other { kind, .. } => {
                    group_reasons.push(format!(
                        "{kind} key: key type {kind} is not supported by coffer"
                    ));
                }
            }
        }
        match got {
            Some(p) => parts.push(p),
            None => {
                let only_other = group.iter().all(|k| matches!(k, MasterKey::Other { .. }));
                let mut line = format!("key group {gi}: {}", group_reasons.join("; "));
                if only_other {
                    line.push_str(" (only unsupported key types could decrypt this group)");
                }
                reasons.push(line);
            }
        }
    }
    let explain = |reasons: &[String]| {
        let mut msg = reasons.join(". ");
        let notes = keys.notes();
        if !notes.is_empty() {
            msg.push_str(". Identity sources: ");
            msg.push_str(&notes.join("; "));
        }
        msg
    };
    let key = if meta.key_groups.len() > 1 {
        let threshold = if meta.shamir_threshold == 0 {
            meta.key_groups.len()
        } else {
            meta.shamir_threshold
        };
        if parts.len() < threshold {
            return Err(Error::NoDataKey(format!(
                "{} of {} key groups decrypted, {threshold} needed. {}",
                parts.len(),
                meta.key_groups.len(),
                explain(&reasons)
            )));
        }
        let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
        let key = shamir::combine(&refs)?;
        DataKey::from_slice(&key)?
    } else {
        match parts.first() {
            Some(p) => DataKey::from_slice(p)?,
            None => return Err(Error::NoDataKey(explain(&reasons))),
        }
    };
    Ok((key, used))
}

/// Wraps `key` for every age recipient in `meta` (splitting it with Shamir
/// when there are several groups). Unsupported key types cannot be rewrapped.
pub fn wrap_data_key(meta: &mut Metadata, key: &DataKey) -> Result<()> {
    if meta.key_groups.is_empty() || meta.key_groups.iter().any(Vec::is_empty) {
        return Err(Error::Metadata(
            "no key groups, or an empty key group".into(),
        ));
    }
    let parts: Vec<Zeroizing<Vec<u8>>> = if meta.key_groups.len() == 1 {
        vec![Zeroizing::new(key.as_bytes().to_vec())]
    } else {
        if meta.shamir_threshold == 0 {
            meta.shamir_threshold = meta.key_groups.len();
        }
        shamir::split(key.as_bytes(), meta.key_groups.len(), meta.shamir_threshold)?
    };
    for (group, part) in meta.key_groups.iter_mut().zip(parts.iter()) {
        for k in group.iter_mut() {
            match k {
                MasterKey::Age(a) => a.enc = wrap(part, &a.recipient)?,
                MasterKey::Other { kind, .. } => {
                    return Err(Error::Wrap {
                        recipient: kind.clone(),
                        reason: format!(
                            "key type {kind} is not supported by coffer; remove it to rotate"
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

/// A data key with its cipher; the cipher remembers the IVs of decrypted
/// values so unchanged values re-encrypt identically.
pub struct Session {
    key: DataKey,
    cipher: Cipher,
}

impl Session {
    /// A session over a known data key.
    pub fn new(key: DataKey) -> Session {
        let cipher = Cipher::new(&key);
        Session { key, cipher }
    }

    /// A session that only reads: it keeps no copy of decrypted values
    /// (see [`Cipher::read_only`]).
    pub fn read_only(key: DataKey) -> Session {
        let cipher = Cipher::read_only(&key);
        Session { key, cipher }
    }

    /// The data key.
    pub fn key(&self) -> &DataKey {
        &self.key
    }

    /// Decrypts the documents in place and verifies the MAC (unless `ignore_mac`).
    pub fn decrypt(
        &mut self,
        docs: &mut [Branch],
        meta: &Metadata,
        ignore_mac: bool,
    ) -> Result<()> {
        let policy = if ignore_mac {
            MacPolicy::Skip
        } else {
            MacPolicy::Verify
        };
        self.decrypt_with(docs, meta, policy).map(drop)
    }

    /// Decrypts the documents in place and checks the MAC as `policy` says:
    /// a mismatch is an error under [`MacPolicy::Verify`] and reported as
    /// [`MacCheck::Mismatch`] under [`MacPolicy::Warn`].
    pub fn decrypt_with(
        &mut self,
        docs: &mut [Branch],
        meta: &Metadata,
        policy: MacPolicy,
    ) -> Result<MacCheck> {
        let computed = decrypt_tree(docs, &meta.rule, meta.mac_only_encrypted, &mut self.cipher)?;
        if policy == MacPolicy::Skip {
            return Ok(MacCheck::Skipped);
        }
        let matches = match self
            .cipher
            .decrypt(&meta.mac, &meta.last_modified.to_rfc3339())
        {
            Ok(Value::Str(stored)) => {
                stored.len() == computed.len()
                    && constant_time_eq(stored.as_bytes(), computed.as_bytes())
            }
            _ => false,
        };
        match (matches, policy) {
            (true, _) => Ok(MacCheck::Verified),
            (false, MacPolicy::Warn) => Ok(MacCheck::Mismatch),
            (false, _) => Err(Error::MacMismatch),
        }
    }

    /// Encrypts plaintext documents in place; sets `lastmodified`, the MAC and the version.
    pub fn encrypt(&mut self, docs: &mut [Branch], meta: &mut Metadata) -> Result<()> {
        let mac = encrypt_tree(docs, &meta.rule, meta.mac_only_encrypted, &mut self.cipher)?;
        meta.last_modified = Timestamp::now_utc();
        meta.mac = self
            .cipher
            .encrypt(&Value::Str(mac), &meta.last_modified.to_rfc3339())?;
        meta.version = SOPS_FORMAT_VERSION.to_string();
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Builds fresh metadata for `opts`, with a new data key wrapped for every recipient.
pub fn new_metadata(opts: &EncryptOptions) -> Result<(Metadata, DataKey)> {
    if opts.key_groups.iter().all(Vec::is_empty) {
        return Err(Error::Metadata(
            "no recipients: give --age, or a .sops.yaml creation rule with age keys".into(),
        ));
    }
    let mut meta = Metadata {
        key_groups: opts
            .key_groups
            .iter()
            .filter(|g| !g.is_empty())
            .map(|g| {
                g.iter()
                    .map(|r| {
                        MasterKey::Age(AgeKey {
                            recipient: r.trim().to_string(),
                            enc: String::new(),
                        })
                    })
                    .collect()
            })
            .collect(),
        shamir_threshold: opts.shamir_threshold,
        last_modified: Timestamp::now_utc(),
        mac: String::new(),
        rule: opts.rule.clone(),
        mac_only_encrypted: opts.mac_only_encrypted,
        version: SOPS_FORMAT_VERSION.to_string(),
    };
    if meta.key_groups.len() == 1 {
        meta.shamir_threshold = 0;
    }
    let key = DataKey::generate()?;
    wrap_data_key(&mut meta, &key)?;
    Ok((meta, key))
}
