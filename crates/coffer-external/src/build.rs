//! From provider data to the Secret's content: ESO's template step
//! (`engineVersion: v2`, Go templates with sprig functions, missing keys are
//! errors), `templateFrom`, `mergePolicy`, and the metadata copied onto the
//! Secret.
//!
//! Template errors name the template key and position, never a value; a
//! template whose text comes from a Secret (`templateFrom.secret`) is
//! secret data itself, so its errors name only the Secret and key. Renders
//! run on the [`RenderPool`](crate::RenderPool), within the configured
//! template limits, never on the async runtime. What a template renders
//! into keys, labels and annotations is checked here ([`crate::rendered`])
//! so the API server's validation errors never quote it.

pub mod keys_and_values;

use std::collections::BTreeMap;

use coffer_api::ExternalSecret;
use coffer_api::external::{
    DecodingStrategy, ExternalSecretSpec, ExternalSecretTemplate, TemplateFrom,
    TemplateMergePolicy, TemplateRef, TemplateScope, TemplateTarget,
};
use coffer_providers::SecretValue;
use coffer_template::{Data, Limits, Options, Template};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;

use crate::context::Context;
use crate::error::{Error, Result, TemplateError};
use crate::rendered::{self, Origin};
use crate::transform::SecretData;

/// What the Secret should hold (the controller adds its own labels and
/// annotations on top).
#[derive(Debug, Default)]
pub struct Desired {
    /// The Secret's type; `None` keeps an existing Secret's type (new ones
    /// are `Opaque`).
    pub type_: Option<String>,
    /// The data.
    pub data: SecretData,
    /// Labels to set.
    pub labels: BTreeMap<String, String>,
    /// Annotations to set.
    pub annotations: BTreeMap<String, String>,
    /// Finalizers to add (`template.metadata.finalizers`).
    pub finalizers: Vec<String>,
}

/// A `templateFrom` entry with its source read.
struct Source {
    target: TemplateTarget,
    /// `valuesDecodingStrategy`.
    decoding: DecodingStrategy,
    /// (output key or `None` for KeysAndValues, template text)
    items: Vec<(Option<String>, String)>,
    /// The Secret the texts were read from (`templateFrom.secret`): they
    /// are secret data, so errors must not show them.
    secret: Option<String>,
}

/// Builds the Secret's content from `provider` data.
pub async fn build(ctx: &Context, es: &ExternalSecret, provider: SecretData) -> Result<Desired> {
    let Some(template) = &es.spec.target.template else {
        // No template: the data as read, and the ExternalSecret's own
        // labels and annotations (as ESO).
        return Ok(Desired {
            type_: None,
            data: provider,
            labels: es.metadata.labels.clone().unwrap_or_default(),
            annotations: without_last_applied(es.metadata.annotations.clone().unwrap_or_default()),
            finalizers: Vec::new(),
        });
    };
    let namespace = es.metadata.namespace.as_deref().unwrap_or_default();
    let mut sources = Vec::with_capacity(template.template_from.len());
    for (i, from) in template.template_from.iter().enumerate() {
        sources.extend(read_source(ctx, namespace, i, from).await?);
    }
    let (template, limits) = (template.clone(), ctx.config.template_limits);
    ctx.config
        .renders
        .run(move || render(&template, provider, &sources, &limits))
        .await
}

/// kubectl's bookkeeping annotation is about the ExternalSecret, not the
/// Secret.
fn without_last_applied(mut annotations: BTreeMap<String, String>) -> BTreeMap<String, String> {
    annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    annotations
}

async fn read_source(
    ctx: &Context,
    namespace: &str,
    i: usize,
    from: &TemplateFrom,
) -> Result<Vec<Source>> {
    let target = target_of(i, from)?;
    let decoding = from.values_decoding_strategy();
    let mut out = Vec::new();
    if let Some(r) = &from.config_map {
        let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
        let cm = api.get_opt(&r.name).await.map_err(|e| Error::Kube {
            action: format!(
                "spec.target.template.templateFrom[{i}]: read ConfigMap {namespace}/{}",
                r.name
            ),
            source: e,
        })?;
        let data = cm.and_then(|c| c.data).unwrap_or_default();
        out.push(items(target, decoding, r, "configmap", |k| {
            data.get(k).cloned()
        })?);
    }
    if let Some(r) = &from.secret {
        let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
        let secret = api.get_opt(&r.name).await.map_err(|e| Error::Kube {
            action: format!(
                "spec.target.template.templateFrom[{i}]: read Secret {namespace}/{}",
                r.name
            ),
            source: e,
        })?;
        let data = secret.and_then(|s| s.data).unwrap_or_default();
        let mut source = items(target, decoding, r, "secret", |k| {
            data.get(k)
                .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        })?;
        source.secret = Some(r.name.clone());
        out.push(source);
    }
    if let Some(literal) = &from.literal {
        out.push(Source {
            target,
            decoding,
            items: vec![(None, literal.clone())],
            secret: None,
        });
    }
    Ok(out)
}

/// Refuses what Coffer cannot honour in `spec.target.template` (checked
/// before any store is read): a `templateFrom[].target` that is not one of
/// the Secret's fields, and `spec.syncWindows`.
pub(crate) fn check_spec(spec: &ExternalSecretSpec) -> Result<()> {
    if spec.sync_windows.is_some() {
        return Err(Error::Unsupported {
            field: "spec.syncWindows".to_owned(),
            reason: "sync windows are not supported by Coffer (refreshes follow \
                     refreshInterval at all times); remove the field"
                .to_owned(),
        });
    }
    for (i, from) in spec
        .target
        .template
        .iter()
        .flat_map(|t| t.template_from.iter())
        .enumerate()
    {
        target_of(i, from)?;
    }
    Ok(())
}

/// `templateFrom[i].target`, or why it cannot be honoured.
fn target_of(i: usize, from: &TemplateFrom) -> Result<TemplateTarget> {
    from.target().ok_or_else(|| Error::Unsupported {
        field: format!("spec.target.template.templateFrom[{i}].target"),
        reason: format!(
            "{:?} is not Data, Annotations or Labels; paths into a custom resource \
             (spec.target.manifest) are not supported by Coffer",
            from.target.as_deref().unwrap_or_default()
        ),
    })
}

fn items(
    target: TemplateTarget,
    decoding: DecodingStrategy,
    r: &TemplateRef,
    kind: &str,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Source> {
    let mut items = Vec::with_capacity(r.items.len());
    for item in &r.items {
        let text = get(&item.key).ok_or_else(|| {
            Error::TemplateSource(format!(
                "error in {kind} {}: missing key {}",
                r.name, item.key
            ))
        })?;
        let key = match item.template_as() {
            TemplateScope::Values => Some(item.key.clone()),
            TemplateScope::KeysAndValues => None,
        };
        items.push((key, text));
    }
    Ok(Source {
        target,
        decoding,
        items,
        secret: None,
    })
}

/// The synchronous part, run on the render pool: templates render over
/// provider data held in the engine's (single-threaded) values.
fn render(
    template: &ExternalSecretTemplate,
    provider: SecretData,
    sources: &[Source],
    limits: &Limits,
) -> Result<Desired> {
    let mut dot = Data::new();
    for (k, v) in &provider {
        dot.insert(k.clone(), v.expose());
    }
    let options = Options {
        limits: *limits,
        ..Options::eso()
    };
    // `from_secret`: the Secret whose data is the text (see `Source`).
    let run = |name: &str, text: &str, from_secret: Option<&str>| -> Result<Vec<u8>> {
        let rendered = Template::parse(name, text).and_then(|t| t.render(&dot, &options));
        match (rendered, from_secret) {
            // NB: moved out; the emptied buffer is zeroized on drop.
            (Ok(mut out), _) => Ok(std::mem::take(&mut *out)),
            (Err(e), None) => Err(Error::Template(TemplateError::Engine(e))),
            (Err(e), Some(secret)) => Err(Error::Template(TemplateError::FromSecret {
                secret: secret.to_owned(),
                name: name.to_owned(),
                step: if e.is_parse_error() {
                    "parse"
                } else {
                    "render"
                },
            })),
        }
    };

    let mut desired = Desired {
        type_: template.type_.clone().filter(|t| !t.is_empty()),
        finalizers: template.metadata.finalizers.clone(),
        ..Default::default()
    };
    let no_templates = template.data.is_empty() && template.template_from.is_empty();
    if template.merge_policy() == TemplateMergePolicy::Merge || no_templates {
        desired.data = provider.clone();
    }

    for source in sources {
        let secret = source.secret.as_deref();
        for (key, text) in &source.items {
            let pairs: Vec<(String, Vec<u8>)> = match key {
                Some(key) => vec![(key.clone(), run(key, text, secret)?)],
                None => {
                    let rendered = zeroize::Zeroizing::new(run("templateFrom", text, secret)?);
                    let text = std::str::from_utf8(&rendered).map_err(|_| {
                        output_error("KeysAndValues output is not UTF-8".to_owned())
                    })?;
                    let map = keys_and_values::parse(text)
                        .map_err(|reason| output_error(format!("KeysAndValues output {reason}")))?;
                    map.into_iter().map(|(k, v)| (k, v.into_bytes())).collect()
                }
            };
            let origin = if key.is_some() {
                Origin::SpecKey
            } else {
                Origin::RenderedKey
            };
            for (k, v) in pairs {
                let v = decode_rendered(&k, v, source.decoding, origin)?;
                place(&mut desired, source.target, k, v, origin)?;
            }
        }
    }
    for (key, text) in &template.data {
        let value = run(key, text, None)?;
        desired.data.insert(key.clone(), SecretValue::new(value));
    }
    for (key, text) in &template.metadata.labels {
        let value = run(key, text, None)?;
        place(
            &mut desired,
            TemplateTarget::Labels,
            key.clone(),
            value,
            Origin::SpecKey,
        )?;
    }
    for (key, text) in &template.metadata.annotations {
        let value = run(key, text, None)?;
        place(
            &mut desired,
            TemplateTarget::Annotations,
            key.clone(),
            value,
            Origin::SpecKey,
        )?;
    }
    Ok(desired)
}

/// `valuesDecodingStrategy` applied to one rendered value, as ESO does
/// before placing it. Errors name the key only when the spec wrote it (a
/// KeysAndValues key is rendered, possibly from secret data).
fn decode_rendered(
    key: &str,
    value: Vec<u8>,
    decoding: DecodingStrategy,
    origin: Origin,
) -> Result<Vec<u8>> {
    if decoding == DecodingStrategy::None {
        return Ok(value);
    }
    let named = match origin {
        Origin::SpecKey => key,
        Origin::RenderedKey => "(a KeysAndValues key)",
    };
    let decoded =
        crate::transform::decode(named, SecretValue::new(value), decoding).map_err(|source| {
            Error::Transform {
                field: "spec.target.template.templateFrom[].valuesDecodingStrategy".to_owned(),
                source,
            }
        })?;
    Ok(decoded.expose().to_vec())
}

fn output_error(reason: String) -> Error {
    Error::Template(TemplateError::Output(reason))
}

/// Puts a rendered entry where `target` says, after checking that the API
/// server will take it (see [`crate::rendered`]).
fn place(
    desired: &mut Desired,
    target: TemplateTarget,
    key: String,
    value: Vec<u8>,
    origin: Origin,
) -> Result<()> {
    match target {
        TemplateTarget::Data => {
            rendered::check_data_key(&key, origin).map_err(output_error)?;
            desired.data.insert(key, SecretValue::new(value));
        }
        TemplateTarget::Labels | TemplateTarget::Annotations => {
            let what = match origin {
                Origin::SpecKey => format!("{target:?} {key:?}"),
                Origin::RenderedKey => format!("{target:?} (KeysAndValues)"),
            };
            let text = String::from_utf8(value)
                .map_err(|_| output_error(format!("{what}: value is not UTF-8")))?;
            let map = if target == TemplateTarget::Labels {
                rendered::check_label(&key, &text, origin).map_err(output_error)?;
                &mut desired.labels
            } else {
                rendered::check_annotation(&key, origin).map_err(output_error)?;
                &mut desired.annotations
            };
            map.insert(key, text);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(pairs: &[(&str, &str)]) -> SecretData {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), SecretValue::new(v.as_bytes().to_vec())))
            .collect()
    }

    fn template(yaml: &str) -> ExternalSecretTemplate {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn limits() -> Limits {
        Limits::default()
    }

    fn text(d: &Desired, k: &str) -> String {
        String::from_utf8(d.data[k].expose().to_vec()).unwrap()
    }

    #[test]
    fn template_data_replaces_provider_data_by_default() {
        let t = template(
            "type: kubernetes.io/basic-auth\ndata:\n  url: 'postgres://{{ .user }}:{{ .password | upper }}@db'\n",
        );
        let d = render(
            &t,
            provider(&[("user", "app"), ("password", "pw")]),
            &[],
            &limits(),
        )
        .unwrap();
        assert_eq!(d.data.keys().collect::<Vec<_>>(), ["url"]);
        assert_eq!(text(&d, "url"), "postgres://app:PW@db");
        assert_eq!(d.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    }

    #[test]
    fn merge_policy_keeps_provider_data_beside_templates() {
        let t = template("mergePolicy: Merge\ndata:\n  extra: '{{ .user }}-x'\n");
        let d = render(&t, provider(&[("user", "app")]), &[], &limits()).unwrap();
        assert_eq!(text(&d, "user"), "app");
        assert_eq!(text(&d, "extra"), "app-x");
    }

    #[test]
    fn a_template_without_data_keeps_provider_data_and_sets_metadata() {
        let t = template(
            "metadata:\n  labels:\n    team: '{{ .team }}'\n  annotations:\n    note: fixed\n",
        );
        let d = render(&t, provider(&[("team", "payments")]), &[], &limits()).unwrap();
        assert_eq!(text(&d, "team"), "payments");
        assert_eq!(d.labels["team"], "payments");
        assert_eq!(d.annotations["note"], "fixed");
    }

    #[test]
    fn a_missing_key_is_an_error_that_names_the_key_not_values() {
        let t = template("data:\n  url: '{{ .nope }}'\n");
        let err = render(&t, provider(&[("password", "hunter2")]), &[], &limits())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_template_read_from_a_secret_fails_without_showing_its_text() {
        let t = template("templateFrom:\n- secret: {name: tpl, items: [{key: k}]}\n");
        for text in ["{{ hunter2 }}", "{{ index (list) (len \"hunter2\") }}"] {
            let sources = [Source {
                target: TemplateTarget::Data,
                decoding: DecodingStrategy::None,
                items: vec![(Some("k".to_owned()), text.to_owned())],
                secret: Some("tpl".to_owned()),
            }];
            let err = render(&t, provider(&[]), &sources, &limits())
                .unwrap_err()
                .to_string();
            assert!(err.contains("Secret \"tpl\""), "{err}");
            assert!(!err.contains("hunter2") && !err.contains(":1:"), "{err}");
        }
    }

    #[test]
    fn rendered_keys_and_labels_the_api_server_would_refuse_fail_without_quoting_them() {
        let t = template("metadata:\n  labels:\n    team: '{{ .password }}'\n");
        let err = render(&t, provider(&[("password", "hunter2!!")]), &[], &limits())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"team\"") && !err.contains("hunter2"),
            "{err}"
        );
        let t = template("templateFrom:\n- literal: 'x'\n");
        let sources = [Source {
            target: TemplateTarget::Data,
            decoding: DecodingStrategy::None,
            items: vec![(None, "'{{ .password }}': x\n".to_owned())],
            secret: None,
        }];
        let err = render(
            &t,
            provider(&[("password", "hunter2!!")]),
            &sources,
            &limits(),
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn keys_and_values_sources_render_then_parse_as_yaml() {
        let t = template("templateFrom:\n- literal: 'x'\n");
        let sources = [Source {
            target: TemplateTarget::Data,
            decoding: DecodingStrategy::None,
            items: vec![(None, "a: '{{ .user }}'\nb: two\n".to_owned())],
            secret: None,
        }];
        let d = render(&t, provider(&[("user", "app")]), &sources, &limits()).unwrap();
        assert_eq!(text(&d, "a"), "app");
        assert_eq!(text(&d, "b"), "two");
        assert!(
            !d.data.contains_key("user"),
            "Replace policy drops provider keys"
        );
    }

    #[test]
    fn values_decoding_strategy_decodes_each_rendered_value_before_it_is_placed() {
        let t = template("templateFrom:\n- literal: 'x'\n");
        let sources = [
            Source {
                target: TemplateTarget::Data,
                decoding: DecodingStrategy::Base64,
                items: vec![(None, "cert: '{{ .der | b64enc }}'\n".to_owned())],
                secret: None,
            },
            Source {
                target: TemplateTarget::Annotations,
                decoding: DecodingStrategy::Auto,
                items: vec![(Some("note".to_owned()), "aGVsbG8=".to_owned())],
                secret: None,
            },
        ];
        let d = render(
            &t,
            provider(&[("der", "raw\u{1}bytes")]),
            &sources,
            &limits(),
        )
        .unwrap();
        assert_eq!(text(&d, "cert"), "raw\u{1}bytes");
        assert_eq!(d.annotations["note"], "hello");

        let sources = [Source {
            target: TemplateTarget::Data,
            decoding: DecodingStrategy::Base64,
            items: vec![(None, "'{{ .name }}': 'not base64!'\n".to_owned())],
            secret: None,
        }];
        let err = render(
            &t,
            provider(&[("name", "hunter2-key")]),
            &sources,
            &limits(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("valuesDecodingStrategy") && err.contains("base64"),
            "{err}"
        );
        assert!(
            !err.contains("hunter2"),
            "a rendered key is not named: {err}"
        );
    }

    #[test]
    fn targets_other_than_the_secret_s_fields_and_sync_windows_are_refused_by_name() {
        let spec = |yaml: &str| -> ExternalSecretSpec { serde_saphyr::from_str(yaml).unwrap() };
        let ok = spec(
            "data: [{secretKey: a, remoteRef: {key: k}}]\ntarget:\n  template:\n    templateFrom:\n    - {literal: x, target: labels}\n    - {literal: y, target: DATA}\n    - {literal: z}\n",
        );
        check_spec(&ok).unwrap();
        let bad = spec(
            "data: [{secretKey: a, remoteRef: {key: k}}]\ntarget:\n  template:\n    templateFrom:\n    - {literal: x}\n    - {literal: y, target: spec.database.config}\n",
        );
        let err = check_spec(&bad).unwrap_err().to_string();
        assert!(
            err.contains("spec.target.template.templateFrom[1].target")
                && err.contains("spec.database.config"),
            "{err}"
        );
        let windows = spec(
            "data: [{secretKey: a, remoteRef: {key: k}}]\nsyncWindows:\n  kind: deny\n  windows: [{schedule: '0 22 * * 1-5', duration: 8h}]\n",
        );
        let err = check_spec(&windows).unwrap_err().to_string();
        assert!(err.contains("spec.syncWindows"), "{err}");
    }
}
