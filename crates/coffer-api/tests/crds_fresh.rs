//! The CRD YAML checked into `crds/` must be what the Rust types generate.

use std::path::Path;

#[test]
fn checked_in_crds_match_the_rust_types() {
    let dir = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
    .join("../../crds");
    for (file, crd) in coffer_api::crds::all() {
        let want = coffer_api::crds::render(&crd).expect("renders");
        let have = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(
            have == want,
            "crds/{file} is stale: run `cargo run -p coffer-api --features crdgen --bin crdgen`"
        );
    }
}
