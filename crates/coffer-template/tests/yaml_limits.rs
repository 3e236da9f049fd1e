//! `fromYaml` on hostile text: an alias bomb and deep nesting stop at the
//! parser's limits with an `Error` entry naming the limit and position (the
//! template goes on, as in External Secrets), never quoting the text.

use std::time::Duration;

use coffer_template::{Data, Limits, Options, Template};

fn from_yaml_error(doc: &str) -> String {
    let data: Data = [("doc", doc)].into_iter().collect();
    let tpl = Template::parse("k", "{{ (fromYaml .doc).Error }}").unwrap();
    // The parser's limits are under test, not the clock: a debug build on
    // a loaded machine may take longer than the default 2 s deadline.
    let options = Options {
        limits: Limits {
            max_duration: Duration::from_secs(120),
            ..Limits::default()
        },
        ..Options::eso()
    };
    let out = tpl.render(&data, &options).unwrap();
    String::from_utf8(out.to_vec()).unwrap()
}

#[test]
fn a_billion_laughs_document_stops_at_the_alias_limits() {
    let mut bomb = String::from("a: &a [lol-secret,lol,lol,lol,lol,lol,lol,lol,lol]\n");
    for (prev, name) in ('a'..'i').zip('b'..='i') {
        let refs = vec![format!("*{prev}"); 9].join(",");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    let err = from_yaml_error(&bomb);
    assert!(
        err.starts_with("yaml: document exceeds the limits at line "),
        "{err}"
    );
    assert!(!err.contains("lol-secret"), "{err}");
}

#[test]
fn deep_nesting_stops_at_the_value_depth() {
    let err = from_yaml_error(&format!("k: {}", "[".repeat(100_000)));
    assert_eq!(
        err,
        "yaml: document exceeds the limits at line 1 column 68: nested more than 64 deep"
    );
}

#[test]
fn ordinary_documents_with_aliases_still_read() {
    let data: Data = [("doc", "base: &b {user: app}\ncopy: *b\n")]
        .into_iter()
        .collect();
    let tpl = Template::parse("k", "{{ (fromYaml .doc).copy.user }}").unwrap();
    let out = tpl.render(&data, &Options::eso()).unwrap();
    assert_eq!(&out[..], b"app");
}
