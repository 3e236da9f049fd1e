//! The leak scan: after the whole test suite, searches what Coffer said
//! (controller logs, in-process `tracing` output, the CLI's stderr, every
//! Event and every status written; collected by `coffer_testenv::leak`)
//! for every plaintext value the tests wrote into a Secret, as is, in
//! base64 and JSON-escaped. Exits 1 naming each hit's place and the
//! Secret and key the value came from (never the value), 0 when there is
//! none, 2 when there is nothing to scan.
//!
//! ```text
//! leak-scan DIR
//! ```
//!
//! Values shorter than [`MIN_LEN`] bytes are not searched (`true`, `1`,
//! `app` occur in any log), nor keys that hold public data
//! ([`PUBLIC_KEYS`]), nor values equal to the name or namespace of an
//! object in the audit logs (tests use names as values, e.g. a Secret
//! holding its own namespace's name; logs name objects by design).

#![allow(clippy::print_stdout)] // the report is this binary's output

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aho_corasick::AhoCorasick;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::Value;

/// Shorter values are not searched.
const MIN_LEN: usize = 8;
/// Secret keys whose values are public (certificates).
const PUBLIC_KEYS: &[&str] = &["tls.crt", "ca.crt", "ca.pem", "cert.pem", "certificate"];

/// Where a value came from: `Secret ns/name key k`.
type Origin = String;

/// A place the scan searches.
struct Haystack {
    /// A file and line, or an audit record (Event or status).
    place: String,
    text: Vec<u8>,
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: leak-scan DIR");
        return ExitCode::from(2);
    };
    let files = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect::<BTreeSet<_>>(),
        Err(e) => {
            eprintln!("leak-scan: cannot read {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    let mut values: BTreeMap<Vec<u8>, Origin> = BTreeMap::new();
    let mut names: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut haystacks = Vec::new();
    let (mut audit_files, mut log_files, mut events, mut statuses) = (0, 0, 0, 0);
    for file in &files {
        let Ok(bytes) = std::fs::read(file) else {
            eprintln!("leak-scan: cannot read {}", file.display());
            return ExitCode::from(2);
        };
        if is_audit_log(file) {
            audit_files += 1;
            for (line_no, line) in bytes.split(|b| *b == b'\n').enumerate() {
                let Ok(record) = serde_json::from_slice::<Value>(line) else {
                    continue;
                };
                let place = format!("{}:{}", name(file), line_no + 1);
                for field in ["name", "namespace"] {
                    if let Some(id) = record["objectRef"][field].as_str() {
                        names.insert(id.as_bytes().to_vec());
                    }
                }
                match audit(&record, &place) {
                    Audit::Secret(found) => {
                        for (value, origin) in found {
                            values.entry(value).or_insert(origin);
                        }
                    }
                    Audit::Said(haystack) => {
                        if haystack.place.starts_with("Event") {
                            events += 1;
                        } else {
                            statuses += 1;
                        }
                        haystacks.push(haystack);
                    }
                    Audit::Other => {}
                }
            }
        } else {
            log_files += 1;
            for (line_no, line) in bytes.split(|b| *b == b'\n').enumerate() {
                if !line.is_empty() {
                    haystacks.push(Haystack {
                        place: format!("{}:{}", name(file), line_no + 1),
                        text: line.to_vec(),
                    });
                }
            }
        }
    }
    if audit_files == 0 {
        eprintln!(
            "leak-scan: no API server audit log in {}: was COFFER_LEAK_DIR set for the tests?",
            dir.display()
        );
        return ExitCode::from(2);
    }

    let before = values.len();
    values.retain(|value, _| !names.contains(value));
    let names_skipped = before - values.len();
    let (patterns, owners) = patterns(&values);
    let Ok(matcher) = AhoCorasick::new(&patterns) else {
        eprintln!("leak-scan: cannot build the matcher");
        return ExitCode::from(2);
    };
    let mut hits = BTreeSet::new();
    for haystack in &haystacks {
        for found in matcher.find_overlapping_iter(&haystack.text) {
            let (origin, form) = &owners[found.pattern().as_usize()];
            hits.insert(format!(
                "{}: the value of {origin} ({form})",
                haystack.place
            ));
        }
    }
    println!(
        "leak-scan: {} values ({} forms; {names_skipped} more equal to an object's name or namespace) searched in {log_files} log files ({} lines), {events} Events and {statuses} status writes from {audit_files} audit logs: {} hits",
        values.len(),
        patterns.len(),
        haystacks.len() - events - statuses,
        hits.len()
    );
    for hit in &hits {
        println!("  {hit}");
    }
    if hits.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn name(file: &Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn is_audit_log(file: &Path) -> bool {
    name(file).ends_with("kube-audit.log")
}

enum Audit {
    /// A Secret written: its values, each with where it came from.
    Secret(Vec<(Vec<u8>, Origin)>),
    /// An Event or a status written: what it says.
    Said(Haystack),
    Other,
}

fn audit(record: &Value, place: &str) -> Audit {
    let object = &record["objectRef"];
    let resource = object["resource"].as_str().unwrap_or_default();
    let subresource = object["subresource"].as_str().unwrap_or_default();
    let at = format!(
        "{}/{}",
        object["namespace"].as_str().unwrap_or("-"),
        object["name"].as_str().unwrap_or("-")
    );
    let request = &record["requestObject"];
    if request.is_null() {
        return Audit::Other;
    }
    if resource == "secrets" && subresource.is_empty() {
        let mut found = Vec::new();
        let name = request["metadata"]["name"]
            .as_str()
            .map_or(at.clone(), |n| {
                format!("{}/{n}", object["namespace"].as_str().unwrap_or("-"))
            });
        for (field, decode) in [("data", true), ("stringData", false)] {
            let Some(map) = request[field].as_object() else {
                continue;
            };
            for (key, value) in map {
                let Some(text) = value.as_str() else { continue };
                let bytes = if decode {
                    match STANDARD.decode(text) {
                        Ok(b) => b,
                        Err(_) => continue,
                    }
                } else {
                    text.as_bytes().to_vec()
                };
                if bytes.len() >= MIN_LEN && !PUBLIC_KEYS.contains(&key.as_str()) {
                    found.push((bytes, format!("Secret {name} key {key}")));
                }
            }
        }
        return Audit::Secret(found);
    }
    let kind = if resource == "events" {
        "Event"
    } else if subresource == "status" {
        "status of"
    } else {
        return Audit::Other;
    };
    // Every string in the request, one per line, unescaped.
    let mut text = Vec::new();
    strings(request, &mut text);
    Audit::Said(Haystack {
        place: format!("{kind} {resource} {at} ({place})"),
        text,
    })
}

fn strings(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::String(s) => {
            out.extend_from_slice(s.as_bytes());
            out.push(b'\n');
        }
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// Each value's forms: as is, base64 (padded and not), JSON-escaped; with
/// the origin and form of each pattern.
fn patterns(values: &BTreeMap<Vec<u8>, Origin>) -> (Vec<Vec<u8>>, Vec<(Origin, &'static str)>) {
    let mut patterns = Vec::new();
    let mut owners = Vec::new();
    let mut seen = BTreeSet::new();
    for (value, origin) in values {
        let mut forms = vec![
            (value.clone(), "as is"),
            (STANDARD.encode(value).into_bytes(), "base64"),
            (STANDARD_NO_PAD.encode(value).into_bytes(), "base64"),
        ];
        if let Ok(text) = std::str::from_utf8(value) {
            let json = Value::from(text).to_string();
            let escaped = json.as_bytes()[1..json.len() - 1].to_vec();
            forms.push((escaped, "JSON-escaped"));
        }
        for (pattern, form) in forms {
            if seen.insert(pattern.clone()) {
                patterns.push(pattern);
                owners.push((origin.clone(), form));
            }
        }
    }
    (patterns, owners)
}
