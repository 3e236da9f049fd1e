//! `kubectl coffer <TAB>`. kubectl (1.26+) completes a plugin's arguments
//! by running `kubectl_complete-coffer` from PATH with the words typed after
//! `kubectl coffer` (the last one is the word being completed, possibly
//! empty), and reads Cobra's `__complete` answer: one candidate per line
//! (`value<TAB>description`), then `:<directive>`. A link named
//! `kubectl_complete-coffer` to the coffer binary answers from the same clap
//! definitions that parse the flags, so completions cannot drift.

use clap::Command;

/// The executable name kubectl looks for.
pub const HELPER: &str = "kubectl_complete-coffer";

/// Cobra's `ShellCompDirectiveDefault`: the shell may also offer files.
const FILES: u8 = 0;
/// Cobra's `ShellCompDirectiveNoFileComp`: only the candidates given.
const NO_FILES: u8 = 4;

/// Candidates (value, description) for the last of `words`, and the
/// directive for the shell.
pub fn complete(root: &Command, words: &[String]) -> (Vec<(String, String)>, u8) {
    let (partial, typed) = match words.split_last() {
        Some((last, rest)) => (last.as_str(), rest),
        None => ("", &[][..]),
    };
    let mut command = root;
    for word in typed {
        if let Some(sub) = command.find_subcommand(word) {
            command = sub;
        }
    }
    // The value of a flag typed just before (`--scope <TAB>`).
    if let Some(flag) = typed.last().and_then(|w| w.strip_prefix("--"))
        && !flag.contains('=')
        && let Some(arg) = command.get_arguments().find(|a| a.get_long() == Some(flag))
        && arg.get_action().takes_values()
    {
        return values(arg, partial, "");
    }
    // `--flag=<TAB>`.
    if let Some((flag, value)) = partial.strip_prefix("--").and_then(|p| p.split_once('='))
        && let Some(arg) = command.get_arguments().find(|a| a.get_long() == Some(flag))
    {
        return values(arg, value, &format!("--{flag}="));
    }
    if partial.starts_with('-') {
        let flags = command
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| Some((format!("--{}", a.get_long()?), help(a.get_help()))))
            .chain([("--help".to_owned(), "Print help".to_owned())]);
        return (matching(flags, partial), NO_FILES);
    }
    if command.has_subcommands() {
        let subcommands = command
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .map(|s| (s.get_name().to_owned(), help(s.get_about())));
        return (matching(subcommands, partial), NO_FILES);
    }
    // A positional argument: its values when it has a fixed set
    // (`completions <TAB>`), else files (`reseal <TAB>`).
    match command
        .get_positionals()
        .find(|a| !a.get_possible_values().is_empty())
    {
        Some(arg) => values(arg, partial, ""),
        None => (Vec::new(), FILES),
    }
}

/// The answer in Cobra's format.
pub fn render((candidates, directive): (Vec<(String, String)>, u8)) -> String {
    let mut out = String::new();
    for (value, description) in candidates {
        out.push_str(&value);
        if !description.is_empty() {
            out.push('\t');
            out.push_str(&description);
        }
        out.push('\n');
    }
    out.push_str(&format!(":{directive}\n"));
    out
}

/// A flag's or positional's fixed values, or files when it has none.
fn values(arg: &clap::Arg, partial: &str, prefix: &str) -> (Vec<(String, String)>, u8) {
    let possible = arg.get_possible_values();
    if possible.is_empty() {
        return (Vec::new(), FILES);
    }
    let all = possible
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| (format!("{prefix}{}", v.get_name()), help(v.get_help())));
    (matching(all, &format!("{prefix}{partial}")), NO_FILES)
}

fn matching(
    candidates: impl Iterator<Item = (String, String)>,
    partial: &str,
) -> Vec<(String, String)> {
    candidates.filter(|(v, _)| v.starts_with(partial)).collect()
}

/// The first line of a help text.
fn help(text: Option<&clap::builder::StyledStr>) -> String {
    text.map(|t| t.to_string().lines().next().unwrap_or_default().to_owned())
        .unwrap_or_default()
}
