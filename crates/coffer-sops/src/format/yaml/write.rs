//! Writing the tree as YAML byte for byte as sops 3.13 does: sops builds
//! go-yaml nodes from its tree ([`super::node`]), go-yaml's encoder turns
//! them into events ([`super::events`]) and its emitter, set to indent 4,
//! writes them ([`super::emit`], [`super::emit_scalar`]). Documents are
//! separated by `---`.

use crate::format::yaml::emit::emit;
use crate::format::yaml::events::{Ev, Event, push_node};
use crate::format::yaml::node::{self, Node};
use crate::tree::{Branch, Value};

fn stream<'n>(roots: &'n [Node<'n>]) -> Vec<Event<'n>> {
    let mut events = vec![Event::bare(Ev::StreamStart)];
    for root in roots {
        events.push(Event::bare(Ev::DocStart));
        push_node(root, "", true, &mut events);
        events.push(Event::bare(Ev::DocEnd));
    }
    events.push(Event::bare(Ev::StreamEnd));
    events
}

/// Writes documents as sops's YAML store does (`EmitPlainFile`).
pub fn write(docs: &[Branch]) -> String {
    let roots: Vec<Node<'_>> = docs.iter().map(node::mapping).collect();
    emit(&stream(&roots), 64)
}

/// Writes one value as a document of its own, as sops's `EmitValue` does
/// for `decrypt --extract` of a value that is not a string.
pub fn write_value(v: &Value) -> String {
    let roots = [node::value(v)];
    emit(&stream(&roots), 64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::yaml::read;

    // Expected texts are what sops 3.13.3 printed for the same input.

    #[test]
    fn comments_land_where_sops_writes_them() {
        let input = "# top\na: 1 # inline\nb:\n    # first\n    c: x\n    d: [] # d\n    e: {}\nlist:\n    - x # ix\n    - k: v\n      # in\n      k2: \"2\"\n    - - n\n# end\n";
        let sops = "# top\na: 1 # inline\nb:\n    # first\n    c: x\n    d: []\n    # d\n    e: {}\nlist:\n    - x # ix\n    - k: v\n      # in\n      k2: \"2\"\n    - - \"n\"\n# end\n";
        assert_eq!(write(&read(input).unwrap()), sops);
    }

    #[test]
    fn documents_are_separated_and_an_empty_one_is_braces() {
        let input = "a: 1\n---\n# only a comment\n---\nb: |+\n    x\n\n";
        let sops = "a: 1\n---\n# only a comment\n{}\n---\nb: |+\n    x\n\n";
        assert_eq!(write(&read(input).unwrap()), sops);
        assert_eq!(write(&[]), "");
    }

    #[test]
    fn scalars_take_go_yaml_styles() {
        let input = "a: 'a: b'\nb: \"x \"\nc: \"yes\"\nd: 1.0\nf: \"\\ufeffab\"\ng: \"a😀\"\nh: \"\\nabc\"\nm: \"<<\"\nn: 42\n";
        let sops = "a: 'a: b'\nb: 'x '\nc: \"yes\"\nd: 1\nf: \"\\uFEFF\\x61\\x62\"\ng: \"a\\U0001F600\"\nh: |4-\n\n    abc\nm: !!merge <<\n\"n\": 42\n";
        assert_eq!(write(&read(input).unwrap()), sops);
    }

    #[test]
    fn unicode_line_separators_are_escaped_unlike_go_yaml() {
        // sops prints `e: 'a<U+2028>    b'`, which only a YAML 1.1 reader
        // takes back as `a<U+2028>b`.
        let doc = vec![crate::tree::Item::new("e", Value::Str("a\u{2028}b".into()))];
        let text = write(std::slice::from_ref(&doc));
        assert_eq!(text, "e: \"a\\Lb\"\n");
        assert_eq!(read(&text).unwrap(), vec![doc]);
        // And sops's form reads back as sops reads it.
        assert_eq!(read("e: 'a\u{2028}    b'\n").unwrap(), read(&text).unwrap());
    }

    #[test]
    fn a_comment_go_yaml_would_put_before_an_empty_collection_follows_it() {
        // sops prints `k: # c4` and `{}` on the next line at column 0,
        // which no parser reads back.
        let tree = read("l:\n    - {b: 2} # c4\nk: {}\n").unwrap();
        let text = write(&tree);
        assert_eq!(text, "l:\n    - b: 2\nk: {} # c4\n");
        assert!(read(&text).is_ok());
    }

    #[test]
    fn a_comment_holding_a_unicode_line_separator_stays_one_comment() {
        let input = "# a\u{2028}b\nk: v\n";
        let tree = read(input).unwrap();
        assert_eq!(write(&tree), input);
    }

    #[test]
    fn a_single_value_is_a_document_of_its_own() {
        assert_eq!(write_value(&Value::Int(42)), "42\n");
        assert_eq!(
            write_value(&Value::Seq(vec![Value::Str("a".into()), Value::Bool(true)])),
            "- a\n- true\n"
        );
        // go-yaml's form for a string that is not UTF-8.
        assert_eq!(write_value(&Value::Bytes(vec![0xff])), "!!binary /w==\n");
    }
}
