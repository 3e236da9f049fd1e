//! Changing who can decrypt: `updatekeys` rewraps the same data key for the
//! recipients of the matching `.sops.yaml` rule (values untouched), and
//! `rotate` makes a new data key, optionally adding or removing age
//! recipients, and re-encrypts every value.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use coffer_sops::{AgeKey, MasterKey, Session, data_key, wrap_data_key};

use super::common::{Context, Output, identities, open, read_input, write_atomic};
use super::{codes, exit};

/// Arguments of `coffer sops updatekeys`.
#[derive(Args)]
pub struct UpdatekeysArgs {
    /// The file to update
    file: PathBuf,
    /// Apply without asking
    #[arg(short, long)]
    yes: bool,
}

/// Arguments of `coffer sops rotate`.
#[derive(Args)]
pub struct RotateArgs {
    /// The file to rotate
    file: PathBuf,
    /// Write the result back to the file
    #[arg(short, long)]
    in_place: bool,
    /// Write the result to this file
    #[arg(long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// Add these age recipients (comma separated)
    #[arg(long, value_name = "RECIPIENTS")]
    add_age: Option<String>,
    /// Remove these age recipients (comma separated)
    #[arg(long, value_name = "RECIPIENTS")]
    rm_age: Option<String>,
}

fn split(list: &Option<String>) -> Vec<String> {
    list.iter()
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn recipients(groups: &[Vec<MasterKey>]) -> Vec<Vec<String>> {
    groups
        .iter()
        .map(|g| {
            g.iter()
                .filter_map(|k| match k {
                    MasterKey::Age(a) => Some(a.recipient.clone()),
                    MasterKey::Other { .. } => None,
                })
                .collect()
        })
        .collect()
}

/// Rewraps the data key for the recipients of the file's creation rule.
pub fn updatekeys(ctx: &Context, args: UpdatekeysArgs) -> Result<()> {
    let (fmt, _) = ctx.formats(&args.file);
    let bytes = read_input(&args.file)?;
    let (docs, mut meta) = coffer_sops::load_encrypted(&bytes, fmt)?;
    let rule = ctx
        .creation_rule(&args.file)?
        .ok_or_else(|| exit(61, "no .sops.yaml creation rule applies to this file"))?;
    let wanted: Vec<Vec<String>> = rule
        .key_groups
        .into_iter()
        .filter(|g| !g.is_empty())
        .collect();
    let current = recipients(&meta.key_groups);
    if wanted == current && rule.shamir_threshold == meta.shamir_threshold {
        eprintln!("{}: already up to date", args.file.display());
        return Ok(());
    }
    for (gi, (old, new)) in current
        .iter()
        .zip(wanted.iter().chain(std::iter::repeat(&Vec::new())))
        .enumerate()
    {
        for r in new.iter().filter(|r| !old.contains(r)) {
            eprintln!("group {gi}: +++ {r}");
        }
        for r in old.iter().filter(|r| !new.contains(r)) {
            eprintln!("group {gi}: --- {r}");
        }
    }
    if !args.yes {
        eprint!("Is this okay? (y/n): ");
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("failed to read the answer")?;
        if !answer.trim().eq_ignore_ascii_case("y") {
            eprintln!("changes not applied");
            return Ok(());
        }
    }
    let key = data_key(&meta, &identities(&meta))?;
    meta.key_groups = wanted
        .into_iter()
        .map(|g| {
            g.into_iter()
                .map(|recipient| {
                    MasterKey::Age(AgeKey {
                        recipient,
                        enc: String::new(),
                    })
                })
                .collect()
        })
        .collect();
    meta.shamir_threshold = if meta.key_groups.len() > 1 {
        rule.shamir_threshold
    } else {
        0
    };
    wrap_data_key(&mut meta, &key)?;
    write_atomic(&args.file, &coffer_sops::emit_encrypted(&docs, &meta, fmt)?)?;
    eprintln!("{}: updated", args.file.display());
    Ok(())
}

/// Re-encrypts every value under a new data key.
pub fn rotate(ctx: &Context, args: RotateArgs) -> Result<()> {
    let out = Output::choose(args.in_place, &args.output, &args.file)?;
    let (input_fmt, output_fmt) = ctx.formats(&args.file);
    let bytes = read_input(&args.file)?;
    let mut opened = open(&bytes, input_fmt, false, &args.file)?;
    let remove = split(&args.rm_age);
    for group in &mut opened.meta.key_groups {
        group.retain(|k| !matches!(k, MasterKey::Age(a) if remove.contains(&a.recipient)));
    }
    let add = split(&args.add_age);
    if !add.is_empty() {
        let first = opened
            .meta
            .key_groups
            .first_mut()
            .context("the file has no key groups")?;
        for r in add {
            coffer_sops::parse_recipient(&r)?;
            first.push(MasterKey::Age(AgeKey {
                recipient: r,
                enc: String::new(),
            }));
        }
    }
    opened.meta.key_groups.retain(|g| !g.is_empty());
    if opened.meta.key_groups.is_empty() {
        return Err(exit(
            codes::NO_ENCRYPTION_KEY_FOUND,
            "rotation would leave the file without recipients",
        ));
    }
    let key = coffer_sops::DataKey::generate()?;
    wrap_data_key(&mut opened.meta, &key)?;
    let mut docs = opened.docs;
    Session::new(key).encrypt(&mut docs, &mut opened.meta)?;
    out.write(&coffer_sops::emit_encrypted(
        &docs,
        &opened.meta,
        output_fmt,
    )?)
}
