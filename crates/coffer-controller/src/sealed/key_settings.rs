//! How the controller makes and orders its sealing keys: Bitnami's
//! `--key-prefix`, `--key-ttl`, `--my-cn`, `--key-order-priority`,
//! `--privatekey-annotations` and `--privatekey-labels`, as typed values.

use std::collections::BTreeMap;
use std::time::Duration;

use coffer_crypto::DEFAULT_VALIDITY;

/// Which time orders the keys (Bitnami's `--key-order-priority`): the
/// newest by this time seals, and renewal counts the key's age from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyOrder {
    /// The certificate's NotBefore (Bitnami's default since v0.26): a key
    /// Secret restored from a backup keeps its place among older keys.
    #[default]
    CertNotBefore,
    /// The key Secret's creation time: a restored Secret counts as new.
    SecretCreationTimestamp,
}

/// What the key registry needs to name, create and order keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySettings {
    /// Prefix of key Secret names (`<prefix>-xxxxx`).
    pub prefix: String,
    /// Validity of generated certificates (Bitnami's `--key-ttl`).
    pub validity: Duration,
    /// Issuer and subject common name of generated certificates
    /// (Bitnami's `--my-cn`); empty leaves the name empty, as Bitnami.
    pub common_name: String,
    /// How keys are ordered.
    pub order: KeyOrder,
    /// Annotations put on key Secrets the controller creates.
    pub annotations: BTreeMap<String, String>,
    /// Labels put on key Secrets the controller creates, besides the
    /// active-key label (which they cannot override, as Bitnami).
    pub labels: BTreeMap<String, String>,
}

impl Default for KeySettings {
    /// Bitnami's defaults: `sealed-secrets-key`, ten years, no common name,
    /// ordered by NotBefore, nothing extra on the Secret.
    fn default() -> Self {
        KeySettings {
            prefix: "sealed-secrets-key".to_owned(),
            validity: DEFAULT_VALIDITY,
            common_name: String::new(),
            order: KeyOrder::default(),
            annotations: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }
}

impl KeySettings {
    /// The defaults with this name prefix.
    pub fn with_prefix(prefix: &str) -> KeySettings {
        KeySettings {
            prefix: prefix.to_owned(),
            ..KeySettings::default()
        }
    }
}
