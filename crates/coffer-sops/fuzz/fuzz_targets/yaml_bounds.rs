//! Fuzzes the YAML reader's bounds with documents built to stress them:
//! each input byte is one step (open or close a flow list, a scalar, an
//! anchor, an alias to an earlier anchor, a document break), so alias
//! chains and deep nesting come up at once rather than by luck.
//!
//! Whatever is read nests at most `YAML_MAX_DEPTH` deep and holds at most what
//! the text spells out plus the copy budget; anything else is refused with
//! a positioned parse error.
#![no_main]

use coffer_sops::{Comment, Error, Format, Key, Value, YAML_MAX_DEPTH, YAML_MIN_COPY_BUDGET};
use libfuzzer_sys::fuzz_target;

/// Nodes plus bytes of text, and nesting: what the reader bounds.
fn measure(value: &Value) -> (usize, usize) {
    match value {
        Value::Map(items) => {
            let mut weight = 1;
            let mut height = 0;
            for item in items {
                let (Key::Name(n) | Key::Comment(Comment { text: n, .. })) = &item.key;
                weight += n.len();
                let (w, h) = measure(&item.value);
                weight += w;
                height = height.max(h);
            }
            (weight, height + 1)
        }
        Value::Seq(items) => {
            let mut weight = 1;
            let mut height = 0;
            for item in items {
                let (w, h) = measure(item);
                weight += w;
                height = height.max(h);
            }
            (weight, height + 1)
        }
        Value::Str(s) | Value::Time(s) => (1 + s.len(), 0),
        Value::Bytes(b) => (1 + b.len(), 0),
        Value::Comment(c) => (1 + c.text.len(), 0),
        _ => (1, 0),
    }
}

/// Turns steps into a YAML stream of `k: <flow list>` documents.
fn build(steps: &[u8]) -> String {
    let mut out = String::from("k: ");
    let mut open = 0usize;
    let mut first = true; // no comma before the next item
    let mut anchors = 0usize;
    let mut started = false; // the document's value has begun
    for &step in steps {
        let item = |out: &mut String, first: &mut bool| {
            if !*first {
                out.push(',');
            }
            *first = false;
        };
        match step % 8 {
            0 | 1 => {
                if open > 0 || !started {
                    item(&mut out, &mut first);
                    if step & 0x10 != 0 {
                        out.push_str(&format!("&a{anchors} "));
                        anchors += 1;
                    }
                    out.push('[');
                    open += 1;
                    first = true;
                    started = true;
                }
            }
            2 if open > 0 => {
                out.push(']');
                open -= 1;
                first = false;
            }
            3 | 4 if open > 0 => {
                item(&mut out, &mut first);
                if step & 0x10 != 0 {
                    out.push_str(&format!("&a{anchors} "));
                    anchors += 1;
                }
                out.push_str(&"x".repeat(usize::from(step >> 5) * 7 + 1));
            }
            5 | 6 if open > 0 && anchors > 0 => {
                item(&mut out, &mut first);
                out.push_str(&format!("*a{}", usize::from(step >> 3) % anchors));
            }
            7 if step & 0x80 != 0 => {
                out.push_str(&"]".repeat(open));
                out.push_str("\n---\nk: ");
                open = 0;
                first = true;
                anchors = 0;
                started = false;
            }
            _ => {}
        }
    }
    out.push_str(&"]".repeat(open));
    out.push('\n');
    out
}

fuzz_target!(|data: &[u8]| {
    let text = build(data);
    match coffer_sops::load_plain(text.as_bytes(), Format::Yaml) {
        Ok(docs) => {
            let mut weight = 0;
            for doc in &docs {
                let (w, h) = measure(&Value::Map(doc.clone()));
                assert!(h <= YAML_MAX_DEPTH, "read a tree {h} deep");
                weight += w;
            }
            let bound = 4 * text.len() + YAML_MIN_COPY_BUDGET.max(2 * text.len());
            assert!(weight <= bound, "read {weight} from {} bytes", text.len());
        }
        Err(Error::Parse { location, .. }) => assert!(location.starts_with("line "), "{location}"),
        Err(Error::Unsupported(_)) => {}
        Err(other) => panic!("unexpected error: {other}"),
    }
});
