//! `gitseal reencrypt`: re-seals every SealedSecret to the controller's newest
//! key through its `/v1/rotate`, and rewrites the files in place.
//!
//! All or nothing: every file is read and parsed, every SealedSecret rotated,
//! and every new file checked before the first one is written. Files keep their
//! format, encoding, line endings and document order; documents that are not
//! SealedSecrets keep their exact text (comments included), and a rotated
//! SealedSecret keeps the key order it had, so the diff shows the new ciphertext.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use gitseal_core::manifest::{Document, Format, decode_text, parse_documents, to_document};
use http::StatusCode;
use serde_json::Value;

use super::{Object, sealed_secret};
use crate::cli::ReencryptArgs;
use crate::io::{self, Source, usage};
use crate::online::Controller;

pub fn run(args: &ReencryptArgs, kube: io::Kube<'_>) -> Result<()> {
    for (n, a) in args.files.iter().enumerate() {
        if a != Path::new("-") && args.files[..n].contains(a) {
            return Err(usage(format!("{}: given twice", a.display())));
        }
    }
    let sources = io::read_inputs(&args.files)?;
    let paths: Vec<Option<PathBuf>> = if args.files.is_empty() {
        vec![None]
    } else {
        args.files
            .iter()
            .map(|p| (p != Path::new("-")).then(|| p.clone()))
            .collect()
    };
    let mut files = sources
        .iter()
        .zip(paths)
        .map(|(src, path)| File::parse(src, path))
        .collect::<Result<Vec<_>>>()?;
    if files.iter().all(|f| f.targets.is_empty()) {
        let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
        bail!("{}: no SealedSecret found", names.join(", "));
    }

    let controller = Controller::connect(kube, &args.controller)?;
    for file in &mut files {
        file.rotate(&controller)?;
    }

    // Render and check everything before writing anything.
    let mut writes: Vec<(PathBuf, Vec<u8>, u32)> = Vec::new();
    let mut stdout: Option<Vec<u8>> = None;
    let mut rotated = 0;
    for file in &files {
        rotated += file.targets.len();
        let out = file.render()?;
        match (&file.path, out) {
            (Some(path), Some(bytes)) => writes.push((path.clone(), bytes, mode_of(path))),
            (Some(_), None) => {}
            (None, out) => stdout = Some(out.unwrap_or_else(|| file.source.bytes.to_vec())),
        }
    }
    let batch: Vec<(&Path, &[u8], u32)> = writes.iter().map(|(p, b, m)| (p.as_path(), b.as_slice(), *m)).collect();
    io::write_all_atomic(&batch, true)?;
    if let Some(bytes) = stdout {
        io::emit(None, &bytes, None)?;
    }
    eprintln!(
        "{rotated} SealedSecret{} re-encrypted with the key of {}",
        if rotated == 1 { "" } else { "s" },
        controller.service()
    );
    Ok(())
}

/// The permissions a rewritten file keeps.
pub(super) fn mode_of(path: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(m) = std::fs::metadata(path) {
            return m.permissions().mode() & 0o7777;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    0o644
}

/// A SealedSecret to rotate: its document (by position in [`File::docs`]) and,
/// inside a `kind: List`, its item.
pub(super) struct Target {
    doc: usize,
    item: Option<usize>,
    pub(super) object: Object,
    name: String,
}

pub(super) struct File<'a> {
    source: &'a Source,
    /// `None` for standard input.
    path: Option<PathBuf>,
    text: String,
    encoding: Encoding,
    docs: Vec<Document>,
    pub(super) targets: Vec<Target>,
    /// The new value of each document that changed.
    replaced: Vec<Option<Value>>,
}

impl<'a> File<'a> {
    pub(super) fn parse(source: &'a Source, path: Option<PathBuf>) -> Result<File<'a>> {
        let name = &source.name;
        let text = decode_text(&source.bytes).with_context(|| name.clone())?.into_owned();
        let docs = parse_documents(&text).with_context(|| name.clone())?;
        let mut targets = Vec::new();
        for (di, doc) in docs.iter().enumerate() {
            let place = format!("{name}: document {}", doc.index);
            let candidates: Vec<(Option<usize>, &Value)> = if doc.is_list() {
                doc.value
                    .get("items")
                    .and_then(Value::as_array)
                    .map(|items| items.iter().enumerate().map(|(i, v)| (Some(i), v)).collect())
                    .unwrap_or_default()
            } else {
                vec![(None, &doc.value)]
            };
            for (item, value) in candidates {
                if value.get("kind").and_then(Value::as_str) != Some("SealedSecret") {
                    continue;
                }
                let object = Object {
                    place: match item {
                        Some(i) => format!("{place} item {}", i + 1),
                        None => place.clone(),
                    },
                    value: value.clone(),
                };
                let sealed = sealed_secret(&object)?;
                let name = sealed.metadata.name.unwrap_or_default();
                targets.push(Target {
                    doc: di,
                    item,
                    object,
                    name,
                });
            }
        }
        Ok(File {
            source,
            path,
            encoding: Encoding::detect(&source.bytes),
            replaced: vec![None; docs.len()],
            text,
            docs,
            targets,
        })
    }

    /// Replaces the SealedSecret of target `i` with `value`.
    pub(super) fn set(&mut self, i: usize, value: Value) {
        let t = &self.targets[i];
        let doc = &self.docs[t.doc];
        let slot = self.replaced[t.doc].get_or_insert_with(|| doc.value.clone());
        match t.item {
            None => *slot = value,
            Some(item) => slot["items"][item] = value,
        }
    }

    /// One `/v1/rotate` request per SealedSecret; the first failure stops the run.
    fn rotate(&mut self, controller: &Controller) -> Result<()> {
        let mut rotated_values = Vec::with_capacity(self.targets.len());
        for t in &self.targets {
            let describe = t.object.describe();
            let body = serde_json::to_vec(&t.object.value).context("cannot encode the SealedSecret")?;
            let reply = controller
                .post("/v1/rotate", body, "re-encrypt")
                .with_context(|| describe.clone())?;
            let name = &t.name;
            let rotated = match reply.status {
                s if s.is_success() => accept_rotated(&reply.body, &t.object.value)
                    .map_err(|e| anyhow!("{describe}: cannot re-encrypt secret {name}: {e}"))?,
                StatusCode::CONFLICT => bail!("{describe}: unable to rotate secret: {name}"),
                _ => bail!("{describe}: cannot re-encrypt secret {name}: {}", reply.describe()),
            };
            rotated_values.push(rotated);
        }
        for (i, rotated) in rotated_values.into_iter().enumerate() {
            self.set(i, rotated);
        }
        Ok(())
    }

    fn format(&self) -> Format {
        let t = self.text.trim_start();
        if t.starts_with('{') || t.starts_with('[') {
            Format::Json
        } else {
            Format::Yaml
        }
    }

    /// The new bytes, or `None` when nothing changed.
    pub(super) fn render(&self) -> Result<Option<Vec<u8>>> {
        if self.replaced.iter().all(Option::is_none) {
            return Ok(None);
        }
        let format = self.format();
        let crlf = self.text.contains("\r\n");
        let serialize = |v: &Value| -> Result<String> {
            let doc = to_document(v, format).map_err(anyhow::Error::msg)?;
            Ok(if crlf { doc.replace('\n', "\r\n") } else { doc })
        };
        let spliced = match format {
            Format::Yaml => self.splice_yaml(&serialize)?,
            Format::Json => self.splice_json(&serialize)?,
        };
        // The splice must parse back to exactly the documents intended; if it
        // doesn't, every document is written out afresh instead.
        let text = match spliced.filter(|t| self.reads_back(t)) {
            Some(t) => t,
            None => {
                let mut out = String::new();
                for (doc, new) in self.docs.iter().zip(&self.replaced) {
                    out.push_str(&serialize(new.as_ref().unwrap_or(&doc.value))?);
                }
                if !self.reads_back(&out) {
                    bail!("{}: cannot write the re-encrypted documents back", self.source.name);
                }
                out
            }
        };
        Ok(Some(self.encoding.encode(&text)))
    }

    fn reads_back(&self, text: &str) -> bool {
        let Ok(docs) = parse_documents(text) else {
            return false;
        };
        docs.len() == self.docs.len()
            && docs
                .iter()
                .zip(self.docs.iter().zip(&self.replaced))
                .all(|(got, (old, new))| got.value == *new.as_ref().unwrap_or(&old.value))
    }

    /// Replaces the changed documents' text between the `---` markers, keeping
    /// the comments around them and everything else byte for byte.
    fn splice_yaml(&self, serialize: &dyn Fn(&Value) -> Result<String>) -> Result<Option<String>> {
        let parts = yaml_parts(&self.text);
        let skip_first = parts.first().is_some_and(|r| is_blank_yaml(&self.text[r.clone()]));
        let mut new_parts: Vec<Option<String>> = vec![None; parts.len()];
        for (doc, new) in self.docs.iter().zip(&self.replaced) {
            let Some(new) = new else { continue };
            let Some(i) = (if skip_first {
                Some(doc.index)
            } else {
                doc.index.checked_sub(1)
            }) else {
                return Ok(None);
            };
            let Some(range) = parts.get(i) else {
                return Ok(None);
            };
            let body = serialize(new)?;
            let body = body
                .strip_prefix("---\r\n")
                .or_else(|| body.strip_prefix("---\n"))
                .unwrap_or(&body);
            new_parts[i] = Some(replace_yaml_part(&self.text[range.clone()], i > 0, body));
        }
        let mut out = String::with_capacity(self.text.len());
        for (i, (range, new)) in parts.iter().zip(new_parts).enumerate() {
            if i > 0 {
                out.push_str("---");
            }
            out.push_str(new.as_deref().unwrap_or(&self.text[range.clone()]));
        }
        Ok(Some(out))
    }

    /// Replaces the changed objects of a JSON stream, keeping the rest as written.
    fn splice_json(&self, serialize: &dyn Fn(&Value) -> Result<String>) -> Result<Option<String>> {
        let Some(spans) = json_spans(&self.text) else {
            return Ok(None);
        };
        let mut out = String::with_capacity(self.text.len());
        let mut at = 0;
        for (doc, new) in self.docs.iter().zip(&self.replaced) {
            let Some(new) = new else { continue };
            let Some(span) = doc.index.checked_sub(1).and_then(|i| spans.get(i)) else {
                return Ok(None);
            };
            let body = serialize(new)?;
            out.push_str(&self.text[at..span.start]);
            out.push_str(body.trim_end_matches(['\n', '\r']));
            at = span.end;
        }
        out.push_str(&self.text[at..]);
        Ok(Some(out))
    }
}

/// Checks the controller's answer is the same SealedSecret re-sealed, and lays
/// it out in the key order of the original.
pub(super) fn accept_rotated(body: &[u8], original: &Value) -> Result<Value, String> {
    let new: Value = serde_json::from_slice(body).map_err(|e| format!("the controller's answer is not JSON: {e}"))?;
    gitseal_core::meta::expect_kind(&new, "bitnami.com/v1alpha1", "SealedSecret")
        .map_err(|e| format!("the controller's answer: {e}"))?;
    for field in ["/metadata/name", "/metadata/namespace"] {
        let (a, b) = (original.pointer(field), new.pointer(field));
        if a.and_then(Value::as_str).unwrap_or("") != b.and_then(Value::as_str).unwrap_or("") {
            return Err(format!("the controller answered with a different {}", &field[10..]));
        }
    }
    serde_json::from_value::<gitseal_core::api::SealedSecret>(new.clone())
        .map_err(|e| format!("the controller's answer is not a valid SealedSecret: {e}"))?;
    Ok(follow_order(new, original))
}

/// `new` with the keys `old` also has first, in `old`'s order (recursively),
/// then the rest: the rewritten file diffs only where the content changed.
fn follow_order(new: Value, old: &Value) -> Value {
    match (new, old) {
        (Value::Object(mut new), Value::Object(old)) => {
            let mut out = serde_json::Map::with_capacity(new.len());
            for (k, old_v) in old {
                if let Some(v) = new.shift_remove(k) {
                    out.insert(k.clone(), follow_order(v, old_v));
                }
            }
            out.extend(new);
            Value::Object(out)
        }
        (new, _) => new,
    }
}

/// The parts of a YAML stream between document markers, split where
/// `gitseal_core::manifest::parse_documents` splits it: at a line that is `---`
/// or `---` followed by a space or tab. Every part after the first starts just
/// after its marker's `---`.
fn yaml_parts(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut offset) = (0, 0);
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        if body == "---" || body.strip_prefix("---").is_some_and(|r| r.starts_with([' ', '\t'])) {
            out.push(start..offset);
            start = offset + 3;
        }
        offset += line.len();
    }
    out.push(start..text.len());
    out
}

/// Blank as the parser counts it: only blank lines, comments and `...`.
fn is_blank_yaml(part: &str) -> bool {
    part.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "..."
    })
}

/// A part's new text: what followed its marker on the marker line (when that
/// is only a comment), the comment lines before the document, the new body,
/// and the comment lines after it.
fn replace_yaml_part(part: &str, after_marker: bool, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 64);
    let mut rest = part;
    if after_marker {
        let end = part.find('\n').map_or(part.len(), |i| i + 1);
        let marker_rest = &part[..end];
        let t = marker_rest.trim();
        if t.is_empty() || t.starts_with('#') {
            out.push_str(marker_rest);
        } else {
            out.push_str(if marker_rest.ends_with("\r\n") { "\r\n" } else { "\n" });
        }
        rest = &part[end..];
    }
    let lines: Vec<&str> = rest.split_inclusive('\n').collect();
    let lead = lines
        .iter()
        .take_while(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#')
        })
        .count();
    // Only comments at column 0 count as trailing: indented ones may be inside a block scalar.
    let trail = lines[lead..]
        .iter()
        .rev()
        .take_while(|l| {
            let b = l.trim_end_matches(['\n', '\r']);
            b.trim().is_empty() || b.starts_with('#') || b == "..."
        })
        .count();
    out.extend(lines[..lead].iter().copied());
    out.push_str(body);
    if !body.ends_with('\n') {
        out.push('\n');
    }
    out.extend(lines[lines.len() - trail..].iter().copied());
    out
}

/// The byte range of each value of a concatenated JSON stream, in order.
fn json_spans(text: &str) -> Option<Vec<Range<usize>>> {
    let mut spans = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>();
    loop {
        let at = stream.byte_offset();
        let start = at + (text[at..].len() - text[at..].trim_start().len());
        match stream.next() {
            None => return Some(spans),
            Some(Ok(_)) => spans.push(start..stream.byte_offset()),
            Some(Err(_)) => return None,
        }
    }
}

/// The text encoding a file came in, to write it back the same way.
#[derive(Clone, Copy)]
enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
}

impl Encoding {
    fn detect(bytes: &[u8]) -> Self {
        match bytes {
            [0xef, 0xbb, 0xbf, ..] => Encoding::Utf8Bom,
            [0xff, 0xfe, ..] => Encoding::Utf16Le,
            [0xfe, 0xff, ..] => Encoding::Utf16Be,
            _ => Encoding::Utf8,
        }
    }

    fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Encoding::Utf8 => text.as_bytes().to_vec(),
            Encoding::Utf8Bom => [&[0xef, 0xbb, 0xbf][..], text.as_bytes()].concat(),
            Encoding::Utf16Le => [0xff, 0xfe]
                .into_iter()
                .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
                .collect(),
            Encoding::Utf16Be => [0xfe, 0xff]
                .into_iter()
                .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_parts_split_where_the_parser_does() {
        let text = "# head\n---\na: 1\n--- # c\nb: 2\n---\n";
        let parts: Vec<&str> = yaml_parts(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(parts, ["# head\n", "\na: 1\n", " # c\nb: 2\n", "\n"]);
    }

    #[test]
    fn a_replaced_part_keeps_its_comments() {
        let part = " # marker\n# about db\nname: old\nkind: X\n# next one\n\n";
        assert_eq!(
            replace_yaml_part(part, true, "name: new\n"),
            " # marker\n# about db\nname: new\n# next one\n\n"
        );
        assert_eq!(replace_yaml_part("a: 1", false, "a: 2\n"), "a: 2\n");
    }

    #[test]
    fn json_spans_cover_each_value() {
        let text = " {\"a\": 1}\n\n{\"b\": [2]} ";
        let spans: Vec<&str> = json_spans(text).unwrap().into_iter().map(|r| &text[r]).collect();
        assert_eq!(spans, ["{\"a\": 1}", "{\"b\": [2]}"]);
    }

    #[test]
    fn rotated_objects_follow_the_original_key_order() {
        let old = serde_json::json!({"spec": {"encryptedData": {"b": "1", "a": "2"}}, "kind": "K"});
        let new = serde_json::json!({"kind": "K", "extra": 1, "spec": {"encryptedData": {"a": "3", "b": "4"}}});
        let got = serde_json::to_string(&follow_order(new, &old)).unwrap();
        assert_eq!(
            got,
            r#"{"spec":{"encryptedData":{"b":"4","a":"3"}},"kind":"K","extra":1}"#
        );
    }

    /// Parses `text`, replaces document `n` (1-based, as the parser counts) and renders.
    fn rewrite(text: &str, n: usize, new: Value) -> String {
        let source = Source {
            name: "f".into(),
            bytes: text.as_bytes().to_vec().into(),
        };
        let mut file = File::parse(&source, None).unwrap();
        let i = file.docs.iter().position(|d| d.index == n).unwrap();
        file.replaced[i] = Some(new);
        String::from_utf8(file.render().unwrap().unwrap()).unwrap()
    }

    #[test]
    fn only_the_replaced_document_changes() {
        let text = "a: 1 # one\r\n---\r\n# two\r\nb: 2\r\n--- # three\r\nc: |\r\n  x\r\n  # y\r\n";
        assert_eq!(
            rewrite(text, 2, serde_json::json!({"b": 3})),
            "a: 1 # one\r\n---\r\n# two\r\nb: 3\r\n--- # three\r\nc: |\r\n  x\r\n  # y\r\n"
        );
        assert_eq!(
            rewrite(text, 3, serde_json::json!({"c": "z"})),
            "a: 1 # one\r\n---\r\n# two\r\nb: 2\r\n--- # three\r\nc: z\r\n"
        );
        let json = "{\"a\":1}\n{\"b\":2}\n";
        assert_eq!(
            rewrite(json, 1, serde_json::json!({"a": 2})),
            "{\n  \"a\": 2\n}\n{\"b\":2}\n"
        );
    }

    #[test]
    fn encodings_round_trip() {
        for bytes in [&b"\xff\xfea\x00"[..], b"\xfe\xff\x00a", b"\xef\xbb\xbfa", b"a"] {
            let enc = Encoding::detect(bytes);
            assert_eq!(enc.encode(&decode_text(bytes).unwrap()), bytes);
        }
    }
}
