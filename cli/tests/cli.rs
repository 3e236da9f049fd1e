//! The `coffer` binary as a command: `--version`, shell completions, a
//! reader that stops early (`coffer … | head`), and running as the kubectl
//! plugin `kubectl coffer`.

mod seal_harness;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use seal_harness::{SECRET_YAML, Sandbox, fail, json_docs, ok};

const COFFER: &str = env!("CARGO_BIN_EXE_coffer");

#[test]
fn version_names_the_command_and_the_package_version() {
    let sb = Sandbox::new();
    let out = ok(sb.coffer(&["--version"], None));
    assert_eq!(out, format!("coffer {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn completion_scripts_name_every_subcommand_for_each_shell() {
    let sb = Sandbox::new();
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(sb.coffer(&["completions", shell], None));
        for word in [
            "seal",
            "reseal",
            "keygen",
            "sops",
            "completions",
            "--recovery-private-key",
        ] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let err = fail(sb.coffer(&["completions", "tcsh"], None));
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
}

/// The bash script, loaded into a real bash, completes the subcommand and
/// the flags of `coffer seal`.
#[test]
fn bash_completion_completes_subcommands_and_flags() {
    let sb = Sandbox::new();
    sb.write("coffer.bash", ok(sb.coffer(&["completions", "bash"], None)));
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let script = format!(
            "source ./coffer.bash\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT={}\n\
             _coffer coffer '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1,
            line.len(),
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(sb.dir.path())
            .output()
            .expect("run bash");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let subcommands = complete("coffer re");
    let mut subcommands: Vec<&str> = subcommands.lines().collect();
    subcommands.sort_unstable();
    assert_eq!(subcommands, ["render", "reseal"]);
    let flags = complete("coffer seal --re");
    for flag in [
        "--re-encrypt",
        "--recovery-unseal",
        "--recovery-private-key",
    ] {
        assert!(flags.lines().any(|l| l == flag), "no {flag} in:\n{flags}");
    }
}

/// Many Secrets: the sealed output (about 1 MB) is far larger than a pipe's
/// buffer, so coffer is still writing when the reader goes away.
fn many_secrets(sb: &Sandbox) {
    let mut input = String::new();
    for i in 0..1000 {
        input.push_str(&format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s{i}, namespace: prod}}\nstringData: {{a: b}}\n"
        ));
    }
    sb.write("many.yaml", input);
}

#[test]
fn a_reader_that_stops_early_ends_coffer_quietly_with_success() {
    let sb = Sandbox::with_key();
    many_secrets(&sb);
    let mut child = sb
        .command(COFFER)
        .args(["seal", "--cert", "cert.pem", "-f", "many.yaml"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut start = [0u8; 16];
    stdout.read_exact(&mut start).unwrap();
    assert_eq!(&start[..1], b"{");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "a closed pipe is not a failure (no panic, no signal)"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "nothing on stderr"
    );
}

/// A directory holding `kubectl-coffer`, a link to the coffer binary, as a
/// user installs the plugin.
fn plugin_dir(sb: &Sandbox) -> PathBuf {
    let dir = sb.path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(COFFER, dir.join("kubectl-coffer")).unwrap();
    dir
}

#[test]
fn as_kubectl_coffer_it_behaves_the_same_and_says_kubectl_coffer() {
    let sb = Sandbox::with_key();
    let plugin = plugin_dir(&sb).join("kubectl-coffer");
    let run = |args: &[&str], stdin: Option<&[u8]>| sb.run_program(&plugin, args, &[], stdin);
    let help = ok(run(&["seal", "--help"], None));
    assert!(
        help.contains("Usage: kubectl coffer seal [OPTIONS]"),
        "{help}"
    );
    let sealed = ok(run(
        &["seal", "--cert", "cert.pem"],
        Some(SECRET_YAML.as_bytes()),
    ));
    assert_eq!(json_docs(&sealed)[0]["kind"], "SealedSecret");
    let err = fail(run(&["seal", "--no-such-flag"], None));
    assert!(err.contains("Usage: kubectl coffer seal"), "{err}");
}

/// The real kubectl finds the plugin on PATH and runs it (kubectl's plugin
/// mechanism: an executable named `kubectl-<name>` on PATH).
#[test]
fn kubectl_runs_coffer_as_a_plugin() {
    let Some(kubectl) = find_on_path("kubectl") else {
        eprintln!("\n!!!!! SKIPPING kubectl plugin test: kubectl is not on PATH !!!!!\n");
        return;
    };
    let sb = Sandbox::with_key();
    let dir = plugin_dir(&sb);
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sealed = ok(sb.run_program(
        kubectl,
        &["coffer", "seal", "--cert", "cert.pem"],
        &[("PATH", &path)],
        Some(SECRET_YAML.as_bytes()),
    ));
    assert_eq!(json_docs(&sealed)[0]["kind"], "SealedSecret");
}

/// kubectl (1.26+) completes `kubectl coffer …` by asking
/// `kubectl_complete-coffer` on PATH, a second link to the coffer binary.
#[test]
fn kubectl_completes_coffer_through_the_completion_helper() {
    let Some(kubectl) = find_on_path("kubectl") else {
        eprintln!("\n!!!!! SKIPPING kubectl completion test: kubectl is not on PATH !!!!!\n");
        return;
    };
    let sb = Sandbox::new();
    let dir = plugin_dir(&sb);
    std::os::unix::fs::symlink(COFFER, dir.join("kubectl_complete-coffer")).unwrap();
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let complete = |words: &[&str]| {
        let out = Command::new(&kubectl)
            .arg("__complete")
            .arg("coffer")
            .args(words)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", sb.dir.path())
            .output()
            .unwrap();
        let text = ok(out);
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let directive = lines.pop().unwrap_or_default();
        let values: Vec<String> = lines
            .iter()
            .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
            .collect();
        (values, directive)
    };
    assert_eq!(
        complete(&["se"]),
        (vec!["seal".to_owned()], ":4".to_owned())
    );
    let (flags, _) = complete(&["seal", "--re"]);
    assert_eq!(
        flags,
        [
            "--recovery-unseal",
            "--recovery-private-key",
            "--re-encrypt",
            "--request-timeout"
        ]
    );
    assert_eq!(
        complete(&["completions", "f"]),
        (vec!["fish".to_owned()], ":4".to_owned())
    );
    // A path: kubectl's shell script completes files.
    assert_eq!(complete(&["reseal", ""]), (Vec::new(), ":0".to_owned()));
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| Path::new(p).is_file())
}
