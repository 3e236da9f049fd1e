//! Telling "this KV secret does not exist" from every other 404.
//!
//! Vault answers 404 for a KV secret that does not exist, but also for a
//! path under no mount (`no handler for route`), a namespace that does not
//! exist (`namespace not found`), a mount of another engine (`unsupported
//! path`), and so does a proxy or load balancer that routes the request
//! nowhere. Only the first may drive ESO's `deletionPolicy` (delete the
//! Secret, or empty its keys under Merge): the others would delete Secrets
//! because of a typo, a disabled mount or a broken ingress.
//!
//! So a 404 counts as "not found" only when Vault itself says so:
//! - KV v2 answers a deleted or destroyed version with the version's
//!   `metadata` (`deletion_time` set, or `destroyed: true`): the secret's
//!   history says it is gone;
//! - otherwise the KV engine answers a missing secret (or version, or empty
//!   folder) with an empty `errors` list, and the `sys/internal/ui/mounts`
//!   lookup of the same path (what ESO's store validation and Vault's UI
//!   use; it answers any token that may use the path) confirms that the
//!   path lies under a KV mount of the store's version.
//!
//! Everything else is [`Error::NotFoundUnconfirmed`], which the controller
//! treats as a failure that keeps the Secret as it is.
//!
//! Behaviour checked on OpenBao 2.7 (`tests/vault.rs`): a soft-deleted and
//! a destroyed version answer 404 with the version's metadata; a missing
//! secret, version or folder 404 `{"errors":[]}`; an unmounted or disabled
//! mount 404 `no handler for route`; an unknown namespace 404 `namespace not
//! found`; a transit mount 404 `unsupported path`; the mount lookup answers
//! 200 with `type`, `options.version` and `path` under a mount and 403
//! elsewhere.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::KvVersion;
use super::client::Inner;
use super::transport::{Answer, CALL_READ_MOUNT, Call, vault_message};
use crate::{Error, Result};

/// What a 404 body says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Said {
    /// KV v2's answer for a deleted or destroyed version: gone, for sure.
    VersionGone,
    /// An empty `errors` list: the KV engine's "nothing here", to be
    /// confirmed by the mount lookup.
    Nothing,
    /// Anything else (Vault's router, another engine, a proxy), quoted.
    Other(String),
}

/// Reads a 404 body.
pub(super) fn said(body: &[u8]) -> Said {
    #[derive(Deserialize)]
    struct Reply {
        data: Option<Map<String, Value>>,
        errors: Option<Vec<Value>>,
    }
    let Ok(reply) = serde_json::from_slice::<Reply>(body) else {
        return Said::Other("the answer is not Vault's JSON".to_owned());
    };
    if reply.data.as_ref().is_some_and(version_gone) {
        return Said::VersionGone;
    }
    match reply.errors {
        Some(errors) if errors.is_empty() && reply.data.is_none() => Said::Nothing,
        _ => Said::Other(vault_message(body, &[])),
    }
}

/// Whether KV v2 `data` (the outer object of a read) describes a deleted
/// or destroyed version: its `data` is null and its `metadata` says why.
pub(super) fn version_gone(outer: &Map<String, Value>) -> bool {
    if !outer.get("data").is_some_and(Value::is_null) {
        return false;
    }
    let Some(Value::Object(metadata)) = outer.get("metadata") else {
        return false;
    };
    let deleted = metadata
        .get("deletion_time")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let destroyed = metadata.get("destroyed") == Some(&Value::Bool(true));
    deleted || destroyed
}

/// What the mount lookup said about a path.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Mount {
    /// The mount's path (`secret/`), relative to the request's namespace.
    pub path: String,
    /// The engine (`kv`, `transit`).
    pub kind: String,
    /// `options.version`, if any.
    pub version: Option<String>,
}

impl Mount {
    /// Parses a `sys/internal/ui/mounts/<path>` answer.
    pub fn parse(body: &[u8]) -> Option<Mount> {
        #[derive(Deserialize)]
        struct Reply {
            data: Data,
        }
        #[derive(Deserialize)]
        struct Data {
            #[serde(default)]
            path: String,
            #[serde(rename = "type", default)]
            kind: String,
            #[serde(default)]
            options: Option<Map<String, Value>>,
        }
        let reply: Reply = serde_json::from_slice(body).ok()?;
        let version = reply
            .data
            .options
            .as_ref()
            .and_then(|o| o.get("version"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Some(Mount {
            path: reply.data.path,
            kind: reply.data.kind,
            version,
        })
    }

    /// The KV version of the mount, if it is a KV mount (`generic` is KV
    /// v1's old name; a KV mount without a version is v1).
    pub fn kv_version(&self) -> Option<KvVersion> {
        match (self.kind.as_str(), self.version.as_deref()) {
            ("kv", Some("2")) => Some(KvVersion::V2),
            ("kv" | "generic", None | Some("" | "1")) => Some(KvVersion::V1),
            _ => None,
        }
    }

    /// Why this mount does not confirm that `path` is a KV `version`
    /// secret, or `None` when it does.
    pub fn refutes(&self, path: &str, version: KvVersion) -> Option<String> {
        let name = |v: KvVersion| match v {
            KvVersion::V1 => "v1",
            KvVersion::V2 => "v2",
        };
        if self.path.is_empty() || !path.starts_with(self.path.as_str()) {
            return Some(format!(
                "Vault reports mount {:?}, which does not hold {path:?}",
                self.path
            ));
        }
        match self.kv_version() {
            Some(v) if v == version => None,
            Some(v) => Some(format!(
                "{:?} is a KV {} mount, the store reads KV {}",
                self.path,
                name(v),
                name(version)
            )),
            None => Some(format!(
                "{:?} is a {:?} mount, not KV {}",
                self.path,
                self.kind,
                name(version)
            )),
        }
    }
}

/// The mount lookup, for the client: store validation and 404s.
impl Inner {
    pub(super) async fn validate_mount(&self) -> Result<()> {
        let Some(mount) = &self.paths.mount else {
            return Ok(());
        };
        // Matches ESO: a failing mount lookup does not fail validation.
        let Ok(answer) = self.mount_of(mount).await else {
            return Ok(());
        };
        let Some(body) = answer.found() else {
            return Err(self.config_error(format!("vault mount path {mount:?} was not found")));
        };
        let Some(info) = Mount::parse(&body) else {
            return Ok(());
        };
        if info.kind != "kv" {
            return Err(self.config_error(format!(
                "vault mount path {mount:?} is not a kv secret engine, got {:?}",
                info.kind
            )));
        }
        let is_v2 = info.version.as_deref() == Some("2");
        let wants_v2 = self.paths.version == KvVersion::V2;
        if is_v2 != wants_v2 {
            let name = |v2: bool| if v2 { "v2" } else { "v1" };
            return Err(self.config_error(format!(
                "vault mount path {mount:?} uses kv version {} but the store is configured for kv version {}",
                name(is_v2),
                name(wants_v2)
            )));
        }
        Ok(())
    }

    /// `sys/internal/ui/mounts/<path>`: the mount `path` lies under.
    async fn mount_of(&self, path: &str) -> Result<Answer> {
        let lookup = format!("sys/internal/ui/mounts/{path}");
        self.authed(|| Call::new(CALL_READ_MOUNT, Method::GET, &lookup))
            .await
    }

    /// The error for a 404 on `path` reading `key`: [`Error::NotFound`]
    /// only when Vault confirms that a KV secret is missing (see
    /// `missing`), else [`Error::NotFoundUnconfirmed`].
    pub(super) async fn missing(&self, key: &str, path: &str, body: &[u8]) -> Error {
        let unconfirmed = |reason: String| Error::NotFoundUnconfirmed {
            store: self.transport.store().to_owned(),
            key: key.to_owned(),
            reason: format!("{path}: {reason}"),
        };
        match said(body) {
            Said::VersionGone => return self.not_found(key),
            Said::Other(reason) => return unconfirmed(format!("404: {reason}")),
            Said::Nothing => {}
        }
        let body = match self.mount_of(path).await {
            Ok(Answer::Found(body)) => body,
            Ok(Answer::Missing(_)) => {
                return unconfirmed("404, and Vault knows no mount for it".to_owned());
            }
            Err(e) => return unconfirmed(format!("404, and the mount lookup failed: {e}")),
        };
        match Mount::parse(&body) {
            None => unconfirmed("404, and the mount lookup's answer is not Vault's".to_owned()),
            Some(mount) => match mount.refutes(path, self.paths.version) {
                None => self.not_found(key),
                Some(reason) => unconfirmed(format!("404, but {reason}")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bytes(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn a_deleted_or_destroyed_version_is_gone_for_sure() {
        let deleted = json!({"data": {"data": null, "metadata": {
            "deletion_time": "2026-01-01T00:00:00Z", "destroyed": false, "version": 2}}});
        let destroyed = json!({"data": {"data": null, "metadata": {
            "deletion_time": "", "destroyed": true, "version": 1}}});
        assert_eq!(said(&bytes(deleted)), Said::VersionGone);
        assert_eq!(said(&bytes(destroyed)), Said::VersionGone);
        // Null data with metadata that says nothing of a deletion.
        let odd =
            json!({"data": {"data": null, "metadata": {"deletion_time": "", "destroyed": false}}});
        assert!(matches!(said(&bytes(odd)), Said::Other(_)));
    }

    #[test]
    fn only_an_empty_errors_list_is_the_kv_engines_nothing_here() {
        assert_eq!(said(br#"{"errors":[]}"#), Said::Nothing);
        let routed =
            br#"{"errors":["no handler for route \"nomount/data/x\". route entry not found."]}"#;
        let Said::Other(reason) = said(routed) else {
            panic!("no handler for route is not KV's answer")
        };
        assert!(reason.contains("no handler for route"), "{reason}");
        assert!(matches!(
            said(br#"{"errors":["namespace not found"]}"#),
            Said::Other(_)
        ));
        assert!(matches!(
            said(b"<html><body>404 Not Found</body></html>"),
            Said::Other(_)
        ));
        assert!(matches!(said(b""), Said::Other(_)));
        assert!(matches!(said(b"{}"), Said::Other(_)));
    }

    #[test]
    fn the_mount_lookup_confirms_only_a_kv_mount_of_the_stores_version_holding_the_path() {
        let kv2 = Mount::parse(&bytes(json!({"data": {
            "path": "secret/", "type": "kv", "options": {"version": "2"}}})))
        .unwrap();
        assert_eq!(kv2.refutes("secret/data/app", KvVersion::V2), None);
        assert!(kv2.refutes("secret/app", KvVersion::V1).is_some());
        assert!(kv2.refutes("other/data/app", KvVersion::V2).is_some());
        let kv1 = Mount::parse(&bytes(json!({"data": {
            "path": "kv/", "type": "kv", "options": null}})))
        .unwrap();
        assert_eq!(kv1.refutes("kv/app", KvVersion::V1), None);
        let transit = Mount::parse(&bytes(json!({"data": {
            "path": "tr/", "type": "transit", "options": {}}})))
        .unwrap();
        let reason = transit.refutes("tr/data/x", KvVersion::V2).unwrap();
        assert!(reason.contains("transit"), "{reason}");
        assert_eq!(Mount::parse(b"<html>"), None);
    }
}
