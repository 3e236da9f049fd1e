//! Fuzzes the json reader: any input is read or rejected with an error, and
//! whatever is read writes out and reads back to the same tree.
#![no_main]

use coffer_sops::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(docs) = coffer_sops::load_plain(data, Format::Json) {
        if let Ok(out) = coffer_sops::emit_plain(&docs, Format::Json) {
            let again =
                coffer_sops::load_plain(&out, Format::Json).expect("our own output must read back");
            let out2 = coffer_sops::emit_plain(&again, Format::Json).expect("and write again");
            assert_eq!(out, out2, "writing is stable");
        }
    }
});
