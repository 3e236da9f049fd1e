//! Fuzzes the yaml reader and writer: any input is read or rejected with an
//! error, whatever is read writes out and reads back, and reading back gives
//! the same keys and values. Comments are left out of that comparison: the
//! writer places them as sops (go-yaml) does, which is not a fixed point
//! (go-yaml moves some comments on each round and drops those of an empty
//! `{}`), and neither are integral floats, which print as integers.
#![no_main]

use coffer_sops::{Branch, Format, Item, Key, Value};
use libfuzzer_sys::fuzz_target;

fn values(b: &Branch) -> Branch {
    b.iter()
        .filter(|i| matches!(i.key, Key::Name(_)))
        .map(|i| Item {
            key: i.key.clone(),
            value: value(&i.value),
        })
        .collect()
}

fn value(v: &Value) -> Value {
    match v {
        Value::Map(b) => Value::Map(values(b)),
        Value::Seq(s) => Value::Seq(
            s.iter()
                .filter(|v| !matches!(v, Value::Comment(_)))
                .map(value)
                .collect(),
        ),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e6 => Value::Int(*f as i64),
        other => other.clone(),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(docs) = coffer_sops::load_plain(data, Format::Yaml) {
        if let Ok(out) = coffer_sops::emit_plain(&docs, Format::Yaml) {
            let again =
                coffer_sops::load_plain(&out, Format::Yaml).expect("our own output must read back");
            let before: Vec<Branch> = docs.iter().map(values).collect();
            let after: Vec<Branch> = again.iter().map(values).collect();
            // NaN is not equal to itself: compare the written forms.
            assert_eq!(
                coffer_sops::emit_plain(&before, Format::Yaml).ok(),
                coffer_sops::emit_plain(&after, Format::Yaml).ok(),
                "reading back changes a key or value"
            );
        }
    }
});
