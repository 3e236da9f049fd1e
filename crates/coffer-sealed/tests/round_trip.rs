//! Seal → unseal round trips through the public API, in every scope and
//! form a user can write, and the errors a user sees when a SealedSecret
//! does not belong where it is.

mod common;

use std::collections::BTreeMap;

use base64::Engine as _;
use coffer_api::SealedSecret;
use coffer_crypto::Scope;
use coffer_sealed::{Error, inputs_hash, reencrypt, seal_secret, unseal, verify};
use common::{data_of, key, other_key, owned, secret};
use k8s_openapi::api::core::v1::Secret;

fn with_annotations(mut s: Secret, pairs: &[(&str, &str)]) -> Secret {
    s.metadata.annotations = Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    s
}

fn moved(sealed: &SealedSecret, namespace: &str, name: &str) -> SealedSecret {
    let mut moved = sealed.clone();
    moved.metadata.namespace = Some(namespace.into());
    moved.metadata.name = Some(name.into());
    moved
}

#[test]
fn strict_round_trip_restores_data_and_refuses_other_name_or_namespace() {
    let s = secret("prod", "db", &[("password", "hunter2"), ("user", "app")]);
    let sealed = seal_secret(&s, key().public_key(), None).expect("seal");
    assert_eq!(
        sealed.metadata.annotations, None,
        "strict needs no annotation"
    );

    let opened = unseal(&sealed, &[owned(key())]).expect("unseal");
    assert_eq!(
        data_of(&opened.secret),
        BTreeMap::from([
            ("password".into(), "hunter2".into()),
            ("user".into(), "app".into())
        ])
    );
    assert_eq!(opened.secret.metadata.name.as_deref(), Some("db"));
    assert_eq!(opened.secret.metadata.namespace.as_deref(), Some("prod"));
    assert_eq!(opened.key_fingerprints, vec![key().fingerprint()]);
    assert_eq!(opened.secret.metadata.owner_references, None);

    for (ns, name) in [("prod", "other"), ("staging", "db")] {
        let err = unseal(&moved(&sealed, ns, name), &[owned(key())]).expect_err("moved");
        let msg = err.to_string();
        assert!(matches!(err, Error::Unseal { .. }), "{err:?}");
        assert!(
            msg.contains(&format!("{ns}/{name}")),
            "names the object: {msg}"
        );
        assert!(msg.contains("\"password\""), "names the key: {msg}");
    }
}

#[test]
fn namespace_wide_round_trip_allows_renaming_but_not_moving() {
    let s = secret("prod", "db", &[("password", "hunter2")]);
    let sealed = seal_secret(&s, key().public_key(), Some(Scope::NamespaceWide)).expect("seal");
    let annotations = sealed.metadata.annotations.clone().expect("annotations");
    assert_eq!(
        annotations[coffer_crypto::NAMESPACE_WIDE_ANNOTATION],
        "true"
    );
    let template_annotations = sealed
        .spec
        .template
        .as_ref()
        .unwrap()
        .metadata
        .as_ref()
        .unwrap();
    assert_eq!(
        template_annotations.annotations.as_ref().unwrap()
            [coffer_crypto::NAMESPACE_WIDE_ANNOTATION],
        "true",
        "kubeseal writes the scope annotation into the template too"
    );

    let renamed = unseal(&moved(&sealed, "prod", "renamed"), &[owned(key())]).expect("renamed");
    assert_eq!(data_of(&renamed.secret)["password"], "hunter2");
    assert_eq!(renamed.secret.metadata.name.as_deref(), Some("renamed"));
    unseal(&moved(&sealed, "staging", "db"), &[owned(key())]).expect_err("other namespace");
}

#[test]
fn cluster_wide_round_trip_opens_anywhere_and_needs_no_namespace() {
    let mut s = secret("prod", "db", &[("password", "hunter2")]);
    s.metadata.namespace = None;
    seal_secret(&s, key().public_key(), None).expect_err("strict needs a namespace");
    let s = with_annotations(s, &[(coffer_crypto::CLUSTER_WIDE_ANNOTATION, "true")]);
    let sealed = seal_secret(&s, key().public_key(), None).expect("seal from annotation");
    assert_eq!(
        sealed.metadata.annotations.as_ref().unwrap()[coffer_crypto::CLUSTER_WIDE_ANNOTATION],
        "true"
    );
    let opened = unseal(&moved(&sealed, "anywhere", "else"), &[owned(key())]).expect("unseal");
    assert_eq!(data_of(&opened.secret)["password"], "hunter2");
}

#[test]
fn explicit_scope_replaces_the_secrets_own_scope_annotation_except_strict() {
    let s = with_annotations(
        secret("prod", "db", &[("a", "1")]),
        &[(coffer_crypto::CLUSTER_WIDE_ANNOTATION, "true")],
    );
    let sealed = seal_secret(&s, key().public_key(), Some(Scope::NamespaceWide)).expect("seal");
    let annotations = sealed.metadata.annotations.clone().unwrap();
    assert_eq!(annotations.len(), 1, "{annotations:?}");
    assert_eq!(
        annotations[coffer_crypto::NAMESPACE_WIDE_ANNOTATION],
        "true"
    );
    unseal(&moved(&sealed, "prod", "other"), &[owned(key())]).expect("namespace-wide now");
    unseal(&moved(&sealed, "else", "db"), &[owned(key())]).expect_err("not cluster-wide");

    // Matches kubeseal: strict is the default scope, so asking for it does
    // not override what the Secret declares.
    let sealed = seal_secret(&s, key().public_key(), Some(Scope::Strict)).expect("seal");
    unseal(&moved(&sealed, "anywhere", "else"), &[owned(key())]).expect("still cluster-wide");
}

#[test]
fn string_data_is_sealed_and_wins_over_data() {
    let mut s = secret("prod", "db", &[("shared", "from-data"), ("only-data", "d")]);
    s.string_data = Some(BTreeMap::from([
        ("shared".into(), "from-string-data".into()),
        ("only-string".into(), "s".into()),
    ]));
    let sealed = seal_secret(&s, key().public_key(), None).expect("seal");
    let opened = unseal(&sealed, &[owned(key())]).expect("unseal");
    assert_eq!(
        data_of(&opened.secret),
        BTreeMap::from([
            ("only-data".into(), "d".into()),
            ("only-string".into(), "s".into()),
            ("shared".into(), "from-string-data".into()),
        ])
    );
}

#[test]
fn template_metadata_keeps_labels_type_immutable_and_drops_server_fields() {
    let mut s = with_annotations(
        secret("prod", "db", &[("a", "1")]),
        &[
            (
                "kubectl.kubernetes.io/last-applied-configuration",
                "{\"data\":{\"a\":\"MQ==\"}}",
            ),
            ("team", "payments"),
        ],
    );
    s.metadata.labels = Some(BTreeMap::from([("app".into(), "web".into())]));
    s.metadata.uid = Some("0000-uid".into());
    s.metadata.resource_version = Some("42".into());
    s.type_ = Some("kubernetes.io/basic-auth".into());
    s.immutable = Some(true);

    let sealed = seal_secret(&s, key().public_key(), None).expect("seal");
    let template = sealed.spec.template.as_ref().expect("template");
    let meta = template.metadata.as_ref().expect("metadata");
    let annotations = meta.annotations.as_ref().expect("annotations");
    assert!(!annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
    assert_eq!(annotations["team"], "payments");
    assert_eq!(meta.labels.as_ref().unwrap()["app"], "web");
    assert_eq!(meta.uid, None);
    assert_eq!(meta.resource_version, None);
    assert_eq!(meta.name.as_deref(), Some("db"));
    assert_eq!(template.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert_eq!(template.immutable, Some(true));

    let opened = unseal(&sealed, &[owned(key())]).expect("unseal");
    assert_eq!(
        opened.secret.type_.as_deref(),
        Some("kubernetes.io/basic-auth")
    );
    assert_eq!(opened.secret.immutable, Some(true));
    assert_eq!(
        opened.secret.metadata.labels.as_ref().unwrap()["app"],
        "web"
    );
    assert_eq!(
        opened.secret.metadata.annotations.as_ref().unwrap()["team"],
        "payments"
    );
}

#[test]
fn template_data_renders_with_decrypted_values() {
    let s = secret("prod", "db", &[("user", "app"), ("password", "pw")]);
    let mut sealed = seal_secret(&s, key().public_key(), None).expect("seal");
    sealed.spec.template.as_mut().unwrap().data = Some(BTreeMap::from([
        (
            "dsn".into(),
            Some("postgres://{{ .user }}:{{ index . \"password\" }}@db".into()),
        ),
        ("upper".into(), Some("{{ .user | upper }}".into())),
    ]));
    let opened = unseal(&sealed, &[owned(key())]).expect("unseal");
    let data = data_of(&opened.secret);
    assert_eq!(data["dsn"], "postgres://app:pw@db");
    assert_eq!(data["upper"], "APP");
    assert_eq!(
        data["password"], "pw",
        "sealed keys stay alongside templates"
    );
}

#[test]
fn template_data_follows_bitnami_precedence_and_null_removal() {
    let s = secret("prod", "db", &[("user", "app"), ("password", "pw")]);
    let mut sealed = seal_secret(&s, key().public_key(), None).expect("seal");
    sealed.spec.template.as_mut().unwrap().data = Some(BTreeMap::from([
        ("host".into(), Some("db.prod".into())),
        (
            "dsn".into(),
            Some("{{ .user }}:{{ .password }}@{{ .host }}".into()),
        ),
        ("password".into(), Some("shadowed".into())),
        ("user".into(), None),
    ]));
    let opened = unseal(&sealed, &[owned(key())]).expect("unseal");
    let data = data_of(&opened.secret);
    assert_eq!(data["host"], "db.prod", "plaintext entries are kept");
    assert_eq!(data["dsn"], "app:pw@db.prod", "and visible to templates");
    assert_eq!(
        data["password"], "pw",
        "a sealed value wins over a template"
    );
    assert!(!data.contains_key("user"), "null removes a sealed key");
}

#[test]
fn broken_template_names_the_object_and_template_key() {
    let s = secret("prod", "db", &[("user", "app")]);
    let mut sealed = seal_secret(&s, key().public_key(), None).expect("seal");
    sealed.spec.template.as_mut().unwrap().data = Some(BTreeMap::from([(
        "dsn".into(),
        Some("{{ .user | nosuchfunc }}".into()),
    )]));
    let err = unseal(&sealed, &[owned(key())]).expect_err("bad template");
    let msg = err.to_string();
    assert!(matches!(err, Error::Template { .. }), "{err:?}");
    assert!(msg.contains("prod/db") && msg.contains("\"dsn\""), "{msg}");
}

/// A template that fails only when `password` equals `guess`: paired with
/// someone else's `encryptedData`, it would turn any "can you open this?"
/// answer into a test of the guess.
fn guessing(sealed: &SealedSecret, guess: &str) -> SealedSecret {
    let mut probe = sealed.clone();
    probe.spec.template.get_or_insert_default().data = Some(BTreeMap::from([(
        "probe".into(),
        Some(format!(
            "{{{{ if eq .password {guess:?} }}}}{{{{ index .password 99 }}}}{{{{ end }}}}"
        )),
    )]));
    probe
}

#[test]
fn verify_opens_every_value_without_rendering_the_template() {
    let s = secret("prod", "db", &[("password", "hunter2")]);
    let sealed = seal_secret(&s, key().public_key(), None).expect("seal");
    let keys = [owned(key())];
    // The probe works against unseal, which renders templates...
    assert!(unseal(&guessing(&sealed, "wrong"), &keys).is_ok());
    assert!(matches!(
        unseal(&guessing(&sealed, "hunter2"), &keys),
        Err(Error::Template { .. })
    ));
    // ...and tells verify's caller nothing.
    for guess in ["wrong", "hunter2"] {
        let used = verify(&guessing(&sealed, guess), &keys).expect("verify");
        assert_eq!(used, vec![key().fingerprint()], "guess {guess}");
    }
    // What verify is for: values that do not open are refused, by key.
    let err = verify(&moved(&sealed, "prod", "other"), &keys).expect_err("wrong name");
    assert!(
        matches!(&err, Error::Unseal { key, .. } if key == "password"),
        "{err:?}"
    );
    assert!(verify(&sealed, &[owned(other_key())]).is_err());
}

#[test]
fn whole_secret_form_opens_and_takes_name_from_the_sealed_secret() {
    let json = br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"ignored","namespace":"prod","labels":{"app":"web"}},"type":"Opaque","data":{"password":"aHVudGVyMg=="},"stringData":{"user":"app"}}"#;
    let blob = coffer_crypto::seal(key().public_key(), b"prod/db", json).expect("seal blob");
    let mut sealed = SealedSecret::new("db", Default::default());
    sealed.metadata.namespace = Some("prod".into());
    sealed.spec.data = Some(base64::engine::general_purpose::STANDARD.encode(blob));

    let opened = unseal(&sealed, &[owned(key())]).expect("unseal");
    assert_eq!(
        data_of(&opened.secret),
        BTreeMap::from([
            ("password".into(), "hunter2".into()),
            ("user".into(), "app".into())
        ])
    );
    assert_eq!(opened.secret.metadata.name.as_deref(), Some("db"));
    assert_eq!(
        opened.secret.metadata.labels.as_ref().unwrap()["app"],
        "web"
    );

    sealed.spec.encrypted_data.insert("x".into(), "AAAA".into());
    let err = unseal(&sealed, &[owned(key())]).expect_err("both forms");
    assert!(matches!(err, Error::BothDataForms { .. }), "{err:?}");
}

#[test]
fn tampered_value_is_refused_naming_object_and_key() {
    let s = secret("prod", "db", &[("password", "hunter2")]);
    let mut sealed = seal_secret(&s, key().public_key(), None).expect("seal");
    let value = sealed.spec.encrypted_data.get_mut("password").unwrap();
    let mut bytes = coffer_crypto::decode_base64(value).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    *value = base64::engine::general_purpose::STANDARD.encode(bytes);
    let err = unseal(&sealed, &[owned(key())]).expect_err("tampered");
    let msg = err.to_string();
    assert!(
        msg.contains("prod/db") && msg.contains("\"password\""),
        "{msg}"
    );
    assert!(
        matches!(
            &err,
            Error::Unseal {
                source: coffer_crypto::Error::Tampered { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn unseal_tries_every_key_and_reports_the_one_used() {
    let s = secret("prod", "db", &[("a", "1")]);
    let sealed = seal_secret(&s, other_key().public_key(), None).expect("seal");
    unseal(&sealed, &[owned(key())]).expect_err("wrong key");
    let opened = unseal(&sealed, &[owned(key()), owned(other_key())]).expect("older key");
    assert_eq!(opened.key_fingerprints, vec![other_key().fingerprint()]);
}

#[test]
fn reencrypt_moves_every_value_to_the_new_key_keeping_scope_and_template() {
    let s = secret("prod", "db", &[("a", "1"), ("b", "2")]);
    let mut sealed = seal_secret(&s, other_key().public_key(), Some(Scope::NamespaceWide)).unwrap();
    sealed.spec.template.as_mut().unwrap().data = Some(BTreeMap::from([(
        "c".into(),
        Some("{{ .a }}{{ .b }}".into()),
    )]));

    let rotated = reencrypt(&sealed, &[owned(other_key())], key().public_key()).expect("rotate");
    assert_eq!(rotated.metadata, sealed.metadata);
    assert_eq!(rotated.spec.template, sealed.spec.template);
    assert_ne!(rotated.spec.encrypted_data, sealed.spec.encrypted_data);
    let opened = unseal(&moved(&rotated, "prod", "renamed"), &[owned(key())]).expect("new key");
    assert_eq!(data_of(&opened.secret)["c"], "12");
    assert_eq!(opened.key_fingerprints, vec![key().fingerprint()]);

    let err = reencrypt(&sealed, &[owned(key())], key().public_key()).expect_err("no key opens");
    assert!(err.to_string().contains("prod/db"), "{err}");
}

#[test]
fn inputs_hash_is_stable_and_changes_with_every_input() {
    let s = secret("prod", "db", &[("a", "1")]);
    let sealed = seal_secret(&s, key().public_key(), None).unwrap();
    let base = inputs_hash(&sealed);
    assert!(
        base.starts_with("sha256:") && base.len() == 7 + 64,
        "{base}"
    );
    assert_eq!(inputs_hash(&sealed.clone()), base);

    let mut with_status = sealed.clone();
    with_status.status = Some(Default::default());
    with_status.metadata.resource_version = Some("7".into());
    assert_eq!(
        inputs_hash(&with_status),
        base,
        "status and server fields do not count"
    );

    let mut changed_value = sealed.clone();
    changed_value
        .spec
        .encrypted_data
        .insert("a".into(), "AAAA".into());
    let mut changed_scope = sealed.clone();
    changed_scope.metadata.annotations = Some(BTreeMap::from([(
        coffer_crypto::CLUSTER_WIDE_ANNOTATION.to_string(),
        "true".to_string(),
    )]));
    let mut changed_template = sealed.clone();
    changed_template.spec.template.as_mut().unwrap().type_ = Some("x".into());
    for other in [
        changed_value,
        changed_scope,
        changed_template,
        moved(&sealed, "prod", "db2"),
    ] {
        assert_ne!(inputs_hash(&other), base);
    }
}

#[test]
fn sealing_requires_a_name() {
    let mut s = secret("prod", "db", &[("a", "1")]);
    s.metadata.name = None;
    let err = seal_secret(&s, key().public_key(), None).expect_err("no name");
    assert!(matches!(err, Error::SecretWithoutName), "{err:?}");
}
