//! v2 (age) items through the binary: sealing to several recipients, break-glass
//! unsealing with an identity file, mixing with Bitnami items, and interop with
//! the standard `age` CLI.

mod common;

use common::{Env, assert_fails, docs, repo, stderr, stdout};
use std::path::PathBuf;
use std::process::Output;

use base64::Engine as _;
use gitseal_core::v2::Identity;
use serde_json::Value;

const CERT: &str = "testdata/keys/demo.crt";
const KEY: &str = "testdata/keys/demo.key";

/// A fresh identity file in the sandbox; returns (path, recipient).
fn identity(env: &Env, name: &str) -> (String, String) {
    let id = Identity::generate();
    let path = env.file(name, id.to_file("2026-01-01T00:00:00Z").as_bytes());
    (path, id.recipient().as_str().to_string())
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: app\nstringData:\n  password: hunter2\n  user: admin\n";

fn value(doc: &Value, item: &str) -> String {
    doc["spec"]["encryptedData"][item].as_str().unwrap().to_string()
}

fn data(o: &Output, item: &str) -> String {
    let secret = &docs(&stdout(o))[0];
    let b64 = secret["data"][item].as_str().unwrap();
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap()
}

#[test]
fn sealed_to_several_recipients_each_identity_unseals() {
    let env = Env::new();
    let (cluster, cluster_r) = identity(&env, "cluster.txt");
    let (recovery, recovery_r) = identity(&env, "recovery.txt");
    let (_, stranger_r) = identity(&env, "stranger.txt");
    let recipients = env.file("recipients.txt", format!("# cluster\n{cluster_r}\n\n{recovery_r}\n"));
    let o = env.run(&["seal", "--recipients-file", &recipients], SECRET);
    assert!(o.status.success(), "{}", stderr(&o));
    let sealed = env.file("sealed.yaml", stdout(&o));
    let doc = &docs(&stdout(&o))[0];
    assert!(value(doc, "password").starts_with("gitseal:v2:"));
    assert!(
        doc["metadata"]["annotations"]["gitseal.dev/sealed-to"].is_null(),
        "the RSA record is for Bitnami items only"
    );

    for id in [&cluster, &recovery] {
        let o = env.run(&["unseal", "--identity", id, &sealed], "");
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            (data(&o, "password"), data(&o, "user")),
            ("hunter2".into(), "admin".into())
        );
    }
    let o = env.run(&["seal", "--recipient", &stranger_r], SECRET);
    let only_stranger = env.file("stranger.yaml", stdout(&o));
    let o = env.run(&["unseal", "--identity", &cluster, &only_stranger], "");
    assert_fails(
        &o,
        1,
        &[
            "document 1 (SealedSecret app/db)",
            "item \"password\": no identity matches",
        ],
    );
    // validate with the identity: whole-file check, one line per problem.
    let o = env.run(&["validate", "--identity", &recovery, &sealed], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.run(&["validate", "--identity", &cluster, &only_stranger], "");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn bitnami_and_v2_items_mix_through_merge_into() {
    let env = Env::new();
    let (id, recipient) = identity(&env, "id.txt");
    let o = env.run(&["seal", "--cert", CERT], SECRET);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = env.file("db.yaml", stdout(&o));
    let before = docs(&std::fs::read_to_string(&file).unwrap())[0].clone();
    let update = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: whatever\nstringData:\n  token: t0k3n\n";
    let o = env.run(&["seal", "--recipient", &recipient, "--merge-into", &file], update);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = docs(&std::fs::read_to_string(&file).unwrap())[0].clone();
    assert_eq!(value(&after, "password"), value(&before, "password"), "untouched");
    assert!(value(&after, "token").starts_with("gitseal:v2:"));
    assert!(!value(&after, "password").starts_with("gitseal:"));

    // Both kinds of key at once.
    let o = env.run(&["unseal", "--key", KEY, "--identity", &id, &file], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        (data(&o, "password"), data(&o, "token")),
        ("hunter2".into(), "t0k3n".into())
    );
    // Structure checks with the certificate accept the v2 item.
    let o = env.run(&["validate", "--cert", CERT, &file], "");
    assert!(o.status.success(), "{}", stdout(&o));
    // The RSA key alone fails on the v2 item, by name.
    let o = env.run(&["unseal", "--key", KEY, &file], "");
    assert_fails(&o, 1, &["item \"token\": no identity matches"]);
}

#[test]
fn flags_that_contradict_each_other_are_usage_errors() {
    let env = Env::new();
    let (_, recipient) = identity(&env, "id.txt");
    let o = env.run(&["seal", "--scheme", "bitnami", "--recipient", &recipient], SECRET);
    assert_fails(&o, 2, &["--recipient", "--scheme bitnami"]);
    let o = env.run(&["seal", "--scheme", "v2", "--cert", CERT], SECRET);
    assert_fails(&o, 2, &["demo.crt: the certificate carries no age recipient"]);
    let o = env.run(&["seal", "--scheme", "bitnami", "--cert", CERT, "--cert", CERT], SECRET);
    assert_fails(&o, 2, &["a Bitnami item opens with one RSA key"]);
    let o = env.run(&["seal", "--recipient", "age1nope"], SECRET);
    assert_fails(&o, 2, &["--recipient", "invalid age recipient \"age1nope\""]);
    let bad = env.file("bad.txt", format!("{recipient}\nssh-ed25519 AAAA\n"));
    let o = env.run(&["seal", "--recipients-file", &bad], SECRET);
    assert_fails(&o, 1, &[&format!("{bad}:2"), "invalid age recipient"]);
    // v2 without recipients and without a cluster to ask.
    let o = env.run(&["seal", "--scheme", "v2"], SECRET);
    assert_fails(&o, 2, &["no recipients", "--recipient"]);
    let o = env.run(&["unseal", "--identity", &bad], "");
    assert_fails(&o, 1, &[&bad, "line 1 is not an AGE-SECRET-KEY-1"]);
}

#[test]
fn raw_v2_values_bind_the_item_name() {
    let env = Env::new();
    let (id, recipient) = identity(&env, "id.txt");
    let plain = env.file("pw", "hunter2");
    let args = ["seal", "--raw", "--recipient", &recipient, "-n", "app", "--name", "db"];
    let o = env.run(&args, "hunter2");
    assert_fails(&o, 2, &["--from-file ITEM=PATH"]);
    let from = format!("password={plain}");
    let o = env.run(&[&args[..], &["--from-file", &from]].concat(), "");
    assert!(o.status.success(), "{}", stderr(&o));
    let raw = stdout(&o);
    let ss = |item: &str| {
        format!(
            "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\n  namespace: app\nspec:\n  encryptedData:\n    {item}: {raw}\n"
        )
    };
    let o = env.run(&["unseal", "--identity", &id], ss("password"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(data(&o, "password"), "hunter2");
    let o = env.run(&["unseal", "--identity", &id], ss("other"));
    assert_fails(
        &o,
        1,
        &["item \"other\": the value is bound to scope=strict namespace=app name=db key=password"],
    );
}

/// The `age` CLI (Debian package `age`). CI installs it; elsewhere the test says
/// so and skips.
fn age_cli() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|d| d.join("age"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the Debian package age"
        );
        eprintln!("skipping: the age CLI is not installed (apt install age)");
    }
    found
}

#[test]
fn v2_values_open_with_the_standard_age_cli() {
    let Some(age) = age_cli() else { return };
    let env = Env::new();
    let (id, recipient) = identity(&env, "id.txt");
    let o = env.run(
        &["seal", "--recipient", &recipient, "--scope", "namespace-wide"],
        SECRET,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v = value(&docs(&stdout(&o))[0], "password");
    // gitseal:v2:<record>:<base64 of a binary age file>
    let b64 = v.rsplit(':').next().unwrap();
    let bin = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let file = env.file("item.age", &bin);
    let out = std::process::Command::new(age)
        .args(["--decrypt", "--identity", &id, &file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "gitseal.dev/v2 scope=namespace-wide namespace=app key=password\nhunter2"
    );

    // The other way: a value made with the age CLI alone (no recipient record)
    // unseals with gitseal.
    let payload = env.file(
        "payload",
        "gitseal.dev/v2 scope=strict namespace=app name=db key=user\nroot",
    );
    let out = std::process::Command::new(age_cli().unwrap())
        .args(["--encrypt", "--recipient", &recipient, &payload])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let made_by_age = format!(
        "gitseal:v2::{}",
        base64::engine::general_purpose::STANDARD.encode(&out.stdout)
    );
    let ss = format!(
        "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\n  namespace: app\nspec:\n  encryptedData:\n    user: {made_by_age}\n"
    );
    let o = env.run(&["unseal", "--identity", &id], &ss);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(data(&o, "user"), "root");
}

#[test]
fn a_gitseal_yaml_picks_recipients_or_cert_by_path_so_no_flags_are_needed() {
    let env = Env::new();
    let repo_dir = env.dir.path().join("gitops");
    std::fs::create_dir_all(repo_dir.join("clusters/prod/app")).unwrap();
    std::fs::create_dir_all(repo_dir.join("clusters/legacy")).unwrap();
    std::fs::create_dir_all(repo_dir.join("keys")).unwrap();
    let (prod_id, prod_r) = identity(&env, "prod-id.txt");
    let (dr_id, dr_r) = identity(&env, "dr-id.txt");
    std::fs::write(repo_dir.join("keys/dr.txt"), format!("# break-glass\n{dr_r}\n")).unwrap();
    std::fs::copy(repo(CERT), repo_dir.join("keys/legacy.pem")).unwrap();
    std::fs::write(
        repo_dir.join(".gitseal.yaml"),
        format!(
            "creation_rules:\n  - path_regex: ^clusters/prod/\n    recipients: [{prod_r}]\n    recipients_files: [keys/dr.txt]\n    scope: namespace-wide\n  - path_regex: ^clusters/legacy/\n    cert: keys/legacy.pem\n"
        ),
    )
    .unwrap();

    // Deep inside prod/: v2, to both recipients, namespace-wide, no flags.
    let out = repo_dir.join("clusters/prod/app/db.yaml");
    let o = env.run(&["seal", "-w", out.to_str().unwrap()], SECRET);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = &docs(&std::fs::read_to_string(&out).unwrap())[0];
    assert!(value(doc, "password").starts_with("gitseal:v2:"));
    assert_eq!(
        doc["metadata"]["annotations"]["sealedsecrets.bitnami.com/namespace-wide"],
        "true"
    );
    for id in [&prod_id, &dr_id] {
        let o = env.run(&["unseal", "--identity", id, out.to_str().unwrap()], "");
        assert!(o.status.success(), "{}", stderr(&o));
    }

    // legacy/: Bitnami items to the configured certificate.
    let out = repo_dir.join("clusters/legacy/db.yaml");
    let o = env.run(&["seal", "-w", out.to_str().unwrap()], SECRET);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.run(&["unseal", "--key", KEY, out.to_str().unwrap()], "");
    assert!(o.status.success(), "{}", stderr(&o));

    // Flags win: --cert in prod/ seals Bitnami items, with the rule's scope.
    let out = repo_dir.join("clusters/prod/app/other.yaml");
    let o = env.run(&["seal", "--cert", CERT, "-w", out.to_str().unwrap()], SECRET);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = &docs(&std::fs::read_to_string(&out).unwrap())[0];
    assert!(!value(doc, "password").starts_with("gitseal:"));

    // A broken config is one clear line naming it.
    std::fs::write(repo_dir.join(".gitseal.yaml"), "creation_rules:\n  - scheme: v3\n").unwrap();
    let o = env.run(&["seal", "-w", out.to_str().unwrap()], SECRET);
    assert_fails(&o, 1, &[".gitseal.yaml: creation_rules[0]: scheme \"v3\""]);
}

#[test]
fn reencrypt_all_moves_only_what_is_not_on_target_and_keeps_the_rest_byte_identical() {
    let env = Env::new();
    let root = env.dir.path().join("gitops");
    for d in ["prod", "keys", "ignored"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let (a_id, a_r) = identity(&env, "a.txt");
    let (dr_id, dr_r) = identity(&env, "dr.txt");
    std::fs::copy(repo(CERT), root.join("keys/demo.pem")).unwrap();
    std::fs::write(
        root.join(".gitseal.yaml"),
        format!("creation_rules:\n  - path_regex: ^prod/\n    cert: keys/demo.pem\n    recipients: [{a_r}, {dr_r}]\n"),
    )
    .unwrap();
    std::fs::write(root.join(".gitignore"), "ignored/\n").unwrap();
    let seal = |args: &[&str], input: &str| {
        let o = env.run(&[&["seal"], args].concat(), input);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let secret = |name: &str, item: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: app\nstringData:\n  {item}: v-{name}-{item}\n"
        )
    };
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::write(&p, text).unwrap();
        p
    };
    // On target already: a Bitnami item to the demo key, a v2 item to both recipients.
    let on_target = write("prod/a.yaml", &seal(&["--cert", CERT], &secret("a", "rsa")));
    let s = on_target.to_str().unwrap();
    let o = env.run(
        &["seal", "--recipient", &a_r, "--recipient", &dr_r, "--merge-into", s],
        secret("a", "age"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Behind: a Bitnami item to the older key, a v2 item without the recovery key.
    let behind = write(
        "prod/b.yaml",
        &seal(&["--cert", "testdata/keys/second.crt"], &secret("b", "rsa")),
    );
    let b = behind.to_str().unwrap();
    let o = env.run(&["seal", "--recipient", &a_r, "--merge-into", b], secret("b", "age"));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&behind).unwrap();
    std::fs::write(&behind, format!("# keep this comment\n{text}")).unwrap();
    let unrelated = write(
        "prod/configmap.yaml",
        "# a comment\nkind: ConfigMap\nmetadata: {name: c}\n",
    );
    let ignored = write(
        "ignored/c.yaml",
        &seal(&["--cert", "testdata/keys/second.crt"], &secret("c", "rsa")),
    );
    let snapshot = |p: &PathBuf| std::fs::read(p).unwrap();
    let (a_before, b_before, u_before, i_before) = (
        snapshot(&on_target),
        snapshot(&behind),
        snapshot(&unrelated),
        snapshot(&ignored),
    );

    let all = root.to_str().unwrap();
    let reencrypt_all = || {
        env.run(
            &[
                "reencrypt",
                "--all",
                all,
                "--key",
                "testdata/keys/second.key",
                "--key",
                KEY,
                "--identity",
                &a_id,
            ],
            "",
        )
    };
    let o = reencrypt_all();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2 SealedSecrets in 2 files: 2 items re-sealed, 2 unchanged; 1 file rewritten"),
        "{}",
        stderr(&o)
    );
    assert_eq!(snapshot(&on_target), a_before, "nothing to move: byte-identical");
    assert_eq!((snapshot(&unrelated), snapshot(&ignored)), (u_before, i_before));
    let b_after = String::from_utf8(snapshot(&behind)).unwrap();
    assert!(b_after.starts_with("# keep this comment\n"));
    assert_ne!(b_after.as_bytes(), b_before.as_slice());
    // Now the demo key alone opens the Bitnami item, and the recovery key the v2 one.
    let o = env.run(&["unseal", "--key", KEY, "--identity", &dr_id, b], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!((data(&o, "rsa"), data(&o, "age")), ("v-b-rsa".into(), "v-b-age".into()));
    let doc = &docs(&b_after)[0];
    let demo_fp = gitseal_core::Certificate::from_pem(&std::fs::read(repo(CERT)).unwrap())
        .unwrap()
        .public_key()
        .short_fingerprint();
    assert_eq!(
        doc["metadata"]["annotations"]["gitseal.dev/sealed-to"],
        demo_fp.as_str()
    );

    // A second run finds nothing to move.
    let o = reencrypt_all();
    assert!(
        stderr(&o).contains("0 items re-sealed, 4 unchanged; 0 files rewritten"),
        "{}",
        stderr(&o)
    );

    // An item nobody here can open: that file fails and stays as it was; exit 1.
    let (_, stranger_r) = identity(&env, "stranger.txt");
    let stuck = write("prod/d.yaml", &seal(&["--recipient", &stranger_r], &secret("d", "age")));
    let d_before = snapshot(&stuck);
    let o = env.run(&["reencrypt", "--all", all, "--key", KEY, "--identity", &a_id], "");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("prod/d.yaml: document 1 (SealedSecret app/d): item \"age\": no identity matches"),
        "{}",
        stderr(&o)
    );
    assert_eq!(snapshot(&stuck), d_before);
}

#[test]
fn several_certificates_seal_v2_items_to_the_recipients_they_carry() {
    let env = Env::new();
    // Two clusters' keys, as gitseal-controller (and gitseal keygen) make them.
    let keygen = |n: &str| {
        let o = env.run(
            &[
                "keygen",
                "--key-size",
                "2048",
                "--key-out",
                &env.path(&format!("{n}.key")).display().to_string(),
                "--cert-out",
                &env.path(&format!("{n}.crt")).display().to_string(),
                "--secret-out",
                &env.path(&format!("{n}.yaml")).display().to_string(),
            ],
            "",
        );
        assert!(o.status.success(), "{}", stderr(&o));
        (
            env.path(&format!("{n}.crt")).display().to_string(),
            env.path(&format!("{n}.yaml")).display().to_string(),
        )
    };
    let (prod_crt, prod_secret) = keygen("prod");
    let (staging_crt, staging_secret) = keygen("staging");
    let o = env.run(&["seal", "--cert", &prod_crt, "--cert", &staging_crt], SECRET);
    assert!(o.status.success(), "{}", stderr(&o));
    let sealed = env.file("sealed.yaml", stdout(&o));
    let v = value(&docs(&stdout(&o))[0], "password");
    assert!(v.starts_with("gitseal:v2:"));
    assert_eq!(gitseal_core::v2::recorded(&v).len(), 2);
    // Each cluster's key Secret (its age.key) opens it.
    for secret in [&prod_secret, &staging_secret] {
        let o = env.run(&["unseal", "--key", secret, &sealed], "");
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(data(&o, "password"), "hunter2");
    }
}
