//! A stable hash of everything a SealedSecret's Secret is made from, so the
//! controller can tell "nothing changed" without decrypting.

use coffer_api::SealedSecret;
use coffer_api::SealedSecretSpec;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::meta::sealed_scope;

/// Bumped whenever what goes into the hash changes, so old hashes never
/// match new ones by accident.
const HASH_VERSION: u32 = 1;

#[derive(Serialize)]
struct Inputs<'a> {
    version: u32,
    namespace: &'a str,
    name: &'a str,
    scope: &'a str,
    spec: &'a SealedSecretSpec,
}

/// `sha256:<hex>` of the SealedSecret's namespace, name, scope and spec:
/// everything that decides the Secret's content. Equal inputs give equal
/// hashes across runs and processes (maps serialize in key order); a change
/// to any sealed value, the template or the scope annotations changes it.
/// Status and other metadata do not count.
pub fn inputs_hash(sealed: &SealedSecret) -> String {
    let inputs = Inputs {
        version: HASH_VERSION,
        namespace: sealed.metadata.namespace.as_deref().unwrap_or_default(),
        name: sealed.metadata.name.as_deref().unwrap_or_default(),
        scope: sealed_scope(sealed).as_str(),
        spec: &sealed.spec,
    };
    // NB: serializing these types cannot fail (string keys, no custom
    // serializers); an empty input would still hash deterministically.
    let json = serde_json::to_vec(&inputs).unwrap_or_default();
    let digest = Sha256::digest(&json);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest.iter() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}
