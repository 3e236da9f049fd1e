//! Walking a tree to encrypt or decrypt it and compute its MAC, as sops's
//! `Tree.Encrypt`/`Tree.Decrypt` do: values in document order, the AAD of a
//! value is the mapping keys on its path joined with `:` plus `:`, comments
//! are encrypted but never hashed, and the suffix/regex rule decides which
//! values are encrypted.

use regex::Regex;
use sha2::{Digest, Sha512};

use crate::cipher::{Cipher, plaintext_of};
use crate::tree::{Branch, Key, Value};
use crate::{Error, Result};

/// Matches sops's `MACOnlyEncryptedInitialization`: the hash is seeded with
/// these bytes when only encrypted values are authenticated.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// Which values are encrypted: at most one rule per file (sops enforces it).
#[derive(Clone, Debug)]
pub enum CryptRule {
    /// Keys ending with the suffix (anywhere on the path) stay in clear.
    UnencryptedSuffix(String),
    /// Only keys ending with the suffix are encrypted.
    EncryptedSuffix(String),
    /// Keys matching stay in clear.
    UnencryptedRegex(Regex),
    /// Only keys matching are encrypted.
    EncryptedRegex(Regex),
    /// Values after a comment matching stay in clear.
    UnencryptedCommentRegex(Regex),
    /// Only values after a comment matching are encrypted.
    EncryptedCommentRegex(Regex),
}

impl CryptRule {
    /// The metadata field name of the rule.
    pub fn field(&self) -> &'static str {
        match self {
            CryptRule::UnencryptedSuffix(_) => "unencrypted_suffix",
            CryptRule::EncryptedSuffix(_) => "encrypted_suffix",
            CryptRule::UnencryptedRegex(_) => "unencrypted_regex",
            CryptRule::EncryptedRegex(_) => "encrypted_regex",
            CryptRule::UnencryptedCommentRegex(_) => "unencrypted_comment_regex",
            CryptRule::EncryptedCommentRegex(_) => "encrypted_comment_regex",
        }
    }

    /// The rule's suffix or pattern text.
    pub fn text(&self) -> &str {
        match self {
            CryptRule::UnencryptedSuffix(s) | CryptRule::EncryptedSuffix(s) => s,
            CryptRule::UnencryptedRegex(r)
            | CryptRule::EncryptedRegex(r)
            | CryptRule::UnencryptedCommentRegex(r)
            | CryptRule::EncryptedCommentRegex(r) => r.as_str(),
        }
    }

    /// Builds a rule from its metadata field name and value.
    pub fn from_field(field: &str, value: &str) -> Result<CryptRule> {
        let re = || {
            Regex::new(value).map_err(|e| Error::Regex {
                pattern: value.to_string(),
                reason: e.to_string(),
            })
        };
        Ok(match field {
            "unencrypted_suffix" => CryptRule::UnencryptedSuffix(value.to_string()),
            "encrypted_suffix" => CryptRule::EncryptedSuffix(value.to_string()),
            "unencrypted_regex" => CryptRule::UnencryptedRegex(re()?),
            "encrypted_regex" => CryptRule::EncryptedRegex(re()?),
            "unencrypted_comment_regex" => CryptRule::UnencryptedCommentRegex(re()?),
            "encrypted_comment_regex" => CryptRule::EncryptedCommentRegex(re()?),
            other => {
                return Err(Error::Metadata(format!(
                    "unknown encryption rule {other:?}"
                )));
            }
        })
    }

    /// The rule fields, in the order sops lists them.
    pub const FIELDS: [&'static str; 6] = [
        "unencrypted_suffix",
        "encrypted_suffix",
        "unencrypted_regex",
        "encrypted_regex",
        "unencrypted_comment_regex",
        "encrypted_comment_regex",
    ];

    /// sops's `shouldBeEncrypted`.
    fn should_encrypt(&self, path: &[String], comments: &[Vec<String>], is_comment: bool) -> bool {
        match self {
            CryptRule::UnencryptedSuffix(s) => !path.iter().any(|p| p.ends_with(s.as_str())),
            CryptRule::EncryptedSuffix(s) => path.iter().any(|p| p.ends_with(s.as_str())),
            CryptRule::UnencryptedRegex(r) => !path.iter().any(|p| r.is_match(p)),
            CryptRule::EncryptedRegex(r) => path.iter().any(|p| r.is_match(p)),
            CryptRule::UnencryptedCommentRegex(r) => {
                !comments.iter().flatten().any(|c| r.is_match(c))
            }
            CryptRule::EncryptedCommentRegex(r) => {
                // A comment does not select itself.
                let last_frame = comments.len().saturating_sub(1);
                comments.iter().enumerate().any(|(i, frame)| {
                    frame.iter().enumerate().any(|(j, c)| {
                        !(is_comment && i == last_frame && j + 1 == frame.len()) && r.is_match(c)
                    })
                })
            }
        }
    }
}

struct Walk<'a> {
    rule: &'a CryptRule,
    mac_only_encrypted: bool,
    cipher: &'a mut Cipher,
    hash: Sha512,
    path: Vec<String>,
    comments: Vec<Vec<String>>,
    encrypting: bool,
}

impl Walk<'_> {
    fn aad(&self) -> String {
        let mut s = self.path.join(":");
        s.push(':');
        s
    }

    fn hash_value(&mut self, v: &Value, encrypted: bool) {
        if (!self.mac_only_encrypted || encrypted)
            && !matches!(v, Value::Comment(_))
            && let Some((bytes, _)) = plaintext_of(v)
        {
            self.hash.update(&bytes);
        }
    }

    fn leaf(&mut self, v: &mut Value) -> Result<()> {
        let is_comment = matches!(v, Value::Comment(_));
        let encrypted = self
            .rule
            .should_encrypt(&self.path, &self.comments, is_comment);
        if self.encrypting {
            self.hash_value(v, encrypted);
            if encrypted {
                let aad = self.aad();
                let enc = self.cipher.encrypt(v, &aad)?;
                *v = match v {
                    Value::Comment(c) => Value::Comment(crate::tree::Comment {
                        text: enc,
                        inline: c.inline,
                    }),
                    _ => Value::Str(enc),
                };
            }
        } else {
            if encrypted {
                let aad = self.aad();
                match v {
                    Value::Comment(c) => {
                        // Matches sops: a comment that does not decrypt (written
                        // by an older sops, in clear) is kept as it is.
                        if let Ok(d) = self.cipher.decrypt(&c.text, &aad) {
                            *v = match d {
                                Value::Str(s) => Value::Comment(crate::tree::Comment {
                                    text: s,
                                    inline: c.inline,
                                }),
                                other => other,
                            };
                        }
                    }
                    Value::Str(s) => *v = self.cipher.decrypt(s, &aad)?,
                    _ => {
                        return Err(Error::ValueFormat {
                            path: aad,
                            reason: "expected an encrypted string".into(),
                        });
                    }
                }
            }
            self.hash_value(v, encrypted);
        }
        Ok(())
    }

    fn value(&mut self, v: &mut Value) -> Result<()> {
        match v {
            Value::Null => Ok(()),
            Value::Map(b) => self.branch(b),
            Value::Seq(s) => self.seq(s),
            _ => self.leaf(v),
        }
    }

    fn seq(&mut self, seq: &mut [Value]) -> Result<()> {
        self.comments.push(Vec::new());
        for v in seq.iter_mut() {
            let was_comment = if let Value::Comment(c) = v {
                self.comments
                    .last_mut()
                    .expect("frame")
                    .push(c.text.clone());
                true
            } else {
                false
            };
            self.value(v)?;
            // Matches sops: an encrypted comment inside a sequence comes back
            // from the cipher as a string, so it is written as a list item.
            if was_comment
                && self.encrypting
                && let Value::Comment(c) = v
                && crate::cipher::is_encrypted_value(&c.text)
            {
                *v = Value::Str(std::mem::take(&mut c.text));
            }
            if !was_comment {
                self.comments.last_mut().expect("frame").clear();
            }
        }
        self.comments.pop();
        Ok(())
    }

    fn branch(&mut self, branch: &mut Branch) -> Result<()> {
        self.comments.push(Vec::new());
        for item in branch.iter_mut() {
            match &mut item.key {
                Key::Comment(c) => {
                    self.comments
                        .last_mut()
                        .expect("frame")
                        .push(c.text.clone());
                    let mut v = Value::Comment(c.clone());
                    self.leaf(&mut v)?;
                    match v {
                        Value::Comment(nc) => *c = nc,
                        Value::Str(s) => c.text = s,
                        _ => {
                            return Err(Error::ValueFormat {
                                path: self.aad(),
                                reason: "a comment decrypted to a non-comment value".into(),
                            });
                        }
                    }
                }
                Key::Name(name) => {
                    self.path.push(name.clone());
                    let r = self.value(&mut item.value);
                    self.path.pop();
                    r?;
                    self.comments.last_mut().expect("frame").clear();
                }
            }
        }
        self.comments.pop();
        Ok(())
    }
}

/// Encrypts every document of a tree in place and returns the MAC (uppercase
/// hex SHA-512 over the plaintext, in document order).
pub fn encrypt_tree(
    docs: &mut [Branch],
    rule: &CryptRule,
    mac_only_encrypted: bool,
    cipher: &mut Cipher,
) -> Result<String> {
    walk(docs, rule, mac_only_encrypted, cipher, true)
}

/// Decrypts every document of a tree in place and returns the MAC computed
/// over the plaintext, to compare with the stored one.
pub fn decrypt_tree(
    docs: &mut [Branch],
    rule: &CryptRule,
    mac_only_encrypted: bool,
    cipher: &mut Cipher,
) -> Result<String> {
    walk(docs, rule, mac_only_encrypted, cipher, false)
}

fn walk(
    docs: &mut [Branch],
    rule: &CryptRule,
    mac_only_encrypted: bool,
    cipher: &mut Cipher,
    encrypting: bool,
) -> Result<String> {
    let mut w = Walk {
        rule,
        mac_only_encrypted,
        cipher,
        hash: Sha512::new(),
        path: Vec::new(),
        comments: Vec::new(),
        encrypting,
    };
    if mac_only_encrypted {
        w.hash.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    for doc in docs.iter_mut() {
        w.branch(doc)?;
    }
    let digest = w.hash.finalize();
    Ok(digest.iter().map(|b| format!("{b:02X}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::DataKey;
    use crate::tree::Item;

    fn doc() -> Branch {
        vec![
            Item::comment(" top", false),
            Item::new("a", Value::Str("x".into())),
            Item::new("b_unencrypted", Value::Int(3)),
            Item::new("c", Value::Seq(vec![Value::Bool(true), Value::Null])),
        ]
    }

    #[test]
    fn round_trip_restores_plaintext_and_mac_matches() {
        let key = DataKey::from_slice(&[1; 32]).unwrap();
        let rule = CryptRule::UnencryptedSuffix("_unencrypted".into());
        let mut docs = vec![doc()];
        let mac = encrypt_tree(&mut docs, &rule, false, &mut Cipher::new(&key)).unwrap();
        assert_eq!(mac.len(), 128);
        assert_eq!(
            docs[0][2].value,
            Value::Int(3),
            "suffix keeps value in clear"
        );
        assert!(matches!(&docs[0][1].value, Value::Str(s) if s.starts_with("ENC[")));
        let mac2 = decrypt_tree(&mut docs, &rule, false, &mut Cipher::new(&key)).unwrap();
        assert_eq!(mac, mac2);
        assert_eq!(docs, vec![doc()]);
    }

    #[test]
    fn encrypted_regex_selects_only_matching_keys() {
        let rule = CryptRule::EncryptedRegex(Regex::new("^(data|stringData)$").unwrap());
        assert!(rule.should_encrypt(&["stringData".into(), "k".into()], &[], false));
        assert!(!rule.should_encrypt(&["metadata".into(), "name".into()], &[], false));
    }

    #[test]
    fn mac_only_encrypted_ignores_clear_values() {
        let key = DataKey::from_slice(&[1; 32]).unwrap();
        let rule = CryptRule::EncryptedSuffix("_enc".into());
        let mut d1 = vec![vec![
            Item::new("a_enc", Value::Str("x".into())),
            Item::new("b", Value::Str("1".into())),
        ]];
        let mut d2 = vec![vec![
            Item::new("a_enc", Value::Str("x".into())),
            Item::new("b", Value::Str("2".into())),
        ]];
        let m1 = encrypt_tree(&mut d1, &rule, true, &mut Cipher::new(&key)).unwrap();
        let m2 = encrypt_tree(&mut d2, &rule, true, &mut Cipher::new(&key)).unwrap();
        assert_eq!(m1, m2);
        let m3 = encrypt_tree(
            &mut [vec![Item::new("b", Value::Str("1".into()))]],
            &rule,
            false,
            &mut Cipher::new(&key),
        )
        .unwrap();
        assert_ne!(m1, m3);
    }
}
