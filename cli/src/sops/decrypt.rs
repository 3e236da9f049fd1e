//! `coffer sops decrypt`: decrypt a file, or one value of it with `--extract`.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use coffer_sops::{Format, Value, get_path, parse_tree_path};

use super::common::{Context, Output, open, read_input};

/// Arguments of `coffer sops decrypt`.
#[derive(Args)]
pub struct DecryptArgs {
    /// The file to decrypt
    file: PathBuf,
    /// Write the result back to the file
    #[arg(short, long)]
    in_place: bool,
    /// Write the result to this file
    #[arg(long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// Print only the value at this path, e.g. '["data"]["password"]'
    #[arg(long, value_name = "PATH")]
    extract: Option<String>,
    /// Decrypt even if the MAC does not match
    #[arg(long)]
    ignore_mac: bool,
    /// Use this name to pick the format
    #[arg(long, value_name = "NAME")]
    filename_override: Option<PathBuf>,
}

/// Renders one extracted value as sops does: strings raw, mappings as a
/// document of the output format, other values in the output format.
fn extract(docs: &mut [coffer_sops::Branch], path: &str, fmt: Format) -> Result<Vec<u8>> {
    let path = parse_tree_path(path)?;
    let first = docs.first().context("the file has no document")?;
    let v = get_path(first, &path)?.clone();
    Ok(match v {
        Value::Str(s) => s.into_bytes(),
        Value::Bytes(b) => b,
        Value::Map(b) => coffer_sops::emit_plain(&[b], fmt)?,
        other => match fmt {
            Format::Json | Format::Binary => coffer_sops::write_json_value(&other).into_bytes(),
            // sops's `EmitValue`: the value as a YAML document of its own.
            _ => coffer_sops::write_yaml_value(&other).into_bytes(),
        },
    })
}

/// Decrypts the file.
pub fn run(ctx: &Context, args: DecryptArgs) -> Result<()> {
    let out = Output::choose(args.in_place, &args.output, &args.file)?;
    let name = args.filename_override.as_ref().unwrap_or(&args.file);
    let (input_fmt, output_fmt) = ctx.formats(name);
    let bytes = read_input(&args.file)?;
    let mut opened = open(&bytes, input_fmt, args.ignore_mac, &args.file)?;
    let plain = match &args.extract {
        Some(p) => extract(&mut opened.docs, p, output_fmt)?,
        None => coffer_sops::emit_plain(&opened.docs, output_fmt)?,
    };
    let plain = zeroize::Zeroizing::new(plain);
    out.write(&plain)
}
