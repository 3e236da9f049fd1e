//! Parses and renders arbitrary template text in both callers' modes:
//! every input must either render or return an error, within the limits.
#![no_main]

use coffer_template::{Data, Limits, Options, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else { return };
    let Ok(t) = Template::parse("fuzz", text) else { return };
    let data: Data = [("a", "x"), ("json", "{\"k\": [1, 2.5, null]}"), ("yaml", "a: [1, b]")]
        .into_iter()
        .collect();
    // small limits keep each run fast; the deadline is a backstop
    let limits = Limits {
        max_output_bytes: 1 << 16,
        max_steps: 20_000,
        max_value_bytes: 1 << 16,
        max_total_bytes: 1 << 22,
        max_values: 20_000,
        max_duration: std::time::Duration::from_secs(1),
    };
    for base in [Options::bitnami(), Options::eso()] {
        let _ = t.render(&data, &Options { limits, ..base });
    }
});
