//! `.sops.yaml`: finding it and picking the creation rule for a file. The
//! first rule whose `path_regex` matches the file's path (relative to the
//! config's directory) wins; a rule without `path_regex` matches everything.

use std::path::{Path, PathBuf};

use regex::Regex;

use crate::crypt::CryptRule;
use crate::envelope::EncryptOptions;
use crate::tree::{Branch, Value};
use crate::{Error, Result};

/// How deep to look upward for `.sops.yaml` (matches sops's maxDepth).
const MAX_DEPTH: usize = 100;

/// Looks for `.sops.yaml` (then `.sops.yml`) in `start` and its parents.
pub fn find_config(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    for _ in 0..MAX_DEPTH {
        let d = dir?;
        for name in [".sops.yaml", ".sops.yml"] {
            let p = d.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
        dir = d.parent();
    }
    None
}

fn cfg_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn get<'a>(b: &'a Branch, name: &str) -> Option<&'a Value> {
    b.iter().find(|i| i.name() == Some(name)).map(|i| &i.value)
}

fn text(b: &Branch, name: &str) -> Option<String> {
    match get(b, name)? {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A string or list of strings (`age: a,b` or `age: [a, b]`).
fn key_list(v: Option<&Value>, path: &Path, field: &str) -> Result<Vec<String>> {
    Ok(match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Str(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Some(Value::Seq(items)) => items
            .iter()
            .filter(|i| !matches!(i, Value::Comment(_)))
            .map(|i| match i {
                Value::Str(s) => Ok(s.trim().to_string()),
                _ => Err(cfg_err(path, format!("{field} entries must be strings"))),
            })
            .collect::<Result<_>>()?,
        Some(_) => {
            return Err(cfg_err(
                path,
                format!("{field} must be a string or a list of strings"),
            ));
        }
    })
}

const OTHER_KEYS: [&str; 7] = [
    "pgp",
    "kms",
    "gcp_kms",
    "azure_keyvault",
    "hc_vault_transit_uri",
    "hc_vault",
    "hckms",
];

/// Reads the creation rule for `file` (an absolute path) from `config_path`.
/// `Ok(None)` when the config has no `creation_rules`.
pub fn creation_rule(config_path: &Path, file: &Path) -> Result<Option<EncryptOptions>> {
    let src =
        std::fs::read_to_string(config_path).map_err(|e| cfg_err(config_path, e.to_string()))?;
    creation_rule_in(&src, config_path, file)
}

/// [`creation_rule`] for a config already read: `src` is the text of
/// `config_path` (whose directory `file` is matched relative to).
pub fn creation_rule_in(
    src: &str,
    config_path: &Path,
    file: &Path,
) -> Result<Option<EncryptOptions>> {
    let docs = crate::format::yaml::read(src).map_err(|e| cfg_err(config_path, e.to_string()))?;
    let Some(root) = docs.first() else {
        return Ok(None);
    };
    let Some(rules) = get(root, "creation_rules") else {
        return Ok(None);
    };
    let Value::Seq(rules) = rules else {
        return Err(cfg_err(config_path, "creation_rules must be a list"));
    };
    let dir = config_path
        .parent()
        .map(|d| std::path::absolute(d).unwrap_or_else(|_| d.to_path_buf()))
        .unwrap_or_default();
    let file_str = file.to_string_lossy();
    let prefix = format!("{}{}", dir.display(), std::path::MAIN_SEPARATOR);
    let rel = file_str.strip_prefix(&prefix).unwrap_or(&file_str);
    for rule in rules {
        let Value::Map(rule) = rule else { continue };
        if let Some(re) = text(rule, "path_regex").filter(|s| !s.is_empty()) {
            let re = Regex::new(&re)
                .map_err(|e| cfg_err(config_path, format!("can not compile regexp {re:?}: {e}")))?;
            if !re.is_match(rel) {
                continue;
            }
        }
        return rule_options(rule, config_path).map(Some);
    }
    Err(cfg_err(
        config_path,
        "error loading config: no matching creation rules found",
    ))
}

fn rule_options(rule: &Branch, path: &Path) -> Result<EncryptOptions> {
    let mut key_groups = Vec::new();
    match get(rule, "key_groups") {
        Some(Value::Seq(groups)) if !groups.is_empty() => {
            for g in groups {
                let Value::Map(g) = g else {
                    return Err(cfg_err(path, "key_groups entries must be mappings"));
                };
                let mut ages = key_list(get(g, "age"), path, "age")?;
                if let Some(Value::Seq(merges)) = get(g, "merge") {
                    for m in merges {
                        if let Value::Map(m) = m {
                            ages.extend(key_list(get(m, "age"), path, "age")?);
                        }
                    }
                }
                let others: Vec<&str> = OTHER_KEYS
                    .into_iter()
                    .filter(|k| {
                        !matches!(get(g, k), None | Some(Value::Null))
                            && !key_list(get(g, k), path, k).is_ok_and(|l| l.is_empty())
                    })
                    .collect();
                if ages.is_empty() && !others.is_empty() {
                    return Err(cfg_err(
                        path,
                        format!(
                            "key group uses only unsupported key types ({}); coffer supports age",
                            others.join(", ")
                        ),
                    ));
                }
                key_groups.push(ages);
            }
        }
        _ => {
            let ages = key_list(get(rule, "age"), path, "age")?;
            let others: Vec<&str> = OTHER_KEYS
                .into_iter()
                .filter(|k| key_list(get(rule, k), path, k).is_ok_and(|l| !l.is_empty()))
                .collect();
            if ages.is_empty() && !others.is_empty() {
                return Err(cfg_err(
                    path,
                    format!(
                        "creation rule uses only unsupported key types ({}); coffer supports age",
                        others.join(", ")
                    ),
                ));
            }
            key_groups.push(ages);
        }
    }
    let mut rules = Vec::new();
    for field in CryptRule::FIELDS {
        if let Some(v) = text(rule, field).filter(|s| !s.is_empty()) {
            rules.push(CryptRule::from_field(field, &v).map_err(|e| cfg_err(path, e.to_string()))?);
        }
    }
    if rules.len() > 1 {
        return Err(cfg_err(
            path,
            "cannot use more than one of the suffix/regex rules in one creation rule",
        ));
    }
    let shamir_threshold = match get(rule, "shamir_threshold") {
        Some(Value::Int(i)) if *i >= 0 => *i as usize,
        None | Some(Value::Null) => 0,
        _ => {
            return Err(cfg_err(
                path,
                "shamir_threshold must be a non-negative integer",
            ));
        }
    };
    Ok(EncryptOptions {
        key_groups,
        shamir_threshold,
        rule: rules.pop().unwrap_or_else(|| {
            CryptRule::UnencryptedSuffix(crate::DEFAULT_UNENCRYPTED_SUFFIX.into())
        }),
        mac_only_encrypted: matches!(get(rule, "mac_only_encrypted"), Some(Value::Bool(true))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins_relative_to_config_dir() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join(".sops.yaml");
        std::fs::write(
            &cfg,
            "creation_rules:\n  - path_regex: ^prod/.*\\.yaml$\n    age: age1a, age1b\n    encrypted_regex: ^data$\n  - age:\n      - age1c\n",
        )
        .unwrap();
        let prod = creation_rule(&cfg, &dir.path().join("prod/x.yaml"))
            .unwrap()
            .unwrap();
        assert_eq!(
            prod.key_groups,
            vec![vec!["age1a".to_string(), "age1b".to_string()]]
        );
        assert_eq!(prod.rule.field(), "encrypted_regex");
        let other = creation_rule(&cfg, &dir.path().join("dev/x.yaml"))
            .unwrap()
            .unwrap();
        assert_eq!(other.key_groups, vec![vec!["age1c".to_string()]]);
        assert_eq!(other.rule.field(), "unencrypted_suffix");
        assert_eq!(find_config(&dir.path().join("prod")), Some(cfg));
    }
}
