//! The `gitseal` binary as a user drives it: every subcommand, its output, its
//! exit status, and one clear line for every kind of bad input.

mod common;

use common::{Env, assert_fails, docs, repo, stderr, stdout};
use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::{Value, json};

/// The conformance kit, read in place beside the repository.
fn kit() -> PathBuf {
    std::env::var_os("GITSEAL_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("../shared/conformance"))
}

const CERT: &str = "testdata/keys/demo.crt";
const KEY: &str = "testdata/keys/demo.key";
const DB: &str = "testdata/secrets/db-credentials.yaml";

fn data_items(secret: &Value) -> Vec<(String, String)> {
    secret["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn seal_then_unseal_round_trips_every_secret_of_a_multi_document_file() {
    let env = Env::new();
    let o = env.run(
        &["seal", "--cert", CERT, DB, "testdata/secrets/registry-and-tls.yaml"],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let sealed = stdout(&o);
    assert!(
        sealed.starts_with("---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n"),
        "{sealed}"
    );
    assert!(
        !sealed.contains("creationTimestamp"),
        "no creationTimestamp: null diff noise"
    );
    assert_eq!(docs(&sealed).len(), 3);

    let o = env.run(&["unseal", "--key", KEY], sealed);
    assert!(o.status.success(), "{}", stderr(&o));
    let secrets = docs(&stdout(&o));
    assert_eq!(secrets.len(), 3);
    assert_eq!(secrets[0]["metadata"]["name"], "db-credentials");
    assert_eq!(
        data_items(&secrets[0]),
        [
            ("password".into(), "aHVudGVyMg==".into()),
            ("username".into(), "YWRtaW4=".into())
        ]
    );
    assert_eq!(secrets[1]["type"], "kubernetes.io/dockerconfigjson");
    assert!(secrets.iter().all(|s| s["metadata"].get("ownerReferences").is_none()));
}

#[test]
fn json_output_and_json_input() {
    let env = Env::new();
    let json_secret =
        r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"j","namespace":"n"},"stringData":{"a":"b"}}"#;
    let o = env.run(&["seal", "--cert", CERT, "-o", "json"], json_secret);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["kind"], "SealedSecret");
    assert!(stdout(&o).ends_with("}\n"));
    // -w with a .json name picks JSON without -o.
    let out = env.path("out.json");
    let o = env.run(&["seal", "--cert", CERT, "-w", out.to_str().unwrap()], json_secret);
    assert!(o.status.success());
    serde_json::from_slice::<Value>(&std::fs::read(&out).unwrap()).unwrap();
}

#[test]
fn output_file_is_written_only_on_success_and_never_partially() {
    let env = Env::new();
    let out = env.write("sealed.yaml", "previous contents\n");
    // Document 1 seals; document 2 then fails inside seal() (its namespace), with
    // document 1's output already built: none of it may reach the file.
    let bad = env.write(
        "bad.yaml",
        format!(
            "{}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  namespace: Bad_NS\nstringData:\n  pw: x\n",
            std::fs::read_to_string(repo(DB)).unwrap()
        ),
    );
    let o = env.run(
        &[
            "seal",
            "--cert",
            CERT,
            "-w",
            out.to_str().unwrap(),
            bad.to_str().unwrap(),
        ],
        "",
    );
    assert_fails(&o, 1, &["bad.yaml: document 2 (Secret Bad_NS/x)", "invalid namespace"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous contents\n");
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary files left behind: {leftovers:?}");

    let o = env.run(&["seal", "--cert", CERT, "-w", out.to_str().unwrap(), DB], "");
    assert!(o.status.success());
    assert!(stdout(&o).is_empty());
    assert!(std::fs::read_to_string(&out).unwrap().contains("kind: SealedSecret"));
}

#[test]
fn cert_from_env_file_url_and_http_url() {
    let env = Env::new();
    let o = env.cmd().args(["seal", DB]).env("GITSEAL_CERT", CERT).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let url = format!("file://{}", repo(CERT).display());
    let o = env.run(&["seal", "--cert", &url, DB], "");
    assert!(o.status.success(), "{}", stderr(&o));

    // A one-shot HTTP server on loopback serving /v1/cert.pem.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let pem = std::fs::read(repo(CERT)).unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut req = [0u8; 4096];
        let n = conn.read(&mut req).unwrap();
        let head = String::from_utf8_lossy(&req[..n]).to_string();
        write!(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/x-pem-file\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", pem.len()).unwrap();
        conn.write_all(&pem).unwrap();
        head
    });
    let o = env.run(&["seal", "--cert", &format!("http://{addr}/v1/cert.pem"), DB], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let request = server.join().unwrap();
    assert!(request.starts_with("GET /v1/cert.pem"), "{request}");

    let o = env.run(&["seal", DB], "");
    assert_fails(&o, 2, &["no certificate", "--cert", "GITSEAL_CERT"]);
    let o = env.run(&["seal", "--cert", "testdata/keys/missing.crt", DB], "");
    assert_fails(&o, 1, &["testdata/keys/missing.crt: cannot open"]);
    let o = env.run(&["seal", "--cert", DB, DB], "");
    assert_fails(&o, 1, &["not a usable certificate", "no PEM CERTIFICATE block"]);
}

#[test]
fn expired_certificates_need_an_explicit_flag() {
    let env = Env::new();
    let o = env.run(&["seal", "--cert", "testdata/keys/expired.crt", DB], "");
    assert_fails(
        &o,
        1,
        &[
            "failed to encrypt using an expired certificate on",
            "--allow-expired-cert",
        ],
    );
    let o = env.run(
        &[
            "seal",
            "--cert",
            "testdata/keys/expired.crt",
            "--allow-expired-cert",
            DB,
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn raw_mode_prints_bare_base64_and_unseals_back() {
    let env = Env::new();
    let o = env.run(
        &["seal", "--raw", "--cert", CERT, "--namespace", "team-a", "--name", "db"],
        "s3cret\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let value = stdout(&o);
    assert!(
        value.starts_with("Ag") && !value.ends_with('\n'),
        "bare base64, no newline: {value:?}"
    );
    let o = env.run(
        &["unseal", "--key", KEY, "--raw", "--namespace", "team-a", "--name", "db"],
        value.clone(),
    );
    assert_eq!(o.stdout, b"s3cret\n", "bytes kept verbatim, trailing newline included");
    let o = env.run(
        &["unseal", "--key", KEY, "--raw", "--namespace", "team-b", "--name", "db"],
        value,
    );
    assert_fails(&o, 1, &["<stdin>", "no key could decrypt secret (raw)"]);

    let f = env.write("v.txt", "from-file");
    let spec = format!("password={}", f.display());
    let o = env.run(
        &[
            "seal",
            "--raw",
            "--cert",
            CERT,
            "--scope",
            "cluster-wide",
            "--from-file",
            &spec,
        ],
        "",
    );
    let o = env.run(
        &["unseal", "--key", KEY, "--raw", "--scope", "cluster-wide"],
        stdout(&o),
    );
    assert_eq!(o.stdout, b"from-file");

    let o = env.run(&["seal", "--raw", "--cert", CERT, "--namespace", "team-a"], "v");
    assert_fails(&o, 2, &["--raw", "no name"]);
    let o = env.run(&["seal", "--cert", CERT, "--from-file", "x"], "");
    assert_eq!(o.status.code(), Some(2), "--from-file requires --raw");
}

#[test]
fn merge_into_keeps_the_files_format_scope_and_other_items() {
    let env = Env::new();
    let target = env.path("sealed.json");
    let o = env.run(
        &[
            "seal",
            "--cert",
            CERT,
            "--scope",
            "namespace-wide",
            "-o",
            "json",
            "-w",
            target.to_str().unwrap(),
            DB,
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let before: Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();

    let update =
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: other\nstringData:\n  password: rotated\n  api-key: new\n";
    let o = env.run(
        &["seal", "--cert", CERT, "--merge-into", target.to_str().unwrap()],
        update,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let after: Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).expect("still JSON");
    assert_eq!(after["metadata"], before["metadata"], "name, namespace and scope kept");
    assert_eq!(
        after["spec"]["encryptedData"]["username"],
        before["spec"]["encryptedData"]["username"]
    );
    assert_ne!(
        after["spec"]["encryptedData"]["password"],
        before["spec"]["encryptedData"]["password"]
    );

    let o = env.run(&["unseal", "--key", KEY, target.to_str().unwrap()], "");
    let secret = &docs(&stdout(&o))[0];
    assert_eq!(
        data_items(secret),
        [
            ("api-key".into(), "bmV3".into()),
            ("password".into(), "cm90YXRlZA==".into()),
            ("username".into(), "YWRtaW4=".into())
        ]
    );

    // A file as kubeseal writes it (Go field order, creationTimestamp: null): only
    // the merged item's line changes.
    let kubeseal_json = env.write(
        "kubeseal.json",
        std::fs::read_to_string(kit().join("cases/04-json-format/sealedsecret.json")).unwrap(),
    );
    let before = std::fs::read_to_string(&kubeseal_json).unwrap();
    let o = env.run(
        &[
            "seal",
            "--cert",
            "../shared/conformance/keys/key2-cert.pem",
            "--merge-into",
            kubeseal_json.to_str().unwrap(),
        ],
        "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {b: new}\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(&kubeseal_json).unwrap();
    let changed: Vec<(&str, &str)> = before.lines().zip(after.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(before.lines().count(), after.lines().count(), "{after}");
    assert_eq!(changed.len(), 1, "only the rewritten item differs: {changed:?}");
    assert!(changed[0].0.trim_start().starts_with("\"b\": "), "{changed:?}");

    let two = format!("{}---\n{}", std::fs::read_to_string(repo(DB)).unwrap(), update);
    let o = env.run(&["seal", "--cert", CERT, "--merge-into", target.to_str().unwrap()], two);
    assert_fails(&o, 1, &["exactly one Secret"]);
}

#[test]
fn namespace_defaults_to_the_kubeconfig_context() {
    let env = Env::new();
    let kc = env.write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\ncontexts:\n- name: prod\n  context: {namespace: prod-ns}\n- name: dev\n  context:\n    cluster: c\n    namespace: dev-ns\n",
    );
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: b\n";
    let o = env
        .cmd()
        .args(["seal", "--cert", CERT])
        .env("KUBECONFIG", &kc)
        .write_stdin(secret)
        .output()
        .unwrap();
    assert_eq!(docs(&stdout(&o))[0]["metadata"]["namespace"], "dev-ns");
    let o = env
        .cmd()
        .args(["seal", "--cert", CERT, "--context", "prod"])
        .env("KUBECONFIG", &kc)
        .write_stdin(secret)
        .output()
        .unwrap();
    assert_eq!(docs(&stdout(&o))[0]["metadata"]["namespace"], "prod-ns");
    let o = env.run(&["seal", "--cert", CERT], secret);
    assert_eq!(docs(&stdout(&o))[0]["metadata"]["namespace"], "default");
    let o = env.run(
        &["seal", "--cert", CERT, "-n", "other"],
        std::fs::read(repo(DB)).unwrap(),
    );
    assert_fails(
        &o,
        1,
        &[
            "<stdin>: document 1 (Secret team-a/db-credentials)",
            "namespace mismatch",
        ],
    );
}

#[test]
fn bad_input_gets_one_line_naming_file_document_and_item() {
    let env = Env::new();
    let secret =
        |body: &str| format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  namespace: team-a\n{body}");
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "not-yaml.yaml",
            b"a: [unclosed\n".to_vec(),
            vec!["not-yaml.yaml", "document 1 (line 1): invalid YAML"],
        ),
        (
            "bad.json",
            b"{\"kind\": \"Secret\",}".to_vec(),
            vec!["bad.json", "document 1", "invalid JSON"],
        ),
        (
            "configmap.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n".to_vec(),
            vec!["document 1 (ConfigMap c)", "expected a v1 Secret, found v1/ConfigMap"],
        ),
        (
            "latin1.yaml",
            b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: caf\xe9\n".to_vec(),
            vec!["latin1.yaml", "not valid UTF-8 (byte 49)"],
        ),
        (
            "noname.yaml",
            b"apiVersion: v1\nkind: Secret\nstringData:\n  a: b\n".to_vec(),
            vec!["document 1", "no name"],
        ),
        (
            "badns.yaml",
            secret("stringData:\n  a: b\n").replace("team-a", "Team_A").into_bytes(),
            vec!["(Secret Team_A/x)", "invalid namespace"],
        ),
        (
            "badname.yaml",
            secret("stringData:\n  a: b\n")
                .replace("name: x", "name: -x")
                .into_bytes(),
            vec!["invalid name", "DNS-1123"],
        ),
        (
            "b64.yaml",
            secret("data:\n  password: not*base64\n").into_bytes(),
            vec![
                "b64.yaml: document 1 (Secret team-a/x)",
                "data item \"password\": invalid base64",
            ],
        ),
        (
            "number.yaml",
            secret("stringData:\n  port: 5432\n").into_bytes(),
            vec!["stringData item \"port\"", "quote the value"],
        ),
        (
            "empty.yaml",
            b"# nothing here\n---\n".to_vec(),
            vec!["empty.yaml", "no Secret found"],
        ),
        (
            "nodata.yaml",
            secret("").into_bytes(),
            vec!["document 1 (Secret team-a/x)", "--allow-empty-data"],
        ),
        (
            "sealed.yaml",
            b"apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: s\n".to_vec(),
            vec!["expected a v1 Secret", "found bitnami.com/v1alpha1/SealedSecret"],
        ),
    ];
    for (name, contents, fragments) in cases {
        let f = env.write(name, contents);
        let o = env.run(&["seal", "--cert", CERT, f.to_str().unwrap()], "");
        assert_fails(&o, 1, &fragments);
    }
    let o = env.run(&["seal", "--cert", CERT], "");
    assert_fails(&o, 1, &["<stdin>", "no Secret found"]);
}

#[test]
fn utf16_input_from_powershell_is_decoded() {
    let env = Env::new();
    let text = std::fs::read_to_string(repo(DB)).unwrap();
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let f = env.write("utf16.yaml", bytes);
    let o = env.run(&["seal", "--cert", CERT, f.to_str().unwrap()], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(docs(&stdout(&o))[0]["metadata"]["name"], "db-credentials");
}

#[test]
fn alias_bombs_and_oversized_secrets_are_refused() {
    let env = Env::new();
    let mut bomb = String::from(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "l{i}: &l{i} [*l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}]\n"
        ));
    }
    let started = std::time::Instant::now();
    let o = env.run(&["seal", "--cert", CERT], bomb);
    assert_fails(&o, 1, &["<stdin>: document 1"]);
    assert!(started.elapsed().as_secs() < 10, "bounded time");

    let big = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: big\n  namespace: n\nstringData:\n  blob: {}\n",
        "x".repeat((1 << 20) + 10)
    );
    let o = env.run(&["seal", "--cert", CERT], big);
    assert_fails(&o, 1, &["(Secret n/big)", "over the 1 MiB Kubernetes limit"]);
}

fn sealed_db(env: &Env) -> PathBuf {
    let out = env.path("db.sealed.yaml");
    let o = env.run(&["seal", "--cert", CERT, "-w", out.to_str().unwrap(), DB], "");
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

#[test]
fn unseal_failures_name_the_items_and_write_nothing() {
    let env = Env::new();
    let sealed = sealed_db(&env);
    let p = sealed.to_str().unwrap();
    let out = env.path("plain.yaml");

    let o = env.run(
        &[
            "unseal",
            "--key",
            "testdata/keys/second.key",
            "-w",
            out.to_str().unwrap(),
            p,
        ],
        "",
    );
    assert_fails(
        &o,
        1,
        &[
            "db.sealed.yaml: document 1 (SealedSecret team-a/db-credentials)",
            "no key could decrypt secret (password, username)",
        ],
    );
    assert!(!out.exists());

    let moved = std::fs::read_to_string(&sealed)
        .unwrap()
        .replace("namespace: team-a", "namespace: team-b");
    let o = env.run(&["unseal", "--key", KEY], moved);
    assert_fails(
        &o,
        1,
        &[
            "(SealedSecret team-b/db-credentials)",
            "no key could decrypt secret (password, username)",
        ],
    );

    let text = std::fs::read_to_string(&sealed).unwrap();
    let short = regex_replace_item(&text, "password", "AgA=");
    let o = env.run(&["unseal", "--key", KEY], short);
    assert_fails(&o, 1, &["item \"password\": SealedSecret data is too short"]);

    let o = env.run(
        &["unseal", "--key", KEY],
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
    );
    assert_fails(&o, 1, &["expected a bitnami.com/v1alpha1 SealedSecret"]);
    let o = env.run(&["unseal", "--key", CERT, p], "");
    assert_fails(&o, 1, &["demo.crt", "no private key found"]);
}

fn regex_replace_item(text: &str, item: &str, value: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with(&format!("{item}: ")) {
                format!("    {item}: {value}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn unseal_takes_key_secrets_lists_and_several_files_and_writes_privately() {
    let env = Env::new();
    let sealed = sealed_db(&env);
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n{}",
        ["second-key-secret.yaml", "demo-key-secret.yaml"]
            .iter()
            .map(|f| {
                let t = std::fs::read_to_string(repo(&format!("testdata/keys/{f}"))).unwrap();
                let body = t.trim_start_matches("---\n");
                let mut lines = body.lines();
                let first = format!("- {}", lines.next().unwrap());
                std::iter::once(first)
                    .chain(lines.map(|l| format!("  {l}")))
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n"
            })
            .collect::<String>()
    );
    let list_path = env.write("keys.yaml", list);
    let out = env.path("plain.yaml");
    for keys in [
        vec!["--key", "testdata/keys/demo-key-secret.yaml"],
        vec!["--key", list_path.to_str().unwrap()],
        vec!["--key", "testdata/keys/second.key", "--key", KEY],
        vec!["--key", "testdata/keys/second.key,testdata/keys/demo.key"],
    ] {
        let mut args = vec!["unseal"];
        args.extend(keys.iter().copied());
        args.extend(["-w", out.to_str().unwrap(), sealed.to_str().unwrap()]);
        let o = env.run(&args, "");
        assert!(o.status.success(), "{keys:?}: {}", stderr(&o));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600,
            "plaintext is owner-only"
        );
    }
    let secret = &docs(&std::fs::read_to_string(&out).unwrap())[0];
    assert_eq!(secret["kind"], "Secret");
}

#[test]
fn validate_offline_with_cert_or_keys() {
    let env = Env::new();
    let sealed = sealed_db(&env);
    let p = sealed.to_str().unwrap();
    let o = env.run(&["validate", "--cert", CERT, p], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 SealedSecret valid"));
    let o = env.run(&["validate", "--key", KEY, p], "");
    assert!(o.status.success(), "{}", stderr(&o));

    let o = env.run(&["validate", "--cert", "testdata/keys/second.crt", p], "");
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<String> = stdout(&o).lines().map(String::from).collect();
    assert_eq!(lines.len(), 2, "one line per problem: {lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "{p}: document 1 (SealedSecret team-a/db-credentials): item \"password\""
        )),
        "{}",
        lines[0]
    );

    let o = env.run(&["validate", "--key", "testdata/keys/second.key", p], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("no key could decrypt secret (password, username)"));

    let text = std::fs::read_to_string(&sealed).unwrap();
    let broken = regex_replace_item(&text, "username", "not*base64").replacen(
        "  annotations:\n",
        "  annotations:\n    sealedsecrets.bitnami.com/cluster-wide: \"true\"\n",
        1,
    );
    assert!(
        broken.contains("cluster-wide"),
        "the outer metadata has annotations (gitseal.dev/sealed-to)"
    );
    let o = env.run(&["validate", "--cert", CERT], broken);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("item \"username\": invalid base64"), "{out}");
    assert!(out.contains("scope annotations disagree"), "{out}");

    let o = env.run(&["validate", p], "");
    assert_eq!(o.status.code(), Some(2), "needs --key or --cert");
}

#[test]
fn keygen_writes_a_usable_key_pair_and_never_overwrites_silently() {
    let env = Env::new();
    let (key, cert, secret) = (env.path("k.pem"), env.path("c.pem"), env.path("s.yaml"));
    let args = [
        "keygen",
        "--key-size",
        "2048",
        "--key-out",
        key.to_str().unwrap(),
        "--cert-out",
        cert.to_str().unwrap(),
        "--secret-out",
        secret.to_str().unwrap(),
        "--secret-namespace",
        "sealed",
        "--my-cn",
        "gitseal-test",
    ];
    let o = env.run(&args, "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    let s = &docs(&std::fs::read_to_string(&secret).unwrap())[0];
    assert_eq!(s["type"], "kubernetes.io/tls");
    assert_eq!(s["metadata"]["namespace"], "sealed");
    assert_eq!(
        s["metadata"]["labels"]["sealedsecrets.bitnami.com/sealed-secrets-key"],
        "active"
    );
    assert!(
        s["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("sealed-secrets-key")
    );

    let sealed = env.run(&["seal", "--cert", cert.to_str().unwrap(), DB], "");
    assert!(sealed.status.success());
    let o = env.run(&["unseal", "--key", secret.to_str().unwrap()], stdout(&sealed));
    assert!(o.status.success(), "{}", stderr(&o));

    let before = std::fs::read(&key).unwrap();
    let o = env.run(&args, "");
    assert_fails(&o, 2, &["already exists", "--force"]);
    assert_eq!(std::fs::read(&key).unwrap(), before);
    let o = env.run(
        &[
            "keygen",
            "--key-size",
            "1024",
            "--key-out",
            env.path("x").to_str().unwrap(),
            "--cert-out",
            env.path("y").to_str().unwrap(),
        ],
        "",
    );
    assert_fails(&o, 2, &["unsupported key size 1024"]);
}

#[test]
fn crd_completions_man_and_demo() {
    let env = Env::new();
    let o = env.run(&["crd"], "");
    assert_eq!(
        stdout(&o),
        std::fs::read_to_string(repo("crates/gitseal-api/crd/sealedsecrets.bitnami.com.yaml")).unwrap()
    );
    for shell in ["bash", "zsh", "fish"] {
        let o = env.run(&["completions", shell], "");
        assert!(o.status.success());
        assert!(
            stdout(&o).contains("merge-into"),
            "{shell} completions cover seal's flags"
        );
    }
    let dir = env.path("man");
    let o = env.run(&["man", "--out-dir", dir.to_str().unwrap()], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(dir.join("gitseal-seal.1"))
            .unwrap()
            .contains("merge\\-into")
    );
    assert!(dir.join("gitseal.1").exists());
    let o = env.run(&["demo"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(docs(&stdout(&o)).len(), 3);
    assert!(stderr(&o).contains("round-tripped byte for byte"));
}

#[test]
fn deprecated_v1_data_is_refused_without_its_flag() {
    let env = Env::new();
    let v1 = "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: old\n  namespace: n\nspec:\n  data: AgA=\n";
    let o = env.run(&["unseal", "--key", KEY], v1);
    assert_fails(
        &o,
        1,
        &[
            "(SealedSecret n/old)",
            "using deprecated 'data' field",
            "--accept-deprecated-v1-data",
        ],
    );
    let o = env.run(&["unseal", "--key", KEY, "--accept-deprecated-v1-data"], v1);
    assert_fails(&o, 1, &["deprecated 'data' field: SealedSecret data is too short"]);
}

/// The conformance kit through the binary: every run of every case.
#[test]
fn conformance_kit_through_the_cli() {
    let kit = kit();
    let key_file = |n: &str| {
        let f = match n {
            "key1" => "key1.pem",
            "key2" => "key2.pem",
            "key2-pkcs8" => "key2-pkcs8.pem",
            "key1-secret" => "key1-secret.yaml",
            "key2-secret" => "key2-secret.yaml",
            "keys-list" => "keys-list.yaml",
            other => panic!("{other}"),
        };
        kit.join("keys").join(f).display().to_string()
    };
    let env = Env::new();
    let mut runs = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(kit.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let case: Value = serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
        let ss = dir.join(case["sealedsecret"].as_str().unwrap()).display().to_string();
        for run in case["runs"].as_array().unwrap() {
            let mut args = vec!["unseal".to_string()];
            for k in run["keys"].as_array().unwrap() {
                args.extend(["--key".to_string(), key_file(k.as_str().unwrap())]);
            }
            if run["kind"] == "raw" {
                args.extend(["--raw", "--scope", run["scope"].as_str().unwrap()].map(String::from));
                args.extend(["--namespace".into(), run["namespace"].as_str().unwrap().into()]);
                args.extend(["--name".into(), run["name"].as_str().unwrap().into()]);
                args.push(dir.join(run["ciphertext"].as_str().unwrap()).display().to_string());
            } else {
                args.push(ss.clone());
            }
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = env.run(&argv, "");
            let label = format!("{} {:?}", dir.display(), run["keys"]);
            match run["expect"].as_str().unwrap() {
                "plaintext" => {
                    assert!(o.status.success(), "{label}: {}", stderr(&o));
                    assert_eq!(
                        o.stdout,
                        std::fs::read(dir.join(run["expected"].as_str().unwrap())).unwrap(),
                        "{label}"
                    );
                }
                "secret" => {
                    assert!(o.status.success(), "{label}: {}", stderr(&o));
                    let got = &docs(&stdout(&o))[0];
                    let want = &docs(&std::fs::read_to_string(dir.join(run["expected"].as_str().unwrap())).unwrap())[0];
                    for field in ["name", "namespace", "labels", "annotations"] {
                        assert_eq!(got["metadata"][field], want["metadata"][field], "{label}: {field}");
                    }
                    let or = |v: &Value, d: Value| if v.is_null() { d } else { v.clone() };
                    assert_eq!(
                        or(&got["type"], json!("Opaque")),
                        or(&want["type"], json!("Opaque")),
                        "{label}: type"
                    );
                    assert_eq!(
                        or(&got["immutable"], json!(false)),
                        or(&want["immutable"], json!(false)),
                        "{label}: immutable"
                    );
                    assert_eq!(got["data"], want["data"], "{label}");
                }
                _ => {
                    assert_fails(&o, 1, &[run["error_contains"].as_str().unwrap()]);
                    assert!(o.stdout.is_empty(), "{label}: no Secret on failure");
                }
            }
            runs += 1;
        }
    }
    assert!(runs >= 20);
}

#[test]
fn flag_rules_kubeseal_users_expect() {
    let env = Env::new();
    // -o is case-insensitive, as in kubeseal.
    let o = env.run(&["seal", "--cert", CERT, "-o", "JSON", DB], "");
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice::<Value>(&o.stdout).unwrap();
    // --merge-into takes name, namespace, scope and format from the file: the flags would be ignored.
    let target = sealed_db(&env);
    for extra in [
        ["--name", "x"],
        ["--namespace", "x"],
        ["--scope", "cluster-wide"],
        ["-o", "json"],
    ] {
        let mut args = vec!["seal", "--cert", CERT, "--merge-into", target.to_str().unwrap()];
        args.extend(extra);
        assert_eq!(
            env.run(&args, std::fs::read(repo(DB)).unwrap()).status.code(),
            Some(2),
            "{extra:?}"
        );
    }
    // A raw value unsealed without the identity its scope binds: say so, not "no key".
    let o = env.run(&["unseal", "--key", KEY, "--raw", "--namespace", "team-a"], "AgA=");
    assert_fails(&o, 1, &["strict scope needs the name the value was sealed for"]);
    let o = env.run(&["seal", "--raw", "--cert", CERT, "-n", "a", "--name", "b", DB, DB], "");
    assert_fails(&o, 2, &["--raw takes one value"]);
    let o = env.run(
        &[
            "keygen",
            "--key-ttl",
            "200000000h",
            "--key-out",
            env.path("k").to_str().unwrap(),
        ],
        "",
    );
    assert_fails(&o, 2, &["too long"]);
    assert!(!env.path("k").exists());
}

#[test]
fn a_broken_kubeconfig_is_reported_not_silently_ignored() {
    let env = Env::new();
    let kc = env.write("kubeconfig", "current-context: [unclosed\n");
    let o = env
        .cmd()
        .args(["seal", "--cert", CERT])
        .env("KUBECONFIG", &kc)
        .write_stdin("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {a: b}\n")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("warning") && stderr(&o).contains("cannot read kubeconfig"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn explicit_kubeconfig_and_context_must_exist_like_kubectl() {
    let env = Env::new();
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {a: b}\n";
    let o = env.run(
        &[
            "seal",
            "--cert",
            CERT,
            "--kubeconfig",
            env.path("missing").to_str().unwrap(),
        ],
        secret,
    );
    assert_fails(&o, 2, &["missing: cannot read kubeconfig"]);
    let kc = env.write(
        "kc",
        "current-context: a\ncontexts:\n- name: a\n  context: {namespace: ns-a}\n",
    );
    let o = env.run(
        &[
            "seal",
            "--cert",
            CERT,
            "--kubeconfig",
            kc.to_str().unwrap(),
            "--context",
            "typo",
        ],
        secret,
    );
    assert_fails(&o, 2, &["context \"typo\" not found"]);
    // $KUBECONFIG may list files that don't exist, as kubectl allows.
    let list = format!("{}:{}", env.path("nope").display(), kc.display());
    let o = env
        .cmd()
        .args(["seal", "--cert", CERT])
        .env("KUBECONFIG", list)
        .write_stdin(secret)
        .output()
        .unwrap();
    assert_eq!(docs(&stdout(&o))[0]["metadata"]["namespace"], "ns-a");
}

#[test]
fn closed_pipes_and_ambiguous_inputs_are_handled() {
    let env = Env::new();
    // `gitseal completions bash | head -1`: a closed pipe is not a crash.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("gitseal"))
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    assert_ne!(out.status.code(), Some(101));

    let o = env.run(&["unseal", "--key", KEY, "--raw", "-n", "a", "--name", "b", DB, DB], "");
    assert_fails(&o, 2, &["--raw takes one value"]);
    let same = env.path("same.pem");
    let o = env.run(
        &[
            "keygen",
            "--key-size",
            "2048",
            "--key-out",
            same.to_str().unwrap(),
            "--cert-out",
            same.to_str().unwrap(),
        ],
        "",
    );
    assert_fails(&o, 2, &["given for two outputs"]);
    assert!(!same.exists());
    // `-` among files reads stdin.
    let o = env.run(
        &["seal", "--cert", CERT, DB, "-"],
        std::fs::read(repo("testdata/secrets/registry-and-tls.yaml")).unwrap(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(docs(&stdout(&o)).len(), 3);
}

#[test]
fn scan_reports_plaintext_secrets_and_keys_with_file_and_line() {
    let env = Env::new();
    let root = env.path("repo");
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    };
    // Built at run time so that scanning this repository doesn't report the test itself.
    let age = format!(
        "AGE-SECRET-KEY-1{}",
        "QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS5AQS47"
    );
    let pem = format!("{} EC PRIVATE KEY-----", "-----BEGIN");
    let secret =
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: app\nstringData:\n  password: hunter2\n";
    write("deploy/secret.yaml", &format!("# the database\n---\n{secret}"));
    write(
        "deploy/list.json",
        r#"{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"}, "data": {"tls.key": "eA=="}}]}"#,
    );
    let sealed = stdout(&env.run(&["seal", "--cert", CERT], std::fs::read(repo(DB)).unwrap()));
    write("deploy/sealed.yaml", &sealed);
    write(".env", &format!("AGE_IDENTITY={age}\n"));
    write("docs/keys.md", &format!("Example:\n\n    {pem} <- gitseal:ignore\n"));
    write("vendor/upstream.yaml", secret);
    write(".gitsealignore", "vendor/\n");

    let o = env.run(&["scan", root.to_str().unwrap()], "");
    let r = root.display();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "{r}/.env:1: age secret key (AGE-SECRET-KEY-1…)\n\
             {r}/deploy/list.json:1: document 1 item 1: plaintext Secret tls (data: 1 item)\n\
             {r}/deploy/secret.yaml:3: document 1: plaintext Secret app/db (stringData: 1 item)\n"
        )
    );
    assert!(stderr(&o).contains("3 findings in 3 files"), "{}", stderr(&o));

    // Files named explicitly, as pre-commit passes them: the ignore file still applies.
    let o = env.run(
        &[
            "scan",
            root.join("vendor/upstream.yaml").to_str().unwrap(),
            root.join("deploy/sealed.yaml").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o), "");

    // A missing path is an error, not a clean scan.
    let o = env.run(&["scan", root.join("nope.yaml").to_str().unwrap()], "");
    assert_fails(&o, 1, &["nope.yaml: cannot read"]);
}

#[test]
fn this_repository_scans_clean() {
    let o = Env::new().run(&["scan"], "");
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn works_as_a_kubectl_plugin() {
    let env = Env::new();
    let bin = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let plugin = bin.join("kubectl-gitseal");
    std::fs::copy(assert_cmd::cargo::cargo_bin("gitseal"), &plugin).unwrap();
    // kubectl runs `kubectl-gitseal ARGS` for `kubectl gitseal ARGS`.
    let run = |args: &[&str]| {
        let mut c = Command::new(&plugin);
        c.current_dir(repo(""))
            .env("HOME", env.dir.path())
            .env("KUBECONFIG", env.path("no-kubeconfig"))
            .args(args);
        c.output().unwrap()
    };
    let o = run(&["seal", "--cert", CERT, "-f", DB]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(docs(&stdout(&o))[0]["kind"], "SealedSecret");
    let o = run(&["--help"]);
    assert!(stdout(&o).contains("Usage: kubectl gitseal"), "{}", stdout(&o));
    let o = run(&["seal", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("kubectl gitseal seal"), "{}", stderr(&o));

    // Through kubectl itself, when the machine has it.
    if Command::new("kubectl").arg("version").arg("--client").output().is_ok() {
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let o = Command::new("kubectl")
            .args(["gitseal", "--version"])
            .env("PATH", path)
            .output()
            .unwrap();
        assert_eq!(stdout(&o).trim(), format!("gitseal {}", env!("CARGO_PKG_VERSION")));
    }
}
