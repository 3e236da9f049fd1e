//! `coffer render` as a KRM function (kustomize `--enable-alpha-plugins
//! --enable-exec`, kpt): a `config.kubernetes.io/v1` `ResourceList` in, a
//! `ResourceList` out with the items decrypted (kustomize's own annotations
//! kept), the Secrets a `coffer.dev/v1` config generates appended, and a
//! `results` entry with a severity for every warning and error. On error
//! the answer holds no item at all (nothing half-decrypted reaches the
//! build) and the exit code is 1.
//!
//! Items are handled as ordered trees (coffer-sops' reader), not as
//! `serde_json::Value` (which sorts keys), so a SOPS resource keeps the
//! value order its MAC was computed over. kustomize's annotations are taken
//! off each item before decryption (they were added after encryption and
//! would break the MAC) and put back on its output.

pub(super) mod config;

use anyhow::Result;
use coffer_gitops::{Decryptor, Input, Options};
use coffer_manifest::{Limits, split};
use coffer_sops::{Branch, Format, Item, Value};
use zeroize::Zeroizing;

use super::{RenderArgs, build_keyring, write_stdout};
use config::FunctionConfig;

/// Annotation prefixes kustomize and kpt put on items (kept, not decrypted).
const KRM_ANNOTATION_PREFIXES: [&str; 4] = [
    "config.kubernetes.io/",
    "internal.config.kubernetes.io/",
    "kustomize.config.k8s.io/",
    "config.k8s.io/",
];

/// The input as a ResourceList, when it is one (one document,
/// `apiVersion: config.kubernetes.io/v1`, `kind: ResourceList`).
pub(super) fn resource_list(bytes: &[u8]) -> Result<Option<Branch>> {
    // Cheap test first: a manifest stream is not parsed twice.
    let needle = b"ResourceList";
    if !bytes.windows(needle.len()).any(|w| w == needle) {
        return Ok(None);
    }
    let limits = Limits::default();
    let docs = split(bytes, "standard input", &limits)?;
    let [doc] = docs.as_slice() else {
        return Ok(None);
    };
    // serde-saphyr under the limits first (depth, aliases, size), then the
    // ordered reader.
    let value = doc.parse("standard input", &limits)?;
    if value.get("apiVersion").and_then(|v| v.as_str()) != Some("config.kubernetes.io/v1")
        || value.get("kind").and_then(|v| v.as_str()) != Some("ResourceList")
    {
        return Ok(None);
    }
    let format = match doc.format {
        coffer_manifest::Format::Json => Format::Json,
        coffer_manifest::Format::Yaml => Format::Yaml,
    };
    let mut trees = coffer_sops::load_plain(doc.text.as_bytes(), format)
        .map_err(|e| anyhow::anyhow!("the ResourceList cannot be read: {e}"))?;
    Ok(trees.pop())
}

/// One `results` entry.
struct KrmResult {
    severity: &'static str,
    message: String,
    /// apiVersion, kind, name, namespace of the item, when known.
    resource: Option<coffer_gitops::ObjectRef>,
}

impl KrmResult {
    fn to_value(&self) -> Value {
        let mut b = vec![
            Item::new("message", Value::Str(self.message.clone())),
            Item::new("severity", Value::Str(self.severity.to_owned())),
        ];
        if let Some(r) = &self.resource {
            let mut rr = Branch::new();
            for (k, v) in [
                ("apiVersion", &r.api_version),
                ("kind", &r.kind),
                ("name", &r.name),
                ("namespace", &r.namespace),
            ] {
                if let Some(v) = v {
                    rr.push(Item::new(k, Value::Str(v.clone())));
                }
            }
            if !rr.is_empty() {
                b.push(Item::new("resourceRef", Value::Map(rr)));
            }
        }
        Value::Map(b)
    }
}

/// The output items and warning messages, or the error messages (for the
/// legacy exec plugin, which frames them differently).
pub(super) fn answer(
    args: &RenderArgs,
    list: &Branch,
) -> Result<(Vec<Branch>, Vec<String>), Vec<String>> {
    let mut results = Vec::new();
    match process(args, list, &mut results) {
        Ok(items) => Ok((items, results.into_iter().map(|r| r.message).collect())),
        Err(errors) => Err(errors.into_iter().map(|r| r.message).collect()),
    }
}

/// Runs the function and writes its ResourceList; exit code 1 on error.
pub(super) fn run(args: &RenderArgs, list: Branch) -> Result<u8> {
    let mut results = Vec::new();
    let outcome = process(args, &list, &mut results);
    let (items, code) = match outcome {
        Ok(items) => (items, 0),
        Err(errors) => {
            for e in &errors {
                eprintln!("coffer: error: {}", e.message);
            }
            results.extend(errors);
            (Vec::new(), 1)
        }
    };
    for r in results.iter().filter(|r| r.severity == "warning") {
        eprintln!("coffer: warning: {}", r.message);
    }
    let mut out = vec![
        Item::new("apiVersion", Value::Str("config.kubernetes.io/v1".into())),
        Item::new("kind", Value::Str("ResourceList".into())),
        Item::new(
            "items",
            Value::Seq(items.into_iter().map(Value::Map).collect()),
        ),
    ];
    if !results.is_empty() {
        out.push(Item::new(
            "results",
            Value::Seq(results.iter().map(KrmResult::to_value).collect()),
        ));
    }
    let text = Zeroizing::new(coffer_sops::write_yaml(std::slice::from_ref(&out)));
    coffer_sops::zeroize_tree(std::slice::from_mut(&mut out));
    write_stdout(text.as_bytes())?;
    Ok(code)
}

fn error(message: impl Into<String>) -> Vec<KrmResult> {
    vec![KrmResult {
        severity: "error",
        message: message.into(),
        resource: None,
    }]
}

/// Decrypts the items and generates the configured Secrets; the output
/// items, or every error as a result.
fn process(
    args: &RenderArgs,
    list: &Branch,
    results: &mut Vec<KrmResult>,
) -> Result<Vec<Branch>, Vec<KrmResult>> {
    let config = match get(list, "functionConfig") {
        None | Some(Value::Null) => FunctionConfig::default(),
        Some(Value::Map(b)) => {
            FunctionConfig::parse(b).map_err(|e| error(format!("functionConfig: {e}")))?
        }
        Some(_) => return Err(error("functionConfig: not a mapping")),
    };
    let mut age = args.age_identities.clone();
    age.extend(config.age_identity_files.iter().cloned());
    let mut sealing = args.sealing_keys.clone();
    sealing.extend(config.sealing_key_files.iter().cloned());
    let mut keyrings = args.keyrings.clone();
    keyrings.extend(config.keyring_files.iter().cloned());
    let keyring = build_keyring(&age, &sealing, &keyrings).map_err(|e| error(format!("{e:#}")))?;
    let options = Options {
        mac: config.mac.unwrap_or(args.mac).into(),
        require_unsealed: config.require_unsealed.unwrap_or(args.require_unsealed),
        // Emptiness is judged on the whole answer below.
        allow_empty: true,
        ..Options::default()
    };
    let allow_empty = config.allow_empty.unwrap_or(args.allow_empty);
    let decryptor = Decryptor::with_options(keyring, options);

    let items: Vec<&Branch> = match get(list, "items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Seq(items)) => items
            .iter()
            .map(|i| match i {
                Value::Map(b) => Ok(b),
                _ => Err(error("items: an item is not a mapping")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(error("items: not a sequence")),
    };
    let mut out = decrypt_items(&decryptor, &items, results)?;
    let had_input = !out.is_empty();
    out.extend(
        config
            .generate(&decryptor, results)
            .map_err(|e| error(format!("{e:#}")))?,
    );
    if out.is_empty() && !allow_empty && (had_input || config.generates()) {
        return Err(error(
            "no item to output: refusing to answer with nothing (Argo CD prunes every resource \
             of an application whose manifests are empty); set allowEmpty to accept it",
        ));
    }
    Ok(out)
}

/// The items, decrypted in one run, kustomize's annotations put back.
fn decrypt_items(
    decryptor: &Decryptor,
    items: &[&Branch],
    results: &mut Vec<KrmResult>,
) -> Result<Vec<Branch>, Vec<KrmResult>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut kept = Vec::with_capacity(items.len());
    let mut texts = Vec::with_capacity(items.len());
    let mut names = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut item = (*item).clone();
        let annotations = take_krm_annotations(&mut item);
        let path = annotations.iter().find_map(|a| match (&a.key, &a.value) {
            (coffer_sops::Key::Name(k), Value::Str(v))
                if k.ends_with("config.kubernetes.io/path") =>
            {
                Some(v.clone())
            }
            _ => None,
        });
        names.push(match path {
            Some(p) => format!("item {} ({p})", i + 1),
            None => format!("item {}", i + 1),
        });
        texts.push(Zeroizing::new(coffer_sops::write_yaml(&[item])));
        kept.push(annotations);
    }
    let inputs: Vec<Input<'_>> = names
        .iter()
        .zip(&texts)
        .map(|(name, text)| Input {
            name,
            bytes: text.as_bytes(),
        })
        .collect();
    let decrypted = decryptor.decrypt_inputs(&inputs).map_err(|e| {
        e.errors()
            .into_iter()
            .map(|one| KrmResult {
                severity: "error",
                message: one.to_string(),
                resource: one.object().cloned(),
            })
            .collect::<Vec<_>>()
    })?;
    for w in &decrypted.report.warnings {
        results.push(KrmResult {
            severity: "warning",
            message: w.to_string(),
            resource: w.object.clone(),
        });
    }
    if decrypted.documents.len() != items.len() {
        return Err(error(
            "the decrypted items do not match the input items one for one",
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (doc, annotations) in decrypted.documents.iter().zip(kept) {
        let format = match doc.format {
            coffer_manifest::Format::Json => Format::Json,
            coffer_manifest::Format::Yaml => Format::Yaml,
        };
        let mut tree = coffer_sops::load_plain(doc.text().as_bytes(), format)
            .ok()
            .and_then(|mut t| t.pop())
            .ok_or_else(|| {
                error(format!(
                    "{}: cannot read the decrypted item back",
                    doc.object
                ))
            })?;
        put_krm_annotations(&mut tree, annotations);
        out.push(tree);
    }
    Ok(out)
}

pub(super) fn get<'a>(b: &'a Branch, key: &str) -> Option<&'a Value> {
    b.iter().find(|i| i.name() == Some(key)).map(|i| &i.value)
}

fn get_mut<'a>(b: &'a mut Branch, key: &str) -> Option<&'a mut Value> {
    b.iter_mut()
        .find(|i| i.name() == Some(key))
        .map(|i| &mut i.value)
}

/// Takes kustomize's and kpt's annotations off an item (removing an
/// `annotations` mapping left empty).
fn take_krm_annotations(item: &mut Branch) -> Branch {
    let Some(Value::Map(metadata)) = get_mut(item, "metadata") else {
        return Branch::new();
    };
    let Some(Value::Map(annotations)) = get_mut(metadata, "annotations") else {
        return Branch::new();
    };
    let (taken, rest): (Branch, Branch) = std::mem::take(annotations).into_iter().partition(|a| {
        a.name()
            .is_some_and(|n| KRM_ANNOTATION_PREFIXES.iter().any(|p| n.starts_with(p)))
    });
    *annotations = rest;
    if annotations.is_empty() && !taken.is_empty() {
        metadata.retain(|i| i.name() != Some("annotations"));
    }
    taken
}

/// Puts annotations back on an item.
fn put_krm_annotations(item: &mut Branch, taken: Branch) {
    if taken.is_empty() {
        return;
    }
    if get(item, "metadata").is_none() {
        item.push(Item::new("metadata", Value::Map(Branch::new())));
    }
    let Some(Value::Map(metadata)) = get_mut(item, "metadata") else {
        return;
    };
    if !matches!(get(metadata, "annotations"), Some(Value::Map(_))) {
        metadata.retain(|i| i.name() != Some("annotations"));
        metadata.push(Item::new("annotations", Value::Map(Branch::new())));
    }
    if let Some(Value::Map(annotations)) = get_mut(metadata, "annotations") {
        annotations.extend(taken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(yaml: &str) -> Branch {
        coffer_sops::load_plain(yaml.as_bytes(), Format::Yaml)
            .unwrap()
            .pop()
            .unwrap()
    }

    #[test]
    fn kustomize_annotations_are_taken_off_and_put_back_in_place() {
        let original = "kind: Secret\nmetadata:\n  name: a\n  annotations:\n    config.kubernetes.io/index: '0'\n    mine: kept\n    internal.config.kubernetes.io/path: a.yaml\n";
        let mut item = tree(original);
        let taken = take_krm_annotations(&mut item);
        assert_eq!(taken.len(), 2);
        assert_eq!(
            coffer_sops::write_yaml(&[item.clone()]),
            "kind: Secret\nmetadata:\n    name: a\n    annotations:\n        mine: kept\n"
        );
        put_krm_annotations(&mut item, taken);
        let text = coffer_sops::write_yaml(&[item]);
        assert!(
            text.contains("mine: kept")
                && text.contains("config.kubernetes.io/index")
                && text.contains("path: a.yaml"),
            "{text}"
        );

        // Only kustomize's annotations: the mapping goes, and comes back.
        let mut item = tree(
            "kind: X\nmetadata:\n  name: b\n  annotations:\n    kustomize.config.k8s.io/id: x\n",
        );
        let taken = take_krm_annotations(&mut item);
        assert_eq!(
            coffer_sops::write_yaml(&[item.clone()]),
            "kind: X\nmetadata:\n    name: b\n"
        );
        put_krm_annotations(&mut item, taken);
        assert!(coffer_sops::write_yaml(&[item]).contains("kustomize.config.k8s.io/id: x"));
    }
}
