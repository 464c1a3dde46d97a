//! One module per subcommand; shared manifest plumbing lives here.

pub mod cert;
pub mod demo;
pub mod keygen;
pub mod keys;
pub mod reencrypt;
pub mod reencrypt_all;
pub mod scan;
pub mod seal;
pub mod unseal;
pub mod validate;

use anyhow::{Context as _, Result};
use gitseal_core::api::SealedSecret;
use gitseal_core::manifest::{decode_text, parse_documents};
use serde_json::Value;

use crate::io::Source;

/// One object from the input, with the words that locate it in error messages.
pub struct Object {
    /// `file: document N`, plus `item M` inside a `kind: List`.
    pub place: String,
    pub value: Value,
}

impl Object {
    /// `file: document N (Kind ns/name)`.
    pub fn describe(&self) -> String {
        let kind = self.value.get("kind").and_then(Value::as_str).unwrap_or("object");
        let name = self
            .value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("<no name>");
        match self.value.pointer("/metadata/namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() => format!("{} ({kind} {ns}/{name})", self.place),
            _ => format!("{} ({kind} {name})", self.place),
        }
    }
}

/// Decodes and splits every source into objects, expanding `kind: List`.
pub fn objects(sources: &[Source]) -> Result<Vec<Object>> {
    let mut out = Vec::new();
    for src in sources {
        let text = decode_text(&src.bytes).with_context(|| src.name.clone())?;
        let docs = parse_documents(&text).with_context(|| src.name.clone())?;
        for doc in docs {
            let place = format!("{}: document {}", src.name, doc.index);
            for (position, value) in doc.into_objects() {
                let place = match position {
                    Some(n) => format!("{place} item {n}"),
                    None => place.clone(),
                };
                out.push(Object { place, value });
            }
        }
    }
    Ok(out)
}

/// [`objects`], refusing inputs with nothing in them (`a, b: no Secret found …`).
pub fn objects_or_nothing(sources: &[Source], what: &str) -> Result<Vec<Object>> {
    let objs = objects(sources)?;
    if objs.is_empty() {
        let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
        anyhow::bail!(
            "{}: no {what} found; ensure the input is a YAML or JSON manifest",
            names.join(", ")
        );
    }
    Ok(objs)
}

/// Reads an object as a SealedSecret, refusing other kinds.
pub fn sealed_secret(obj: &Object) -> Result<SealedSecret> {
    gitseal_core::meta::expect_kind(&obj.value, "bitnami.com/v1alpha1", "SealedSecret")
        .map_err(|e| anyhow::anyhow!("{}: {e}", obj.describe()))?;
    serde_json::from_value(obj.value.clone()).with_context(|| format!("{}: invalid SealedSecret", obj.describe()))
}
