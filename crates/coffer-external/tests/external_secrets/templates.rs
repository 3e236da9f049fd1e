//! `target.template` beyond plain `data` (which vault.rs covers):
//! `templateFrom` ConfigMaps, Secrets and literals into data, labels and
//! annotations; `mergePolicy`; sprig as ESO's examples use it; and ESO's
//! missing-key rule.

use serde_json::json;

use crate::common::*;

/// ExternalSecret `name` extracting `path` from store `vault` through
/// `template` (`target.template`).
fn templated(name: &str, path: &str, template: serde_json::Value) -> ExternalSecretManifest {
    ExternalSecretManifest::new(name, "vault")
        .target(json!({"template": template}))
        .extract(path)
}

/// A Vault store `vault` and the KV secret `<ns>/<name>` holding `data`.
async fn vault_source(world: &World, name: &str, data: serde_json::Value) -> String {
    let path = remote(world, name);
    world.env.vault.put(&path, data).await;
    root_vault_store(world).await;
    path
}

#[tokio::test]
async fn template_from_config_maps_secrets_and_literals_fills_data_labels_and_annotations() {
    let world = World::new("template-from").await;
    let path = vault_source(
        &world,
        "app",
        serde_json::json!({"user": "app", "password": "s3cr3t", "team": "payments"}),
    )
    .await;
    world
        .apply(
            r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: templates
  namespace: NAMESPACE
data:
  config.yaml: |
    host: db.internal
    user: {{ .user }}
  env: |
    DB_USER: {{ .user | upper }}
    DB_PASSWORD: {{ .password | quote }}
  team: "{{ .team }}"
"#,
        )
        .await;
    world
        .put_secret(
            "secret-templates",
            &[("dsn", "postgres://{{ .user }}:{{ .password }}@db:5432/app")],
        )
        .await;
    let template = json!({
        "metadata": {"annotations": {"rendered-for": "{{ .user }}"}},
        "templateFrom": [
            {"configMap": {"name": "templates", "items": [
                {"key": "config.yaml"},
                {"key": "env", "templateAs": "KeysAndValues"},
            ]}},
            {"target": "Annotations", "configMap": {"name": "templates", "items": [{"key": "team"}]}},
            {"secret": {"name": "secret-templates", "items": [{"key": "dsn"}]}},
            {"target": "Labels", "literal": "app.kubernetes.io/part-of: {{ .team }}"},
        ],
        "data": {"password-b64": "{{ .password | b64enc }}"},
    });
    world.apply(templated("app", &path, template)).await;
    let secret = world
        .wait_secret("app", "the templated Secret", |s| value(s, "dsn").is_some())
        .await;
    // Replace (the default): only what the templates produce.
    assert_eq!(
        keys(&secret),
        [
            "DB_PASSWORD",
            "DB_USER",
            "config.yaml",
            "dsn",
            "password-b64"
        ]
    );
    assert_eq!(
        value(&secret, "config.yaml").as_deref(),
        Some("host: db.internal\nuser: app\n")
    );
    assert_eq!(value(&secret, "DB_USER").as_deref(), Some("APP"));
    assert_eq!(value(&secret, "DB_PASSWORD").as_deref(), Some("s3cr3t"));
    assert_eq!(
        value(&secret, "dsn").as_deref(),
        Some("postgres://app:s3cr3t@db:5432/app")
    );
    assert_eq!(value(&secret, "password-b64").as_deref(), Some("czNjcjN0"));
    let annotations = secret.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations["team"], "payments");
    assert_eq!(annotations["rendered-for"], "app");
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels["app.kubernetes.io/part-of"], "payments");
}

#[tokio::test]
async fn merge_policy_keeps_provider_keys_that_replace_drops() {
    let world = World::new("template-merge-policy").await;
    let path = vault_source(
        &world,
        "db",
        serde_json::json!({"user": "app", "password": "pw", "host": "db.local"}),
    )
    .await;
    for policy in ["Replace", "Merge"] {
        let template = json!({
            "mergePolicy": policy,
            "data": {
                "url": "postgres://{{ .user }}@{{ .host }}",
                "host": "{{ .host | upper }}",
            },
        });
        world
            .apply(templated(&policy.to_lowercase(), &path, template))
            .await;
    }
    let replaced = world
        .wait_secret("replace", "the Replace Secret", |s| {
            value(s, "url").is_some()
        })
        .await;
    assert_eq!(keys(&replaced), ["host", "url"]);
    let merged = world
        .wait_secret("merge", "the Merge Secret", |s| value(s, "url").is_some())
        .await;
    assert_eq!(keys(&merged), ["host", "password", "url", "user"]);
    assert_eq!(
        value(&merged, "host").as_deref(),
        Some("DB.LOCAL"),
        "a template key wins over the provider key of the same name"
    );
    assert_eq!(value(&merged, "password").as_deref(), Some("pw"));
}

#[tokio::test]
async fn sprig_as_in_esos_examples_builds_a_docker_config_json() {
    let world = World::new("template-sprig").await;
    let path = vault_source(
        &world,
        "registry",
        serde_json::json!({
            "registry": "registry.example.com",
            "user": "robot",
            "password": "t0ken",
            "config": "{\"region\":\"eu-west-1\",\"debug\":false}",
            "level": "",
        }),
    )
    .await;
    let template = json!({
        "type": "kubernetes.io/dockerconfigjson",
        "data": {
            ".dockerconfigjson": r#"{{ dict "auths" (dict .registry (dict "auth" (printf "%s:%s" .user .password | b64enc))) | toJson }}"#,
            "region": "{{ (.config | fromJson).region }}",
            "endpoint": r#"{{ printf "https://%s/v2/" .registry | trim }}"#,
            "level": r#"{{ .level | default "info" | upper }}"#,
        },
    });
    world.apply(templated("registry", &path, template)).await;
    let secret = world
        .wait_secret("registry", "the docker config Secret", |s| {
            value(s, ".dockerconfigjson").is_some()
        })
        .await;
    assert_eq!(
        secret.type_.as_deref(),
        Some("kubernetes.io/dockerconfigjson")
    );
    let config: serde_json::Value =
        serde_json::from_str(&value(&secret, ".dockerconfigjson").unwrap()).unwrap();
    assert_eq!(
        config["auths"]["registry.example.com"]["auth"],
        "cm9ib3Q6dDBrZW4="
    );
    assert_eq!(value(&secret, "region").as_deref(), Some("eu-west-1"));
    assert_eq!(
        value(&secret, "endpoint").as_deref(),
        Some("https://registry.example.com/v2/")
    );
    assert_eq!(value(&secret, "level").as_deref(), Some("INFO"));
    world
        .wait_ready("registry", "Ready=True", |c| c.status == "True")
        .await;
}

#[tokio::test]
async fn a_missing_template_key_fails_the_sync_and_keeps_the_previous_secret() {
    let world = World::new("template-missing-key").await;
    let path = vault_source(
        &world,
        "svc",
        serde_json::json!({"token": "t-1", "hidden": "do-not-show"}),
    )
    .await;
    let es = |template: &str| templated("svc", &path, json!({"data": {"header": template}}));
    world.apply(es("Bearer {{ .token }}")).await;
    let good = world
        .wait_secret("svc", "the first sync", |s| {
            value(s, "header").as_deref() == Some("Bearer t-1")
        })
        .await;

    // ESO renders with missingkey=error: a typo is an error, not "<no value>".
    world.apply(es("Bearer {{ .tokne }}")).await;
    let failed = world
        .wait_ready("svc", "Ready=False", |c| c.status == "False")
        .await;
    assert_eq!(failed.reason.as_deref(), Some("SecretSyncedError"));
    let message = failed.message.unwrap_or_default();
    assert!(message.starts_with("could not update secret"), "{message}");
    assert!(message.contains("tokne"), "{message}");
    assert!(
        !message.contains("t-1") && !message.contains("do-not-show"),
        "the condition leaks a value: {message}"
    );
    world
        .wait_event_saying("svc", "UpdateFailed", "tokne")
        .await;
    let kept = world.secrets().get("svc").await.unwrap();
    assert_eq!(value(&kept, "header").as_deref(), Some("Bearer t-1"));
    assert_eq!(rv(&kept), rv(&good), "the Secret was touched");

    // A templateFrom item naming a key its ConfigMap lacks fails the same way.
    let template = json!({"templateFrom": [
        {"configMap": {"name": "no-such-configmap", "items": [{"key": "header"}]}},
    ]});
    world.apply(templated("svc", &path, template)).await;
    world
        .wait_ready("svc", "the templateFrom error", |c| {
            c.message
                .as_deref()
                .is_some_and(|m| m.contains("no-such-configmap"))
        })
        .await;
    let kept = world.secrets().get("svc").await.unwrap();
    assert_eq!(rv(&kept), rv(&good));
}

#[tokio::test]
async fn a_template_bomb_fails_fast_naming_key_and_limit_while_others_sync() {
    let world = World::new("template-bomb").await;
    let path = vault_source(&world, "app", serde_json::json!({"user": "app"})).await;
    // 45 doublings of a shared list: 2^46 elements if anything walked it.
    for (name, template) in [
        (
            "bomb",
            "{{ $a := list 1 }}{{ range 45 }}{{ $a = list $a $a }}{{ end }}",
        ),
        ("fine", "{{ .user | upper }}"),
    ] {
        let template = json!({"data": {"out": template}});
        world.apply(templated(name, &path, template)).await;
    }
    // NB: waits for the render's failure, not an earlier one (the first
    // reconcile can run before the store reaches the controller's cache).
    let condition = world
        .wait_ready("bomb", "the bomb to fail", |c| {
            c.status == "False" && c.message.as_deref().is_some_and(|m| m.contains("template"))
        })
        .await;
    let message = condition.message.unwrap_or_default();
    assert_eq!(condition.reason.as_deref(), Some("SecretSyncedError"));
    assert!(
        message.contains("template out:1:")
            && message.contains("a value exceeds 4194304 bytes or elements"),
        "{message}"
    );
    world
        .wait_event_saying(
            "bomb",
            "UpdateFailed",
            "a value exceeds 4194304 bytes or elements",
        )
        .await;
    world
        .wait_secret("fine", "the other ExternalSecret's Secret", |s| {
            value(s, "out").as_deref() == Some("APP")
        })
        .await;
    assert!(world.secrets().get_opt("bomb").await.unwrap().is_none());
}
