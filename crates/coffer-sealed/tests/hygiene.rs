//! No error message or `Debug` output of this crate shows a plaintext value,
//! whatever goes wrong.

mod common;

use std::collections::BTreeMap;

use base64::Engine as _;
use coffer_api::SealedSecret;
use coffer_sealed::{seal_secret, unseal};
use common::{key, other_key, owned, secret};

const PLAINTEXT: &str = "correct-horse-battery-staple";

fn assert_clean(text: &str) {
    assert!(!text.contains(PLAINTEXT), "plaintext leaked: {text}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(PLAINTEXT);
    assert!(!text.contains(&b64), "base64 plaintext leaked: {text}");
}

fn check_error(err: &coffer_sealed::Error) {
    assert_clean(&err.to_string());
    assert_clean(&format!("{err:?}"));
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        assert_clean(&s.to_string());
        assert_clean(&format!("{s:?}"));
        source = s.source();
    }
}

#[test]
fn unsealed_debug_shows_keys_but_not_values() {
    let s = secret("prod", "db", &[("password", PLAINTEXT)]);
    let sealed = seal_secret(&s, key().public_key(), None).unwrap();
    let opened = unseal(&sealed, &[owned(key())]).unwrap();
    let debug = format!("{opened:?}");
    assert!(
        debug.contains("password") && debug.contains("prod/db"),
        "{debug}"
    );
    assert_clean(&debug);
    assert_clean(&format!("{sealed:?}"));
}

#[test]
fn no_error_contains_plaintext() {
    let s = secret("prod", "db", &[("password", PLAINTEXT)]);
    let sealed = seal_secret(&s, key().public_key(), None).unwrap();

    // Wrong key.
    check_error(&unseal(&sealed, &[owned(other_key())]).unwrap_err());

    // A template that fails while printing the value.
    let mut bad_template = sealed.clone();
    bad_template.spec.template.as_mut().unwrap().data = Some(BTreeMap::from([
        (
            "a".into(),
            Some("{{ .password | atoi | printf \"%s\" | nosuch }}".into()),
        ),
        ("b".into(), Some("{{ index .password 99 }}".into())),
        (
            "c".into(),
            Some("{{ fromJson .password }}{{ .password.x }}".into()),
        ),
    ]));
    check_error(&unseal(&bad_template, &[owned(key())]).unwrap_err());
    for (k, t) in [
        ("b", "{{ index .password 99 }}"),
        ("c", "{{ .password.x }}"),
        ("d", "{{ b64dec .password }}"),
        (
            "e",
            "{{ int .password | add 1 | printf \"%q\" | substr 1 2 | atoi | div }}",
        ),
    ] {
        let mut one = sealed.clone();
        one.spec.template.as_mut().unwrap().data =
            Some(BTreeMap::from([(k.into(), Some(t.into()))]));
        if let Err(err) = unseal(&one, &[owned(key())]) {
            check_error(&err);
        }
    }

    // Whole-secret form whose plaintext is not JSON, or JSON of the wrong shape.
    for body in [
        PLAINTEXT.to_string(),
        format!("{{\"data\": \"{PLAINTEXT}\"}}"),
        format!("{{\"metadata\": {{\"name\": 5}}, \"x\": \"{PLAINTEXT}\"}}"),
        format!("{{\"stringData\": {{\"k\": [\"{PLAINTEXT}\"]}}}}"),
    ] {
        let blob = coffer_crypto::seal(key().public_key(), b"prod/db", body.as_bytes()).unwrap();
        let mut whole = SealedSecret::new("db", Default::default());
        whole.metadata.namespace = Some("prod".into());
        whole.spec.data = Some(base64::engine::general_purpose::STANDARD.encode(blob));
        let err = unseal(&whole, &[owned(key())]).expect_err("not a Secret");
        check_error(&err);
    }
}
