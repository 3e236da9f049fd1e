//! The `sops` metadata block: reading every field sops writes (tolerating
//! `null` and empty lists for key types we do not handle) and writing it back
//! with sops's field names and order (sorted, empty fields omitted), because
//! other tools, Flux among them, recognise SOPS documents by these markers.

use crate::crypt::CryptRule;
use crate::timefmt::Timestamp;
use crate::tree::{Branch, Item, Value};
use crate::{Error, Result};

/// The name of the metadata key in structured documents.
pub(crate) const SOPS_KEY: &str = "sops";

/// Key types sops knows besides age; we keep their entries but cannot use them.
pub(crate) const OTHER_KEY_TYPES: [&str; 6] =
    ["azure_kv", "gcp_kms", "hc_vault", "hckms", "kms", "pgp"];

/// An age recipient and the data key (or Shamir part) wrapped for it.
#[derive(Clone, Debug, PartialEq)]
pub struct AgeKey {
    /// The recipient (`age1…`, `ssh-ed25519 …`, `ssh-rsa …`).
    pub recipient: String,
    /// The armored age file holding the wrapped data key.
    pub enc: String,
}

/// A master key entry of a key group.
#[derive(Clone, Debug, PartialEq)]
pub enum MasterKey {
    /// An age recipient.
    Age(AgeKey),
    /// A key of a type we do not support (kept so it is written back).
    Other {
        /// The sops key type (`pgp`, `kms`, …).
        kind: String,
        /// Its fields as read.
        fields: Value,
    },
}

/// Everything in the `sops` block.
#[derive(Clone, Debug)]
pub struct Metadata {
    /// Key groups; a single group is written as top-level lists.
    pub key_groups: Vec<Vec<MasterKey>>,
    /// Shamir threshold (0: all groups, written only when set).
    pub shamir_threshold: usize,
    /// When the file was last encrypted; the MAC's additional data.
    pub last_modified: Timestamp,
    /// The encrypted MAC.
    pub mac: String,
    /// Which values are encrypted.
    pub rule: CryptRule,
    /// Whether only encrypted values are authenticated.
    pub mac_only_encrypted: bool,
    /// The sops version that wrote the file.
    pub version: String,
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(crate::cipher::go_float_plain(*f)),
        Value::Bool(b) => Some(b.to_string()),
        Value::Time(t) => Some(t.clone()),
        _ => None,
    }
}

fn age_keys(v: &Value, at: &str) -> Result<Vec<MasterKey>> {
    let mut out = Vec::new();
    for entry in seq_of(v, at)? {
        let Value::Map(m) = entry else {
            return Err(Error::Metadata(format!(
                "{at}: an age entry is not a mapping"
            )));
        };
        let field = |name: &str| {
            m.iter()
                .find(|i| i.name() == Some(name))
                .and_then(|i| scalar_text(&i.value))
                .ok_or_else(|| Error::Metadata(format!("{at}: age entry has no {name}")))
        };
        out.push(MasterKey::Age(AgeKey {
            recipient: field("recipient")?.trim().to_string(),
            enc: field("enc")?,
        }));
    }
    Ok(out)
}

fn seq_of<'a>(v: &'a Value, at: &str) -> Result<&'a [Value]> {
    match v {
        Value::Null => Ok(&[]),
        Value::Str(s) if s.is_empty() => Ok(&[]),
        Value::Seq(s) => Ok(s),
        // Flattened formats may produce an empty mapping for an empty list.
        Value::Map(m) if m.is_empty() => Ok(&[]),
        _ => Err(Error::Metadata(format!("{at} is not a list"))),
    }
}

fn group_from(items: &Branch, at: &str) -> Result<Vec<MasterKey>> {
    let mut group = Vec::new();
    for item in items {
        let Some(name) = item.name() else { continue };
        if name == "age" {
            group.extend(age_keys(&item.value, &format!("{at}age"))?);
        } else if OTHER_KEY_TYPES.contains(&name) {
            for entry in seq_of(&item.value, &format!("{at}{name}"))? {
                group.push(MasterKey::Other {
                    kind: name.to_string(),
                    fields: entry.clone(),
                });
            }
        }
    }
    Ok(group)
}

impl Metadata {
    /// Reads the metadata from the `sops` mapping.
    pub fn from_branch(b: &Branch) -> Result<Metadata> {
        let get = |name: &str| b.iter().find(|i| i.name() == Some(name)).map(|i| &i.value);
        let text = |name: &str| get(name).and_then(scalar_text).unwrap_or_default();

        let top = group_from(b, "")?;
        let key_groups = if !top.is_empty() {
            vec![top]
        } else if let Some(groups) = get("key_groups") {
            let mut out = Vec::new();
            for (i, g) in seq_of(groups, "key_groups")?.iter().enumerate() {
                let Value::Map(m) = g else {
                    return Err(Error::Metadata(format!("key_groups[{i}] is not a mapping")));
                };
                out.push(group_from(m, &format!("key_groups[{i}]."))?);
            }
            out
        } else {
            Vec::new()
        };
        if key_groups.iter().all(Vec::is_empty) {
            return Err(Error::Metadata("no keys found in file".into()));
        }

        let mut rules = Vec::new();
        for field in CryptRule::FIELDS {
            let v = text(field);
            if !v.is_empty() {
                rules.push(CryptRule::from_field(field, &v)?);
            }
        }
        if rules.len() > 1 {
            return Err(Error::Metadata(
                "cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file".into(),
            ));
        }
        let rule = rules.pop().unwrap_or_else(|| {
            CryptRule::UnencryptedSuffix(crate::DEFAULT_UNENCRYPTED_SUFFIX.into())
        });

        let lm = text("lastmodified");
        let last_modified = Timestamp::parse_rfc3339(&lm).ok_or_else(|| {
            Error::Metadata(format!("lastmodified {lm:?} is not an RFC 3339 timestamp"))
        })?;
        let shamir_threshold = match get("shamir_threshold") {
            None | Some(Value::Null) => 0,
            Some(Value::Int(i)) if *i >= 0 => *i as usize,
            Some(Value::Str(s)) if s.is_empty() => 0,
            Some(Value::Str(s)) => s
                .parse()
                .map_err(|_| Error::Metadata("shamir_threshold is not a number".into()))?,
            Some(_) => return Err(Error::Metadata("shamir_threshold is not a number".into())),
        };
        let mac_only_encrypted = match get("mac_only_encrypted") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::Str(s)) => matches!(s.as_str(), "true" | "True" | "TRUE" | "1"),
            Some(_) => {
                return Err(Error::Metadata(
                    "mac_only_encrypted is not a boolean".into(),
                ));
            }
        };
        Ok(Metadata {
            key_groups,
            shamir_threshold,
            last_modified,
            mac: text("mac"),
            rule,
            mac_only_encrypted,
            version: text("version"),
        })
    }

    /// Writes the metadata as sops does: keys sorted, empty fields omitted.
    pub fn to_branch(&self) -> Branch {
        let mut items: Vec<Item> = Vec::new();
        if self.key_groups.len() == 1 {
            items.extend(group_items(&self.key_groups[0], false));
        } else {
            let groups = self
                .key_groups
                .iter()
                .map(|g| {
                    let mut gi = group_items(g, true);
                    gi.sort_by(|a, b| a.name().cmp(&b.name()));
                    Value::Map(gi)
                })
                .collect();
            items.push(Item::new("key_groups", Value::Seq(groups)));
        }
        items.push(Item::new(
            "lastmodified",
            Value::Str(self.last_modified.to_rfc3339()),
        ));
        items.push(Item::new("mac", Value::Str(self.mac.clone())));
        if self.mac_only_encrypted {
            items.push(Item::new("mac_only_encrypted", Value::Bool(true)));
        }
        if self.shamir_threshold > 0 {
            items.push(Item::new(
                "shamir_threshold",
                Value::Int(self.shamir_threshold as i64),
            ));
        }
        if !self.rule.text().is_empty() {
            items.push(Item::new(
                self.rule.field(),
                Value::Str(self.rule.text().to_string()),
            ));
        }
        items.push(Item::new("version", Value::Str(self.version.clone())));
        items.sort_by(|a, b| a.name().cmp(&b.name()));
        items
    }

    /// The age keys of every group, with their group index.
    pub fn age_keys(&self) -> impl Iterator<Item = (usize, &AgeKey)> {
        self.key_groups.iter().enumerate().flat_map(|(gi, g)| {
            g.iter().filter_map(move |k| match k {
                MasterKey::Age(a) => Some((gi, a)),
                MasterKey::Other { .. } => None,
            })
        })
    }
}

fn group_items(group: &[MasterKey], in_key_groups: bool) -> Vec<Item> {
    let ages: Vec<Value> = group
        .iter()
        .filter_map(|k| match k {
            MasterKey::Age(a) => Some(Value::Map(vec![
                Item::new("enc", Value::Str(a.enc.clone())),
                Item::new("recipient", Value::Str(a.recipient.clone())),
            ])),
            MasterKey::Other { .. } => None,
        })
        .collect();
    let mut items = Vec::new();
    if !ages.is_empty() {
        items.push(Item::new("age", Value::Seq(ages)));
    } else if in_key_groups {
        // Matches sops: inside key_groups the age list has no omitempty.
        items.push(Item::new("age", Value::Null));
    }
    if in_key_groups {
        // Matches sops: hc_vault has no omitempty inside key_groups either.
        items.push(Item::new("hc_vault", Value::Null));
    }
    for kind in OTHER_KEY_TYPES {
        let entries: Vec<Value> = group
            .iter()
            .filter_map(|k| match k {
                MasterKey::Other { kind: k, fields } if k == kind => Some(fields.clone()),
                _ => None,
            })
            .collect();
        if !entries.is_empty() {
            items.retain(|i| i.name() != Some(kind));
            items.push(Item::new(kind, Value::Seq(entries)));
        }
    }
    items
}
