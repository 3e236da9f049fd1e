//! The manifests `coffer seal` reads: typed Secrets and SealedSecrets from
//! a stream of JSON objects or a multi-document YAML file (matches kubeseal's
//! `YAMLOrJSONDecoder`), through the shared reader in `coffer-manifest`,
//! whose errors name the source and the document (1-based) and never quote
//! the input.

use anyhow::{Result, bail};
use coffer_api::SealedSecret;
use k8s_openapi::api::core::v1::Secret;

pub use coffer_manifest::{kind_of, parse_documents, typed};

/// Reads every Secret in `bytes`.
pub fn parse_secrets(bytes: &[u8], source: &str) -> Result<Vec<Secret>> {
    Ok(coffer_manifest::parse_typed(bytes, source, "Secret")?)
}

/// Reads every SealedSecret in `bytes`.
pub fn parse_sealed_secrets(bytes: &[u8], source: &str) -> Result<Vec<SealedSecret>> {
    let sealed: Vec<SealedSecret> = coffer_manifest::parse_typed(bytes, source, "SealedSecret")?;
    if sealed.is_empty() {
        bail!("no SealedSecret found in {source}");
    }
    Ok(sealed)
}

/// Reads exactly one SealedSecret from `bytes`.
pub fn parse_one_sealed_secret(bytes: &[u8], source: &str) -> Result<SealedSecret> {
    let mut all = parse_sealed_secrets(bytes, source)?;
    if all.len() > 1 {
        bail!(
            "{source} holds {} documents; expected one SealedSecret",
            all.len()
        );
    }
    Ok(all.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_of_another_kind_is_named_in_the_error() {
        let err = parse_secrets(
            b"kind: Secret\nmetadata: {name: a}\n---\nkind: ConfigMap\n",
            "x.yaml",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "document 2 of x.yaml is a ConfigMap, not a Secret"
        );
    }

    #[test]
    fn type_errors_do_not_quote_the_value() {
        let err =
            parse_secrets(b"kind: Secret\nstringData: hunter2-topsecret\n", "s.yaml").unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("document 1 of s.yaml is not a valid Secret"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn yaml_one_one_booleans_stay_strings_where_strings_are_expected() {
        let secrets = parse_secrets(
            b"kind: Secret\nmetadata: {name: y, namespace: n}\nstringData: {a: on}\n",
            "s",
        )
        .unwrap();
        assert_eq!(secrets[0].metadata.namespace.as_deref(), Some("n"));
        assert_eq!(secrets[0].string_data.as_ref().unwrap()["a"], "on");
    }

    #[test]
    fn more_than_a_thousand_documents_are_read() {
        let stream: String = (0..1500)
            .map(|i| format!("---\nkind: Secret\nmetadata: {{name: s{i}}}\n"))
            .collect();
        assert_eq!(
            parse_secrets(stream.as_bytes(), "many").unwrap().len(),
            1500
        );
    }
}
