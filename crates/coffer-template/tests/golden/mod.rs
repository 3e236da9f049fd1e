//! What the golden tests share: running one of our Go reference programs
//! (`gotemplate`: text/template and sprig; `gotemplate-eso`: ESO's function
//! map) on JSON cases, and rendering the same templates here.
//!
//! A case is `{"template": T, "data": {KEY: base64}}` (plus `"verify"` for
//! gotemplate's certificate check); the program answers, per case,
//! `{"out": base64, "err": bool}`.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use coffer_template::{Data, Limits, Options, Template};

/// ESO's options without the deadline: these tests compare output, and
/// scrypt or a 4096-bit RSA key can take seconds on a loaded machine (the
/// deadline has its own tests).
pub fn options() -> Options {
    Options {
        limits: Limits {
            max_duration: std::time::Duration::MAX,
            ..Limits::default()
        },
        ..Options::eso()
    }
}

/// `der` as PEM with `label`, 64 columns.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Template data as the Go programs read it: each value base64.
pub fn b64_data<V: AsRef<[u8]>>(data: &[(&str, V)]) -> serde_json::Value {
    data.iter()
        .map(|(k, v)| ((*k).to_owned(), STANDARD.encode(v).into()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Runs the reference program `tool` on `cases`: per case, Go's output or
/// its error message.
pub fn run_go(tool: &str, cases: &[serde_json::Value]) -> Vec<Result<Vec<u8>, String>> {
    let path = coffer_reftools::reference_tool(tool);
    let mut child = Command::new(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", path.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(cases).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{tool} failed");
    let answers: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answers.len(), cases.len(), "{tool} answered every case");
    answers
        .iter()
        .map(|a| {
            let out = STANDARD.decode(a["out"].as_str().unwrap_or("")).unwrap();
            if a["err"].as_bool().unwrap() {
                Err(String::from_utf8_lossy(&out).into_owned())
            } else {
                Ok(out)
            }
        })
        .collect()
}

/// Renders each of `templates` over `data` with `tool`: the output, or
/// `None` where Go failed.
pub fn go_render<V: AsRef<[u8]>>(
    tool: &str,
    data: &[(&str, V)],
    templates: &[&str],
) -> Vec<Option<Vec<u8>>> {
    let d = b64_data(data);
    let cases: Vec<_> = templates
        .iter()
        .map(|t| serde_json::json!({"template": t, "data": d}))
        .collect();
    run_go(tool, &cases).into_iter().map(Result::ok).collect()
}

/// Renders `t` over `data` here, with [`options`].
pub fn render<V: AsRef<[u8]>>(data: &[(&str, V)], t: &str) -> Result<Vec<u8>, String> {
    let data: Data = data
        .iter()
        .map(|(k, v)| (*k, v.as_ref().to_vec()))
        .collect();
    Template::parse("case", t)
        .and_then(|tpl| tpl.render(&data, &options()))
        .map(|out| out.to_vec())
        .map_err(|e| e.to_string())
}

/// The PKCS#1 RSAPrivateKey inside an RSA key's PKCS#8 document (its third
/// field, an OCTET STRING), as Go's `MarshalPKCS1PrivateKey` writes it.
/// Read with der-parser, not the way coffer-template reads it.
pub fn pkcs1_of_pkcs8(pkcs8: &[u8]) -> Vec<u8> {
    let (_, info) = x509_parser::der_parser::parse_der(pkcs8).unwrap();
    info.as_sequence().unwrap()[2].as_slice().unwrap().to_vec()
}

/// Asserts that ours renders each of `cases` as Go did (`go`, in order;
/// `None` where Go failed, where ours must fail too), listing every case
/// that differs from `peer`.
pub fn assert_same_as_go(
    peer: &str,
    cases: &[&str],
    go: Vec<Option<Vec<u8>>>,
    ours: impl Fn(&str) -> Option<Vec<u8>>,
) {
    let mut failures = Vec::new();
    for (t, go_out) in cases.iter().zip(go) {
        let ours = ours(t);
        if ours != go_out {
            failures.push(format!(
                "{t}\n  go:   {:?}\n  ours: {:?}",
                go_out.as_deref().map(String::from_utf8_lossy),
                ours.as_deref().map(String::from_utf8_lossy)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from {peer}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
