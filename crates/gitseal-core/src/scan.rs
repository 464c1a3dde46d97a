//! Finding secrets that should not be committed: plaintext Secret manifests,
//! PEM private keys and age identities. Pure functions over text; walking files
//! and ignore rules are the caller's business.

use serde_json::Value;

use crate::manifest::parse_documents;

/// One thing found, at a 1-based line of the scanned text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub line: usize,
    pub what: String,
}

/// A line carrying this marker is not reported (for documentation examples).
pub const INLINE_IGNORE: &str = "gitseal:ignore";

/// Scans `text`. With `manifest` set, it is also parsed as YAML or JSON and
/// each `kind: Secret` with `data` or `stringData` is reported, including the
/// Secrets inside a `kind: List`. Text that doesn't parse (a Helm template,
/// say) is only scanned for keys.
pub fn scan(text: &str, manifest: bool) -> Vec<Finding> {
    let lines: Vec<&str> = text.lines().collect();
    let ignored = |line: usize| lines.get(line - 1).is_some_and(|l| l.contains(INLINE_IGNORE));
    let mut findings = Vec::new();
    if manifest && let Ok(docs) = parse_documents(text) {
        for doc in docs {
            let line = first_content_line(&lines, doc.line);
            let index = doc.index;
            for (position, object) in doc.into_objects() {
                if let Some(what) = plaintext_secret(&object) {
                    let what = match position {
                        Some(n) => format!("document {index} item {n}: {what}"),
                        None => format!("document {index}: {what}"),
                    };
                    findings.push(Finding { line, what });
                }
            }
        }
    }
    for (n, l) in lines.iter().enumerate() {
        if let Some(kind) = pem_private_key(l) {
            findings.push(Finding {
                line: n + 1,
                what: format!("PEM private key ({kind})"),
            });
        }
        if has_age_identity(l) {
            findings.push(Finding {
                line: n + 1,
                what: "age secret key (AGE-SECRET-KEY-1…)".into(),
            });
        }
    }
    findings.retain(|f| !ignored(f.line));
    findings.sort_by_key(|f| f.line);
    findings
}

/// The document's first line of content, past its `---` marker, blank lines and comments.
fn first_content_line(lines: &[&str], from: usize) -> usize {
    (from..=lines.len())
        .find(|&n| {
            let l = lines[n - 1].trim();
            !(l.is_empty() || l.starts_with('#') || l.starts_with("---"))
        })
        .unwrap_or(from)
}

/// `plaintext Secret ns/name (data: 2 items, stringData: 1 item)` for a Secret
/// that carries values.
fn plaintext_secret(object: &Value) -> Option<String> {
    if object.get("kind").and_then(Value::as_str) != Some("Secret") {
        return None;
    }
    if object
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_some_and(|v| v != "v1")
    {
        return None;
    }
    let count = |field: &str| object.get(field).and_then(Value::as_object).map_or(0, |m| m.len());
    let fields: Vec<String> = ["data", "stringData"]
        .into_iter()
        .filter(|f| count(f) > 0)
        .map(|f| {
            let n = count(f);
            format!("{f}: {n} item{}", if n == 1 { "" } else { "s" })
        })
        .collect();
    if fields.is_empty() {
        return None;
    }
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<no name>");
    let name = match object.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    };
    Some(format!("plaintext Secret {name} ({})", fields.join(", ")))
}

/// The key type named by a PEM private-key header ("RSA", "OPENSSH", "PKCS#8", …).
fn pem_private_key(line: &str) -> Option<String> {
    let start = line.find("-----BEGIN ")?;
    let rest = &line[start + "-----BEGIN ".len()..];
    let label = rest
        .strip_suffix("-----")
        .or_else(|| rest.split_once("-----").map(|(l, _)| l))?;
    let kind = label.strip_suffix("PRIVATE KEY")?.trim();
    Some(if kind.is_empty() { "PKCS#8".into() } else { kind.into() })
}

/// Bech32 as age writes identities: `AGE-SECRET-KEY-1` and 58 upper-case data characters.
fn has_age_identity(line: &str) -> bool {
    const PREFIX: &str = "AGE-SECRET-KEY-1";
    const CHARSET: &str = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";
    line.match_indices(PREFIX).any(|(i, _)| {
        let data = &line[i + PREFIX.len()..];
        data.chars().take_while(|c| CHARSET.contains(*c)).count() >= 58
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Split so that scanning this repository doesn't report its own test data.
    const AGE: &str = concat!(
        "AGE-SECRET-KEY-",
        "1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS5AQS47"
    );
    const BEGIN: &str = "-----BEGIN";

    #[test]
    fn finds_plaintext_secrets_and_list_items_but_not_sealed_ones() {
        let text = "\
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: app}
stringData: {password: hunter2}
---
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: db, namespace: app}
spec: {encryptedData: {password: AgB}}
---
apiVersion: v1
kind: Secret
metadata: {name: empty}
type: kubernetes.io/service-account-token
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {a: b}}
- {apiVersion: v1, kind: Secret, metadata: {name: tls}, data: {tls.key: eA==, tls.crt: eA==}}
";
        let found = scan(text, true);
        assert_eq!(
            found,
            [
                Finding {
                    line: 1,
                    what: "document 1: plaintext Secret app/db (stringData: 1 item)".into()
                },
                Finding {
                    line: 16,
                    what: "document 4 item 2: plaintext Secret tls (data: 2 items)".into()
                },
            ]
        );
    }

    #[test]
    fn finds_keys_in_any_text_with_their_line() {
        let text = format!(
            "# notes\nkey: |\n  {BEGIN} RSA PRIVATE KEY-----\n  MIIE\nother: {BEGIN} PRIVATE KEY-----\nid={AGE}\ncert: {BEGIN} CERTIFICATE-----\n"
        );
        let found = scan(&text, false);
        let lines: Vec<(usize, &str)> = found.iter().map(|f| (f.line, f.what.as_str())).collect();
        assert_eq!(
            lines,
            [
                (3, "PEM private key (RSA)"),
                (5, "PEM private key (PKCS#8)"),
                (6, "age secret key (AGE-SECRET-KEY-1…)")
            ]
        );
    }

    #[test]
    fn near_misses_and_marked_lines_are_not_reported() {
        let text = format!(
            "AGE-SECRET-KEY-1... is what age-keygen prints\n{BEGIN} PUBLIC KEY-----\nid={AGE} # gitseal:ignore\n"
        );
        assert!(scan(&text, true).is_empty());
        // A Helm template is not YAML; it is still scanned for keys.
        let template = format!("kind: Secret\ndata:\n  {{{{- range .Values.x }}}}\n  {BEGIN} EC PRIVATE KEY-----\n");
        assert_eq!(scan(&template, true).len(), 1);
    }
}
