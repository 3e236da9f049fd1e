//! ESO manifests (written from ESO's documented schema, under
//! `tests/data/eso/`) parse into Coffer's `external-secrets.io/v1` types with
//! every field where the controller will look for it, defaults come out as
//! ESO's, and Go duration strings parse as Go parses them.

use std::time::Duration;

use coffer_api::external::{
    AwsService, CaProviderType, ClusterExternalSecret, ClusterSecretStore, ConversionStrategy,
    CreationPolicy, DecodingStrategy, DeletionPolicy, DurationError, ExternalSecret,
    ExternalSecretSpec, MetadataPolicy, NullBytePolicy, ProviderKind, RefreshPolicy, SecretStore,
    SecretStoreProvider, StoreKind, TemplateMergePolicy, TemplateScope, TemplateTarget,
    VaultKvVersion, format_go_duration, parse_go_duration,
};
use proptest::prelude::*;

fn example<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let path = format!(
        "{}/tests/data/eso/{file}",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn aws(store: &SecretStore) -> &coffer_api::external::AwsProvider {
    match store.spec.provider.kind() {
        ProviderKind::Aws(aws) => aws,
        other => panic!("expected aws, got {other:?}"),
    }
}

fn vault(provider: &SecretStoreProvider) -> &coffer_api::external::VaultProvider {
    match provider.kind() {
        ProviderKind::Vault(vault) => vault,
        other => panic!("expected vault, got {other:?}"),
    }
}

#[test]
fn aws_store_with_secret_ref_auth_keeps_credentials_refs_and_role_chain() {
    let store: SecretStore = example("secretstore-aws-secretref.yaml");
    let aws = aws(&store);
    assert_eq!(aws.service, AwsService::SecretsManager);
    assert_eq!(aws.region, "eu-west-3");
    assert_eq!(
        aws.role.as_deref(),
        Some("arn:aws:iam::210987654321:role/payments-reader")
    );
    assert_eq!(aws.additional_roles, ["arn:aws:iam::210987654321:role/hop"]);
    assert_eq!(aws.external_id.as_deref(), Some("payments-ext-7"));
    assert_eq!(aws.prefix.as_deref(), Some("payments/"));
    assert_eq!(
        (
            aws.session_tags[0].key.as_str(),
            aws.session_tags[0].value.as_str()
        ),
        ("team", "payments")
    );
    assert_eq!(aws.transitive_tag_keys, ["team"]);
    let sm = aws.secrets_manager.as_ref().expect("secretsManager");
    assert_eq!(sm.force_delete_without_recovery, Some(true));
    let creds = aws.auth.secret_ref.as_ref().expect("secretRef");
    assert_eq!(creds.access_key_id.name(), "payments-aws-creds");
    assert_eq!(creds.access_key_id.key.as_deref(), Some("id"));
    assert_eq!(creds.secret_access_key.key.as_deref(), Some("secret"));
    assert_eq!(
        creds.session_token.as_ref().and_then(|s| s.key.as_deref()),
        Some("session")
    );
    assert!(aws.auth.jwt.is_none());

    let retry = store.spec.retry_settings.as_ref().expect("retrySettings");
    assert_eq!(retry.max_retries, Some(4));
    assert_eq!(retry.retry_interval(), Ok(Some(Duration::from_secs(20))));
    assert_eq!(
        store.spec.refresh_interval(),
        Ok(Some(Duration::from_secs(300)))
    );
}

#[test]
fn aws_store_with_jwt_auth_names_the_service_account_and_audience() {
    let store: SecretStore = example("secretstore-aws-jwt.yaml");
    let aws = aws(&store);
    assert_eq!(aws.service, AwsService::ParameterStore);
    assert_eq!(aws.region, "ap-southeast-2");
    let sa = aws
        .auth
        .jwt
        .as_ref()
        .and_then(|j| j.service_account_ref.as_ref())
        .expect("jwt sa");
    assert_eq!(sa.name, "inventory-reader");
    assert_eq!(sa.audiences, ["sts.amazonaws.com"]);
    assert!(aws.auth.secret_ref.is_none());
    assert_eq!(
        store.spec.refresh_interval(),
        Ok(None),
        "unset: the controller's default"
    );
}

#[test]
fn store_refresh_interval_is_seconds_or_a_go_duration() {
    let store: SecretStore = example("secretstore-aws-jwt.yaml");
    let with = |interval: serde_json::Value| {
        let mut spec = serde_json::to_value(&store.spec).unwrap();
        spec["refreshInterval"] = interval;
        serde_json::from_value::<coffer_api::SecretStoreSpec>(spec)
            .unwrap()
            .refresh_interval()
    };
    assert_eq!(
        with(serde_json::json!(90)),
        Ok(Some(Duration::from_secs(90)))
    );
    assert_eq!(
        with(serde_json::json!("1h30m")),
        Ok(Some(Duration::from_secs(5400)))
    );
    assert_eq!(with(serde_json::json!(0)), Ok(None));
    assert_eq!(with(serde_json::json!("0s")), Ok(None));
    assert_eq!(with(serde_json::json!("")), Ok(None));
    let err = with(serde_json::json!("soon")).unwrap_err();
    assert!(err.to_string().contains("\"soon\""), "{err}");
}

#[test]
fn vault_store_with_token_auth_decodes_the_ca_bundle() {
    let store: SecretStore = example("secretstore-vault-token.yaml");
    let vault = vault(&store.spec.provider);
    assert_eq!(vault.server, "https://bao.internal.example:8200");
    assert_eq!(vault.path.as_deref(), Some("kv"));
    assert_eq!(vault.version(), VaultKvVersion::V2);
    assert_eq!(vault.namespace.as_deref(), Some("team-a"));
    assert_eq!(vault.read_your_writes, Some(true));
    assert_eq!(vault.forward_inconsistent, Some(true));
    let ca = vault.ca_bundle.as_ref().expect("caBundle");
    assert!(
        ca.0.starts_with(b"-----BEGIN CERTIFICATE-----"),
        "base64 decoded to PEM"
    );
    let auth = vault.auth.as_ref().expect("auth");
    let token = auth.token_secret_ref.as_ref().expect("tokenSecretRef");
    assert_eq!(
        (token.name(), token.key.as_deref()),
        ("bao-token", Some("token"))
    );
    assert_eq!(auth.unsupported_method(), None);
}

#[test]
fn vault_store_with_approle_defaults_the_mount_path() {
    let store: SecretStore = example("secretstore-vault-approle.yaml");
    let vault = vault(&store.spec.provider);
    assert_eq!(vault.version(), VaultKvVersion::V1);
    let ca = vault.ca_provider.as_ref().expect("caProvider");
    assert_eq!(
        (ca.type_, ca.name.as_str(), ca.key.as_deref()),
        (CaProviderType::ConfigMap, "bao-ca", Some("ca.pem"))
    );
    let approle = vault
        .auth
        .as_ref()
        .and_then(|a| a.app_role.as_ref())
        .expect("appRole");
    assert_eq!(approle.path, "approle", "ESO's default mount path");
    assert_eq!(
        approle.role_id.as_deref(),
        Some("5c1f0a4e-2b7d-4c1e-9a55-3f0d2e6b8c01")
    );
    assert_eq!(approle.secret_ref.name(), "bao-approle");
    assert_eq!(approle.secret_ref.key.as_deref(), Some("secret-id"));
}

#[test]
fn vault_store_with_kubernetes_auth_keeps_mount_path_role_and_service_account() {
    let store: SecretStore = example("secretstore-vault-kubernetes.yaml");
    let vault = vault(&store.spec.provider);
    assert_eq!(vault.version, None);
    assert_eq!(vault.version(), VaultKvVersion::V2, "v2 when absent");
    let k8s = vault
        .auth
        .as_ref()
        .and_then(|a| a.kubernetes.as_ref())
        .expect("kubernetes");
    assert_eq!(k8s.mount_path, "k8s-east");
    assert_eq!(k8s.role, "orders-reader");
    assert_eq!(
        k8s.service_account_ref.as_ref().map(|s| s.name.as_str()),
        Some("orders")
    );
}

#[test]
fn vault_store_with_jwt_auth_keeps_the_requested_token_settings() {
    let store: SecretStore = example("secretstore-vault-jwt.yaml");
    let jwt = vault(&store.spec.provider)
        .auth
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .expect("jwt");
    assert_eq!(jwt.path, "oidc-k8s");
    assert_eq!(jwt.role.as_deref(), Some("shipping"));
    let token = jwt
        .kubernetes_service_account_token
        .as_ref()
        .expect("kubernetesServiceAccountToken");
    assert_eq!(token.service_account_ref.name, "shipping");
    assert_eq!(token.service_account_ref.audiences, ["vault.example"]);
    assert_eq!(token.expiration_seconds, Some(900));
}

#[test]
fn cluster_secret_store_keeps_namespace_conditions_and_cross_namespace_refs() {
    let store: ClusterSecretStore = example("clustersecretstore-vault.yaml");
    assert_eq!(store.metadata.name.as_deref(), Some("shared-bao"));
    assert_eq!(store.spec.controller.as_deref(), Some("coffer"));
    let approle = vault(&store.spec.provider)
        .auth
        .as_ref()
        .and_then(|a| a.app_role.as_ref())
        .expect("appRole");
    assert_eq!(approle.path, "approle-shared");
    assert_eq!(
        approle.secret_ref.namespace.as_deref(),
        Some("secrets-admin")
    );
    assert_eq!(
        approle.role_ref.as_ref().and_then(|r| r.key.as_deref()),
        Some("role-id")
    );
    let conditions = &store.spec.conditions;
    assert_eq!(conditions.len(), 3);
    let selector = conditions[0].namespace_selector.as_ref().expect("selector");
    assert_eq!(
        selector.match_labels.as_ref().map(|l| l["tier"].as_str()),
        Some("backend")
    );
    assert_eq!(conditions[1].namespaces, ["billing", "audit"]);
    assert_eq!(conditions[2].namespace_regexes, ["^team-.*$"]);
}

#[test]
fn unsupported_provider_is_kept_and_named() {
    let store: SecretStore = example("secretstore-gcpsm.yaml");
    assert_eq!(
        store.spec.provider.kind(),
        ProviderKind::Unsupported("gcpsm")
    );
    assert_eq!(
        store.spec.provider.other["gcpsm"]["projectID"],
        "analytics-prod-4411"
    );
    // Written back, the configuration is unchanged (status updates and
    // round trips through our types must not drop it).
    let back = serde_json::to_value(&store).expect("serializes");
    assert_eq!(
        back["spec"]["provider"]["gcpsm"]["location"],
        "europe-west1"
    );
    assert_eq!(back["kind"], "SecretStore");
}

#[test]
fn debug_output_of_a_store_never_shows_inline_values_of_other_providers() {
    // ESO's fake provider keeps secret values in the store itself.
    let store: SecretStore = serde_json::from_value(serde_json::json!({
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
        "metadata": {"name": "fake"},
        "spec": {"provider": {"fake": {"data": [{"key": "db", "value": "hunter2-plaintext"}]}}}
    }))
    .unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains("hunter2-plaintext"), "{debug}");
    assert!(debug.contains("fake"), "names the provider: {debug}");
}

#[test]
fn provider_kind_reports_none_and_many() {
    let none: SecretStoreProvider = serde_json::from_str("{}").unwrap();
    assert_eq!(none.kind(), ProviderKind::None);
    let many: SecretStoreProvider =
        serde_json::from_str(r#"{"vault": {"server": "http://b"}, "fake": {"data": []}}"#).unwrap();
    assert_eq!(many.kind(), ProviderKind::Many);
    assert_eq!(many.names(), ["vault", "fake"]);
}

#[test]
fn external_secret_keeps_data_data_from_rewrites_and_template() {
    let es: ExternalSecret = example("externalsecret-full.yaml");
    let spec = &es.spec;
    assert_eq!(spec.refresh_interval(), Ok(Duration::from_secs(5400)));
    assert_eq!(spec.refresh_policy(), RefreshPolicy::Periodic);
    assert_eq!(
        (spec.secret_store_ref.name(), spec.secret_store_ref.kind()),
        ("payments-aws", StoreKind::SecretStore)
    );

    let target = &spec.target;
    assert_eq!(target.secret_name("checkout-config"), "checkout-env");
    assert_eq!(target.creation_policy(), CreationPolicy::Merge);
    assert_eq!(target.deletion_policy(), DeletionPolicy::Delete);
    assert_eq!(target.immutable, Some(false));
    let template = target.template.as_ref().expect("template");
    assert_eq!(template.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert_eq!(template.merge_policy(), TemplateMergePolicy::Merge);
    assert_eq!(template.metadata.labels["app"], "checkout");
    assert_eq!(template.metadata.annotations["owner"], "payments-team");
    assert_eq!(template.data["password"], "{{ .db_pass | trim }}");
    let from_cm = template.template_from[0]
        .config_map
        .as_ref()
        .expect("configMap");
    assert_eq!(from_cm.name, "checkout-templates");
    assert_eq!(from_cm.items[0].key, "settings.yaml");
    assert_eq!(from_cm.items[0].template_as(), TemplateScope::KeysAndValues);
    assert_eq!(
        template.template_from[1].target(),
        Some(TemplateTarget::Annotations)
    );
    assert_eq!(
        template.template_from[1].literal.as_deref(),
        Some("checkout-version: {{ .version }}")
    );

    let user = &spec.data[0];
    assert_eq!(user.secret_key, "db_user");
    assert_eq!(user.remote_ref.key, "checkout/db");
    assert_eq!(user.remote_ref.property.as_deref(), Some("username"));
    assert_eq!(user.remote_ref.version.as_deref(), Some("AWSCURRENT"));
    assert_eq!(
        user.remote_ref.shaping.decoding_strategy(),
        DecodingStrategy::None,
        "default"
    );
    let pass = &spec.data[1];
    assert_eq!(
        pass.remote_ref.shaping.decoding_strategy(),
        DecodingStrategy::Base64
    );
    let source = pass.source_ref.as_ref().expect("sourceRef");
    assert_eq!(
        (source.store_ref.name(), source.store_ref.kind()),
        ("shared-bao", StoreKind::ClusterSecretStore)
    );

    let extract = spec.data_from[0].extract.as_ref().expect("extract");
    assert_eq!(extract.key, "checkout/feature-flags");
    assert_eq!(extract.shaping.decoding_strategy(), DecodingStrategy::Auto);
    let regexp = spec.data_from[0].rewrite[0]
        .regexp
        .as_ref()
        .expect("regexp rewrite");
    assert_eq!(
        (regexp.source.as_str(), regexp.target.as_str()),
        ("^flag-(.*)$", "FLAG_$1")
    );
    let find = spec.data_from[1].find.as_ref().expect("find");
    assert_eq!(find.path.as_deref(), Some("checkout"));
    assert_eq!(
        find.name.as_ref().and_then(|n| n.regexp.as_deref()),
        Some("^checkout-api-.*")
    );
    assert_eq!(find.tags["env"], "prod");
    assert_eq!(
        find.shaping.conversion_strategy,
        Some(ConversionStrategy::Unicode)
    );
    let transform = spec.data_from[1].rewrite[0]
        .transform
        .as_ref()
        .expect("transform rewrite");
    assert_eq!(transform.template, "{{ .value | upper }}");
}

#[test]
fn cluster_external_secret_keeps_selectors_namespaces_and_inner_spec() {
    let ces: ClusterExternalSecret = example("clusterexternalsecret.yaml");
    let spec = &ces.spec;
    assert_eq!(
        spec.external_secret_name("registry-pull"),
        "registry-credentials"
    );
    assert_eq!(
        spec.external_secret_metadata.labels["purpose"],
        "image-pull"
    );
    assert_eq!(
        spec.external_secret_metadata.annotations["managed-by"],
        "platform"
    );
    assert_eq!(spec.namespace_selectors.len(), 2);
    let expr = &spec.namespace_selectors[1]
        .match_expressions
        .as_ref()
        .expect("expressions")[0];
    assert_eq!((expr.key.as_str(), expr.operator.as_str()), ("team", "In"));
    assert_eq!(spec.namespaces, ["ci"]);
    assert_eq!(spec.refresh_time(), Ok(Some(Duration::from_secs(120))));
    let inner = &spec.external_secret_spec;
    assert_eq!(inner.secret_store_ref.kind(), StoreKind::ClusterSecretStore);
    assert_eq!(inner.refresh_interval(), Ok(Duration::from_secs(15)));
    assert_eq!(inner.data[0].remote_ref.property.as_deref(), Some("auth"));
    let template = inner.target.template.as_ref().expect("template");
    assert!(template.data[".dockerconfigjson"].contains("{{ .auth }}"));
}

#[test]
fn absent_fields_read_as_esos_defaults() {
    let spec: ExternalSecretSpec = serde_json::from_str(
        r#"{"secretStoreRef": {"name": "s"}, "data": [{"secretKey": "k", "remoteRef": {"key": "r"}}]}"#,
    )
    .unwrap();
    assert_eq!(spec.refresh_interval(), Ok(Duration::from_secs(3600)));
    assert_eq!(spec.refresh_policy(), RefreshPolicy::Periodic);
    assert_eq!(spec.secret_store_ref.kind(), StoreKind::SecretStore);
    assert_eq!(spec.target.creation_policy(), CreationPolicy::Owner);
    assert_eq!(spec.target.deletion_policy(), DeletionPolicy::Retain);
    assert_eq!(spec.target.secret_name("from-es"), "from-es");
    let remote = &spec.data[0].remote_ref;
    assert_eq!(
        remote.shaping.conversion_strategy(),
        ConversionStrategy::Default
    );
    assert_eq!(remote.shaping.decoding_strategy(), DecodingStrategy::None);
    assert_eq!(remote.metadata_policy(), MetadataPolicy::None);
    assert_eq!(remote.shaping.null_byte_policy(), NullBytePolicy::Ignore);
    // Serialized back, absent fields stay absent (no defaults invented).
    let back = serde_json::to_value(&spec).unwrap();
    assert!(
        back.get("target").is_none() && back.get("refreshInterval").is_none(),
        "{back}"
    );
}

#[test]
fn zero_refresh_interval_means_no_periodic_refresh() {
    let spec: ExternalSecretSpec = serde_json::from_str(r#"{"refreshInterval": "0"}"#).unwrap();
    assert_eq!(spec.refresh_interval(), Ok(Duration::ZERO));
}

#[test]
fn bad_refresh_interval_is_a_clear_error_naming_the_value() {
    let spec: ExternalSecretSpec =
        serde_json::from_str(r#"{"refreshInterval": "1 hour"}"#).unwrap();
    let err = spec.refresh_interval().unwrap_err();
    assert!(err.to_string().contains("\"1 hour\""), "{err}");
}

#[test]
fn go_durations_parse_as_go_parses_them() {
    let ok = [
        ("0", Duration::ZERO),
        ("-0", Duration::ZERO),
        ("1h", Duration::from_secs(3600)),
        ("1h30m", Duration::from_secs(5400)),
        ("2h45m30.5s", Duration::from_millis(9_930_500)),
        ("15s", Duration::from_secs(15)),
        ("+5m", Duration::from_secs(300)),
        ("500ms", Duration::from_millis(500)),
        ("1.5h", Duration::from_secs(5400)),
        (".5s", Duration::from_millis(500)),
        ("3.s", Duration::from_secs(3)),
        ("10us", Duration::from_micros(10)),
        ("10\u{b5}s", Duration::from_micros(10)),
        ("10\u{3bc}s", Duration::from_micros(10)),
        ("42ns", Duration::from_nanos(42)),
        ("1m1m", Duration::from_secs(120)),
        ("0.000000001s", Duration::from_nanos(1)),
        (
            "2562047h47m16.854775807s",
            Duration::from_nanos(i64::MAX as u64),
        ),
    ];
    for (input, want) in ok {
        assert_eq!(parse_go_duration(input), Ok(want), "{input}");
    }
}

#[test]
fn malformed_go_durations_are_rejected_with_the_reason() {
    let cases = [
        ("", "empty"),
        ("10", "missing unit"),
        ("5x", "unknown unit \"x\""),
        ("1h2", "missing unit"),
        ("h", "expected a number"),
        ("1..5s", "missing unit"),
        ("1 h", "unknown unit \" h\""),
        ("+", "no number"),
        ("-1h", "negative"),
        ("2562047h47m16.854775808s", "out of range"),
        ("99999999999999999999999999999999999999999h", "out of range"),
    ];
    for (input, reason) in cases {
        let err = parse_go_duration(input).expect_err(input);
        let message = err.to_string();
        assert!(message.contains(reason), "{input:?}: {message}");
        assert!(
            message.contains(&format!("{input:?}")),
            "names the input: {message}"
        );
    }
    assert_eq!(parse_go_duration(""), Err(DurationError::Empty));
}

#[test]
fn signs_are_read_once_as_go_does_and_many_of_them_cannot_overflow_the_stack() {
    // Found while writing the fuzz target: each `-` was one recursive call.
    let err = parse_go_duration(&format!("{}5s", "-".repeat(1_000_000))).unwrap_err();
    assert!(
        matches!(&err, DurationError::Invalid { reason, .. } if reason == "expected a number"),
        "{err}"
    );
    // The message repeats at most 64 bytes of the input.
    assert!(err.to_string().len() < 150, "{err}");
    assert!(err.to_string().contains("--------…"), "{err}");
    // Go: one sign, then a number; "-0s" is zero like "-0".
    assert!(matches!(
        parse_go_duration("--5s"),
        Err(DurationError::Invalid { .. })
    ));
    assert!(matches!(
        parse_go_duration("+-5s"),
        Err(DurationError::Invalid { .. })
    ));
    assert_eq!(parse_go_duration("-0s"), Ok(Duration::ZERO));
    assert!(matches!(
        parse_go_duration("-1.5h"),
        Err(DurationError::Negative { .. })
    ));
}

#[test]
fn an_unknown_unit_is_repeated_at_most_64_bytes_long() {
    // Found by the go_duration fuzz target: the input was cut to 64 bytes
    // in the message but the unknown unit, which can be most of it, was not.
    let err = parse_go_duration(&format!("5{}", "x".repeat(100_000))).unwrap_err();
    let message = err.to_string();
    assert!(message.len() < 250, "{} bytes: {message}", message.len());
    assert!(
        message.contains(&format!("unknown unit \"{}…\"", "x".repeat(64))),
        "{message}"
    );
}

proptest! {
    /// Any duration Go can hold, printed as Go prints it, parses back to itself.
    #[test]
    fn formatted_durations_parse_back(nanos in 0u64..=i64::MAX as u64) {
        let d = Duration::from_nanos(nanos);
        prop_assert_eq!(parse_go_duration(&format_go_duration(d)), Ok(d));
    }

    /// Arbitrary text never panics the parser.
    #[test]
    fn parser_never_panics(input in "\\PC{0,24}") {
        let _ = parse_go_duration(&input);
    }
}

/// `kubectl get` shows what it shows for ESO: the printer columns, short
/// names, categories and CRD labels of ESO's `config/crds/bases` (at
/// external-secrets/external-secrets cc5bfbc2234ace9cb0caff4ea89c435cf517b27b).
/// Printer columns: (name, JSON path).
type Columns = &'static [(&'static str, &'static str)];

#[test]
fn printer_columns_names_and_labels_are_esos() {
    let eso: &[(&str, &str, Columns)] = &[
        (
            "externalsecrets.external-secrets.io",
            "es",
            &[
                ("StoreType", ".spec.secretStoreRef.kind"),
                ("Store", ".spec.secretStoreRef.name"),
                ("Refresh Interval", ".spec.refreshInterval"),
                ("Status", ".status.conditions[?(@.type==\"Ready\")].reason"),
                ("Ready", ".status.conditions[?(@.type==\"Ready\")].status"),
                ("Last Sync", ".status.refreshTime"),
            ],
        ),
        (
            "secretstores.external-secrets.io",
            "ss",
            &[
                ("AGE", ".metadata.creationTimestamp"),
                ("Status", ".status.conditions[?(@.type==\"Ready\")].reason"),
                ("Capabilities", ".status.capabilities"),
                ("Ready", ".status.conditions[?(@.type==\"Ready\")].status"),
            ],
        ),
        (
            "clustersecretstores.external-secrets.io",
            "css",
            &[
                ("AGE", ".metadata.creationTimestamp"),
                ("Status", ".status.conditions[?(@.type==\"Ready\")].reason"),
                ("Capabilities", ".status.capabilities"),
                ("Ready", ".status.conditions[?(@.type==\"Ready\")].status"),
            ],
        ),
        (
            "clusterexternalsecrets.external-secrets.io",
            "ces",
            &[
                ("Store", ".spec.externalSecretSpec.secretStoreRef.name"),
                ("Refresh Interval", ".spec.refreshTime"),
                ("Ready", ".status.conditions[?(@.type==\"Ready\")].status"),
            ],
        ),
    ];
    let crds = coffer_api::crds::all();
    for (name, short, columns) in eso {
        let (_, crd) = crds
            .iter()
            .find(|(_, c)| c.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} is generated"));
        assert_eq!(
            crd.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("external-secrets.io/component"))
                .map(String::as_str),
            Some("controller"),
            "{name}"
        );
        assert_eq!(
            crd.spec.names.short_names.as_deref(),
            Some(&[short.to_string()][..])
        );
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["external-secrets".to_owned()][..])
        );
        // (The retired v1beta1 entry is not served: kubectl never shows
        // its columns.)
        for version in crd.spec.versions.iter().filter(|v| v.served) {
            let ours: Vec<(&str, &str)> = version
                .additional_printer_columns
                .iter()
                .flatten()
                .map(|c| (c.name.as_str(), c.json_path.as_str()))
                .collect();
            assert_eq!(&ours, columns, "{name} {}", version.name);
        }
    }
}
