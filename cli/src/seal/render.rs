//! Rendering objects as kubeseal prints them: pretty JSON objects one after
//! another, or YAML documents each preceded by `---`.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::files;

/// Output format of `-o/--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Pretty JSON, one object per document (kubeseal's default).
    #[default]
    Json,
    /// YAML, each document preceded by `---`.
    Yaml,
}

/// Parses `-o/--format` (matches kubeseal: `json` or `yaml`, any case).
pub fn parse_format(text: &str) -> Result<Format, String> {
    match text.to_ascii_lowercase().as_str() {
        "json" => Ok(Format::Json),
        "yaml" => Ok(Format::Yaml),
        _ => Err(format!(
            "unsupported output format: {text} (use json or yaml)"
        )),
    }
}

impl Format {
    /// The format to write: YAML when the output file is named `.yaml` or
    /// `.yml` (matches kubeseal, which lets the name win over `-o`), else
    /// `self`.
    pub fn for_output(self, output: Option<&Path>) -> Format {
        match output {
            Some(p) if files::is_yaml_name(p) => Format::Yaml,
            _ => self,
        }
    }
}

/// Appends `object` to `out` in `format`. `out` is zeroizing because the
/// caller may render an unsealed Secret.
pub fn render_into<T: Serialize>(
    out: &mut Zeroizing<String>,
    object: &T,
    format: Format,
) -> Result<()> {
    match format {
        Format::Json => {
            let text = Zeroizing::new(serde_json::to_string_pretty(object)?);
            out.push_str(&text);
            out.push('\n');
        }
        Format::Yaml => {
            // Matches kubeseal: every YAML document starts with `---`.
            let text = to_yaml(object)?;
            out.push_str("---\n");
            out.push_str(&text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    Ok(())
}

/// One YAML document, with long values (sealed base64) on one line as
/// kubeseal writes them rather than folded: easier to diff and to grep.
pub fn to_yaml<T: Serialize>(object: &T) -> Result<Zeroizing<String>> {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    Ok(Zeroizing::new(serde_saphyr::to_string_with_options(
        object, options,
    )?))
}

/// Renders all `objects` in `format`.
pub fn render_all<T: Serialize>(objects: &[T], format: Format) -> Result<Zeroizing<String>> {
    let mut out = Zeroizing::new(String::new());
    for object in objects {
        render_into(&mut out, object, format)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_are_case_insensitive_and_others_refused() {
        assert_eq!(parse_format("JSON"), Ok(Format::Json));
        assert_eq!(parse_format("yaml"), Ok(Format::Yaml));
        assert!(
            parse_format("yml")
                .unwrap_err()
                .contains("unsupported output format")
        );
    }

    #[test]
    fn yaml_file_names_switch_the_format() {
        assert_eq!(
            Format::Json.for_output(Some(Path::new("x.yml"))),
            Format::Yaml
        );
        assert_eq!(
            Format::Json.for_output(Some(Path::new("x.json"))),
            Format::Json
        );
        assert_eq!(Format::Yaml.for_output(None), Format::Yaml);
    }

    #[test]
    fn yaml_documents_are_separated_and_json_objects_end_with_newlines() {
        let docs = [serde_json::json!({"a": 1}), serde_json::json!({"b": 2})];
        let yaml = render_all(&docs, Format::Yaml).unwrap();
        assert_eq!(yaml.as_str(), "---\na: 1\n---\nb: 2\n");
        let json = render_all(&docs, Format::Json).unwrap();
        assert_eq!(json.as_str(), "{\n  \"a\": 1\n}\n{\n  \"b\": 2\n}\n");
    }
}
