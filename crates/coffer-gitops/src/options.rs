//! What a [`crate::Decryptor`] is asked to do: the MAC policy, the guards
//! that can be relaxed or tightened, parallelism and input limits, and the
//! opt-out annotations.

use std::num::NonZeroUsize;

use coffer_manifest::Limits;
use coffer_sops::MacPolicy;

/// Flux's opt-out annotation: a resource carrying it with the value
/// `Disabled` is applied as it is (kustomize-controller's
/// `IsDecryptionDisabled`, which compares the value case-insensitively).
pub const FLUX_DECRYPT_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/decrypt";
/// Coffer's opt-out annotation, same meaning; it also leaves SealedSecrets
/// sealed (for the in-cluster controller).
pub const COFFER_DECRYPT_ANNOTATION: &str = "coffer.dev/decrypt";
/// The opt-out value (compared case-insensitively, as Flux does).
pub const DISABLED: &str = "Disabled";

/// Options of a decryption run.
#[derive(Clone, Debug)]
pub struct Options {
    /// What to do when a SOPS document's MAC does not match its values:
    /// refuse (the default), warn, or not check. kustomize transformers
    /// (namespace, labels, patches) change resources after they were
    /// encrypted, which invalidates the MAC of a SOPS resource built with
    /// them.
    pub mac: MacPolicy,
    /// Refuse output that still holds a SealedSecret (one whose key the
    /// keyring lacks), instead of passing it through for the in-cluster
    /// controller.
    pub require_unsealed: bool,
    /// Accept empty output from non-empty input. Off by default: Argo CD
    /// prunes every resource of an application whose plugin prints nothing.
    pub allow_empty: bool,
    /// Worker threads (default: the available cores).
    pub threads: Option<NonZeroUsize>,
    /// Bounds on the input streams.
    pub limits: Limits,
    /// Largest file [`crate::Decryptor::decrypt_sources`] decrypts (Flux's
    /// limit: 5 MiB).
    pub max_source_file_bytes: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            mac: MacPolicy::Verify,
            require_unsealed: false,
            allow_empty: false,
            threads: None,
            limits: Limits::default(),
            max_source_file_bytes: 5 << 20,
        }
    }
}

impl Options {
    pub(crate) fn threads(&self) -> usize {
        self.threads
            .or_else(|| std::thread::available_parallelism().ok())
            .map_or(1, NonZeroUsize::get)
    }
}

/// Which opt-out annotation a document carries, if any.
pub(crate) fn opted_out(value: &serde_json::Value) -> Option<&'static str> {
    let annotations = value.get("metadata")?.get("annotations")?;
    [FLUX_DECRYPT_ANNOTATION, COFFER_DECRYPT_ANNOTATION]
        .into_iter()
        .find(|name| {
            annotations
                .get(*name)
                .and_then(serde_json::Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(DISABLED))
        })
}
