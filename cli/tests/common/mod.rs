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

/// A sandbox for the binary: its own HOME and KUBECONFIG, so the developer's
/// config never leaks in.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// [`Self::write`], returning the path as a string for an argument list.
    pub fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        self.write(name, contents).display().to_string()
    }

    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::cargo_bin("gitseal").unwrap();
        c.current_dir(repo(""))
            .env_remove("GITSEAL_CERT")
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", self.path("no-kubeconfig"));
        c
    }

    pub fn run(&self, args: &[&str], stdin: impl AsRef<[u8]>) -> Output {
        self.cmd()
            .args(args)
            .write_stdin(stdin.as_ref().to_vec())
            .output()
            .unwrap()
    }
}
