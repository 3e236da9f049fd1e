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
