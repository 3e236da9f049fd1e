//! `coffer keygen`: makes a sealing key pair and its self-signed certificate
//! offline, as the Bitnami controller would, and writes it either as a key
//! Secret manifest the controller (ours or Bitnami's) adopts, or as PEM files.
//!
//! The manifest is the key Secret `coffer_sealed::key_secret` builds, the
//! one the Bitnami controller stores (type `kubernetes.io/tls`, label
//! `sealedsecrets.bitnami.com/sealed-secrets-key: active`, PKCS#1 `tls.key`,
//! `tls.crt`), written in Bitnami's field order.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Args;
use coffer_crypto::{KeyOptions, KeyPair, KeySize};
use coffer_sealed::key_secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::files::{self, Mode};
use crate::seal::render::Format;

const EXAMPLES: &str = "\
Examples:
  # A 4096-bit key Secret for the controller, and the certificate for sealing
  coffer keygen -w sealing-key.yaml --out-cert sealing.crt
  kubectl apply -f sealing-key.yaml
  coffer seal --cert sealing.crt -f secret.yaml -w sealed.yaml

  # A 2048-bit key valid one year, as PEM files
  coffer keygen --bits 2048 --validity 365d --out-key tls.key --out-cert tls.crt

  # A key Secret with a custom name and namespace, as JSON on stdout
  coffer keygen --name my-sealing-key -n sealed-secrets -o json";

/// Flags of `coffer keygen`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct KeygenArgs {
    /// RSA key size in bits
    #[arg(long, default_value_t = 4096, value_parser = parse_bits)]
    bits: usize,
    /// Subject common name of the certificate (the controller's --key-cn; empty by default)
    #[arg(long, default_value = "", value_name = "NAME")]
    cn: String,
    /// How long the certificate is valid: a Go duration (87600h) or days/years (365d, 10y)
    #[arg(long, default_value = "87600h", value_parser = parse_validity, value_name = "DURATION")]
    validity: Duration,
    /// Name of the key Secret
    #[arg(long, default_value = "sealed-secrets-key", conflicts_with = "out_key")]
    name: String,
    /// Namespace of the key Secret (where the controller runs)
    #[arg(
        short = 'n',
        long,
        default_value = "kube-system",
        conflicts_with = "out_key"
    )]
    namespace: String,
    /// Format of the key Secret: yaml or json (a .json/.yaml output name also decides)
    #[arg(short = 'o', long, value_parser = crate::seal::render::parse_format, conflicts_with = "out_key")]
    format: Option<Format>,
    /// Write the key Secret to this file (created 0600) instead of stdout
    #[arg(
        short = 'w',
        long = "output",
        value_name = "FILE",
        conflicts_with = "out_key"
    )]
    output: Option<PathBuf>,
    /// Write the private key as PKCS#1 PEM to this file (0600) instead of a key Secret; needs --out-cert
    #[arg(long, value_name = "FILE", requires = "out_cert")]
    out_key: Option<PathBuf>,
    /// Also write the certificate PEM to this file (for `coffer seal --cert`)
    #[arg(long, value_name = "FILE")]
    out_cert: Option<PathBuf>,
}

fn parse_bits(text: &str) -> Result<usize, String> {
    let bits: usize = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of bits"))?;
    KeySize::from_bits(bits)
        .map(KeySize::bits)
        .map_err(|_| "the key size must be 2048, 3072 or 4096 bits".to_string())
}

/// Parses a validity: Go duration syntax (`87600h`, `1h30m`, `90s`) as the
/// controller's `--key-ttl`, plus `d` (24h) and `y` (365d) for convenience.
pub fn parse_validity(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration (examples: 87600h, 365d, 10y)");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "y" => 365 * 86_400,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(seconds)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
    }
    if total == 0 {
        return Err("the validity must be longer than zero".to_string());
    }
    Ok(Duration::from_secs(total))
}

/// The key Secret as rendered: the fields of the Secret that
/// `coffer_sealed::key_secret::build` makes, in the order Bitnami writes
/// them, with borrowed strings so the only copies of the key material are
/// zeroizing buffers.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeySecretView<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: KeyMetadata<'a>,
    #[serde(rename = "type")]
    type_: &'a str,
    data: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
struct KeyMetadata<'a> {
    name: &'a str,
    namespace: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
}

/// Renders the key Secret for `pair` (the caller zeroizes the result).
fn key_secret(
    pair: &KeyPair,
    name: &str,
    namespace: &str,
    format: Format,
) -> Result<Zeroizing<String>> {
    let metadata = ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        ..ObjectMeta::default()
    };
    let built = key_secret::build(pair, metadata)?;
    let encoded: Vec<(&str, Zeroizing<String>)> = built
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), Zeroizing::new(STANDARD.encode(&v.0))))
        .collect();
    let secret = KeySecretView {
        api_version: "v1",
        kind: "Secret",
        metadata: KeyMetadata {
            name,
            namespace,
            labels: built
                .metadata
                .labels
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        },
        type_: built.type_.as_deref().unwrap_or_default(),
        data: encoded.iter().map(|(k, v)| (*k, v.as_str())).collect(),
    };
    let text = match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&secret)?;
            s.push('\n');
            s
        }
        Format::Yaml => {
            let mut text = crate::seal::render::to_yaml(&secret)?;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            return Ok(text);
        }
    };
    Ok(Zeroizing::new(text))
}

/// Runs `coffer keygen`.
pub fn run(args: KeygenArgs) -> Result<u8> {
    let options = KeyOptions {
        size: KeySize::from_bits(args.bits)?,
        common_name: args.cn.clone(),
        validity: args.validity,
    };
    let pair = KeyPair::generate(&options).context("cannot generate the key pair")?;
    let cert_pem = pair.certificate().to_pem();

    if let Some(key_path) = &args.out_key {
        let key_pem = pair.private_key().to_pkcs1_pem()?;
        files::write_atomically(key_path, key_pem.as_bytes(), Mode::Private)?;
    } else {
        let format = match (args.format, &args.output) {
            (Some(f), _) => f,
            (None, Some(p)) if p.extension().is_some_and(|e| e == "json") => Format::Json,
            _ => Format::Yaml,
        };
        if args.name.is_empty() {
            bail!("--name must not be empty");
        }
        let manifest = key_secret(&pair, &args.name, &args.namespace, format)?;
        files::write_output(args.output.as_deref(), manifest.as_bytes(), Mode::Private)?;
    }
    if let Some(cert_path) = &args.out_cert {
        files::write_atomically(cert_path, cert_pem.as_bytes(), Mode::Public)?;
    }
    eprintln!(
        "coffer: generated a {}-bit sealing key, fingerprint {}, certificate valid until {}",
        args.bits,
        pair.fingerprint(),
        rfc3339(pair.certificate().not_after()),
    );
    Ok(0)
}

/// A certificate date for humans, in UTC (RFC 3339, whole seconds).
fn rfc3339(when: std::time::SystemTime) -> String {
    // NB: jiff comes with k8s-openapi; a date outside its range (years
    // -9999..=9999) cannot come from a certificate we just made.
    k8s_openapi::jiff::Timestamp::try_from(when)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| "(out of range)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_accepts_go_durations_days_and_years() {
        assert_eq!(
            parse_validity("87600h"),
            Ok(Duration::from_secs(87_600 * 3600))
        );
        assert_eq!(parse_validity("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(
            parse_validity("365d"),
            Ok(Duration::from_secs(365 * 86_400))
        );
        assert_eq!(
            parse_validity("10y"),
            Ok(Duration::from_secs(3650 * 86_400))
        );
    }

    #[test]
    fn validity_rejects_nonsense_and_zero() {
        for bad in ["", "h", "10", "10w", "-5h", "1.5h", "0h"] {
            assert!(parse_validity(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn dates_render_as_utc() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
        let leap_day = std::time::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap_day), "2000-02-29T00:00:00Z");
    }
}
