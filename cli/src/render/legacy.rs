//! kustomize's legacy exec plugins: `coffer render install DIR` lays out
//! `DIR/coffer.dev/v1/<kind lowercase>/<Kind>` for both config kinds
//! (`Render`, `SecretGenerator`), each a two-line script running this
//! binary as `coffer render --exec-plugin CONFIG`. kustomize (with
//! `--enable-alpha-plugins` and `KUSTOMIZE_PLUGIN_HOME=DIR`, or DIR =
//! `$XDG_CONFIG_HOME/kustomize/plugin`) runs it with the config file as the
//! first argument, the resources on stdin (a transformer; nothing for a
//! generator) and the kustomization directory as working directory, and
//! reads a YAML stream back. The work is the KRM function's (`krm`); only
//! the framing differs: a plain stream out, and on error nothing on stdout,
//! the errors on stderr, exit 1.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use coffer_sops::{Format, Item, Value};
use zeroize::Zeroizing;

use super::krm::{self, config};
use super::{RenderArgs, write_stdout};

/// Writes the plugin executables under `dir`.
pub fn install(dir: &Path) -> Result<u8> {
    let exe = std::env::current_exe().context("locating the coffer binary")?;
    let exe = exe
        .to_str()
        .context("the coffer binary's path is not UTF-8")?;
    if exe.contains('\'') {
        bail!("the coffer binary's path contains a quote: {exe}");
    }
    for kind in config::KINDS {
        let plugin_dir = dir
            .join(config::API_VERSION)
            .join(kind.to_ascii_lowercase());
        std::fs::create_dir_all(&plugin_dir)
            .with_context(|| format!("creating {}", plugin_dir.display()))?;
        let path = plugin_dir.join(kind);
        let script = format!("#!/bin/sh\nexec '{exe}' render --exec-plugin \"$@\"\n");
        // NB: atomically, so a running build never sees half a file.
        crate::files::write_atomically(&path, script.as_bytes(), crate::files::Mode::Executable)?;
        write_stdout(format!("{}\n", path.display()).as_bytes())?;
    }
    Ok(0)
}

/// Runs as a legacy exec plugin with the config file `config_path`.
pub fn run(args: &RenderArgs, config_path: &Path) -> Result<u8> {
    let config_bytes = std::fs::read(config_path)
        .with_context(|| format!("reading the plugin config {}", config_path.display()))?;
    let mut config = coffer_sops::load_plain(&config_bytes, Format::Yaml)
        .map_err(|e| anyhow::anyhow!("the plugin config {}: {e}", config_path.display()))?;
    let Some(config) = config.pop() else {
        bail!("the plugin config {} is empty", config_path.display());
    };
    let mut input = Zeroizing::new(Vec::new());
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .context("reading standard input")?;
    // The resources as KRM items (checked under the stream limits first).
    let limits = coffer_manifest::Limits::default();
    let mut items = Vec::new();
    for doc in coffer_manifest::split(&input, "standard input", &limits)? {
        doc.parse("standard input", &limits)?;
        let fmt = match doc.format {
            coffer_manifest::Format::Json => Format::Json,
            coffer_manifest::Format::Yaml => Format::Yaml,
        };
        let trees = coffer_sops::load_plain(doc.text.as_bytes(), fmt)
            .map_err(|e| anyhow::anyhow!("standard input: document {}: {e}", doc.index))?;
        items.extend(trees.into_iter().map(Value::Map));
    }
    let list = vec![
        Item::new("apiVersion", Value::Str("config.kubernetes.io/v1".into())),
        Item::new("kind", Value::Str("ResourceList".into())),
        Item::new("items", Value::Seq(items)),
        Item::new("functionConfig", Value::Map(config)),
    ];
    match krm::answer(args, &list) {
        Ok((mut out, warnings)) => {
            for w in warnings {
                eprintln!("coffer: warning: {w}");
            }
            let text = Zeroizing::new(coffer_sops::write_yaml(&out));
            coffer_sops::zeroize_tree(&mut out);
            write_stdout(text.as_bytes())?;
            Ok(0)
        }
        Err(errors) => {
            for e in errors {
                eprintln!("coffer: error: {e}");
            }
            Ok(1)
        }
    }
}
