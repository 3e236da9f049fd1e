//! sprig's random functions cannot be compared with Go output; their
//! shapes can: alphabets, lengths, UUID version and variant, bcrypt's
//! format, and two draws differing. `htpasswd`'s hash is also checked by
//! Go's own bcrypt in `eso_golden.rs`.

use coffer_template::{Data, Options, Template};

fn render(t: &str) -> String {
    let out = Template::parse("t", t)
        .unwrap()
        .render(&Data::new(), &Options::eso())
        .unwrap();
    String::from_utf8(out.to_vec()).unwrap()
}

/// A function name and the characters it may produce.
type Alphabet = (&'static str, fn(char) -> bool);

#[test]
fn random_strings_have_their_alphabet_and_length_and_differ() {
    let cases: [Alphabet; 4] = [
        ("randAlphaNum", |c| c.is_ascii_alphanumeric()),
        ("randAlpha", |c| c.is_ascii_alphabetic()),
        ("randNumeric", |c| c.is_ascii_digit()),
        ("randAscii", |c| (' '..='~').contains(&c)),
    ];
    for (f, allowed) in cases {
        let a = render(&format!("{{{{ {f} 64 }}}}"));
        let b = render(&format!("{{{{ {f} 64 }}}}"));
        assert_eq!(a.len(), 64, "{f}: {a}");
        assert!(a.chars().all(allowed), "{f}: {a}");
        assert_ne!(a, b, "{f} twice");
    }
    let bytes = render("{{ randBytes 30 | b64dec | len }}");
    assert_eq!(bytes, "30");
    let n: i64 = render("{{ randInt -5 5 }}").parse().unwrap();
    assert!((-5..5).contains(&n));
    let s = render("{{ shuffle \"aabbcc\" }}");
    let mut sorted: Vec<char> = s.chars().collect();
    sorted.sort_unstable();
    assert_eq!(sorted.into_iter().collect::<String>(), "aabbcc");
}

#[test]
fn uuidv4_is_a_version_4_variant_1_uuid() {
    let u = render("{{ uuidv4 }}");
    let parts: Vec<&str> = u.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{u}"
    );
    assert!(
        u.chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert!(parts[2].starts_with('4'), "{u}");
    assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{u}");
    assert_ne!(u, render("{{ uuidv4 }}"));
}

#[test]
fn bcrypt_and_htpasswd_give_go_format_hashes_that_verify() {
    let h = render("{{ bcrypt \"hunter2\" }}");
    assert!(h.starts_with("$2a$10$") && h.len() == 60, "{h}");
    assert!(bcrypt::verify("hunter2", &h).unwrap());
    let line = render("{{ htpasswd \"admin\" \"hunter2\" }}");
    let (user, hash) = line.split_once(':').unwrap();
    assert_eq!(user, "admin");
    assert!(bcrypt::verify("hunter2", hash).unwrap());
    assert_ne!(hash, h, "a fresh salt each time");
}
