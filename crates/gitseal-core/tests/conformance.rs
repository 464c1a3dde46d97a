//! Walks every case of the Sealed Secrets conformance kit in `../shared/conformance`:
//! each run's unseal must give the expected Secret or the expected error, and each
//! case's input Secret, sealed with gitseal to the case's certificate, must unseal
//! back to the same items.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gitseal_api::{SealedSecret, Secret};
use gitseal_core::Scope;
use gitseal_core::keys::{Certificate, PrivateKey, parse_private_keys};
use gitseal_core::manifest::{decode_text, parse_documents};
use gitseal_core::seal::{InputSecret, SealOptions, seal};
use gitseal_core::unseal::{UnsealOptions, unseal, unseal_raw};
use serde_json::Value;

fn kit() -> PathBuf {
    let dir = std::env::var_os("GITSEAL_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"));
    assert!(
        dir.join("cases").is_dir(),
        "conformance kit not found at {} (set GITSEAL_CONFORMANCE_DIR)",
        dir.display()
    );
    dir
}

fn key_file(name: &str) -> &'static str {
    match name {
        "key1" => "key1.pem",
        "key2" => "key2.pem",
        "key2-pkcs8" => "key2-pkcs8.pem",
        "key1-secret" => "key1-secret.yaml",
        "key2-secret" => "key2-secret.yaml",
        "keys-list" => "keys-list.yaml",
        other => panic!("unknown key name {other} in case.json"),
    }
}

fn load_keys(kit: &Path, names: &[Value]) -> Vec<PrivateKey> {
    names
        .iter()
        .flat_map(|n| {
            let path = kit.join("keys").join(key_file(n.as_str().unwrap()));
            parse_private_keys(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

fn read_docs(path: &Path) -> Vec<Value> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = decode_text(&bytes).unwrap();
    parse_documents(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .map(|d| d.value)
        .collect()
}

fn read_one<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let docs = read_docs(path);
    assert_eq!(docs.len(), 1, "{}", path.display());
    serde_json::from_value(docs.into_iter().next().unwrap()).unwrap()
}

/// The comparison the kit prescribes: identity, labels, annotations, type,
/// immutability and every data byte.
fn assert_same_secret(case: &str, got: &Secret, want: &Secret) {
    let m = |s: &Secret| {
        (
            s.metadata.name.clone(),
            s.metadata.namespace.clone(),
            s.metadata.labels.clone().unwrap_or_default(),
            s.metadata.annotations.clone().unwrap_or_default(),
        )
    };
    assert_eq!(m(got), m(want), "{case}: metadata");
    let ty = |s: &Secret| {
        s.type_
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "Opaque".into())
    };
    assert_eq!(ty(got), ty(want), "{case}: type");
    assert_eq!(
        got.immutable.unwrap_or(false),
        want.immutable.unwrap_or(false),
        "{case}: immutable"
    );
    let data = |s: &Secret| -> BTreeMap<String, Vec<u8>> {
        let mut d: BTreeMap<String, Vec<u8>> = s
            .data
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        for (k, v) in s.string_data.clone().unwrap_or_default() {
            d.insert(k, v.into_bytes());
        }
        d
    };
    assert_eq!(data(got), data(want), "{case}: data");
}

fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(kit().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.json").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 14, "expected the whole kit, found {} cases", dirs.len());
    dirs
}

#[test]
fn every_run_of_every_case_unseals_as_expected() {
    let kit = kit();
    let mut runs = 0;
    for dir in cases() {
        let case: Value = serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
        let id = case["id"].as_str().unwrap().to_string();
        let sealed: SealedSecret = read_one(&dir.join(case["sealedsecret"].as_str().unwrap()));
        for (i, run) in case["runs"].as_array().unwrap().iter().enumerate() {
            let label = format!("{id} run {i}");
            let keys = load_keys(&kit, run["keys"].as_array().unwrap());
            let expect = run["expect"].as_str().unwrap();
            if run["kind"] == "raw" {
                let ct = std::fs::read_to_string(dir.join(run["ciphertext"].as_str().unwrap())).unwrap();
                let scope: Scope = run["scope"].as_str().unwrap().parse().unwrap();
                let got = unseal_raw(
                    &ct,
                    &keys,
                    scope,
                    run["namespace"].as_str().unwrap(),
                    run["name"].as_str().unwrap(),
                );
                match expect {
                    "plaintext" => {
                        let want = std::fs::read(dir.join(run["expected"].as_str().unwrap())).unwrap();
                        assert_eq!(
                            got.unwrap_or_else(|e| panic!("{label}: {e}")).as_slice(),
                            want.as_slice(),
                            "{label}"
                        );
                    }
                    "error" => {
                        let e = got.expect_err(&label).to_string();
                        assert!(e.contains(run["error_contains"].as_str().unwrap()), "{label}: {e}");
                    }
                    other => panic!("{label}: unknown expectation {other}"),
                }
            } else {
                let got = unseal(&sealed, &keys, UnsealOptions::default());
                match expect {
                    "secret" => {
                        let want: Secret = read_one(&dir.join(run["expected"].as_str().unwrap()));
                        let got = got.unwrap_or_else(|e| panic!("{label}: {e}"));
                        assert_same_secret(&label, &got.secret, &want);
                    }
                    "error" => {
                        let e = got.expect_err(&label).to_string();
                        assert!(e.contains(run["error_contains"].as_str().unwrap()), "{label}: {e}");
                        if let Some(file) = run["expected"].as_str() {
                            let want = std::fs::read_to_string(dir.join(file)).unwrap();
                            assert_eq!(e, want.trim(), "{label}: error text");
                        }
                    }
                    other => panic!("{label}: unknown expectation {other}"),
                }
            }
            runs += 1;
        }
    }
    assert!(runs >= 20, "only {runs} runs checked");
}

/// The case's certificate is the one whose key opened its SealedSecret.
fn case_cert(kit: &Path, sealed: &SealedSecret) -> Certificate {
    let all = load_keys(kit, &[Value::from("keys-list")]);
    let opened = unseal(sealed, &all, UnsealOptions::default()).ok();
    let fingerprint = opened
        .and_then(|u| u.key_by_item.values().next().map(|i| all[*i].fingerprint().to_string()))
        .unwrap_or_else(|| all[0].fingerprint().to_string());
    ["key1-cert.pem", "key2-cert.pem"]
        .iter()
        .map(|f| Certificate::from_pem(&std::fs::read(kit.join("keys").join(f)).unwrap()).unwrap())
        .find(|c| c.public_key().fingerprint() == fingerprint)
        .expect("a cert for the case's key")
}

#[test]
fn every_input_secret_seals_to_the_case_cert_and_unseals_back() {
    let kit = kit();
    let keys = load_keys(&kit, &[Value::from("keys-list")]);
    let mut sealed_cases = 0;
    for dir in cases() {
        let input_path = dir.join("input-secret.yaml");
        if !input_path.is_file() {
            continue;
        }
        let case: Value = serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
        let original: SealedSecret = read_one(&dir.join(case["sealedsecret"].as_str().unwrap()));
        let cert = case_cert(&kit, &original);
        let doc = read_docs(&input_path).remove(0);
        let input = InputSecret::from_value(&doc).unwrap();
        let want = input.items.clone();
        let opts = SealOptions {
            default_namespace: "default",
            ..Default::default()
        };
        let sealed = seal(input, cert.public_key(), &opts).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for v in sealed.spec.encrypted_data.values() {
            let prefix = if cert.public_key().bits() == 4096 { "Ag" } else { "AQ" };
            assert!(v.starts_with(prefix), "{}: length prefix", dir.display());
        }
        let back =
            unseal(&sealed, &keys, UnsealOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let got: BTreeMap<String, Vec<u8>> = back.secret.data.unwrap().into_iter().map(|(k, v)| (k, v.0)).collect();
        let want: BTreeMap<String, Vec<u8>> = want.into_iter().map(|(k, v)| (k, v.to_vec())).collect();
        assert_eq!(got, want, "{}", dir.display());
        sealed_cases += 1;
    }
    assert!(sealed_cases >= 10, "only {sealed_cases} inputs sealed");
}

#[test]
fn fingerprints_match_the_kit() {
    let kit = kit();
    let listed = std::fs::read_to_string(kit.join("keys/fingerprints.txt")).unwrap();
    for line in listed.lines().filter(|l| !l.trim().is_empty()) {
        let (name, fp) = line.split_once(' ').unwrap();
        let key = &load_keys(&kit, &[Value::from(name)])[0];
        assert_eq!(key.fingerprint(), fp.trim(), "{name}");
        let cert = Certificate::from_pem(&std::fs::read(kit.join(format!("keys/{name}-cert.pem"))).unwrap()).unwrap();
        assert_eq!(cert.public_key().fingerprint(), fp.trim(), "{name} cert");
    }
}
