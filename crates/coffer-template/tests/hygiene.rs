//! Secret values never appear in errors or Debug output, and runaway
//! templates stop with a limit error instead of exhausting memory or time.

use coffer_template::{Data, ErrorKind, Limit, Limits, Options, Template};

const SECRET: &str = "TOPSECRET-value-42";

fn secret_data() -> Data {
    [
        ("password", SECRET),
        ("json", "{\"k\": \"TOPSECRET-value-42\"}"),
    ]
    .into_iter()
    .collect()
}

#[test]
fn errors_and_debug_never_contain_secret_values() {
    let templates = [
        "{{ .password.field }}",
        "{{ .password | upper | printf \"%s\" | len | upper }}",
        "{{ eq .password 1 }}",
        "{{ index .password 99 }}",
        "{{ index (list .password) .password }}",
        "{{ range .password }}{{ end }}",
        "{{ substr 5 2 .password }}",
        "{{ mustFromJson .password }}",
        "{{ .nokey }}",
        "{{ repeat 999999999 .password }}",
        "{{ .password .password }}",
        "{{ lt .password 1 }}",
        "{{ (fromJson .json).k.x }}",
        "{{ fail .password }}",
        "{{ regexFind (printf \"(%s\" .password) \"x\" }}",
        "{{ regexReplaceAll .password \"x\" \"(\" | regexFind \"(\" }}",
        "{{ slice (list 1) (len .password) }}",
        "{{ dig .password 0 (dict) | fail }}",
    ];
    for opts in [Options::bitnami(), Options::eso()] {
        let mut errors = 0;
        for t in templates {
            let tpl = Template::parse("k", t).unwrap();
            // `.nokey` renders `<no value>` in sealed-secrets mode
            let Err(err) = tpl.render(&secret_data(), &opts) else {
                continue;
            };
            errors += 1;
            let shown = format!("{err} {err:?} {tpl:?} {:?}", secret_data());
            assert!(!shown.contains("TOPSECRET"), "{t}: {shown}");
        }
        assert!(
            errors >= templates.len() - 1,
            "only {errors} templates failed"
        );
    }
}

/// Two sets of data with different secrets (lengths, bytes, numbers, JSON
/// types): a template that fails on both must fail with the same error,
/// word for word, or its error carries something computed from the data.
fn two_secrets() -> [Data; 2] {
    [
        [
            ("password", "TOPSECRET-value-42"),
            ("pin", "4242"),
            ("json", "{\"n\": 42, \"t\": 42}"),
            ("broken", "{\"k\": 42,"),
        ]
        .into_iter()
        .collect(),
        [
            ("password", "Another-pass-917"),
            ("pin", "917"),
            ("json", "{\"n\": 7, \"t\": true}"),
            ("broken", "{\"a\": [1,2,3], \"b\":"),
        ]
        .into_iter()
        .collect(),
    ]
}

/// Templates written to smuggle data into their error: a byte, a length, a
/// number parsed from a secret, the result of a comparison, a JSON type, a
/// parser's offset.
const LEAKY: &[&str] = &[
    // the example: the first byte of the password as an index
    "{{ index (list) (index .password 0) }}",
    "{{ index .password (len .password) }}",
    "{{ index (list) (len .password) }}",
    "{{ index .password 99 }}",
    "{{ $b := index .password 1 }}{{ index (list) (sub $b 1) }}",
    "{{ repeat (index .password 0) \"x\" | len | index (list) }}",
    // numbers parsed from a secret
    "{{ index (list) (atoi .pin) }}",
    "{{ index (list) (int .pin) }}",
    "{{ index (list 1 2) (index (fromJson .json) \"n\") }}",
    // a comparison choosing the value that reaches the error
    "{{ index (list) (ternary 1 2 (lt .password \"M\")) }}",
    // slice bounds from the data
    "{{ substr (len .password) 0 .password }}",
    "{{ substr (index .password 0) 1 .password }}",
    // printf %d of a byte, measured by a parser's error column
    "{{ mustFromJson (printf \"[%d\" (index .password 1)) }}",
    "{{ mustFromJson .broken }}",
    "{{ mustFromJson .password }}",
    // the type of a value decoded from a secret
    "{{ (fromJson .json).t.x }}",
    "{{ range (index (fromJson .json) \"t\") }}{{ end }}",
    "{{ index (fromJson .json) \"t\" \"z\" }}",
    "{{ eq (index (fromJson .json) \"t\") \"x\" }}",
    "{{ len (index (fromJson .json) \"t\") }}",
    "{{ upper (index (fromJson .json) \"t\") }}",
    // division by a secret-derived zero (div is not supported: refused
    // before anything runs)
    "{{ div 1 (sub (atoi .pin) (atoi .pin)) }}",
];

/// `t` fails over both data sets with the same error, which shows none of
/// the secret values.
fn assert_error_carries_nothing_from_the_data(t: &str, one: &Data, two: &Data, opts: &Options) {
    let tpl = Template::parse("k", t).unwrap();
    let (Err(a), Err(b)) = (tpl.render(one, opts), tpl.render(two, opts)) else {
        panic!("{t}: must fail with both data sets");
    };
    assert_eq!(
        a.to_string(),
        b.to_string(),
        "{t}: the error depends on the data"
    );
    assert_eq!(format!("{a:?}"), format!("{b:?}"), "{t}");
    for shown in [a.to_string(), format!("{a:?}")] {
        for secret in ["TOPSECRET", "4242", "value-42"] {
            assert!(!shown.contains(secret), "{t}: {shown}");
        }
    }
}

#[test]
fn no_error_carries_anything_computed_from_the_data() {
    let [one, two] = two_secrets();
    for opts in [Options::bitnami(), Options::eso()] {
        for t in LEAKY {
            assert_error_carries_nothing_from_the_data(t, &one, &two, &opts);
        }
    }
}

#[test]
fn output_limit_stops_growing_templates() {
    let opts = Options {
        limits: Limits {
            max_output_bytes: 1000,
            ..Limits::default()
        },
        ..Options::bitnami()
    };
    let t = Template::parse("k", "{{ range 100000 }}xxxxxxxxxx{{ end }}").unwrap();
    let e = t.render(&Data::new(), &opts).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit(Limit::OutputSize(1000)));
}

#[test]
fn step_limit_stops_long_loops() {
    let opts = Options {
        limits: Limits {
            max_steps: 10_000,
            ..Limits::default()
        },
        ..Options::bitnami()
    };
    let t = Template::parse("k", "{{ range 1000000 }}{{ end }}").unwrap();
    let e = t.render(&Data::new(), &opts).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit(Limit::Steps(10_000)));
}

#[test]
fn value_limit_stops_exponential_strings() {
    let t = Template::parse(
        "k",
        "{{ $x := \"ab\" }}{{ range 64 }}{{ $x = printf \"%s%s\" $x $x }}{{ end }}{{ len $x }}",
    )
    .unwrap();
    let e = t.render(&Data::new(), &Options::bitnami()).unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::Limit(Limit::ValueSize(_))),
        "{e}"
    );
}

#[test]
fn deeply_nested_lists_are_refused() {
    let t = Template::parse(
        "k",
        "{{ $x := list }}{{ range 100000 }}{{ $x = list $x }}{{ end }}{{ $x }}",
    )
    .unwrap();
    let e = t.render(&Data::new(), &Options::bitnami()).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Limit(Limit::Depth(_))), "{e}");
}

/// External Secrets' key and certificate helpers read key material: their
/// errors must not depend on it either (Go's quote the scheme, name the
/// ASN.1 element or the byte that failed to parse).
#[test]
fn eso_helper_errors_carry_nothing_from_the_data() {
    let pem =
        |body: &str| format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
    let one: Data = [
        ("password", "TOPSECRET-value-42".to_owned()),
        ("pin", "4242".to_owned()),
        ("junk", "TOPSECRET junk".to_owned()),
        ("pem", pem("VE9QU0VDUkVULXZhbHVlLTQy")),
        ("scheme", "TOPSECRET-scheme".to_owned()),
    ]
    .into_iter()
    .collect();
    let two: Data = [
        ("password", "Another-pass-917".to_owned()),
        ("pin", "917".to_owned()),
        ("junk", "other junk, longer than the first".to_owned()),
        ("pem", pem("MIIBCgKCAQEA")),
        ("scheme", "RSA".to_owned()),
    ]
    .into_iter()
    .collect();
    let templates = [
        "{{ filterPEM \"CERTIFICATE\" .junk }}",
        "{{ certSANs .junk }}",
        "{{ certSANs .pem }}",
        "{{ rsaDecrypt \"RSA-OAEP\" \"SHA256\" .password .pem }}",
        "{{ rsaDecrypt \"RSA-OAEP\" \"SHA256\" .password .junk }}",
        "{{ rsaDecrypt .scheme \"SHA256\" .password .junk }}",
        "{{ jwkPublicKeyPem .junk }}",
        "{{ decryptAES .password .junk }}",
        "{{ genPrivateKey (printf \"dsa%.0s\" .password) }}",
        "{{ decryptAES .password (b64enc .password) }}",
        "{{ pkcs12keyPass .password .pem }}",
        "{{ pkcs12certPass .password .junk }}",
        "{{ pemToPkcs12 .pem .junk }}",
        "{{ fullPemToPkcs12 (printf \"%s%s\" .pem .junk) .junk }}",
        "{{ pemTruststoreToPKCS12Pass .pem .password }}",
        "{{ filterCertChain \"leaf\" .pem }}",
        "{{ jwkPrivateKeyPem .pem }}",
        "{{ jwkPrivateKeyPem (printf \"{\\\"kty\\\":\\\"%s\\\",\\\"d\\\":\\\"x\\\"}\" .password) }}",
        "{{ jwkPublicKeyPem (printf \"{\\\"kty\\\":\\\"EC\\\",\\\"crv\\\":\\\"%s\\\"}\" .password) }}",
        "{{ divf 1 (sub (atoi .pin) (atoi .pin)) }}",
        "{{ $d := dict \"k\" (dict) }}{{ set (get $d \"k\") .password 1 }}",
        "{{ $d := dict }}{{ set $d .password $d }}",
        "{{ merge (dict) (dict .password 1) .password }}",
        // sprig's certificate functions read keys and certificates
        "{{ genCAWithKey \"ca\" 1 .pem }}",
        "{{ genCAWithKey \"ca\" 1 .junk }}",
        "{{ genCAWithKey .password (len .password) (printf \"-----BEGIN %s PRIVATE KEY-----\\nAA==\\n-----END %s PRIVATE KEY-----\\n\" .password .password) }}",
        "{{ genCAWithKey \"ca\" (sub 0 (len .password)) .junk }}",
        "{{ genSelfSignedCert \"x\" (list .password) nil 1 }}",
        "{{ genSelfSignedCert \"x\" nil (list (printf \"\u{e9}%s\" .password)) 1 }}",
        "{{ genSelfSignedCertWithKey .password nil nil 1 .pem }}",
        "{{ genSignedCert \"x\" nil nil 1 (buildCustomCert (b64enc .pem) (b64enc .junk)) }}",
        "{{ buildCustomCert (b64enc .pem) (b64enc .junk) }}",
        "{{ buildCustomCert .password .junk }}",
        "{{ buildCustomCert (b64enc .junk) (b64enc .junk) }}",
        "{{ genSignedCert \"x\" nil nil 1 (dict \"Cert\" .pem \"Key\" .junk) }}",
        "{{ semver .password }}",
        "{{ (semver (printf \"1.%d.0\" (len .password))).Compare .password }}",
        "{{ (semver (printf \"1.%d.0\" (len .password))).Nope }}",
    ];
    for t in templates {
        assert_error_carries_nothing_from_the_data(t, &one, &two, &Options::eso());
    }
}

#[test]
fn dicts_changed_in_place_stay_within_the_limits() {
    // every entry `set` adds counts towards the dict's size
    let t = Template::parse(
        "k",
        "{{ $d := dict }}{{ range 100000 }}{{ $_ := set $d (toString .) (repeat 100 \"x\") }}{{ end }}{{ len $d }}",
    )
    .unwrap();
    let e = t.render(&Data::new(), &Options::eso()).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Limit(_)), "{e}");
    // and nesting through `set` is bounded like any other
    let t = Template::parse(
        "k",
        "{{ $d := dict }}{{ range 100 }}{{ $d = set (dict) \"x\" $d }}{{ end }}{{ $d }}",
    )
    .unwrap();
    let e = t.render(&Data::new(), &Options::eso()).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Limit(Limit::Depth(_))), "{e}");
}

#[test]
fn derive_password_is_charged_its_scrypt() {
    // 16 MiB of the 64 MiB budget each: the fourth call stops the render
    let t = Template::parse(
        "k",
        "{{ range 4 }}{{ derivePassword 1 \"pin\" \"pw\" \"u\" \"s\" }}{{ end }}",
    )
    .unwrap();
    // no deadline: on a loaded machine three scrypts may take 2 s, and
    // the byte budget is what is tested here
    let opts = Options {
        limits: Limits {
            max_duration: std::time::Duration::MAX,
            ..Limits::default()
        },
        ..Options::eso()
    };
    let e = t.render(&Data::new(), &opts).unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::Limit(Limit::TotalBytes(_))),
        "{e}"
    );
}
