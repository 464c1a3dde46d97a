//! Kubernetes manifests in and out: multi-document YAML or concatenated JSON,
//! with UTF-8/UTF-16 detection, bounded parsing and errors that name the document.
//!
//! YAML goes through `serde-saphyr`: maintained, pure Rust, no `unsafe`, panic-free
//! on malformed input, and with parse budgets that stop alias bombs
//! ("billion laughs") in bounded time and memory. `serde_yaml` is deprecated.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;

/// The most input gitseal reads from one file or stdin.
pub const MAX_INPUT_BYTES: usize = 64 << 20;

/// A problem reading a manifest stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("input is not valid UTF-8 (byte {offset}); re-save the file as UTF-8")]
    NotUtf8 { offset: usize },
    #[error("input is UTF-16 but has an odd number of bytes or an invalid surrogate")]
    BadUtf16,
    #[error("input is larger than {} MiB", MAX_INPUT_BYTES >> 20)]
    TooLarge,
    #[error("document {document} (line {line}): invalid YAML: {reason}")]
    Yaml {
        document: usize,
        line: usize,
        reason: String,
    },
    #[error("document {document} (line {line}): invalid JSON: {reason}")]
    Json {
        document: usize,
        line: usize,
        reason: String,
    },
    #[error("document {document} (line {line}): expected an object, found {found}")]
    NotAnObject {
        document: usize,
        line: usize,
        found: &'static str,
    },
}

/// One non-empty document of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 1-based position in the stream, counting empty documents too.
    pub index: usize,
    /// 1-based line where the document starts.
    pub line: usize,
    pub value: Value,
}

impl Document {
    /// `kind` of the object, if any.
    pub fn kind(&self) -> Option<&str> {
        self.value.get("kind").and_then(Value::as_str)
    }

    /// Whether this is a `kind: List` (or `SecretList`, as the API returns it).
    pub fn is_list(&self) -> bool {
        matches!(self.kind(), Some("List" | "SecretList"))
    }

    /// The objects the document holds: each item of a list with its 1-based
    /// position, or the document itself (no position).
    pub fn into_objects(mut self) -> Vec<(Option<usize>, Value)> {
        if !self.is_list() {
            return vec![(None, self.value)];
        }
        match self.value.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => items.into_iter().enumerate().map(|(i, v)| (Some(i + 1), v)).collect(),
            _ => Vec::new(),
        }
    }
}

/// Decodes input bytes to text: UTF-8 (with or without BOM) or UTF-16 with a BOM,
/// as PowerShell writes it. Anything else is an error with the byte offset.
pub fn decode_text(input: &[u8]) -> Result<Cow<'_, str>, ManifestError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(ManifestError::TooLarge);
    }
    let utf16 = |bytes: &[u8], be: bool| -> Result<Cow<'static, str>, ManifestError> {
        if !bytes.len().is_multiple_of(2) {
            return Err(ManifestError::BadUtf16);
        }
        let units = bytes.chunks_exact(2).map(|c| {
            if be {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map(Cow::Owned)
            .map_err(|_| ManifestError::BadUtf16)
    };
    match input {
        [0xef, 0xbb, 0xbf, rest @ ..] => {
            std::str::from_utf8(rest)
                .map(Cow::Borrowed)
                .map_err(|e| ManifestError::NotUtf8 {
                    offset: e.valid_up_to() + 3,
                })
        }
        [0xff, 0xfe, rest @ ..] => utf16(rest, false),
        [0xfe, 0xff, rest @ ..] => utf16(rest, true),
        _ => std::str::from_utf8(input)
            .map(Cow::Borrowed)
            .map_err(|e| ManifestError::NotUtf8 {
                offset: e.valid_up_to(),
            }),
    }
}

/// Parses a stream of YAML documents (`---`-separated) or concatenated JSON
/// objects. Empty documents are skipped but still counted.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, ManifestError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        parse_json_stream(text)
    } else {
        parse_yaml_stream(text)
    }
}

fn line_of(text: &str, byte: usize) -> usize {
    text.as_bytes()[..byte.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn parse_json_stream(text: &str) -> Result<Vec<Document>, ManifestError> {
    let mut docs = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut index = 0;
    loop {
        let start = stream.byte_offset();
        let start = start + (text.len() - start - text[start..].trim_start().len());
        match stream.next() {
            None => break,
            Some(Ok(value)) => {
                index += 1;
                let line = line_of(text, start);
                push_object(&mut docs, index, line, value)?;
            }
            Some(Err(e)) => {
                return Err(ManifestError::Json {
                    document: index + 1,
                    line: e.line(),
                    reason: strip_position(&e.to_string()),
                });
            }
        }
    }
    Ok(docs)
}

fn push_object(docs: &mut Vec<Document>, index: usize, line: usize, value: Value) -> Result<(), ManifestError> {
    if value.is_object() {
        docs.push(Document { index, line, value });
        return Ok(());
    }
    if value.is_null() {
        return Ok(());
    }
    let found = crate::meta::json_type(&value);
    Err(ManifestError::NotAnObject {
        document: index,
        line,
        found,
    })
}

/// serde_json appends " at line X column Y"; the caller reports the line itself.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Splits a YAML stream at document markers the way kubectl's YAML reader does:
/// a line that is `---` (optionally followed by whitespace or a comment).
fn split_yaml(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        let is_marker = body == "---" || body.strip_prefix("---").is_some_and(|r| r.starts_with([' ', '\t']));
        if is_marker {
            out.push((start_line, &text[start..offset]));
            // Content after `--- ` on the marker line belongs to the next document.
            start = offset + 3;
            start_line = n + 1;
        }
        offset += line.len();
    }
    out.push((start_line, &text[start..]));
    out
}

/// Everything a stream may expand to once parsed, whatever aliases do.
const MAX_PARSED_BYTES: usize = 256 << 20;

fn yaml_options() -> serde_saphyr::Options {
    let mut alias_limits = serde_saphyr::options::AliasLimits::default();
    alias_limits.max_total_replayed_events = 100_000;
    alias_limits.max_alias_expansions_per_anchor = 1_000;
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_aliases: 10_000,
            max_anchors: 10_000,
            max_depth: 256,
            max_nodes: 1_000_000,
        },
        alias_limits: alias_limits,
        with_snippet: false,
        // YAML 1.2 booleans only: `y`, `yes`, `on` stay strings.
        strict_booleans: true,
    }
}

fn parse_yaml_stream(text: &str) -> Result<Vec<Document>, ManifestError> {
    let mut docs = Vec::new();
    let mut parsed_bytes = 0usize;
    let parts = split_yaml(text);
    // A stream that starts with `---` has an empty first part: don't count it.
    let skip_first = parts.first().is_some_and(|(_, p)| is_blank_yaml(p));
    for (i, (line, part)) in parts.into_iter().enumerate().skip(usize::from(skip_first)) {
        let index = i + usize::from(!skip_first);
        if is_blank_yaml(part) {
            continue;
        }
        let value: Value = serde_saphyr::from_str_with_options(part, yaml_options()).map_err(|e| {
            let (rel_line, reason) = yaml_error(&e);
            ManifestError::Yaml {
                document: index,
                line: line + rel_line.saturating_sub(1),
                reason,
            }
        })?;
        // Aliases can make a small document large; bound the whole stream.
        parsed_bytes += approx_size(&value);
        if parsed_bytes > MAX_PARSED_BYTES {
            return Err(ManifestError::Yaml {
                document: index,
                line,
                reason: format!(
                    "input expands to more than {} MiB (YAML aliases?)",
                    MAX_PARSED_BYTES >> 20
                ),
            });
        }
        push_object(&mut docs, index, line, value)?;
    }
    Ok(docs)
}

/// Roughly the bytes a parsed value holds.
fn approx_size(v: &Value) -> usize {
    16 + match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(approx_size).sum(),
        Value::Object(o) => o.iter().map(|(k, v)| k.len() + approx_size(v)).sum(),
        _ => 0,
    }
}

fn is_blank_yaml(part: &str) -> bool {
    part.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "..."
    })
}

/// One line of error text, and the line it points at (relative to the document).
fn yaml_error(e: &serde_saphyr::Error) -> (usize, String) {
    let line = e.location().map_or(1, |l| l.line() as usize);
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("").trim().to_string();
    (line, first)
}

/// Output formats, as kubeseal's `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Yaml,
    Json,
}

impl Format {
    /// Sniffs the format of an existing file's text.
    pub fn detect(text: &str) -> Self {
        if text.trim_start().starts_with('{') {
            Format::Json
        } else {
            Format::Yaml
        }
    }
}

/// Long base64 values stay on one line, as kubectl and kubeseal print them;
/// multi-line strings use literal blocks.
fn yaml_output_options() -> serde_saphyr::SerializerOptions {
    let mut o = serde_saphyr::SerializerOptions::default();
    o.folded_wrap_chars = usize::MAX;
    o.min_fold_chars = usize::MAX;
    o
}

/// Serializes one object as a document: YAML with a leading `---`, or
/// pretty-printed JSON with a trailing newline, as kubeseal prints them.
pub fn to_document<T: Serialize>(value: &T, format: Format) -> Result<String, String> {
    match format {
        Format::Yaml => serde_saphyr::to_string_with_options(value, yaml_output_options())
            .map(|body| format!("---\n{body}"))
            .map_err(|e| e.to_string()),
        Format::Json => serde_json::to_string_pretty(value)
            .map(|body| format!("{body}\n"))
            .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_stream_counts_empty_documents_and_reports_lines() {
        let text = "---\na: 1\n---\n# only a comment\n---\nb: 2\n";
        let docs = parse_documents(text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].index, docs[0].line), (1, 1));
        assert_eq!((docs[1].index, docs[1].line), (3, 5));
        assert_eq!(docs[1].value["b"], 2);
    }

    #[test]
    fn json_stream_of_concatenated_objects() {
        let docs = parse_documents("{\"a\": 1}\n{\"b\": 2}{\"c\": 3}").unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[2].index, 3);
        let e = parse_documents("{\"a\": 1}\n{\"b\": }").unwrap_err();
        assert!(
            matches!(
                e,
                ManifestError::Json {
                    document: 2,
                    line: 2,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn yaml_error_names_document_and_absolute_line() {
        let e = parse_documents("a: 1\n---\nb: [unclosed\n").unwrap_err();
        assert!(matches!(e, ManifestError::Yaml { document: 2, .. }), "{e:?}");
        assert!(!e.to_string().contains('\n'), "one line: {e}");
    }

    #[test]
    fn scalars_at_top_level_are_rejected() {
        let e = parse_documents("just text\n").unwrap_err();
        assert_eq!(e.to_string(), "document 1 (line 1): expected an object, found a string");
    }

    #[test]
    fn utf16_with_bom_is_decoded() {
        let text = "kind: Secret\n";
        let mut le = vec![0xff, 0xfe];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode_text(&le).unwrap(), text);
        let mut be = vec![0xfe, 0xff];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(decode_text(&be).unwrap(), text);
        let mut bom8 = vec![0xef, 0xbb, 0xbf];
        bom8.extend_from_slice(text.as_bytes());
        assert_eq!(decode_text(&bom8).unwrap(), text);
    }

    #[test]
    fn non_utf8_names_the_offset() {
        let e = decode_text(b"kind: \xff\n").unwrap_err();
        assert_eq!(e, ManifestError::NotUtf8 { offset: 6 });
    }

    #[test]
    fn alias_bomb_is_refused_quickly() {
        let mut y = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        let mut prev = 'a';
        for c in 'b'..='j' {
            y.push_str(&format!(
                "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
            prev = c;
        }
        let start = std::time::Instant::now();
        let r = parse_documents(&y);
        assert!(r.is_err(), "an alias bomb must be refused");
        assert!(start.elapsed().as_secs() < 5);
    }
}
