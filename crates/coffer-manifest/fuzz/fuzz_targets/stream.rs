//! Fuzzes the manifest stream reader: any input is split and parsed or
//! refused with an error, never a panic; documents are non-overlapping
//! pieces of the input, in order, and splitting the concatenation of their
//! texts again (YAML, joined by markers) gives the same texts.
#![no_main]

use coffer_manifest::{Format, Limits, split};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_input_bytes: 1 << 20,
        max_documents: 1000,
        max_document_bytes: 1 << 18,
        max_depth: 64,
    };
    let Ok(docs) = split(data, "fuzz", &limits) else {
        return;
    };
    let text = std::str::from_utf8(data).expect("split only accepts UTF-8");
    let mut last_end = 0;
    for doc in &docs {
        let start = doc.text.as_ptr() as usize - text.as_ptr() as usize;
        assert!(start >= last_end, "documents do not overlap and keep their order");
        last_end = start + doc.text.len();
        assert!(last_end <= text.len());
        let _ = doc.parse("fuzz", &limits);
    }
    if docs.first().is_some_and(|d| d.format == Format::Yaml) {
        let joined: String = docs.iter().map(|d| format!("---\n{}\n", d.text)).collect();
        let again = split(joined.as_bytes(), "again", &limits).expect("our own stream splits");
        assert_eq!(again.len(), docs.len(), "the same documents");
    }
});
