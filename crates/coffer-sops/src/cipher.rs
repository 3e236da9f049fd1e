//! The value cipher: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` with
//! AES-256-GCM, a 32-byte IV, a 16-byte tag and standard padded base64,
//! exactly as sops's `aes/cipher.go`. The additional data binds each value to
//! its path. A stash remembers the IV of every value decrypted, so a value
//! that did not change encrypts to the same ciphertext again (minimal diffs
//! after `edit`, as sops does).

use std::collections::HashMap;

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::{Zeroize, Zeroizing};

use crate::tree::{Comment, Value};
use crate::{Error, Result};

/// AES-256-GCM with sops's 32-byte nonce.
type SopsGcm = AesGcm<Aes256, U32>;

const IV_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// The 32-byte data key that encrypts every value of a document.
#[derive(Clone)]
pub struct DataKey(pub(crate) Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> Result<DataKey> {
        let mut k = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(k.as_mut()).map_err(|e| Error::Random(e.to_string()))?;
        Ok(DataKey(k))
    }

    /// A data key from bytes (as unwrapped from age or combined from Shamir parts).
    pub fn from_slice(bytes: &[u8]) -> Result<DataKey> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| {
            Error::NoDataKey(format!("data key has {} bytes, expected 32", bytes.len()))
        })?;
        Ok(DataKey(Zeroizing::new(arr)))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// The parts of an `ENC[...]` string.
struct Encrypted {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    kind: String,
}

fn field<'a>(rest: &'a str, name: &str, path: &str) -> Result<(&'a str, &'a str)> {
    let bad = || Error::ValueFormat {
        path: path.to_string(),
        reason: format!("missing {name} field"),
    };
    let rest = rest.strip_prefix(name).ok_or_else(bad)?;
    let rest = rest.strip_prefix(':').ok_or_else(bad)?;
    let end = rest.find(',').unwrap_or(rest.len());
    Ok((&rest[..end], rest[end..].strip_prefix(',').unwrap_or("")))
}

fn parse(s: &str, path: &str) -> Result<Encrypted> {
    let bad = |reason: &str| Error::ValueFormat {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    // Matches sops: `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`.
    let inner = s
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| bad("does not match sops' data format"))?;
    let (data, rest) = field(inner, "data", path)?;
    let (iv, rest) = field(rest, "iv", path)?;
    let (tag, rest) = field(rest, "tag", path)?;
    let kind = rest
        .strip_prefix("type:")
        .ok_or_else(|| bad("missing type field"))?;
    // Go's StdEncoding (not Strict) accepts non-zero trailing bits.
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let dec = |what: &str, v: &str| {
        lenient
            .decode(v)
            .map_err(|e| bad(&format!("invalid base64 in {what}: {e}")))
    };
    let e = Encrypted {
        data: dec("data", data)?,
        iv: dec("iv", iv)?,
        tag: dec("tag", tag)?,
        kind: kind.to_string(),
    };
    if e.iv.len() != IV_LEN {
        return Err(bad(&format!(
            "iv has {} bytes, expected {IV_LEN}",
            e.iv.len()
        )));
    }
    if e.tag.len() != TAG_LEN {
        return Err(bad(&format!(
            "tag has {} bytes, expected {TAG_LEN}",
            e.tag.len()
        )));
    }
    Ok(e)
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)`, which sops
/// uses for a float's plaintext and MAC bytes.
pub(crate) fn go_float_plain(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Rust's Display is the shortest round-trip form without an exponent, like 'f' with -1.
    format!("{v}")
}

/// The plaintext bytes sops encrypts and hashes for a value (`sops.ToBytes`),
/// with the sops type name, or `None` for values that are neither.
pub(crate) fn plaintext_of(v: &Value) -> Option<(Vec<u8>, &'static str)> {
    Some(match v {
        Value::Str(s) => (s.as_bytes().to_vec(), "str"),
        // sops walks []byte as a string, so it encrypts as `str`.
        Value::Bytes(b) => (b.clone(), "str"),
        Value::Int(i) => (i.to_string().into_bytes(), "int"),
        Value::Float(f) => (go_float_plain(*f).into_bytes(), "float"),
        // The Python original wrote booleans in title case; sops kept it.
        Value::Bool(b) => (
            (if *b { "True" } else { "False" }).as_bytes().to_vec(),
            "bool",
        ),
        Value::Time(t) => (t.as_bytes().to_vec(), "time"),
        Value::Comment(c) => (c.text.as_bytes().to_vec(), "comment"),
        Value::Null | Value::Map(_) | Value::Seq(_) => return None,
    })
}

fn parse_go_bool(s: &str) -> Option<bool> {
    // strconv.ParseBool.
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn value_of(kind: &str, plain: Vec<u8>, path: &str) -> Result<Value> {
    let bad = |reason: String| Error::ValueFormat {
        path: path.to_string(),
        reason,
    };
    let text = |plain: Vec<u8>| {
        String::from_utf8(plain).map_err(|_| bad(format!("{kind} plaintext is not UTF-8")))
    };
    Ok(match kind {
        "str" => match String::from_utf8(plain) {
            Ok(s) => Value::Str(s),
            Err(e) => Value::Bytes(e.into_bytes()),
        },
        "bytes" => match String::from_utf8(plain) {
            Ok(s) => Value::Str(s),
            Err(e) => Value::Bytes(e.into_bytes()),
        },
        "int" | "int64" => Value::Int(
            text(plain)?
                .parse()
                .map_err(|_| bad("invalid int plaintext".into()))?,
        ),
        "float" => Value::Float(
            text(plain)?
                .parse()
                .map_err(|_| bad("invalid float plaintext".into()))?,
        ),
        "bool" => Value::Bool(
            parse_go_bool(&text(plain)?).ok_or_else(|| bad("invalid bool plaintext".into()))?,
        ),
        "time" => {
            let t = text(plain)?;
            let ts = crate::timefmt::Timestamp::parse_rfc3339(&t)
                .ok_or_else(|| bad("invalid time plaintext".into()))?;
            Value::Time(ts.to_rfc3339_nano())
        }
        "comment" => Value::Comment(Comment {
            text: text(plain)?,
            inline: false,
        }),
        other => return Err(bad(format!("unknown datatype {other:?}"))),
    })
}

/// Encrypts and decrypts values with one data key, remembering IVs.
pub struct Cipher {
    aead: SopsGcm,
    stash: HashMap<(String, &'static str, Vec<u8>), [u8; IV_LEN]>,
    /// Whether decrypted values' IVs are remembered (for re-encryption).
    remember: bool,
}

impl Drop for Cipher {
    fn drop(&mut self) {
        // The stash is keyed by plaintext.
        for ((_, _, mut plain), _) in self.stash.drain() {
            plain.zeroize();
        }
    }
}

impl Cipher {
    /// A cipher for `key` that remembers the IV of every value it decrypts,
    /// so an unchanged value encrypts to the same ciphertext again.
    pub fn new(key: &DataKey) -> Cipher {
        Cipher {
            aead: SopsGcm::new_from_slice(key.as_bytes()).expect("32-byte key"),
            stash: HashMap::new(),
            remember: true,
        }
    }

    /// A cipher for `key` that keeps no copy of what it decrypts: for
    /// reading only (re-encrypting with it draws fresh IVs).
    pub fn read_only(key: &DataKey) -> Cipher {
        Cipher {
            aead: SopsGcm::new_from_slice(key.as_bytes()).expect("32-byte key"),
            stash: HashMap::new(),
            remember: false,
        }
    }

    /// Whether `v` is empty in sops's sense (left as it is, never encrypted).
    pub fn is_empty(v: &Value) -> bool {
        match v {
            Value::Str(s) => s.is_empty(),
            Value::Bytes(b) => b.is_empty(),
            Value::Comment(c) => c.text.is_empty(),
            _ => false,
        }
    }

    /// Encrypts a scalar with `aad`; empty strings stay empty (as in sops).
    pub fn encrypt(&mut self, v: &Value, aad: &str) -> Result<String> {
        if Self::is_empty(v) {
            return Ok(String::new());
        }
        let (plain, kind) = plaintext_of(v).ok_or_else(|| Error::ValueFormat {
            path: aad.to_string(),
            reason: "value is not a scalar".into(),
        })?;
        let plain = Zeroizing::new(plain);
        let stash_key = (aad.to_string(), kind, plain.to_vec());
        let iv = match self.stash.get(&stash_key) {
            Some(iv) => *iv,
            None => {
                let mut iv = [0u8; IV_LEN];
                getrandom::getrandom(&mut iv).map_err(|e| Error::Random(e.to_string()))?;
                iv
            }
        };
        let mut out = self
            .aead
            .encrypt(
                Nonce::<U32>::from_slice(&iv),
                Payload {
                    msg: &plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| Error::ValueFormat {
                path: aad.to_string(),
                reason: "AES-GCM encryption failed".into(),
            })?;
        let tag = out.split_off(out.len() - TAG_LEN);
        Ok(format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
            STANDARD.encode(&out),
            STANDARD.encode(iv),
            STANDARD.encode(tag),
            kind
        ))
    }

    /// Decrypts an `ENC[...]` string bound to `aad`; `""` decrypts to `""`.
    pub fn decrypt(&mut self, s: &str, aad: &str) -> Result<Value> {
        if s.is_empty() {
            return Ok(Value::Str(String::new()));
        }
        let e = parse(s, aad)?;
        let mut ct = e.data;
        ct.extend_from_slice(&e.tag);
        let plain = self
            .aead
            .decrypt(
                Nonce::<U32>::from_slice(&e.iv),
                Payload {
                    msg: &ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| Error::ValueDecrypt {
                path: aad.to_string(),
            })?;
        let value = value_of(&e.kind, plain, aad)?;
        if !self.remember {
            return Ok(value);
        }
        if let Some((bytes, kind)) = plaintext_of(&value) {
            let mut iv = [0u8; IV_LEN];
            iv.copy_from_slice(&e.iv);
            self.stash.insert((aad.to_string(), kind, bytes), iv);
        }
        Ok(value)
    }
}

/// Whether a string looks like a sops encrypted value.
pub fn is_encrypted_value(s: &str) -> bool {
    s.starts_with("ENC[AES256_GCM,") && s.ends_with(']')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey::from_slice(&[7u8; 32]).unwrap()
    }

    #[test]
    fn every_type_round_trips_with_its_sops_type_name() {
        let mut c = Cipher::new(&key());
        for (v, kind) in [
            (Value::Str("hello".into()), "str"),
            (Value::Int(-42), "int"),
            (Value::Float(1.5), "float"),
            (Value::Bool(true), "bool"),
            (Value::Time("2024-01-02T00:00:00Z".into()), "time"),
            (
                Value::Comment(Comment {
                    text: " note".into(),
                    inline: false,
                }),
                "comment",
            ),
        ] {
            let enc = c.encrypt(&v, "a:b:").unwrap();
            assert!(enc.ends_with(&format!("type:{kind}]")), "{enc}");
            assert_eq!(c.decrypt(&enc, "a:b:").unwrap(), v);
        }
    }

    #[test]
    fn value_moved_to_another_path_fails_authentication() {
        let mut c = Cipher::new(&key());
        let enc = c.encrypt(&Value::Str("s3cret".into()), "a:").unwrap();
        let err = c.decrypt(&enc, "b:").unwrap_err();
        assert!(matches!(err, Error::ValueDecrypt { .. }));
        assert!(!err.to_string().contains("s3cret"));
    }

    #[test]
    fn unchanged_value_reencrypts_to_identical_ciphertext() {
        let mut c = Cipher::new(&key());
        let enc = c.encrypt(&Value::Str("v".into()), "k:").unwrap();
        let mut c2 = Cipher::new(&key());
        let v = c2.decrypt(&enc, "k:").unwrap();
        assert_eq!(c2.encrypt(&v, "k:").unwrap(), enc);
        assert_ne!(c2.encrypt(&Value::Str("w".into()), "k:").unwrap(), enc);
    }

    #[test]
    fn empty_strings_stay_empty() {
        let mut c = Cipher::new(&key());
        assert_eq!(c.encrypt(&Value::Str(String::new()), "k:").unwrap(), "");
        assert_eq!(c.decrypt("", "k:").unwrap(), Value::Str(String::new()));
    }

    #[test]
    fn floats_use_go_plain_formatting() {
        assert_eq!(go_float_plain(1.0), "1");
        assert_eq!(go_float_plain(0.1), "0.1");
        assert_eq!(go_float_plain(1e21), "1000000000000000000000");
        assert_eq!(go_float_plain(f64::INFINITY), "+Inf");
    }

    #[test]
    fn malformed_values_are_rejected_with_their_path() {
        let mut c = Cipher::new(&key());
        let err = c
            .decrypt("ENC[AES256_GCM,data:!!,iv:AA==,tag:AA==,type:str]", "x:y:")
            .unwrap_err();
        assert!(err.to_string().contains("x:y:"));
        assert!(c.decrypt("plain", "x:").is_err());
    }
}
