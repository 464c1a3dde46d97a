//! Interop in the sealing direction: SealedSecrets written by `gitseal seal` are
//! opened by `tests/interop/go-unseal`, an independent unsealer that makes the same
//! Go standard-library calls as the Sealed Secrets controller, in every scope and
//! for 2048- and 4096-bit keys.
//!
//! CI installs Go (Debian's `golang-go`); elsewhere the test is skipped with a
//! message when it is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use assert_cmd::Command as BinCommand;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::repo;
use serde_json::{Value, json};

fn build_go_unseal(dir: &Path) -> Option<PathBuf> {
    if !Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide Go (golang-go; see .ci/run)"
        );
        eprintln!("skipping: Go is not installed");
        return None;
    }
    let src = dir.join("src/gounseal");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(repo("cli/tests/interop/go-unseal/main.go"), src.join("main.go")).unwrap();
    let bin = dir.join("go-unseal");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .env("GO111MODULE", "off")
        .env("GOPATH", dir)
        .env("GOCACHE", dir.join("gocache"))
        .env("GOFLAGS", "")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(bin)
}

#[test]
fn gitseal_output_opens_with_the_go_standard_library_like_the_bitnami_controller() {
    let dir = tempfile::tempdir().unwrap();
    let Some(unsealer) = build_go_unseal(dir.path()) else {
        return;
    };
    let binary: Vec<u8> = (0..=255u8).collect();
    let b64 = |b: &[u8]| STANDARD.encode(b);
    for (cert, key) in [("demo.crt", "demo.key"), ("second.crt", "second.key")] {
        for scope in ["strict", "namespace-wide", "cluster-wide"] {
            let secret = json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "interop", "namespace": "team-a"},
                "data": {"binary": b64(&binary), "empty": ""},
                "stringData": {"text": "héllo\r\nworld"}
            });
            let sealed = BinCommand::cargo_bin("gitseal")
                .unwrap()
                .current_dir(repo(""))
                .env("KUBECONFIG", "/nonexistent")
                .args([
                    "seal",
                    "-o",
                    "json",
                    "--scope",
                    scope,
                    "--cert",
                    &format!("testdata/keys/{cert}"),
                ])
                .write_stdin(secret.to_string())
                .output()
                .unwrap();
            assert!(sealed.status.success(), "{}", String::from_utf8_lossy(&sealed.stderr));

            let opened = open_with_go(&unsealer, key, &sealed.stdout);
            assert!(
                opened.status.success(),
                "{cert} {scope}: {}",
                String::from_utf8_lossy(&opened.stderr)
            );
            let got: Value = serde_json::from_slice(&opened.stdout).unwrap();
            assert_eq!(
                got,
                json!({"binary": b64(&binary), "empty": "", "text": b64("héllo\r\nworld".as_bytes())}),
                "{cert} {scope}"
            );

            // And the scope binding holds for Go too: moving a strict value breaks it.
            if scope == "strict" {
                let mut moved: Value = serde_json::from_slice(&sealed.stdout).unwrap();
                moved["metadata"]["namespace"] = json!("team-b");
                let out = open_with_go(&unsealer, key, moved.to_string().as_bytes());
                assert!(
                    !out.status.success(),
                    "{cert}: a strict value must not open in another namespace"
                );
            }
        }
    }
}

/// Runs the Go unsealer on `input` with the testdata key `key`.
fn open_with_go(unsealer: &Path, key: &str, input: &[u8]) -> std::process::Output {
    use std::io::Write as _;
    let mut child = Command::new(unsealer)
        .arg(repo(&format!("testdata/keys/{key}")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}
