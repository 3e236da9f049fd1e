//! Fuzzes reading `.sops.yaml`: any text gives a creation rule, none, or an
//! error that names the config file; never a panic.
#![no_main]

use std::path::Path;

use coffer_sops::fuzzing::creation_rule_in;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = Path::new("/repo/.sops.yaml");
    for file in ["/repo/prod/app.yaml", "/repo/dev/.env", "/elsewhere/x.json"] {
        match creation_rule_in(text, config, Path::new(file)) {
            Ok(Some(rule)) => assert!(
                rule.key_groups
                    .iter()
                    .all(|g| g.iter().all(|k| !k.is_empty()))
            ),
            Ok(None) => {}
            Err(e) => {
                let message = e.to_string();
                assert!(
                    message.contains("/repo/.sops.yaml"),
                    "error names the config: {message}"
                );
            }
        }
    }
});
