//! The leak scan finds a Secret's value wherever Coffer said it (a log
//! line, an Event, a status; as is, in base64 or JSON-escaped), names the
//! place and the Secret but never the value, and passes a clean run.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const VALUE: &str = "hunter2-\"quoted\"-s3cr3t";

fn audit_line(resource: &str, subresource: Option<&str>, request: serde_json::Value) -> String {
    let mut object = serde_json::json!({"resource": resource, "namespace": "ns", "name": "obj"});
    if let Some(sub) = subresource {
        object["subresource"] = sub.into();
    }
    serde_json::json!({"kind": "Event", "objectRef": object, "requestObject": request}).to_string()
}

/// An evidence directory: a Secret holding [`VALUE`], an Event and a
/// status saying `said`, and a log file with `logged`.
fn evidence(dir: &Path, said: &str, logged: &str) {
    let secret = audit_line(
        "secrets",
        None,
        serde_json::json!({"metadata": {"name": "db"}, "data": {"password": STANDARD.encode(VALUE)}}),
    );
    let event = audit_line("events", None, serde_json::json!({"note": said}));
    let status = audit_line(
        "externalsecrets",
        Some("status"),
        serde_json::json!({"status": {"conditions": [{"message": "synced"}]}}),
    );
    std::fs::write(
        dir.join("env-kube-audit.log"),
        format!("{secret}\n{event}\n{status}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("tracing-x-1.log"),
        format!("INFO reconciled\n{logged}\n"),
    )
    .unwrap();
}

fn scan(dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_leak-scan"))
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_clean_run_passes_and_counts_what_it_searched() {
    let dir = tempfile::tempdir().unwrap();
    evidence(dir.path(), "synced", "DEBUG wrote Secret ns/db");
    let (code, out) = scan(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("1 values") && out.contains("1 Events and 1 status writes"),
        "{out}"
    );
    assert!(out.contains(": 0 hits"), "{out}");
}

#[test]
fn a_value_in_a_log_or_an_event_fails_naming_where_but_not_the_value() {
    let json_escaped = serde_json::Value::from(VALUE).to_string();
    let cases = [
        (
            "an Event",
            format!("failed: {VALUE}"),
            "ok".to_owned(),
            "Event events ns/obj",
        ),
        (
            "a log, base64",
            "synced".into(),
            format!("data={}", STANDARD.encode(VALUE)),
            "tracing-x-1.log:2",
        ),
        (
            "a JSON log",
            "synced".into(),
            format!("{{\"msg\":{json_escaped}}}"),
            "tracing-x-1.log:2",
        ),
    ];
    for (what, said, logged, place) in cases {
        let dir = tempfile::tempdir().unwrap();
        evidence(dir.path(), &said, &logged);
        let (code, out) = scan(dir.path());
        assert_eq!(code, 1, "{what}: {out}");
        assert!(
            out.contains(place) && out.contains("Secret ns/db key password"),
            "{what}: {out}"
        );
        assert!(
            !out.contains("hunter2"),
            "{what}: the report shows the value: {out}"
        );
    }
}

#[test]
fn a_value_that_is_an_objects_name_is_not_searched() {
    let dir = tempfile::tempdir().unwrap();
    evidence(dir.path(), "synced", "DEBUG reconciled ns/hunter2-named");
    let named = audit_line(
        "secrets",
        None,
        serde_json::json!({"metadata": {"name": "n"}, "data": {"k": STANDARD.encode("hunter2-named")}}),
    )
    .replace("\"name\":\"obj\"", "\"name\":\"hunter2-named\"");
    let path = dir.path().join("env-kube-audit.log");
    let audit = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{audit}{named}\n")).unwrap();
    let (code, out) = scan(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 more equal to an object's name"), "{out}");
}

#[test]
fn no_audit_log_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tracing-x-1.log"), "INFO nothing\n").unwrap();
    let (code, out) = scan(dir.path());
    assert_eq!(code, 2, "{out}");
}
