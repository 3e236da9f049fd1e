//! The YAML `coffer sops` prints is the YAML sops 3.13 prints: for a corpus
//! of files with every scalar kind and style, comments in many places,
//! anchors and several documents, and a ~1 MiB file of random passwords,
//! the real sops encrypts, then sops and coffer decrypt and must agree byte
//! for byte; coffer's own encrypted file of the corpus has sops's layout
//! (values aside) and decrypts with sops to the same text. Two deliberate
//! differences, where sops prints YAML that does not read back, have tests
//! of their own.

mod common;

use common::{RECIPIENT, Sandbox, ok};

const CORPUS: &[(&str, &str)] = &[
    ("scalars.yaml", include_str!("data/sops-yaml/scalars.yaml")),
    ("kinds.yaml", include_str!("data/sops-yaml/kinds.yaml")),
    (
        "comments.yaml",
        include_str!("data/sops-yaml/comments.yaml"),
    ),
    (
        "structure.yaml",
        include_str!("data/sops-yaml/structure.yaml"),
    ),
];

/// The file without its `sops` block and with every `ENC[…]` blanked out.
fn layout(encrypted: &str) -> String {
    let body = encrypted.split("\nsops:\n").next().unwrap_or(encrypted);
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("ENC[") {
        out.push_str(&rest[..start]);
        out.push_str("ENC");
        let end = rest[start..]
            .find(']')
            .map_or(rest.len(), |e| start + e + 1);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// First differing line, for a readable failure on large files.
fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  sops:   {x:?}\n  coffer: {y:?}", i + 1);
        }
    }
    format!(
        "lengths differ: sops {} lines, coffer {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

/// sops encrypts, both decrypt; with `coffer_encrypts`, also coffer
/// encrypts and both decrypt that.
fn check(sb: &Sandbox, name: &str, plain: &str, coffer_encrypts: bool) {
    sb.write(name, plain);
    let by_sops = ok(sb.sops(&["encrypt", "--age", RECIPIENT, name]).unwrap());
    let sops_name = format!("sops-{name}");
    sb.write(&sops_name, &by_sops);
    let theirs = ok(sb.sops(&["decrypt", &sops_name]).unwrap());
    let ours = ok(sb.coffer(&["sops", "decrypt", &sops_name]));
    assert!(
        ours == theirs,
        "coffer's decryption of {name} differs from sops's, {}",
        first_difference(&theirs, &ours)
    );
    if !coffer_encrypts {
        return;
    }

    let by_coffer = ok(sb.coffer(&["sops", "encrypt", "--age", RECIPIENT, name]));
    assert!(
        layout(&by_coffer) == layout(&by_sops),
        "coffer lays out encrypted {name} unlike sops, {}",
        first_difference(&layout(&by_sops), &layout(&by_coffer))
    );
    let coffer_name = format!("coffer-{name}");
    sb.write(&coffer_name, &by_coffer);
    let theirs = ok(sb.sops(&["decrypt", &coffer_name]).unwrap());
    let ours = ok(sb.coffer(&["sops", "decrypt", &coffer_name]));
    assert!(
        ours == theirs,
        "sops and coffer decrypt coffer's {name} differently, {}",
        first_difference(&theirs, &ours)
    );
}

#[test]
fn decrypted_yaml_is_byte_identical_to_sops_for_every_scalar_kind() {
    let sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    for (name, plain) in CORPUS {
        check(&sb, name, plain, true);
    }
}

/// Deterministic random hex passwords (xorshift), about 1 MiB: the file on
/// which sops and coffer used to differ on every other line.
fn passwords() -> String {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = String::with_capacity(1 << 20);
    let mut i = 0;
    while out.len() < 1 << 20 {
        let len = [8, 12, 16, 24, 32, 40][(next() % 6) as usize];
        out.push_str(&format!("password_{i}: "));
        for _ in 0..len {
            out.push(char::from_digit((next() % 16) as u32, 16).unwrap());
        }
        out.push('\n');
        i += 1;
    }
    out
}

#[test]
fn a_megabyte_of_random_hex_passwords_decrypts_as_sops_prints_it() {
    let sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    // One direction only: every sops process on this file takes seconds.
    check(&sb, "passwords.yaml", &passwords(), false);
}

#[test]
fn values_opening_with_a_blank_line_inside_sequences_stay_readable() {
    // NB: deliberate difference from sops. go-yaml writes these block
    // scalars with an indentation digit that does not match their
    // indentation, so sops prints YAML that no parser reads back (sops's
    // own file with such a key does not even decrypt). Coffer writes the
    // right digit; sops reads coffer's files.
    let sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    sb.write(
        "s.yaml",
        "l:\n    - \"\\n key\": v\n    - k: \" a\\nb\"\n    - \"\\nitem\"\n",
    );
    let enc = ok(sb.coffer(&["sops", "encrypt", "--age", RECIPIENT, "s.yaml"]));
    sb.write("e.yaml", &enc);
    ok(sb.sops(&["decrypt", "e.yaml"]).unwrap());
    let plain = ok(sb.coffer(&["sops", "decrypt", "e.yaml"]));
    assert!(plain.contains("? |2-\n"), "{plain}");
    // The decrypted text reads back to the same values.
    sb.write("again.yaml", &plain);
    let enc2 = ok(sb.coffer(&["sops", "encrypt", "--age", RECIPIENT, "again.yaml"]));
    sb.write("e2.yaml", &enc2);
    assert_eq!(ok(sb.coffer(&["sops", "decrypt", "e2.yaml"])), plain);
}

#[test]
fn unicode_line_separators_are_escaped_and_sops_keys_holding_them_open() {
    // NB: deliberate difference from sops. go-yaml writes U+2028/U+2029 raw
    // with indentation after them (`'a<LS>    b'`), which only a YAML 1.1
    // reader takes back as `a<LS>b`; coffer escapes them (`"a\Lb"`).
    let sb = Sandbox::new();
    if sb.sops(&["--version"]).is_none() {
        return;
    }
    sb.write("s.yaml", "\"k\\u2028ey\": \"v\\u2028al\"\n");
    let enc = ok(sb.sops(&["encrypt", "--age", RECIPIENT, "s.yaml"]).unwrap());
    assert!(enc.contains("'k\u{2028}    ey'"), "sops changed: {enc}");
    sb.write("e.yaml", &enc);
    // A key with a line break goes after `? `, as go-yaml does.
    assert_eq!(
        ok(sb.coffer(&["sops", "decrypt", "e.yaml"])),
        "? \"k\\Ley\"\n: \"v\\Lal\"\n"
    );
}
