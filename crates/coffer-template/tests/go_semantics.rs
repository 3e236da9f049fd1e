//! A table of templates, data and the output Go's text/template with sprig
//! v3.3.0 produces (checked with Go 1.26), or the error we expect. Reads as
//! documentation of what the engine supports.

use coffer_template::{Data, MissingKey, Options, Template};

enum Want {
    Out(&'static str),
    Fails(&'static str),
}
use Want::{Fails, Out};

fn data() -> Data {
    [
        ("username", "admin"),
        ("password", "s3cr3t"),
        ("host", " db.local \n"),
        ("n", "3"),
    ]
    .into_iter()
    .collect()
}

fn check(opts: &Options, cases: &[(&str, Want)]) {
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = Template::parse("k", text).and_then(|t| t.render(&data(), opts));
        match (want, got) {
            (Out(w), Ok(o)) if o.as_slice() == w.as_bytes() => {}
            (Fails(w), Err(e)) if e.to_string().contains(w) => {}
            (w, got) => {
                let want = match w {
                    Out(s) => format!("output {s:?}"),
                    Fails(s) => format!("error containing {s:?}"),
                };
                let got = match got {
                    Ok(o) => format!("output {:?}", String::from_utf8_lossy(&o)),
                    Err(e) => format!("error {e}"),
                };
                failures.push(format!("{text:?}: want {want}, got {got}"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn language_features_match_go() {
    check(
        &Options::bitnami(),
        &[
            // text, actions, trim markers, comments
            ("plain text", Out("plain text")),
            ("a {{- /* comment */ -}} b", Out("ab")),
            (
                "{{ .username }}:{{ index . \"password\" }}",
                Out("admin:s3cr3t"),
            ),
            ("x  {{- .n -}}  \n y", Out("x3y")),
            ("{{-3}}", Out("-3")),
            // literals
            (
                "{{ 1.0 }} {{ 1e6 }} {{ 0x1F }} {{ 'a' }} {{ true }} {{ `raw\\n` }} {{ \"tab\\t\" }}",
                Out("1 1e+06 31 97 true raw\\n tab\t"),
            ),
            // pipelines, parentheses, variables
            ("{{ .username | upper | printf \"%s!\" }}", Out("ADMIN!")),
            (
                "{{ printf \"%s-%s\" (upper .username) .n }}",
                Out("ADMIN-3"),
            ),
            (
                "{{ $u := .username }}{{ $u = upper $u }}{{ $u }}",
                Out("ADMIN"),
            ),
            (
                "{{ with $x := .username }}{{ $x }}{{ $ | len }}{{ end }}",
                Out("admin4"),
            ),
            ("{{ (dict \"a\" (dict \"b\" \"deep\")).a.b }}", Out("deep")),
            // if / else if / else / with / range
            (
                "{{ if eq .n \"1\" }}one{{ else if eq .n \"3\" }}three{{ else }}other{{ end }}",
                Out("three"),
            ),
            ("{{ with .missing }}yes{{ else }}no{{ end }}", Out("no")),
            (
                "{{ range $k, $v := . }}{{ $k }},{{ end }}",
                Out("host,n,password,username,"),
            ),
            (
                "{{ range $i, $e := list \"a\" \"b\" }}{{ $i }}{{ $e }}{{ end }}",
                Out("0a1b"),
            ),
            ("{{ range list }}x{{ else }}empty{{ end }}", Out("empty")),
            ("{{ range 3 }}{{ . }}{{ end }}", Out("012")),
            (
                "{{ range list 1 2 3 4 }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}",
                Out("13"),
            ),
            // builtins
            (
                "{{ and 1 0 2 }}|{{ or 0 \"\" }}|{{ or 0 \"x\" }}|{{ not 0 }}|{{ 0 | and 1 }}",
                Out("0||x|true|0"),
            ),
            (
                "{{ len .password }} {{ index \"abc\" 1 }} {{ index (list 1 2) 1 }}",
                Out("6 98 2"),
            ),
            (
                "{{ print 1 2 \"a\" \"b\" 3 }}|{{ println 1 \"a\" }}",
                Out("1 2ab3|1 a\n"),
            ),
            (
                "{{ printf \"%d %q %v %5.1f|%-4s|\" 42 .username (list 1 nil) 3.14259 \"ab\" }}",
                Out("42 \"admin\" [1 <nil>]   3.1|ab  |"),
            ),
            ("{{ printf \"%d\" .username }}", Out("%!d(string=admin)")),
            (
                "{{ lt 1 2 }} {{ ge \"b\" \"a\" }} {{ ne 1 2 }} {{ eq 1 2 3 1 }}",
                Out("true true true true"),
            ),
            // missing keys (Go's default mode: <no value>, index gives "")
            (
                "{{ .missing }}|{{ index . \"missing\" }}|{{ .missing.x }}",
                Out("<no value>||<no value>"),
            ),
            (
                "{{ (split \",\" \"a\")._3 }}|{{ index (split \",\" \"a\") \"_3\" }}",
                Out("<no value>|"),
            ),
            // errors
            (
                "{{ .missing | upper }}",
                Fails("error calling upper: invalid value; expected string"),
            ),
            (
                "{{ .username.x }}",
                Fails("can't evaluate field x in a value that is not a map"),
            ),
            (
                "{{ eq 1 1.0 }}",
                Fails("error calling eq: incompatible types for comparison"),
            ),
            // Go names the index and types; we do not (they can come from data)
            (
                "{{ index (list 1) 5 }}",
                Fails("error calling index: index out of range"),
            ),
            (
                "{{ nosuchfunc }}",
                Fails("function \"nosuchfunc\" not defined"),
            ),
            (
                "{{ if false }}{{ nosuchfunc }}{{ end }}",
                Fails("function \"nosuchfunc\" not defined"),
            ),
            ("{{ env \"HOME\" }}", Fails("function \"env\" not defined")),
            // sealed-secrets has no ESO helpers: named as such
            ("{{ certSANs \"x\" }}", Fails("does not support")),
            (
                "{{ (genCA \"x\" 1).Nope }}",
                Fails("can't evaluate field Nope"),
            ),
            (
                "{{ .username 1 }}",
                Fails("can't give argument to non-function .username"),
            ),
            ("{{ $x }}", Fails("undefined variable \"$x\"")),
            ("{{ if 1 }}", Fails("unexpected EOF")),
            ("line1\n{{ .a b }}", Fails("template k:2:")),
            (
                "{{ upper 1 }}",
                Fails("error calling upper: wrong type for value; expected string"),
            ),
            (
                "{{ upper }}",
                Fails("wrong number of args for upper: want 1 got 0"),
            ),
            ("{{ template \"x\" }}", Fails("no such template \"x\"")),
            (
                "{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" 1 }}",
                Out("[1]"),
            ),
        ],
    );
}

#[test]
fn sprig_functions_match_go() {
    check(
        &Options::bitnami(),
        &[
            (
                "{{ .host | trim }}|{{ trimAll \"$\" \"$$x$\" }}|{{ trimPrefix \"ad\" .username }}|{{ trimSuffix \"in\" .username }}",
                Out("db.local|x|min|adm"),
            ),
            (
                "{{ upper \"straße\" }}|{{ lower \"ÀB\" }}",
                Out("STRAßE|àb"),
            ),
            (
                "{{ contains \"dm\" .username }} {{ hasPrefix \"ad\" .username }} {{ hasSuffix \"x\" .username }}",
                Out("true true false"),
            ),
            (
                "{{ quote .username 1 nil }}|{{ squote \"a\" 1.5 }}|{{ cat \"a\" nil 2 }}",
                Out("\"admin\" \"1\"|'a' '1.5'|a 2"),
            ),
            (
                "{{ replace \"s3\" \"S\" .password }}|{{ replace \"\" \"-\" \"ab\" }}",
                Out("Scr3t|-a-b-"),
            ),
            (
                "{{ split \",\" \"a,b\" }}|{{ splitList \"\" \"héllo\" }}|{{ splitn \",\" 2 \"a,b,c\" }}",
                Out("map[_0:a _1:b]|[h é l l o]|map[_0:a _1:b,c]"),
            ),
            (
                "{{ join \",\" (list 1 nil \"b\") }}|{{ join \",\" \"x\" }}",
                Out("1,b|x"),
            ),
            (
                "{{ indent 2 \"a\\nb\" }}|{{ nindent 2 \"a\" }}",
                Out("  a\n  b|\n  a"),
            ),
            (
                "{{ substr 1 3 \"hello\" }}|{{ trunc -2 \"hello\" }}|{{ repeat 3 \"ab\" }}|{{ nospace \"a b\\tc\" }}",
                Out("el|lo|ababab|abc"),
            ),
            (
                "{{ default \"d\" \"\" }}|{{ default \"d\" 0 }}|{{ default \"d\" .missing }}|{{ \"x\" | default \"d\" }}",
                Out("d|d|d|x"),
            ),
            (
                "{{ empty (list) }}|{{ coalesce \"\" 0 \"z\" }}|{{ ternary \"y\" \"n\" true }}",
                Out("true|z|y"),
            ),
            (
                "{{ .password | b64enc }}|{{ \"czNjcjN0\" | b64dec }}|{{ b64dec \"Y!Jj\" }}",
                Out("czNjcjN0|s3cr3t|illegal base64 data at input byte 1"),
            ),
            (
                "{{ sha256sum \"a\" }}",
                Out("ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"),
            ),
            (
                "{{ toString 1.5 }}|{{ atoi \"12x\" }}|{{ int \"42\" }}|{{ add 1 \"2\" 3.7 }}|{{ add1 \"5\" }}|{{ sub 5 2 }}",
                Out("1.5|0|42|6|6|3"),
            ),
            (
                "{{ keys (dict \"b\" 1 \"a\" 2) | sortAlpha }}|{{ hasKey (dict \"a\" 1) \"a\" }}|{{ get (dict \"a\" 1) \"b\" }}",
                Out("[a b]|true|"),
            ),
            (
                "{{ first (list 1 2) }}|{{ last (list 1 2) }}|{{ has 2 (list 1 2) }}|{{ append (list 1) 2 }}|{{ list }}|{{ dict \"a\" }}",
                Out("1|2|true|[1 2]|[]|map[a:]"),
            ),
            (
                "{{ list 1 2 | toJson }}{{ dict \"a\" \"<&>\" \"b\" 1.5 \"c\" nil | toJson }}",
                Out("[1,2]{\"a\":\"\\u003c\\u0026\\u003e\",\"b\":1.5,\"c\":null}"),
            ),
            (
                "{{ toPrettyJson (dict \"a\" (list 1 2) \"b\" (dict)) }}",
                Out("{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}"),
            ),
            (
                "{{ toRawJson (dict \"a\" \"<&>\") }}|{{ \"\\u2028\" | toJson }}",
                Out("{\"a\":\"<&>\"}|\"\\u2028\""),
            ),
            (
                "{{ fromJson \"{\\\"a\\\": 1, \\\"b\\\": [1.5, true, null]}\" }}|{{ (fromJson \"{\\\"a\\\": 1}\").a }}",
                Out("map[a:1 b:[1.5 true <nil>]]|1"),
            ),
            (
                "{{ index (fromJson \"{}\") \"x\" }}|{{ fromJson \"bad\" }}|{{ toJson 1e21 }}{{ toJson 0.0000001 }}",
                Out("<no value>|<no value>|1e+211e-7"),
            ),
        ],
    );
}

#[test]
fn eso_mode_makes_missing_keys_errors_naming_the_key() {
    check(
        &Options::eso(),
        &[
            (
                "{{ .missing }}",
                Fails("template k:1:4: map has no entry for key \"missing\""),
            ),
            // index is not affected by missingkey, as in Go
            ("{{ index . \"missing\" }}|{{ .username }}", Out("|admin")),
            ("{{ .password | b64enc | b64dec }}", Out("s3cr3t")),
            ("{{ toYaml (dict \"a\" \"x\") }}", Out("a: x")),
            ("{{ (fromYaml \"a: 1\\nb: [x]\").b }}", Out("[x]")),
            ("{{ (fromYaml \"- 1\").Error | empty | not }}", Out("true")),
        ],
    );
}

#[test]
fn yaml_functions_exist_only_for_external_secrets() {
    let t = Template::parse("k", "{{ toYaml . }}").unwrap();
    let e = t.render(&data(), &Options::bitnami()).unwrap_err();
    assert!(e.to_string().contains("does not support"), "{e}");
}

#[test]
fn zero_mode_yields_empty_string_for_missing_data_keys() {
    let opts = Options {
        missing_key: MissingKey::Zero,
        ..Options::bitnami()
    };
    check(&opts, &[("[{{ .missing }}]", Out("[]"))]);
}

#[test]
fn binary_values_pass_through_unchanged() {
    let mut d = Data::new();
    d.insert("bin", vec![0u8, 0xff, 0xfe, b'\n']);
    let t = Template::parse("k", "{{ .bin }}|{{ .bin | b64enc }}").unwrap();
    let out = t.render(&d, &Options::bitnami()).unwrap();
    assert_eq!(out.as_slice(), b"\x00\xff\xfe\n|AP/+Cg==");
}

/// Go calls `.Compare` and the other semver methods that take arguments;
/// coffer-template calls no methods with arguments and says so, naming
/// the method, with or without the arguments written. A version number
/// past what an `int` holds (Go's is a `uint64`) is refused too.
#[test]
fn semver_methods_with_arguments_are_refused_by_name() {
    for (t, method) in [
        (
            "{{ (semver \"1.2.3\").Compare (semver \"1.0.0\") }}",
            "Compare",
        ),
        (
            "{{ $v := semver \"1.2.3\" }}{{ $v.GreaterThan $v }}",
            "GreaterThan",
        ),
        (
            "{{ $v := semver \"1.2.3\" }}{{ $v | $v.LessThan }}",
            "LessThan",
        ),
        ("{{ (semver \"1.2.3\").Equal }}", "Equal"),
        (
            "{{ (semver \"1.2.3\").SetPrerelease \"rc\" }}",
            "SetPrerelease",
        ),
    ] {
        let err = Template::parse("k", t)
            .unwrap()
            .render(&Data::new(), &Options::eso())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err.split_once(": ").unwrap().1,
            format!(
                "can't evaluate field {method}: a method with arguments, which coffer-template does not call"
            ),
            "{t}"
        );
    }
    let err = Template::parse("k", "{{ (semver \"18446744073709551615.0.0\").Major }}")
        .unwrap()
        .render(&Data::new(), &Options::eso())
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("can't evaluate field Major: the version number does not fit in an int"),
        "{err}"
    );
    // a map's field given arguments is still "not a function"
    let err = Template::parse("k", "{{ $d := dict \"a\" 1 }}{{ $d.a 2 }}")
        .unwrap()
        .render(&Data::new(), &Options::eso())
        .unwrap_err()
        .to_string();
    assert!(err.contains("can't give argument to non-function"), "{err}");
}
