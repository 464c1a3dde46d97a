//! Helpers shared by the CLI test binaries.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use gitseal_core::manifest::{decode_text, parse_documents};
use serde_json::Value;

/// A path relative to the repository root.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Every document of a YAML or JSON stream.
pub fn docs(text: &str) -> Vec<Value> {
    parse_documents(&decode_text(text.as_bytes()).unwrap())
        .unwrap()
        .into_iter()
        .map(|d| d.value)
        .collect()
}

/// A failure: the expected exit status, and exactly one line on stderr that
/// contains every fragment and no panic.
#[track_caller]
pub fn assert_fails(o: &Output, code: i32, fragments: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit status; stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected, got: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for f in fragments {
        assert!(err.contains(f), "stderr lacks {f:?}: {err}");
    }
}
