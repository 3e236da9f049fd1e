//! `coffer sops encrypt` then `decrypt` gives back the plaintext, for every
//! format and value type, with comments, order and multiple documents kept.

mod common;

use common::{RECIPIENT, Sandbox, ok};

const YAML: &str = "\
# top comment
apiVersion: v1
kind: Secret # inline
stringData:
    # head of key
    key: value
    \"n\": 12
    f: 1.5
    b: true
    d: 2024-01-02T00:00:00Z
    e: \"\"
    z: null
    quoted: \"12\"
    list:
        - a
        - 3
        # in list
        - x: \"y\"
    multi: |
        line1
        line2
---
second: doc
";

fn round_trip(name: &str, plain: &str) -> (String, String) {
    let sb = Sandbox::new();
    sb.write(name, plain);
    let enc = ok(sb.coffer(&["sops", "encrypt", "--age", RECIPIENT, name]));
    sb.write(&format!("enc-{name}"), &enc);
    let dec = ok(sb.coffer(&["sops", "decrypt", &format!("enc-{name}")]));
    (enc, dec)
}

#[test]
fn yaml_round_trip_keeps_types_comments_order_and_documents() {
    let (enc, dec) = round_trip("s.yaml", YAML);
    assert!(!enc.contains("value") && !enc.contains("line1") && !enc.contains("top comment"));
    for t in [
        "type:str",
        "type:int",
        "type:float",
        "type:bool",
        "type:time",
        "type:comment",
    ] {
        assert!(enc.contains(t), "{t} missing in\n{enc}");
    }
    assert!(
        enc.contains("    e: \"\"\n") && enc.contains("    z: null\n"),
        "empty and null stay as they are"
    );
    // Matches sops: an inline comment comes back above its key.
    let expected = YAML.replace("kind: Secret # inline\n", "# inline\nkind: Secret\n");
    assert_eq!(dec, expected);
}

#[test]
fn json_round_trip_keeps_order_and_types() {
    let plain = "{\n\t\"z\": \"last-first\",\n\t\"a\": {\n\t\t\"n\": 1,\n\t\t\"f\": 2.5,\n\t\t\"b\": false,\n\t\t\"l\": [\n\t\t\t\"x\",\n\t\t\tnull\n\t\t]\n\t}\n}\n";
    let (enc, dec) = round_trip("s.json", plain);
    assert!(enc.contains("\"sops\": {") && !enc.contains("last-first"));
    assert_eq!(dec, plain);
}

#[test]
fn dotenv_round_trip_keeps_comments_and_newlines() {
    let plain = "#comment\nA=1\nB=multi\\nline\n";
    let (enc, dec) = round_trip("s.env", plain);
    assert!(enc.contains("sops_mac=ENC[") && enc.contains("sops_age__list_0__map_recipient="));
    assert_eq!(dec, plain);
}

#[test]
fn ini_round_trip_keeps_sections() {
    let plain = "[db]\nuser = admin\npass = secret\n\n[other]\nk = v\n";
    let (enc, dec) = round_trip("s.ini", plain);
    assert!(enc.contains("[sops]") && !enc.contains("admin"));
    assert_eq!(dec, plain);
}

#[test]
fn binary_round_trip_keeps_arbitrary_bytes() {
    let sb = Sandbox::new();
    let bytes: Vec<u8> = (0u8..=255).collect();
    sb.write("blob.bin", &bytes);
    let enc = ok(sb.coffer(&["sops", "encrypt", "--age", RECIPIENT, "blob.bin"]));
    assert!(enc.starts_with("{\n\t\"data\": \"ENC["));
    sb.write("blob.enc", &enc);
    let out = sb.coffer(&["sops", "decrypt", "--input-type", "binary", "blob.enc"]);
    assert!(out.status.success());
    assert_eq!(out.stdout, bytes);
}

#[test]
fn output_type_converts_between_formats() {
    let sb = Sandbox::new();
    sb.write("s.yaml", "a: 1\nb: [x]\n");
    let enc = ok(sb.coffer(&["sops", "encrypt", "--age", RECIPIENT, "s.yaml"]));
    sb.write("e.yaml", &enc);
    let json = ok(sb.coffer(&["sops", "decrypt", "--output-type", "json", "e.yaml"]));
    assert_eq!(json, "{\n\t\"a\": 1,\n\t\"b\": [\n\t\t\"x\"\n\t]\n}\n");
}
