//! ESO's `templateFrom` with `templateAs: KeysAndValues`: the rendered
//! template is a YAML map whose keys and values become Secret entries.
//!
//! The text is a tenant's template output (up to the engine's 4 MiB), so it
//! is read under explicit serde-saphyr limits rather than its defaults (the
//! ones `fromYaml` uses, `coffer_template::untrusted_yaml_options`, with
//! this reader's depth), and the map is built against a byte budget:
//! serde-saphyr bounds how many
//! events aliases replay, not how many bytes, and each replayed scalar is a
//! fresh `String` here where Go shares one (ESO's `yaml.Unmarshal` into a
//! `map[string]string`). Without it, one anchored 4 MiB scalar and 99
//! aliases (below serde-saphyr's alias/anchor ratio check) would build
//! 400 MiB. Errors name the limit and the position, never the text.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_saphyr::ExternalMessageSource;
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::granit_parser::ErrorKind;

/// Deepest nesting accepted. A map of strings needs one level; anything
/// deeper is a type error anyway, found before this is reached unless the
/// nesting starts at the root.
pub const MAX_DEPTH: usize = 32;

/// The bytes of keys and values the map may hold: the larger of this (a
/// Secret holds at most 1 MiB) and twice the input, so that aliases can at
/// most double what the text itself spells out.
pub const MIN_BYTES: usize = 1024 * 1024;

/// Reads `text` as a YAML map of strings (empty text is an empty map).
/// The error says which limit was hit and where, or only that the text is
/// not a map of strings (serde's own messages quote the input).
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let limit = MIN_BYTES.max(text.len().saturating_mul(2));
    let over = std::cell::Cell::new(false);
    let parsed = serde_saphyr::with_deserializer_from_str_with_options(
        text,
        coffer_template::untrusted_yaml_options(MAX_DEPTH),
        |de| {
            Bounded {
                left: limit,
                over: &over,
            }
            .deserialize(de)
        },
    );
    match parsed {
        Ok(map) => Ok(map),
        Err(_) if over.get() => Err(format!(
            "holds more than {limit} bytes of keys and values \
             (the larger of {MIN_BYTES} and twice its size): refusing a possible alias bomb"
        )),
        Err(e) => Err(match limit_reason(&e) {
            Some(reason) => match e.location() {
                Some(at) => format!(
                    "exceeds the YAML limits at line {} column {}: {reason}",
                    at.line(),
                    at.column()
                ),
                None => format!("exceeds the YAML limits: {reason}"),
            },
            None => "is not a YAML map of strings".to_owned(),
        }),
    }
}

/// What a limit error says, in words that hold only counts; `None` for
/// errors that are not about limits (their messages may quote input).
fn limit_reason(e: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::Error as E;
    let too_deep = || format!("collections nested more than {MAX_DEPTH} deep");
    Some(match e {
        E::AliasError { error, .. } | E::WithSnippet { error, .. } => return limit_reason(error),
        E::Budget {
            breach: BudgetBreach::Depth { .. },
            ..
        } => too_deep(),
        E::Budget { breach, .. } => format!("budget exceeded: {breach:?}"),
        // The scanner reads ahead, so a run of `[` meets its flow limit
        // (set to the same depth) before the budget sees the events.
        E::ExternalMessage { source, .. }
            if matches!(&**source, ExternalMessageSource::Parser(scan)
                if *scan.kind() == ErrorKind::RecursionLimitExceeded) =>
        {
            too_deep()
        }
        E::AliasReplayLimitExceeded {
            max_total_replayed_events,
            ..
        } => format!("aliases replay more than {max_total_replayed_events} events"),
        E::AliasExpansionLimitExceeded {
            max_expansions_per_anchor,
            ..
        } => format!("an anchor is used more than {max_expansions_per_anchor} times"),
        E::AliasReplayStackDepthExceeded { max_depth, .. } => {
            format!("aliases nest more than {max_depth} deep")
        }
        _ => return None,
    })
}

/// Builds the map, charging each key and value to `left`; sets `over`
/// when the budget runs out, so the caller can say so.
struct Bounded<'a> {
    left: usize,
    over: &'a std::cell::Cell<bool>,
}

impl Bounded<'_> {
    fn charge<E: de::Error>(&mut self, bytes: usize) -> Result<(), E> {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => {
                self.over.set(true);
                Err(E::custom("byte budget exceeded"))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = BTreeMap<String, String>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of strings")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_map<M: MapAccess<'de>>(mut self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            self.charge(key.len())?;
            let value = map.next_value::<String>()?;
            self.charge(value.len())?;
            out.insert(key, value);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_of_strings_reads_and_empty_text_is_an_empty_map() {
        let map = parse("user: app\nport: \"5432\"\n").unwrap();
        assert_eq!(map["user"], "app");
        assert_eq!(map["port"], "5432");
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn a_billion_laughs_document_fails_at_once_without_quoting_it() {
        let mut bomb = String::from("a: &a [lol-secret,lol,lol,lol,lol,lol,lol,lol,lol]\n");
        for (prev, name) in ('a'..'i').zip('b'..='i') {
            let refs = vec![format!("*{prev}"); 9].join(",");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let err = parse(&bomb).unwrap_err();
        assert_eq!(err, "is not a YAML map of strings");
    }

    #[test]
    fn one_large_scalar_aliased_many_times_is_refused_by_the_byte_budget() {
        // 64 KiB anchored once and used 99 times: under serde-saphyr's
        // alias/anchor ratio check (it starts at 100 aliases), 6.4 MiB built.
        let mut text = format!("a: &a {}\n", "x".repeat(64 * 1024));
        for i in 0..99 {
            text.push_str(&format!("k{i}: *a\n"));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.starts_with("holds more than 1048576 bytes"), "{err}");
        assert!(err.contains("alias bomb"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused_with_its_position() {
        let err = parse(&"[".repeat(100_000)).unwrap_err();
        assert_eq!(
            err,
            format!(
                "exceeds the YAML limits at line 1 column 33: collections nested more than {MAX_DEPTH} deep"
            )
        );
    }

    #[test]
    fn many_aliases_of_one_anchor_trip_the_ratio_check_with_a_position() {
        let mut text = String::from("a: &a x\n");
        for i in 0..200 {
            text.push_str(&format!("k{i}: *a\n"));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.starts_with("exceeds the YAML limits"), "{err}");
    }
}
