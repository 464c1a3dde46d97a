//! Interop in the sealing direction: SealedSecrets written by `gitseal seal` are
//! opened by an independent implementation of the Bitnami format (Python's
//! `cryptography`), in every scope and for 2048- and 4096-bit keys.
//!
//! CI installs `cryptography`; elsewhere the test is skipped with a message when
//! it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::Command as BinCommand;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn python_with_cryptography() -> Option<&'static str> {
    let ok = Command::new("python3")
        .args(["-c", "import cryptography.hazmat.primitives.ciphers.aead"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some("python3");
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must provide python3 with `cryptography` (see .ci/run)"
    );
    eprintln!("skipping: python3 with the `cryptography` package is not available");
    None
}

#[test]
fn gitseal_output_opens_with_an_independent_implementation() {
    let Some(python) = python_with_cryptography() else {
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

            let opened = Command::new(python)
                .arg(repo("cli/tests/interop/bitnami_unseal.py"))
                .arg(repo(&format!("testdata/keys/{key}")))
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut child| {
                    use std::io::Write as _;
                    child.stdin.take().unwrap().write_all(&sealed.stdout)?;
                    child.wait_with_output()
                })
                .unwrap();
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
        }
    }
}
