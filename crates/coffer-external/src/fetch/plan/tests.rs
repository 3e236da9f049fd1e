//! Which reads a spec makes, and which failed reads skip a field (the
//! Secret may then lose keys or be deleted) rather than fail the sync.

use std::time::Duration;

use coffer_api::ExternalSecret;

use super::*;

fn spec(spec: serde_json::Value) -> ExternalSecretSpec {
    let es: ExternalSecret = serde_json::from_value(serde_json::json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "app", "namespace": "team"},
        "spec": spec,
    }))
    .unwrap();
    es.spec
}

fn field_refused(spec_json: serde_json::Value) -> String {
    match reads(&spec(spec_json)) {
        Ok(_) => panic!("refused"),
        Err(Error::Unsupported { field, .. }) => field,
        Err(Error::InvalidSpec(message)) => message,
        Err(other) => panic!("unexpected {other}"),
    }
}

#[test]
fn what_coffer_does_not_do_is_refused_naming_the_field() {
    let store = serde_json::json!({"name": "vault"});
    #[rustfmt::skip]
    let cases = [
        (serde_json::json!({"secretStoreRef": store, "dataFrom": [
            {"extract": {"key": "a"}},
            {"extract": {"key": "b"}, "rewrite": [{"regexp": {"source": "x", "target": "y"}}, {"merge": {}}]}
        ]}), "spec.dataFrom[1].rewrite[1].merge"),
        (serde_json::json!({"secretStoreRef": store, "dataFrom": [
            {"sourceRef": {"generatorRef": {"kind": "Password", "name": "p"}}}
        ]}), "spec.dataFrom[0].sourceRef.generatorRef"),
        (serde_json::json!({"secretStoreRef": store, "data": [
            {"secretKey": "k", "remoteRef": {"key": "a"}},
            {"secretKey": "p", "remoteRef": {"key": "b"}, "sourceRef": {"storeRef": store, "generatorRef": {"kind": "Password", "name": "p"}}}
        ]}), "spec.data[1].sourceRef.generatorRef"),
        (serde_json::json!({"secretStoreRef": store, "dataFrom": [
            {"extract": {"key": "a"}, "find": {"path": "b"}}
        ]}), "spec.dataFrom[0]: exactly one of extract or find must be set"),
        (serde_json::json!({"secretStoreRef": store, "dataFrom": [{}]}), "spec.dataFrom[0]: exactly one of extract or find must be set"),
    ];
    for (spec_json, field) in cases {
        assert_eq!(field_refused(spec_json), field);
    }
}

#[test]
fn data_reads_are_grouped_by_store_and_data_from_keeps_spec_order() {
    let spec = spec(serde_json::json!({
        "secretStoreRef": {"name": "vault"},
        "dataFrom": [
            {"find": {"path": "app/"}},
            {"extract": {"key": "shared"}, "sourceRef": {"storeRef": {"name": "aws", "kind": "ClusterSecretStore"}}}
        ],
        "data": [
            {"secretKey": "a", "remoteRef": {"key": "a"}},
            {"secretKey": "b", "remoteRef": {"key": "b"}, "sourceRef": {"storeRef": {"name": "aws", "kind": "ClusterSecretStore"}}},
            {"secretKey": "c", "remoteRef": {"key": "c"}}
        ]
    }));
    let reads = reads(&spec).unwrap();
    let from: Vec<(usize, &str, bool)> = reads
        .data_from
        .iter()
        .map(|f| (f.index, f.store.name(), matches!(f.read, FromRead::Find(_))))
        .collect();
    assert_eq!(from, [(0, "vault", true), (1, "aws", false)]);
    let batches: Vec<(&str, &str, &[usize])> = reads
        .data
        .iter()
        .map(|((kind, name), (_, indices))| (kind.as_str(), name.as_str(), indices.as_slice()))
        .collect();
    assert_eq!(
        batches,
        [
            ("ClusterSecretStore", "aws", &[1][..]),
            ("SecretStore", "vault", &[0, 2][..])
        ]
    );
    let order: Vec<&str> = reads.data_stores.iter().map(|s| s.name()).collect();
    assert_eq!(order, ["vault", "aws", "vault"]);
}

fn not_found() -> ProviderError {
    ProviderError::NotFound {
        store: "vault".into(),
        key: "db".into(),
    }
}

fn unconfirmed() -> ProviderError {
    ProviderError::NotFoundUnconfirmed {
        store: "vault".into(),
        key: "db".into(),
        reason: "404 from a proxy".into(),
    }
}

fn denied() -> ProviderError {
    ProviderError::AccessDenied {
        store: "vault".into(),
        key: Some("db".into()),
        reason: "permission denied".into(),
    }
}

/// What one `data[]` answer does under a deletion policy.
#[derive(Debug, PartialEq)]
enum Effect {
    /// The key is set.
    Set,
    /// The field is skipped as missing (the key goes from the Secret).
    Skipped,
    /// The sync fails with this error; the Secret is kept.
    Fails(&'static str),
}

fn effect(retain: bool, answer: coffer_providers::Result<&str>) -> Effect {
    let now = Instant::now();
    let mut collected = Collected::new(retain, now);
    let item: ExternalSecretData = serde_json::from_value(
        serde_json::json!({"secretKey": "password", "remoteRef": {"key": "db"}}),
    )
    .unwrap();
    let answer = answer.map(|v| Fetched {
        value: SecretValue::new(v.as_bytes().to_vec()),
        fetched_at: now,
    });
    match collected.data(0, &item, answer) {
        Err(e) => Effect::Fails(e.metric_label()),
        Ok(()) if collected.data.contains_key("password") => Effect::Set,
        Ok(()) => {
            assert_eq!(collected.missing, ["spec.data[0] (key=db)"]);
            Effect::Skipped
        }
    }
}

#[test]
fn only_a_confirmed_missing_secret_is_skipped_and_never_under_retain() {
    use Effect::*;
    #[rustfmt::skip]
    let cases: [(&str, bool, coffer_providers::Result<&str>, Effect); 8] = [
        ("value, Delete/Merge", false, Ok("s3cret"), Set),
        ("value, Retain", true, Ok("s3cret"), Set),
        ("confirmed missing, Delete/Merge", false, Err(not_found()), Skipped),
        ("confirmed missing, Retain", true, Err(not_found()), Fails("provider")),
        ("unconfirmed 404, Delete/Merge", false, Err(unconfirmed()), Fails("provider")),
        ("unconfirmed 404, Retain", true, Err(unconfirmed()), Fails("provider")),
        ("access denied, Delete/Merge", false, Err(denied()), Fails("provider")),
        ("access denied, Retain", true, Err(denied()), Fails("provider")),
    ];
    for (case, retain, answer, expect) in cases {
        assert_eq!(effect(retain, answer), expect, "{case}");
    }
}

#[test]
fn data_overrides_data_from_and_the_oldest_read_is_kept() {
    let now = Instant::now();
    let earlier = now - Duration::from_secs(30);
    let mut collected = Collected::new(false, now);
    let from: ExternalSecretDataFromRemoteRef =
        serde_json::from_value(serde_json::json!({"extract": {"key": "app"}})).unwrap();
    let map = SecretData::from([
        (
            "password".to_owned(),
            SecretValue::new(b"from-map".to_vec()),
        ),
        ("user".to_owned(), SecretValue::new(b"app".to_vec())),
    ]);
    collected
        .data_from(
            0,
            &from,
            Ok(Fetched {
                value: map,
                fetched_at: earlier,
            }),
        )
        .unwrap();
    let item: ExternalSecretData = serde_json::from_value(
        serde_json::json!({"secretKey": "password", "remoteRef": {"key": "db"}}),
    )
    .unwrap();
    let value = SecretValue::new(b"from-data".to_vec());
    collected
        .data(
            0,
            &item,
            Ok(Fetched {
                value,
                fetched_at: now,
            }),
        )
        .unwrap();
    assert_eq!(collected.data["password"].expose(), b"from-data");
    assert_eq!(collected.data["user"].expose(), b"app");
    assert_eq!(collected.oldest, earlier);
    let err = collected
        .data_from(1, &from, Err(unconfirmed()))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("error processing spec.dataFrom[1].extract: "),
        "{err}"
    );
    collected.data_from(2, &from, Err(not_found())).unwrap();
    assert_eq!(collected.missing, ["spec.dataFrom[2]"]);
}
