//! The Bitnami key Secret: how a sealing key pair is stored in the cluster,
//! built and read in this one place for the controller's key registry,
//! `coffer keygen`, `coffer seal --recovery-private-key` and the GitOps
//! keyring.
//!
//! Matches Bitnami's `pkg/controller/keys.go`: a Secret of type
//! `kubernetes.io/tls`, labelled `sealedsecrets.bitnami.com/sealed-secrets-key:
//! active`, whose `tls.key` is the private key as a PKCS#1 `RSA PRIVATE KEY`
//! PEM and whose `tls.crt` is the self-signed certificate PEM. Backups are
//! such Secrets, or the `v1.List` that `kubectl get secret -l
//! sealedsecrets.bitnami.com/sealed-secrets-key -o yaml` prints, in YAML or
//! JSON; [`read_key_file`] reads those or a PEM private key.
//!
//! Key material never appears in errors or `Debug` output, and the Secret
//! [`build`] returns zeroizes its values when dropped.

use std::fmt;
use std::ops::Deref;

use coffer_crypto::{KeyPair, PrivateKey};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use zeroize::Zeroize;

use crate::meta::data_keys;

/// The label that marks a Secret as a sealing key (Bitnami's
/// `SealedSecretsKeyLabel`).
pub const LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";
/// The label value of a key in use. Bitnami also knows `compromised`, which
/// is never loaded.
pub const LABEL_ACTIVE: &str = "active";
/// The Secret type of a key Secret.
pub const SECRET_TYPE: &str = "kubernetes.io/tls";
/// The data key holding the certificate PEM.
pub const CERT_KEY: &str = "tls.crt";
/// The data key holding the private key PEM.
pub const PRIVATE_KEY_KEY: &str = "tls.key";

/// The label selector of active key Secrets
/// (`sealedsecrets.bitnami.com/sealed-secrets-key=active`).
pub fn selector() -> String {
    format!("{LABEL}={LABEL_ACTIVE}")
}

/// Why a Secret is not a usable key Secret. Names the data key at fault,
/// never its contents.
#[derive(Debug, thiserror::Error)]
pub enum KeySecretError {
    /// A data key is missing.
    #[error("it has no {0}")]
    Missing(&'static str),
    /// A data key is not UTF-8, so not PEM.
    #[error("its {0} is not PEM text")]
    NotText(&'static str),
    /// The PEM does not hold a usable key, or the certificate is not its own.
    #[error(transparent)]
    Key(coffer_crypto::Error),
}

/// A key Secret built by [`build`]: derefs to the `Secret`; its `Debug`
/// shows the name and data keys only, and its values are zeroized when it
/// is dropped.
pub struct KeySecret {
    secret: Secret,
}

impl KeySecret {
    /// Takes the Secret out. Its values are then the caller's to protect.
    pub fn into_secret(mut self) -> Secret {
        std::mem::take(&mut self.secret)
    }
}

impl Deref for KeySecret {
    type Target = Secret;

    fn deref(&self) -> &Secret {
        &self.secret
    }
}

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySecret")
            .field("name", &self.secret.metadata.name)
            .field("generate_name", &self.secret.metadata.generate_name)
            .field("namespace", &self.secret.metadata.namespace)
            .field("keys", &data_keys(&self.secret))
            .finish_non_exhaustive()
    }
}

impl Drop for KeySecret {
    fn drop(&mut self) {
        for value in self.secret.data.iter_mut().flat_map(|d| d.values_mut()) {
            value.0.zeroize();
        }
    }
}

/// The key Secret storing `pair`, with `metadata` (name or generateName,
/// namespace, ...) plus the active key label. Fails only when the private
/// key cannot be written as PKCS#1.
pub fn build(pair: &KeyPair, metadata: ObjectMeta) -> Result<KeySecret, coffer_crypto::Error> {
    let key_pem = pair.private_key().to_pkcs1_pem()?;
    let mut metadata = metadata;
    metadata
        .labels
        .get_or_insert_default()
        .insert(LABEL.to_owned(), LABEL_ACTIVE.to_owned());
    Ok(KeySecret {
        secret: Secret {
            metadata,
            type_: Some(SECRET_TYPE.to_owned()),
            data: Some(
                [
                    (
                        CERT_KEY.to_owned(),
                        ByteString(pair.certificate().to_pem().into_bytes()),
                    ),
                    (
                        PRIVATE_KEY_KEY.to_owned(),
                        ByteString(key_pem.as_bytes().to_vec()),
                    ),
                ]
                .into(),
            ),
            ..Secret::default()
        },
    })
}

fn pem_field<'a>(secret: &'a Secret, key: &'static str) -> Result<&'a str, KeySecretError> {
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .ok_or(KeySecretError::Missing(key))?;
    std::str::from_utf8(&value.0).map_err(|_| KeySecretError::NotText(key))
}

/// The key pair in a key Secret: `tls.key` and the certificate `tls.crt`,
/// which must belong to it (what the controller loads).
pub fn read_pair(secret: &Secret) -> Result<KeyPair, KeySecretError> {
    KeyPair::from_pem(
        pem_field(secret, PRIVATE_KEY_KEY)?,
        pem_field(secret, CERT_KEY)?,
    )
    .map_err(KeySecretError::Key)
}

/// The private key in a key Secret's `tls.key`; the certificate is not
/// needed to unseal (what kubeseal's `--recovery-private-key` reads).
pub fn read_private_key(secret: &Secret) -> Result<PrivateKey, KeySecretError> {
    PrivateKey::from_pem(pem_field(secret, PRIVATE_KEY_KEY)?).map_err(KeySecretError::Key)
}

/// Why a key file (PEM, or key Secret backups) gave no keys. Names the file,
/// document and Secret, never key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file is not UTF-8, so neither PEM nor a manifest.
    #[error("the private key file {input} is neither PEM nor a Secret (not UTF-8)")]
    NotText {
        /// The file's name.
        input: String,
    },
    /// The file is PEM but holds no usable private key.
    // The cause is in the message and not a `#[source]`: the CLI prints an
    // error's whole chain, which would repeat it.
    #[error("cannot read the private key in {input}: {cause}")]
    Pem {
        /// The file's name.
        input: String,
        /// Why.
        cause: coffer_crypto::Error,
    },
    /// The file is neither PEM nor a manifest stream of Secrets.
    #[error(transparent)]
    Manifest(#[from] coffer_manifest::Error),
    /// An item of a `List` is not a Secret.
    #[error("item {item} of the List: {cause}")]
    ListItem {
        /// 1-based position in `items`.
        item: usize,
        /// Why.
        cause: coffer_manifest::Error,
    },
    /// The file holds no Secret at all.
    #[error("{input} holds no private key: expected PEM, or key Secrets with tls.key")]
    Empty {
        /// The file's name.
        input: String,
    },
    /// A Secret has no `tls.key`.
    #[error("Secret {name} in {input} has no tls.key")]
    NoKey {
        /// The file's name.
        input: String,
        /// The Secret's name.
        name: String,
    },
    /// A Secret's `tls.key` is not text.
    #[error("tls.key of Secret {name} in {input} is not PEM")]
    KeyNotText {
        /// The file's name.
        input: String,
        /// The Secret's name.
        name: String,
    },
    /// A Secret's `tls.key` holds no usable key.
    #[error("cannot read tls.key of Secret {name} in {input}: {cause}")]
    BadKey {
        /// The file's name.
        input: String,
        /// The Secret's name.
        name: String,
        /// Why.
        cause: coffer_crypto::Error,
    },
}

/// Reads every private key in a key file: a PEM private key (PKCS#1 or
/// PKCS#8), or key Secrets (one or several documents, or a `v1.List` of
/// them) in YAML or JSON, each holding `tls.key`. Matches kubeseal's
/// `readPrivKeysFromFile`. `input` names the file in errors.
pub fn read_key_file(bytes: &[u8], input: &str) -> Result<Vec<PrivateKey>, KeyFileError> {
    let text = std::str::from_utf8(bytes).map_err(|_| KeyFileError::NotText {
        input: input.to_owned(),
    })?;
    if text.trim_start().starts_with("-----BEGIN") {
        let key = PrivateKey::from_pem(text).map_err(|cause| KeyFileError::Pem {
            input: input.to_owned(),
            cause,
        })?;
        return Ok(vec![key]);
    }
    let mut secrets: Vec<Secret> = Vec::new();
    for doc in coffer_manifest::parse_documents(bytes, input)? {
        let is_list = coffer_manifest::kind_of(&doc.value) == Some("List");
        for (i, item) in coffer_manifest::expand_list(doc, input)?
            .into_iter()
            .enumerate()
        {
            let secret = coffer_manifest::typed::<Secret>(item, "Secret", input);
            secrets.push(match (secret, is_list) {
                (Ok(s), _) => s,
                (Err(cause), true) => {
                    return Err(KeyFileError::ListItem { item: i + 1, cause });
                }
                (Err(e), false) => return Err(e.into()),
            });
        }
    }
    if secrets.is_empty() {
        return Err(KeyFileError::Empty {
            input: input.to_owned(),
        });
    }
    secrets
        .iter()
        .map(|secret| {
            let name = secret
                .metadata
                .name
                .clone()
                .unwrap_or_else(|| "<unnamed>".to_owned());
            read_private_key(secret).map_err(|e| match e {
                KeySecretError::Missing(_) => KeyFileError::NoKey {
                    input: input.to_owned(),
                    name,
                },
                KeySecretError::NotText(_) => KeyFileError::KeyNotText {
                    input: input.to_owned(),
                    name,
                },
                KeySecretError::Key(cause) => KeyFileError::BadKey {
                    input: input.to_owned(),
                    name,
                    cause,
                },
            })
        })
        .collect()
}

/// Whether a Secret carries the key label (any value).
pub fn has_key_label(secret: &Secret) -> bool {
    secret
        .metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(LABEL))
}

#[cfg(test)]
mod tests {
    use coffer_crypto::{KeyOptions, KeySize};

    use super::*;

    fn pair() -> KeyPair {
        KeyPair::generate(&KeyOptions {
            size: KeySize::Rsa2048,
            ..KeyOptions::default()
        })
        .unwrap()
    }

    #[test]
    fn built_secret_has_bitnami_layout_and_reads_back() {
        let pair = pair();
        let meta = ObjectMeta {
            name: Some("k".into()),
            namespace: Some("kube-system".into()),
            ..ObjectMeta::default()
        };
        let secret = build(&pair, meta).unwrap();
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
        assert_eq!(
            secret.metadata.labels.as_ref().unwrap()[LABEL],
            LABEL_ACTIVE
        );
        let pem = std::str::from_utf8(&secret.data.as_ref().unwrap()[PRIVATE_KEY_KEY].0).unwrap();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(has_key_label(&secret));
        assert_eq!(
            read_pair(&secret).unwrap().fingerprint(),
            pair.fingerprint()
        );
        assert_eq!(
            read_private_key(&secret).unwrap().fingerprint(),
            pair.fingerprint()
        );
        assert_eq!(selector(), format!("{LABEL}=active"));
    }

    #[test]
    fn unusable_secret_names_the_key_without_key_material() {
        let pair = pair();
        let secret = build(&pair, ObjectMeta::default()).unwrap();
        let mut missing = (*secret).clone();
        missing.data.as_mut().unwrap().remove(PRIVATE_KEY_KEY);
        assert_eq!(
            read_pair(&missing).unwrap_err().to_string(),
            "it has no tls.key"
        );
        let mut binary = (*secret).clone();
        binary
            .data
            .as_mut()
            .unwrap()
            .insert(CERT_KEY.into(), ByteString(vec![0xff, 0xfe]));
        assert_eq!(
            read_pair(&binary).unwrap_err().to_string(),
            "its tls.crt is not PEM text"
        );
        let debug = format!("{secret:?}");
        let pem = std::str::from_utf8(&secret.data.as_ref().unwrap()[PRIVATE_KEY_KEY].0).unwrap();
        let body_line = pem.lines().nth(1).unwrap();
        assert!(
            debug.contains("tls.key") && !debug.contains(body_line),
            "{debug}"
        );
    }

    #[test]
    fn key_files_are_pem_or_key_secrets_alone_or_in_a_list() {
        let (a, b) = (pair(), pair());
        let pem = a.private_key().to_pkcs1_pem().unwrap();
        let keys = read_key_file(pem.as_bytes(), "a.pem").unwrap();
        assert_eq!(keys[0].fingerprint(), a.fingerprint());

        let as_json = |p: &KeyPair, name: &str| {
            let meta = ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            };
            let mut v = serde_json::to_value(&*build(p, meta).unwrap()).unwrap();
            v["apiVersion"] = "v1".into();
            v["kind"] = "Secret".into();
            v
        };
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List",
            "items": [as_json(&a, "ka"), as_json(&b, "kb")]});
        let keys = read_key_file(list.to_string().as_bytes(), "backup.json").unwrap();
        let prints: Vec<_> = keys.iter().map(PrivateKey::fingerprint).collect();
        assert_eq!(prints, [a.fingerprint(), b.fingerprint()]);

        let mut no_key = as_json(&a, "broken");
        no_key["data"].as_object_mut().unwrap().remove("tls.key");
        let err = read_key_file(no_key.to_string().as_bytes(), "b.json").unwrap_err();
        assert_eq!(err.to_string(), "Secret broken in b.json has no tls.key");
        let wrong = serde_json::json!({"kind": "List", "items": [{"kind": "ConfigMap"}]});
        let err = read_key_file(wrong.to_string().as_bytes(), "l.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            "item 1 of the List: document 1 of l.json is a ConfigMap, not a Secret"
        );
        let err = read_key_file(b"# nothing\n", "empty.yaml").unwrap_err();
        assert!(matches!(err, KeyFileError::Empty { .. }), "{err}");
    }
}
