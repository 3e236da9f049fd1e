//! Every shared SOPS vector (copied into tests/data) decrypts to its
//! documented plaintext, and tampering with any part of it is detected.

use std::path::PathBuf;

use coffer_sops::{
    Error, Format, Identities, PathStep, Result, Session, Value, data_key, get_path,
    parse_tree_path,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn identities(key_file: &str) -> Identities {
    let mut ids = Identities::empty();
    let text = std::fs::read_to_string(data(key_file)).unwrap();
    ids.add_age_keys(&text, key_file, false).unwrap();
    ids
}

fn decrypt_bytes(bytes: &[u8], fmt: Format, key_file: &str) -> Result<Vec<coffer_sops::Branch>> {
    let (mut docs, meta) = coffer_sops::load_encrypted(bytes, fmt)?;
    let ids = identities(key_file);
    let key = data_key(&meta, &ids)?;
    Session::new(key).decrypt(&mut docs, &meta, false)?;
    Ok(docs)
}

fn decrypt(name: &str, fmt: Format, key_file: &str) -> Result<Vec<coffer_sops::Branch>> {
    decrypt_bytes(&std::fs::read(data(name)).unwrap(), fmt, key_file)
}

fn value_at(docs: &[coffer_sops::Branch], path: &str) -> Value {
    get_path(&docs[0], &parse_tree_path(path).unwrap())
        .unwrap()
        .clone()
}

#[test]
fn age_yaml_vector_decrypts_to_documented_value() {
    let docs = decrypt("age.yaml", Format::Yaml, "age-key.txt").unwrap();
    assert_eq!(
        value_at(&docs, r#"["stringData"]["key"]"#),
        Value::Str("value".into())
    );
    assert_eq!(
        value_at(&docs, r#"["metadata"]["name"]"#),
        Value::Str("age".into())
    );
}

#[test]
fn global_secret_vector_without_empty_key_lists_decrypts() {
    let docs = decrypt("global-secret.yaml", Format::Yaml, "age-global-key.txt").unwrap();
    assert_eq!(
        value_at(&docs, r#"["stringData"]["key"]"#),
        Value::Str("global-value".into())
    );
}

#[test]
fn dotenv_vector_decrypts() {
    let docs = decrypt("env.env", Format::Dotenv, "age-key.txt").unwrap();
    assert_eq!(value_at(&docs, r#"["key"]"#), Value::Str("value".into()));
    assert_eq!(
        coffer_sops::emit_plain(&docs, Format::Dotenv).unwrap(),
        b"key=value\n"
    );
}

#[test]
fn binary_vector_decrypts_to_raw_bytes() {
    let docs = decrypt("file.txt", Format::Binary, "age-key.txt").unwrap();
    assert_eq!(
        coffer_sops::emit_plain(&docs, Format::Binary).unwrap(),
        b"value"
    );
}

#[test]
fn sops_document_nested_in_secret_data_decrypts() {
    let docs = coffer_sops::load_plain(
        &std::fs::read(data("inside-secret.yaml")).unwrap(),
        Format::Yaml,
    )
    .unwrap();
    let Value::Str(b64) = value_at(&docs, r#"["data"]["key"]"#) else {
        panic!("data.key is not a string")
    };
    use base64::Engine as _;
    let inner = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let inner_docs = decrypt_bytes(&inner, Format::Json, "age-key.txt").unwrap();
    assert_eq!(
        value_at(&inner_docs, r#"["data"]"#),
        Value::Str("value".into())
    );
}

#[test]
fn post_quantum_vector_decrypts_to_its_documented_plaintext() {
    let docs = decrypt("age-pq.yaml", Format::Yaml, "age-pq-key.txt").unwrap();
    assert_eq!(
        value_at(&docs, r#"["stringData"]["key"]"#),
        Value::Str("value".into())
    );
}

#[test]
fn post_quantum_vector_does_not_open_with_a_classical_identity() {
    let err = decrypt("age-pq.yaml", Format::Yaml, "age-key.txt").unwrap_err();
    assert!(matches!(err, Error::NoDataKey(_)), "{err}");
    assert!(!err.to_string().contains("AGE-SECRET-KEY"), "{err}");
}

#[test]
fn wrong_identity_reports_what_was_tried_without_key_material() {
    let err = decrypt("age.yaml", Format::Yaml, "age-global-key.txt").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NoDataKey(_)));
    assert!(
        msg.contains("age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29"),
        "{msg}"
    );
    assert!(!msg.contains("AGE-SECRET-KEY"), "{msg}");
}

fn tampered(original: &str, from: &str, to: &str) -> Vec<u8> {
    assert!(original.contains(from), "{from} not in vector");
    original.replacen(from, to, 1).into_bytes()
}

#[test]
fn renamed_key_is_detected() {
    let src = std::fs::read_to_string(data("age.yaml")).unwrap();
    let err = decrypt_bytes(
        &tampered(&src, "  key: ENC", "  other: ENC"),
        Format::Yaml,
        "age-key.txt",
    )
    .unwrap_err();
    assert!(matches!(err, Error::ValueDecrypt { .. }), "{err}");
}

#[test]
fn modified_value_is_detected() {
    let src = std::fs::read_to_string(data("age.yaml")).unwrap();
    let err = decrypt_bytes(
        &tampered(&src, "data:mHeXsmQ=", "data:nHeXsmQ="),
        Format::Yaml,
        "age-key.txt",
    )
    .unwrap_err();
    assert!(matches!(err, Error::ValueDecrypt { .. }), "{err}");
}

#[test]
fn modified_clear_value_fails_the_mac() {
    let src = std::fs::read_to_string(data("age.yaml")).unwrap();
    let err = decrypt_bytes(
        &tampered(&src, "name: age", "name: evil"),
        Format::Yaml,
        "age-key.txt",
    )
    .unwrap_err();
    assert!(matches!(err, Error::MacMismatch), "{err}");
}

#[test]
fn modified_mac_or_timestamp_is_detected() {
    let src = std::fs::read_to_string(data("age.yaml")).unwrap();
    let err = decrypt_bytes(
        &tampered(&src, "data:vmrF", "data:wmrF"),
        Format::Yaml,
        "age-key.txt",
    )
    .unwrap_err();
    assert!(matches!(err, Error::MacMismatch), "{err}");
    let err = decrypt_bytes(
        &tampered(&src, "13:33:42Z", "13:33:43Z"),
        Format::Yaml,
        "age-key.txt",
    )
    .unwrap_err();
    assert!(matches!(err, Error::MacMismatch), "{err}");
}

#[test]
fn ignoring_the_mac_still_decrypts_a_modified_file() {
    let src = std::fs::read_to_string(data("age.yaml")).unwrap();
    let (mut docs, meta) =
        coffer_sops::load_encrypted(&tampered(&src, "name: age", "name: evil"), Format::Yaml)
            .unwrap();
    let key = data_key(&meta, &identities("age-key.txt")).unwrap();
    Session::new(key).decrypt(&mut docs, &meta, true).unwrap();
    assert_eq!(
        get_path(
            &docs[0],
            &[
                PathStep::Key("stringData".into()),
                PathStep::Key("key".into())
            ]
        )
        .unwrap(),
        &Value::Str("value".into())
    );
}
