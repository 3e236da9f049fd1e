//! Runaway templates stop at a limit, by the kind of error, whatever the
//! machine's speed: every test here would run for hours or exhaust memory
//! if the limit it names did not hold (none measures time).

use std::time::Duration;

use coffer_template::{Data, ErrorKind, Limit, Limits, Options, Template};

/// The bomb: 45 doublings of a list whose halves are shared, about
/// 2^46 elements if anything walked it.
const BOMB: &str = "{{ $a := list 1 }}{{ range 45 }}{{ $a = list $a $a }}{{ end }}";

fn render(text: &str, limits: Limits) -> Result<String, coffer_template::Error> {
    let t = Template::parse("k", text).unwrap();
    let opts = Options {
        limits,
        ..Options::eso()
    };
    t.render(&Data::new(), &opts)
        .map(|out| String::from_utf8_lossy(&out).into_owned())
}

fn limit_of(text: &str, limits: Limits) -> Limit {
    match render(text, limits) {
        Err(e) => match e.kind {
            ErrorKind::Limit(l) => l,
            other => panic!("{text}: expected a limit, got {other}"),
        },
        Ok(out) => panic!("{text}: rendered {} bytes", out.len()),
    }
}

/// Only the limit under test is small (and no deadline, so a result can
/// never be the clock's).
fn only(limits: Limits) -> Limits {
    Limits {
        max_duration: Duration::MAX,
        ..limits
    }
}

#[test]
fn the_shared_list_bomb_stops_at_the_value_size_limit_without_walking() {
    let l = limit_of(BOMB, only(Limits::default()));
    assert_eq!(l, Limit::ValueSize(Limits::default().max_value_bytes));
    // dict is measured the same way
    let dict_bomb = "{{ $a := dict }}{{ range 45 }}{{ $a = dict \"l\" $a \"r\" $a }}{{ end }}";
    assert!(matches!(
        limit_of(dict_bomb, only(Limits::default())),
        Limit::ValueSize(_)
    ));
}

#[test]
fn nesting_stops_at_the_depth_limit() {
    let deep = "{{ $x := list }}{{ range 100 }}{{ $x = list $x }}{{ end }}";
    assert_eq!(limit_of(deep, only(Limits::default())), Limit::Depth(64));
    let json = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let t = format!("{{{{ mustFromJson {json:?} }}}}");
    assert_eq!(limit_of(&t, only(Limits::default())), Limit::Depth(64));
}

#[test]
fn printing_a_huge_value_stops_at_the_output_limit_while_writing() {
    // Values may be huge here, so only printing can stop it: it must stop
    // after the first kilobyte of 2^40 elements, not build them first.
    let limits = only(Limits {
        max_output_bytes: 1024,
        max_value_bytes: usize::MAX,
        ..Limits::default()
    });
    let t = "{{ $a := list \"x\" }}{{ range 40 }}{{ $a = list $a $a }}{{ end }}{{ $a }}";
    assert_eq!(limit_of(t, limits), Limit::OutputSize(1024));
}

#[test]
fn functions_stop_building_at_the_value_limit() {
    let limits = only(Limits {
        max_value_bytes: 1000,
        ..Limits::default()
    });
    for t in [
        "{{ printf \"%999999d\" 1 }}",
        "{{ printf \"%s%s\" (repeat 600 \"x\") (repeat 600 \"y\") }}",
        "{{ repeat 1001 \"x\" }}",
        "{{ join \"-\" (list (repeat 600 \"x\") (repeat 600 \"y\")) }}",
        "{{ cat (repeat 600 \"x\") (repeat 600 \"y\") }}",
        "{{ replace \"a\" (repeat 100 \"b\") (repeat 20 \"a\") }}",
        "{{ indent 100 (repeat 20 \"\\n\") }}",
        "{{ b64enc (repeat 800 \"x\") }}",
        // pretty JSON and YAML indent every level: small value, big text
        "{{ $a := list 1 2 3 4 5 6 7 8 }}{{ range 40 }}{{ $a = list $a }}{{ end }}{{ toPrettyJson $a }}",
        "{{ $a := dict \"k\" (list 1 2 3 4 5 6 7 8) }}{{ range 40 }}{{ $a = dict \"k\" $a }}{{ end }}{{ toYaml $a }}",
    ] {
        assert_eq!(limit_of(t, limits), Limit::ValueSize(1000), "{t}");
    }
}

#[test]
fn building_many_values_stops_at_the_values_limit() {
    let limits = only(Limits {
        max_values: 10_000,
        ..Limits::default()
    });
    for t in [
        "{{ splitList \"\" (repeat 100000 \"x\") }}",
        "{{ split \",\" (repeat 100000 \",\") }}",
        "{{ $l := list }}{{ range 100000 }}{{ $l = append $l 1 }}{{ end }}",
        "{{ fromJson (printf \"[%s0]\" (repeat 100000 \"0,\")) }}",
        "{{ fromYaml (printf \"a: [%s0]\" (repeat 100000 \"0,\")) }}",
        "{{ until 1000000000 }}",
        "{{ untilStep 0 1000000000 1 }}",
    ] {
        assert_eq!(limit_of(t, limits), Limit::Values(10_000), "{t}");
    }
}

#[test]
fn recursive_templates_stop_at_the_depth_limit_not_the_stack() {
    // Plain recursion, and recursion through bodies nested as deep as the
    // parser allows: control structures and calls share one depth limit.
    let deep_if = format!(
        "{{{{ define \"r\" }}}}{}{{{{ template \"r\" . }}}}{}{{{{ end }}}}{{{{ template \"r\" 1 }}}}",
        "{{ if . }}".repeat(99),
        "{{ end }}".repeat(99)
    );
    for t in [
        "{{ define \"r\" }}{{ template \"r\" }}{{ end }}{{ template \"r\" }}",
        deep_if.as_str(),
    ] {
        assert_eq!(
            limit_of(t, only(Limits::default())),
            Limit::Depth(200),
            "{t}"
        );
    }
}

#[test]
fn quadratic_list_functions_stop_at_the_total_bytes_limit() {
    // 12,000 distinct values: 72 million deep comparisons for uniq, each
    // charged, so the default budget (64 MiB) stops it.
    let t = "{{ uniq (until 12000) }}";
    assert!(matches!(
        limit_of(t, only(Limits::default())),
        Limit::TotalBytes(_)
    ));
}

#[test]
fn copying_big_strings_over_and_over_stops_at_the_total_bytes_limit() {
    // Each step is cheap to count but copies 4 MB: the step limit alone
    // would allow terabytes of copying.
    let t =
        "{{ $s := repeat 4000000 \"x\" }}{{ range 1000000 }}{{ $t := printf \"%s\" $s }}{{ end }}";
    assert_eq!(
        limit_of(t, only(Limits::default())),
        Limit::TotalBytes(Limits::default().max_total_bytes)
    );
    // comparing is reading, too
    let t =
        "{{ $s := repeat 4000000 \"x\" }}{{ range 1000000 }}{{ if eq $s $s }}{{ end }}{{ end }}";
    assert!(matches!(
        limit_of(t, only(Limits::default())),
        Limit::TotalBytes(_)
    ));
}

#[test]
fn the_deadline_stops_a_render_between_steps_and_inside_long_work() {
    let limits = Limits {
        max_steps: u64::MAX,
        max_total_bytes: usize::MAX,
        max_values: u64::MAX,
        max_duration: Duration::from_millis(100),
        ..Limits::default()
    };
    // ~10^12 steps: far past 100 ms on any machine
    let steps = "{{ range 1000000000000 }}{{ end }}";
    assert_eq!(
        limit_of(steps, limits),
        Limit::Deadline(Duration::from_millis(100))
    );
    let work =
        "{{ $s := repeat 4000000 \"x\" }}{{ range 1000000000000 }}{{ $t := upper $s }}{{ end }}";
    assert_eq!(
        limit_of(work, limits),
        Limit::Deadline(Duration::from_millis(100))
    );
    let e = render(steps, limits).unwrap_err();
    assert!(e.is_deadline());
    assert_eq!(
        e.to_string(),
        "template k:1:10: rendering takes longer than 100 ms"
    );
}

#[test]
fn the_default_counts_stop_the_bomb_and_loops_without_the_clock() {
    // The default counts alone stop each of these: the deadline is a
    // backstop, not the mechanism (it is off here, so this cannot be a
    // race with a slow machine).
    for (t, want) in [
        (BOMB, "ValueSize"),
        ("{{ range 1000000000000 }}{{ end }}", "Steps"),
        (
            "{{ range 100 }}{{ $x := splitList \"\" (repeat 1000000 \"x\") }}{{ end }}",
            "Values",
        ),
    ] {
        let l = limit_of(t, only(Limits::default()));
        assert!(format!("{l:?}").starts_with(want), "{t}: {l:?}");
    }
}

#[test]
fn searches_and_trims_are_linear_even_on_adversarial_input() {
    // Quadratic algorithms take minutes here; linear ones milliseconds.
    // (Not timed: the test simply has to finish.)
    let out = render(
        "{{ $h := repeat 2000000 \"a\" }}{{ $n := printf \"%sb\" (repeat 1000000 \"a\") }}\
         {{ contains $n $h }} {{ len (splitList $n $h) }} {{ len (replace $n \"\" $h) }} \
         {{ len (trimAll (printf \"%sa\" (repeat 100000 \"c\")) (repeat 1000000 \"a\")) }}",
        only(Limits::default()),
    )
    .unwrap();
    assert_eq!(out, "false 1 2000000 0");
}

#[test]
fn range_over_a_large_integer_does_not_allocate_its_items_first() {
    // Only as many steps as the limit allows are taken; nothing of size n
    // is built first (a billion items would be 32 GB).
    let limits = only(Limits {
        max_steps: 1000,
        ..Limits::default()
    });
    assert_eq!(
        limit_of("{{ range 1000000000 }}{{ end }}", limits),
        Limit::Steps(1000)
    );
}
