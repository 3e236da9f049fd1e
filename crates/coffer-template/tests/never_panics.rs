//! Any input either renders or returns an error; nothing panics.

use coffer_template::{Data, Options, Template};
use proptest::prelude::*;

fn data() -> Data {
    [("a", "x"), ("b", "{\"k\": [1, 2]}")].into_iter().collect()
}

fn render_any(text: &str) {
    if let Ok(t) = Template::parse("p", text) {
        for opts in [Options::bitnami(), Options::eso()] {
            let _ = t.render(&data(), &opts);
        }
    }
}

/// Fragments that make random text likely to be a real template.
const PIECES: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    " -}}",
    " ",
    ".",
    ".a",
    ".b",
    "$",
    "$x",
    ":=",
    "=",
    "|",
    "(",
    ")",
    "\"s\"",
    "`r`",
    "1",
    "-2",
    "1.5",
    "'c'",
    "nil",
    "true",
    "if",
    "else",
    "end",
    "range",
    "with",
    "break",
    "continue",
    "index",
    "len",
    "printf",
    "\"%d%s%v%q\"",
    "upper",
    "split",
    "fromJson",
    "toJson",
    "toYaml",
    "fromYaml",
    "urlquery",
    "js",
    "html",
    "slice",
    "call",
    "regexReplaceAll",
    "regexSplit",
    "regexFindAll",
    "\"(a*)*\\\\d[\"",
    "dict",
    "list",
    "default",
    "repeat",
    "indent",
    "b64dec",
    "substr",
    "eq",
    "lt",
    "and",
    "or",
    "not",
    "set",
    "unset",
    "merge",
    "mergeOverwrite",
    "deepCopy",
    "$d := dict",
    "$d",
    "snakecase",
    "camelcase",
    "wrap",
    "addf",
    "divf",
    "round",
    "date",
    "toDate",
    "dateModify",
    "duration",
    "now",
    "\"2006-01-02 15:04 MST Z07:00 .000\"",
    "urlParse",
    "urlJoin",
    "\"http://u:p@[::1]:8/p%20?q#f\"",
    "semverCompare",
    "\">=1.x || ~2 - 3\"",
    "filterPEM",
    "certSANs",
    "filterCertChain",
    "pkcs12cert",
    "jwkPublicKeyPem",
    "rsaDecrypt",
    "decryptAES",
    "hexdec",
    "seq",
    "typeOf",
    "\"-----BEGIN X-----\\nAA==\\n-----END X-----\\n\"",
    "/*",
    "*/",
    ",",
    "\n",
    "é",
    "\\",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_renders_or_errors(text in ".{0,64}") {
        render_any(&text);
    }

    #[test]
    fn template_shaped_text_renders_or_errors(parts in proptest::collection::vec(proptest::sample::select(PIECES), 0..40)) {
        render_any(&parts.concat());
    }
}
