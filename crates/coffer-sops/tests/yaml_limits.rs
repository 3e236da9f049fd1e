//! The YAML reader on hostile input: alias bombs and deep nesting fail
//! fast with an error that names the position, and ordinary use of anchors
//! still reads.

use coffer_sops::{Branch, Error, Format, Value, YAML_MAX_DEPTH, YAML_MIN_COPY_BUDGET};

fn read(text: &str) -> coffer_sops::Result<Vec<Branch>> {
    coffer_sops::load_plain(text.as_bytes(), Format::Yaml)
}

/// The parse error's location and reason, or a panic naming what came back.
fn parse_error(text: &str) -> (String, String) {
    match read(text) {
        Err(Error::Parse {
            format: "YAML",
            location,
            reason,
        }) => (location, reason),
        Err(other) => panic!("expected a YAML parse error, got {other}"),
        Ok(_) => panic!("expected a YAML parse error, the document was read"),
    }
}

/// The classic "billion laughs": nine levels of nine aliases, 9^9 strings.
fn billion_laughs() -> String {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (prev, name) in ('a'..'i').zip('b'..='i') {
        let refs = vec![format!("*{prev}"); 9].join(",");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    text
}

#[test]
fn a_billion_laughs_document_is_refused_at_the_alias_that_exceeds_the_budget() {
    let (location, reason) = parse_error(&billion_laughs());
    // Levels a..e cost about 550,000; the second alias on line 6 (`f`)
    // passes the budget.
    assert!(location.starts_with("line 6 column "), "{location}");
    assert!(reason.contains("alias bomb"), "{reason}");
    assert!(
        reason.contains(&YAML_MIN_COPY_BUDGET.to_string()),
        "{reason}"
    );
}

#[test]
fn the_cli_style_message_names_the_position() {
    let err = read(&billion_laughs()).unwrap_err().to_string();
    assert!(
        err.starts_with("invalid YAML input at line 6 column "),
        "{err}"
    );
}

#[test]
fn flow_collections_nested_past_the_limit_are_refused_where_the_limit_is_crossed() {
    let text = "[".repeat(100_000);
    let (location, reason) = parse_error(&text);
    assert_eq!(location, format!("line 1 column {}", YAML_MAX_DEPTH + 1));
    assert_eq!(
        reason,
        format!("collections nested more than {YAML_MAX_DEPTH} deep")
    );
}

#[test]
fn block_mappings_nested_past_the_limit_are_refused_on_their_line() {
    let mut text = String::new();
    for depth in 0..YAML_MAX_DEPTH + 10 {
        text.push_str(&" ".repeat(depth));
        text.push_str("k:\n");
    }
    text.push_str(&" ".repeat(YAML_MAX_DEPTH + 10));
    text.push_str("v\n");
    let (location, reason) = parse_error(&text);
    assert!(
        location.starts_with(&format!("line {} column", YAML_MAX_DEPTH + 1)),
        "{location}"
    );
    assert!(reason.contains("nested more than 512 deep"), "{reason}");
}

#[test]
fn nesting_at_the_limit_reads() {
    let text = format!(
        "{}{}",
        "[".repeat(YAML_MAX_DEPTH - 1),
        "]".repeat(YAML_MAX_DEPTH - 1)
    );
    let docs = read(&format!("k: {text}\n")).unwrap();
    assert_eq!(docs.len(), 1);
}

/// Each alias nests a copy of the previous 200-deep anchor 200 levels
/// further down: the text nests 200 deep, the tree would nest 600.
#[test]
fn aliases_that_nest_copies_past_the_limit_are_refused() {
    let open = "[".repeat(200);
    let close = "]".repeat(200);
    let text = format!("a: &a {open}1{close}\nb: &b {open}*a{close}\nc: &c {open}*b{close}\n");
    let (location, reason) = parse_error(&text);
    assert_eq!(location, "line 3 column 207");
    assert_eq!(
        reason,
        format!("this alias nests collections more than {YAML_MAX_DEPTH} deep")
    );
}

#[test]
fn ordinary_anchors_and_aliases_still_read_as_copies() {
    let docs = read("defaults: &d\n  user: app\n  port: 5432\nprod: *d\ntest: *d\n").unwrap();
    let doc = &docs[0];
    assert_eq!(doc[1].value, doc[0].value);
    assert_eq!(doc[2].value, doc[0].value);
    let Value::Map(prod) = &doc[1].value else {
        panic!("prod is a mapping");
    };
    assert_eq!(prod[0].value, Value::Str("app".into()));
}

#[test]
fn a_large_document_may_reuse_a_large_anchor_once() {
    // 1.2 MB of text anchored and used once costs more than the floor,
    // but less than twice the input.
    let big = "x".repeat(1_200_000);
    let docs = read(&format!("a: &a {big}\nb: *a\n")).unwrap();
    assert_eq!(docs[0][1].value, Value::Str(big));
}

#[test]
fn the_budget_covers_the_whole_stream_not_each_document() {
    // Each document alone stays under the floor; together they do not.
    let laughs = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n\
                  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n\
                  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n\
                  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n\
                  e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n";
    assert!(read(laughs).is_ok());
    let stream = [laughs; 8].join("---\n");
    let (_, reason) = parse_error(&stream);
    assert!(reason.contains("alias bomb"), "{reason}");
}
