//! The API server's audit log: its policy, assembled from what is asked
//! of it (the leak scan's evidence, [`crate::leak`]; the requests of
//! chosen users, for benchmarks that compare controllers by the requests
//! they make), and the count of those users' requests.
//!
//! Counting at the API server measures every controller the same way,
//! whatever client it is built on (a controller's own request counter
//! exists only where its authors wrote one).

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::Path;

use crate::{Error, leak};

/// The audit log's name in an environment's directory.
pub(crate) const AUDIT_LOG: &str = "kube-audit.log";

/// The policy's head. Each request is logged once it is answered
/// (`ResponseComplete`; a watch also when its stream starts,
/// `ResponseStarted`), never on arrival.
const POLICY_HEAD: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
"#;

/// The `kube-apiserver` audit flags, writing the policy into `dir`: the
/// leak scan's rules when it is on, then one rule recording every request
/// of `users` (metadata only); none when neither is asked for.
pub(crate) fn apiserver_args(dir: &Path, users: &[String]) -> std::io::Result<Vec<String>> {
    let Some(policy) = policy(leak::leak_dir().is_some(), users) else {
        return Ok(Vec::new());
    };
    let path = dir.join("kube-audit-policy.yaml");
    std::fs::write(&path, policy)?;
    Ok(vec![
        format!("--audit-policy-file={}", path.display()),
        format!("--audit-log-path={}", dir.join(AUDIT_LOG).display()),
        "--audit-log-format=json".into(),
        "--audit-log-maxsize=0".into(),
    ])
}

/// The policy: the leak scan's rules if `leak`, then `users`' requests.
fn policy(leak: bool, users: &[String]) -> Option<String> {
    if !leak && users.is_empty() {
        return None;
    }
    let mut policy = POLICY_HEAD.to_owned();
    if leak {
        policy.push_str(leak::AUDIT_RULES);
    }
    if !users.is_empty() {
        // JSON strings are YAML flow scalars: names need no escaping rules
        // of their own.
        let names: Vec<String> = users
            .iter()
            .map(|u| serde_json::Value::from(u.as_str()).to_string())
            .collect();
        policy.push_str(&format!(
            "- level: Metadata\n  users: [{}]\n",
            names.join(", ")
        ));
    }
    policy.push_str("- level: None\n");
    Some(policy)
}

/// The requests `user` made, by `verb resource[/subresource]` (e.g. `list
/// secrets`, `patch externalsecrets/status`; a request for no resource,
/// such as discovery, by its verb and path), from the audit log at `path`.
/// A refused request (status 400 or more) is counted apart, under its key
/// and code (`create secrets (409)`): a controller that creates without
/// reading first shows its conflicts there. A watch counts once, from when
/// it starts.
pub(crate) fn count_requests(path: &Path, user: &str) -> Result<BTreeMap<String, u64>, Error> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        what: path.to_path_buf(),
        source,
    })?;
    let mut counts = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|source| Error::Io {
            what: path.to_path_buf(),
            source,
        })?;
        if let Some((id, key)) = request_of(&line, user)
            && seen.insert(id)
        {
            *counts.entry(key).or_default() += 1;
        }
    }
    Ok(counts)
}

/// One audit event's request id and `verb resource`, with ` (code)` if
/// it was refused, if `user` made it.
fn request_of(line: &str, user: &str) -> Option<(String, String)> {
    let event: serde_json::Value = serde_json::from_str(line).ok()?;
    if event["user"]["username"].as_str()? != user {
        return None;
    }
    let id = event["auditID"].as_str()?.to_owned();
    let verb = event["verb"].as_str().unwrap_or("?");
    let object = &event["objectRef"];
    let key = match (object["resource"].as_str(), object["subresource"].as_str()) {
        (Some(resource), Some(sub)) => format!("{verb} {resource}/{sub}"),
        (Some(resource), None) => format!("{verb} {resource}"),
        _ => format!(
            "{verb} {}",
            event["requestURI"]
                .as_str()
                .unwrap_or("?")
                .split('?')
                .next()
                .unwrap_or("?")
        ),
    };
    match event["responseStatus"]["code"].as_u64() {
        Some(code) if code >= 400 => Some((id, format!("{key} ({code})"))),
        _ => Some((id, key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "system:serviceaccount:bench:controller";

    fn event(id: &str, stage: &str, user: &str, verb: &str, object: &str) -> String {
        format!(
            r#"{{"kind":"Event","auditID":"{id}","stage":"{stage}","verb":"{verb}","requestURI":"/api/v1/namespaces/x/secrets?watch=true","user":{{"username":"{user}"}}{object},"responseStatus":{{"code":200}}}}"#
        )
    }

    #[test]
    fn counts_each_request_of_the_user_once_by_verb_and_resource() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AUDIT_LOG);
        let secrets = r#","objectRef":{"resource":"secrets","namespace":"x"}"#;
        let status = r#","objectRef":{"resource":"externalsecrets","subresource":"status"}"#;
        let lines = [
            // A watch: started, then (much later) complete: one request.
            event("w", "ResponseStarted", USER, "watch", secrets),
            event("w", "ResponseComplete", USER, "watch", secrets),
            event("a", "ResponseComplete", USER, "get", secrets),
            event("b", "ResponseComplete", USER, "get", secrets),
            event("c", "ResponseComplete", USER, "patch", status),
            // Discovery names no resource: its path instead.
            event("d", "ResponseComplete", USER, "get", ""),
            // Refused: counted apart, by code.
            event("f", "ResponseComplete", USER, "create", secrets)
                .replace(r#""code":200"#, r#""code":409"#),
            event("g", "ResponseComplete", USER, "create", secrets),
            // Another user's request, and a line that is not an event.
            event("e", "ResponseComplete", "admin", "get", secrets),
            "not json".to_owned(),
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let counts = count_requests(&path, USER).unwrap();
        let expected: BTreeMap<String, u64> = [
            ("create secrets", 1),
            ("create secrets (409)", 1),
            ("get /api/v1/namespaces/x/secrets", 1),
            ("get secrets", 2),
            ("patch externalsecrets/status", 1),
            ("watch secrets", 1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(counts, expected);
    }

    #[test]
    fn the_policy_records_what_is_asked_and_nothing_else() {
        assert_eq!(policy(false, &[]), None);
        let users = policy(false, &[USER.to_owned()]).unwrap();
        assert!(
            users.ends_with(&format!(
                "rules:\n- level: Metadata\n  users: [\"{USER}\"]\n- level: None\n"
            )),
            "{users}"
        );
        let leak = policy(true, &[]).unwrap();
        assert!(
            leak.contains("resources: [\"secrets\", \"events\"]"),
            "{leak}"
        );
        assert!(!leak.contains("users:"), "{leak}");
        // Both: the leak scan's rules first (a user's Secret writes keep
        // their bodies, and are still counted).
        let both = policy(true, &[USER.to_owned()]).unwrap();
        assert!(both.find("secrets").unwrap() < both.find("users:").unwrap());
    }
}
