//! The online modes against an emulated API server whose service proxy leads to
//! the real controller HTTP API, holding the two testdata keys (`second` is the
//! newer one, so it is current).

mod common;

use common::{assert_fails, docs, repo, stderr, stdout};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use assert_cmd::Command;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use gitseal_controller::config::KeyOrderPriority;
use gitseal_controller::http::{ApiState, router};
use gitseal_controller::keys::KeyCache;
use gitseal_controller::keywatch::KeyStore;
use gitseal_controller::metrics::Metrics;
use gitseal_controller::ratelimit::RateLimiter;
use gitseal_core::Certificate;
use gitseal_core::manifest::{Format, to_document};
use k8s_openapi::api::core::v1::Secret;
use kube_emulator::Emulator;
use serde_json::{Value, json};

const OLD_CERT: &str = "testdata/keys/demo.crt";
const OLD_KEY: &str = "testdata/keys/demo.key";
const CURRENT_CERT: &str = "testdata/keys/second.crt";
const CURRENT_KEY: &str = "testdata/keys/second.key";
const DB: &str = "testdata/secrets/db-credentials.yaml";
const SERVICE: &str = "sealed-secrets-controller";

fn key_secret(file: &str) -> Secret {
    serde_saphyr::from_str(&std::fs::read_to_string(repo(file)).unwrap()).unwrap()
}

/// An emulated cluster with the controller behind `kube-system/sealed-secrets-controller`
/// (port named `http`, as Helm names it), and a sandbox directory with its kubeconfig.
struct Cluster {
    emulator: Emulator,
    /// The controller's HTTP API, to register behind more Services.
    controller: SocketAddr,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    // Last: the emulator and the controller serve on it until the test ends.
    rt: tokio::runtime::Runtime,
}

impl Cluster {
    fn start() -> Self {
        Self::with_limiter(None)
    }

    fn with_limiter(limiter: Option<RateLimiter>) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (emulator, controller) = rt.block_on(async {
            let emulator = Emulator::start().await.unwrap();
            let keys = Arc::new(KeyStore::default());
            let secrets = [
                key_secret("testdata/keys/demo-key-secret.yaml"),
                key_secret("testdata/keys/second-key-secret.yaml"),
            ];
            let (set, errors) =
                KeyCache::default().build(secrets.iter(), KeyOrderPriority::CertNotBefore, "sealed-secrets-key");
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(set.len(), 2);
            keys.replace(set);
            keys.mark_ready();
            let state = ApiState {
                keys,
                metrics: Metrics::new(),
                limiter: limiter.map(Arc::new),
                accept_deprecated_v1_data: false,
            };
            let app = router(state, 1 << 20, Duration::from_secs(30));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                    .await
                    .unwrap();
            });
            (emulator, addr)
        });
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, emulator.kubeconfig("default")).unwrap();
        let cluster = Cluster {
            emulator,
            controller,
            dir,
            kubeconfig,
            rt,
        };
        cluster.add_service("kube-system", SERVICE, Some("http"), true);
        cluster
    }

    /// A Service for the controller; `backend: false` leaves it without endpoints.
    fn add_service(&self, namespace: &str, name: &str, port_name: Option<&str>, backend: bool) {
        let _guard = self.rt.enter();
        let mut port = json!({"port": 8080, "targetPort": 8080});
        if let Some(n) = port_name {
            port["name"] = json!(n);
        }
        self.emulator
            .create(json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"ports": [port]}
            }))
            .unwrap();
        if backend {
            self.emulator.register_service_backend(namespace, name, self.controller);
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// `gitseal --kubeconfig <the emulator's>`, in a sandbox.
    fn cmd(&self) -> Command {
        self.cmd_with(&self.kubeconfig)
    }

    fn cmd_with(&self, kubeconfig: &Path) -> Command {
        let mut c = Command::cargo_bin("gitseal").unwrap();
        c.current_dir(repo(""))
            .env_remove("GITSEAL_CERT")
            .env_remove("SEALED_SECRETS_CONTROLLER_NAME")
            .env_remove("SEALED_SECRETS_CONTROLLER_NAMESPACE")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", self.path("no-kubeconfig"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .timeout(Duration::from_secs(120));
        c
    }

    fn run(&self, args: &[&str], stdin: impl Into<Vec<u8>>) -> Output {
        self.cmd().args(args).write_stdin(stdin.into()).output().unwrap()
    }

    /// Seals testdata's db-credentials offline to `cert`.
    fn seal_offline(&self, cert: &str) -> String {
        let o = self.run(&["seal", "--cert", cert, DB], "");
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    }

    /// `gitseal unseal --key <key>` of `sealed`.
    fn unseal(&self, key: &str, sealed: impl Into<Vec<u8>>) -> Output {
        self.unseal_raw(key, &[], sealed)
    }

    /// The offline `gitseal unseal --key <key> <extra>`, without the cluster's kubeconfig.
    fn unseal_raw(&self, key: &str, extra: &[&str], input: impl Into<Vec<u8>>) -> Output {
        let raw: &[&str] = if extra.is_empty() { &[] } else { &["--raw"] };
        Command::cargo_bin("gitseal")
            .unwrap()
            .current_dir(repo(""))
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", self.path("no-kubeconfig"))
            .args(["unseal", "--key", key])
            .args(raw)
            .args(extra)
            .write_stdin(input.into())
            .output()
            .unwrap()
    }
}

/// The same SealedSecret with one byte of one item's ciphertext flipped.
fn tamper(sealed: &Value, item: &str) -> Value {
    let mut v = sealed.clone();
    let mut ct = B64.decode(v["spec"]["encryptedData"][item].as_str().unwrap()).unwrap();
    let last = ct.len() - 1;
    ct[last] ^= 1;
    v["spec"]["encryptedData"][item] = json!(B64.encode(ct));
    v
}

fn yaml(v: &Value) -> String {
    to_document(v, Format::Yaml).unwrap()
}

#[test]
fn cert_prints_the_current_key_and_writes_it_atomically() {
    let cluster = Cluster::start();
    let current = Certificate::from_pem(&std::fs::read(repo(CURRENT_CERT)).unwrap()).unwrap();

    let o = cluster.run(&["cert"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let served = Certificate::from_pem(&o.stdout).unwrap();
    assert_eq!(served.to_pem(), current.to_pem());
    assert_eq!(stdout(&o), current.to_pem(), "the PEM as the controller serves it");

    let out = cluster.path("cert.pem");
    let o = cluster.run(&["cert", "-o", out.to_str().unwrap()], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), current.to_pem());

    // The static controller.yaml leaves the port unnamed (`http:name:`); the
    // Service is found through the env variables kubeseal reads too.
    cluster.add_service("kube-public", "sealer", None, true);
    let o = cluster
        .cmd()
        .arg("cert")
        .env("SEALED_SECRETS_CONTROLLER_NAME", "sealer")
        .env("SEALED_SECRETS_CONTROLLER_NAMESPACE", "kube-public")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), current.to_pem());
}

#[test]
fn seal_without_cert_fetches_it_from_the_controller() {
    let cluster = Cluster::start();
    let o = cluster.run(&["seal", DB], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let sealed = stdout(&o);
    assert_eq!(docs(&sealed)[0]["kind"], "SealedSecret");
    assert_eq!(docs(&sealed)[0]["metadata"]["namespace"], "team-a");

    let o = cluster.unseal(CURRENT_KEY, sealed.clone());
    assert!(o.status.success(), "{}", stderr(&o));
    let secret = &docs(&stdout(&o))[0];
    assert_eq!(secret["data"]["password"], "aHVudGVyMg==");
    assert_eq!(secret["data"]["username"], "YWRtaW4=");
    assert_eq!(
        cluster.unseal(OLD_KEY, sealed).status.code(),
        Some(1),
        "sealed to the current key only"
    );

    // --raw too; the namespace comes from the kubeconfig context, as offline.
    let o = cluster.run(&["seal", "--raw", "--name", "x"], "v");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = cluster.unseal_raw(CURRENT_KEY, &["--namespace", "default", "--name", "x"], stdout(&o));
    assert_eq!(stdout(&o), "v", "{}", stderr(&o));

    // --cert still wins: nothing is fetched, even with a controller that doesn't exist.
    let o = cluster.run(&["seal", "--cert", OLD_CERT, "--controller-name", "nope", DB], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(cluster.unseal(OLD_KEY, stdout(&o)).status.success());
}

#[test]
fn validate_online_asks_the_controller() {
    let cluster = Cluster::start();
    // Sealed to the older key: the controller still decrypts it.
    let good = cluster.write("good.yaml", cluster.seal_offline(OLD_CERT));
    let o = cluster.run(&["validate", "--online", good.to_str().unwrap()], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 SealedSecret valid"), "{}", stderr(&o));

    let sealed = docs(&cluster.seal_offline(CURRENT_CERT)).remove(0);
    let mut other = sealed.clone();
    other["metadata"]["name"] = json!("renamed");
    let text = format!(
        "{}{}{}",
        yaml(&sealed),
        yaml(&tamper(&sealed, "password")),
        yaml(&other)
    );
    let bad = cluster.write("bad.yaml", text);
    let p = bad.to_str().unwrap();
    let o = cluster.run(&["validate", "--online", good.to_str().unwrap(), p], "");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines: Vec<String> = stdout(&o).lines().map(String::from).collect();
    assert_eq!(
        lines,
        [
            format!(
                "{p}: document 2 (SealedSecret team-a/db-credentials): unable to decrypt sealed secret: db-credentials"
            ),
            format!("{p}: document 3 (SealedSecret team-a/renamed): unable to decrypt sealed secret: renamed"),
        ]
    );
    assert!(stderr(&o).contains("2 problems in 4 SealedSecrets"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("hunter2") && !stderr(&o).contains("hunter2"));

    // Stdin, and a document that isn't a SealedSecret is reported, not sent.
    let o = cluster.run(&["validate", "--online"], std::fs::read_to_string(repo(DB)).unwrap());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("<stdin>: document 1 (Secret team-a/db-credentials)"),
        "{}",
        stdout(&o)
    );

    // --online and --key don't mix.
    let o = cluster.run(&["validate", "--online", "--key", OLD_KEY, p], "");
    assert_eq!(o.status.code(), Some(2));
}

/// A SealedSecret sealed to the older key, with a `template.data` item.
fn old_sealed_with_template(cluster: &Cluster) -> Value {
    let mut sealed = docs(&cluster.seal_offline(OLD_CERT)).remove(0);
    sealed["spec"]["template"]["data"] = json!({"dsn": "postgres://{{ .username }}:{{ .password }}@db"});
    sealed
}

#[test]
fn reencrypt_rewrites_files_in_place_to_the_current_key() {
    let cluster = Cluster::start();
    let sealed = old_sealed_with_template(&cluster);
    let mut second = sealed.clone();
    second["metadata"]["name"] = json!("db-copy");
    // Sealed for db-credentials: it only decrypts under that name; re-seal it properly.
    let o = cluster.run(&["seal", "--cert", OLD_CERT, "--name", "db-copy", DB], "");
    second["spec"]["encryptedData"] = docs(&stdout(&o))[0]["spec"]["encryptedData"].clone();
    let configmap = "# A ConfigMap, kept byte for byte.\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}   # flow style stays\ndata:\n  a: \"1\"\n";
    let text = format!(
        "# header comment\n---\n{configmap}--- # the credentials\n# about db\n{}---\n{}",
        yaml(&sealed).strip_prefix("---\n").unwrap(),
        yaml(&second).strip_prefix("---\n").unwrap()
    );
    let file = cluster.write("app.yaml", &text);
    let json_file = cluster.write("db.json", to_document(&sealed, Format::Json).unwrap());
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, sealed]});
    let list_file = cluster.write("list.yaml", yaml(&list));
    let untouched = cluster.write("plain.yaml", std::fs::read(repo(DB)).unwrap());
    let before_untouched = std::fs::metadata(&untouched).unwrap().modified().unwrap();

    let o = cluster.run(
        &[
            "reencrypt",
            file.to_str().unwrap(),
            json_file.to_str().unwrap(),
            list_file.to_str().unwrap(),
            untouched.to_str().unwrap(),
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("4 SealedSecrets re-encrypted"), "{}", stderr(&o));
    assert_eq!(
        std::fs::metadata(&untouched).unwrap().modified().unwrap(),
        before_untouched,
        "a file without SealedSecrets is not rewritten"
    );
    let new_list = docs(&std::fs::read_to_string(&list_file).unwrap()).remove(0);
    assert_eq!(new_list["items"][0], list["items"][0]);
    assert_ne!(
        new_list["items"][1]["spec"]["encryptedData"],
        sealed["spec"]["encryptedData"]
    );
    assert!(
        cluster
            .unseal(CURRENT_KEY, yaml(&new_list["items"][1]))
            .status
            .success()
    );

    let after = std::fs::read_to_string(&file).unwrap();
    assert!(
        after.starts_with(&format!(
            "# header comment\n---\n{configmap}--- # the credentials\n# about db\napiVersion: bitnami.com/v1alpha1\n"
        )),
        "{after}"
    );
    let new = docs(&after);
    assert_eq!(new.len(), 3);
    assert_eq!(new[1]["metadata"]["name"], "db-credentials");
    assert_eq!(new[2]["metadata"]["name"], "db-copy");
    for doc in &new[1..] {
        assert_ne!(doc["spec"]["encryptedData"], sealed["spec"]["encryptedData"]);
        // template.data is kept as written, not baked into encryptedData.
        assert_eq!(doc["spec"]["template"]["data"], sealed["spec"]["template"]["data"]);
        assert!(doc["spec"]["encryptedData"].get("dsn").is_none());
    }
    // Only the current key opens them now; the template still renders.
    let rotated: String = new[1..].iter().map(yaml).collect();
    let o = cluster.unseal(CURRENT_KEY, rotated.clone());
    assert!(o.status.success(), "{}", stderr(&o));
    let secrets = docs(&stdout(&o));
    assert_eq!(secrets.len(), 2);
    assert_eq!(
        B64.decode(secrets[0]["data"]["dsn"].as_str().unwrap()).unwrap(),
        b"postgres://admin:hunter2@db"
    );
    assert_eq!(secrets[1]["metadata"]["name"], "db-copy");
    assert_eq!(cluster.unseal(OLD_KEY, rotated).status.code(), Some(1));

    // The JSON file stays JSON.
    let json_after = std::fs::read_to_string(&json_file).unwrap();
    assert!(json_after.starts_with("{\n"), "{json_after}");
    assert!(cluster.unseal(CURRENT_KEY, json_after).status.success());

    // stdin to stdout, under the kubeseal spelling.
    let o = cluster.run(&["re-encrypt", "-"], yaml(&sealed));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("---\napiVersion: bitnami.com/v1alpha1\n"),
        "{}",
        stdout(&o)
    );
    assert!(cluster.unseal(CURRENT_KEY, stdout(&o)).status.success());
}

#[test]
fn reencrypt_writes_nothing_unless_every_document_succeeds() {
    let cluster = Cluster::start();
    let sealed = old_sealed_with_template(&cluster);
    let first = cluster.write("a.yaml", yaml(&sealed));
    let mut renamed = sealed.clone();
    renamed["metadata"]["name"] = json!("wrong-name");
    let second = cluster.write("b.yaml", format!("{}{}", yaml(&sealed), yaml(&renamed)));
    let before = (std::fs::read(&first).unwrap(), std::fs::read(&second).unwrap());

    let o = cluster.run(&["reencrypt", first.to_str().unwrap(), second.to_str().unwrap()], "");
    let b = second.to_str().unwrap();
    assert_fails(
        &o,
        1,
        &[&format!(
            "{b}: document 2 (SealedSecret team-a/wrong-name): unable to rotate secret: wrong-name"
        )],
    );
    assert_eq!(std::fs::read(&first).unwrap(), before.0, "a.yaml untouched");
    assert_eq!(std::fs::read(&second).unwrap(), before.1, "b.yaml untouched");
    let leftovers: Vec<_> = std::fs::read_dir(cluster.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // No SealedSecret at all: an error before any request.
    let o = cluster.run(&["reencrypt", DB], "");
    assert_fails(&o, 1, &[DB, "no SealedSecret found"]);
}

#[test]
fn the_controllers_rate_limit_is_waited_out_or_reported() {
    // Two requests a second, no burst: the second waits out a short Retry-After.
    let cluster = Cluster::with_limiter(RateLimiter::new(2.0, 1));
    let sealed = docs(&cluster.seal_offline(OLD_CERT)).remove(0);
    let file = cluster.write("two.yaml", format!("{}{}", yaml(&sealed), yaml(&sealed)));
    let o = cluster.run(&["validate", "--online", file.to_str().unwrap()], "");
    assert!(o.status.success(), "{}", stderr(&o));

    // One request, then a wait far longer than gitseal waits by itself.
    let cluster = Cluster::with_limiter(RateLimiter::new(0.001, 1));
    let sealed = old_sealed_with_template(&cluster);
    let mut other = sealed.clone();
    other["metadata"]["name"] = json!("other");
    let file = cluster.write("x.yaml", format!("{}{}", yaml(&sealed), yaml(&other)));
    let before = std::fs::read(&file).unwrap();
    let o = cluster.run(&["reencrypt", file.to_str().unwrap()], "");
    assert_fails(
        &o,
        1,
        &[
            "document 2 (SealedSecret team-a/other)",
            "rate-limited by the controller",
            "HTTP 429",
            "kube-system/sealed-secrets-controller",
        ],
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn a_missing_or_unreachable_controller_is_one_clear_line() {
    let cluster = Cluster::start();
    let o = cluster.run(&["cert", "--controller-name", "nope"], "");
    assert_fails(&o, 1, &["service kube-system/nope not found", "--controller-name"]);
    let o = cluster.run(&["seal", "--controller-namespace", "sealed-secrets", DB], "");
    assert_fails(&o, 1, &["service sealed-secrets/sealed-secrets-controller not found"]);

    let good = cluster.write("good.yaml", cluster.seal_offline(CURRENT_CERT));
    let before = std::fs::read(&good).unwrap();
    let o = cluster.run(&["reencrypt", "--controller-name", "nope", good.to_str().unwrap()], "");
    assert_fails(&o, 1, &["service kube-system/nope not found"]);
    assert_eq!(std::fs::read(&good).unwrap(), before);

    // RBAC: no `get` on the Service.
    cluster
        .emulator
        .faults()
        .fail_next("GET", "/services/sealed-secrets-controller", 403, 1);
    let o = cluster.run(&["cert"], "");
    assert_fails(
        &o,
        1,
        &["forbidden: cannot get service kube-system/sealed-secrets-controller"],
    );

    // A Service without endpoints: the API server's proxy answers 503.
    cluster.add_service("kube-system", "idle", Some("http"), false);
    let o = cluster.run(
        &[
            "validate",
            "--online",
            "--controller-name",
            "idle",
            good.to_str().unwrap(),
        ],
        "",
    );
    assert_fails(&o, 1, &["kube-system/idle is unreachable", "HTTP 503"]);

    // An API server that isn't there.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let kc = std::fs::read_to_string(&cluster.kubeconfig)
        .unwrap()
        .replace(&cluster.emulator.url(), &format!("http://{dead}"));
    let kc = cluster.write("dead-kubeconfig", kc);
    let o = cluster.cmd_with(&kc).arg("cert").output().unwrap();
    assert_fails(
        &o,
        1,
        &[
            "cannot reach the API server",
            &dead.to_string(),
            "kube-system/sealed-secrets-controller",
        ],
    );

    // No kubeconfig at all: a usage error, as for a missing --cert.
    let o = Command::cargo_bin("gitseal")
        .unwrap()
        .current_dir(repo(""))
        .env_remove("GITSEAL_CERT")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", cluster.dir.path())
        .env("KUBECONFIG", cluster.path("no-kubeconfig"))
        .arg("cert")
        .output()
        .unwrap();
    assert_fails(&o, 2, &["no kubeconfig found"]);
    let o = cluster.run(&["cert", "--controller-name", "Bad/Name"], "");
    assert_fails(&o, 2, &["--controller-name", "not a valid name"]);
}

#[test]
fn reencrypt_all_online_rotates_through_the_controller_once_and_leaves_other_clusters_items() {
    let cluster = Cluster::start();
    let tree = cluster.path("gitops");
    std::fs::create_dir_all(tree.join("here")).unwrap();
    std::fs::create_dir_all(tree.join("elsewhere")).unwrap();
    // Files sealed to the old key, one of them in a directory whose rule names
    // another cluster's certificate.
    std::fs::copy(repo(OLD_CERT), tree.join("other-cluster.pem")).unwrap();
    std::fs::write(
        tree.join(".gitseal.yaml"),
        "creation_rules:\n  - path_regex: ^elsewhere/\n    cert: other-cluster.pem\n",
    )
    .unwrap();
    let here = tree.join("here/db.yaml");
    let elsewhere = tree.join("elsewhere/db.yaml");
    std::fs::write(&here, cluster.seal_offline(OLD_CERT)).unwrap();
    std::fs::write(&elsewhere, cluster.seal_offline(OLD_CERT)).unwrap();
    let elsewhere_before = std::fs::read(&elsewhere).unwrap();

    let all = tree.to_str().unwrap();
    let o = cluster.run(&["reencrypt", "--all", all], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "elsewhere/db.yaml: Bitnami items left as they are: its .gitseal.yaml rule names another certificate"
        ),
        "{err}"
    );
    assert!(
        err.contains("2 SealedSecrets in 2 files: 2 items re-sealed, 2 unchanged; 1 file rewritten"),
        "{err}"
    );
    assert_eq!(std::fs::read(&elsewhere).unwrap(), elsewhere_before);
    let o = cluster.unseal(CURRENT_KEY, std::fs::read(&here).unwrap());
    assert!(o.status.success(), "now sealed to the current key: {}", stderr(&o));

    // The file now records the current key: a second run sends nothing.
    let before = std::fs::read(&here).unwrap();
    let o = cluster.run(&["reencrypt", "--all", all], "");
    assert!(
        stderr(&o).contains("0 items re-sealed, 4 unchanged; 0 files rewritten"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&here).unwrap(), before);
}

#[test]
fn keys_are_listed_backed_up_encrypted_and_restored_without_overwriting() {
    let cluster = Cluster::start();
    {
        let _guard = cluster.rt.enter();
        cluster
            .emulator
            .install_crd(serde_json::to_value(gitseal_api::crd()).unwrap())
            .unwrap();
        cluster
            .emulator
            .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}))
            .unwrap();
    }
    let create = |v: Value| {
        let _guard = cluster.rt.enter();
        cluster.emulator.create(v).unwrap();
    };
    // The controller's keys: Bitnami's format (no age.key), and one gitseal made.
    let mut old: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(repo("testdata/keys/demo-key-secret.yaml")).unwrap()).unwrap();
    old["metadata"]["namespace"] = json!("kube-system");
    create(old);
    let o = cluster.run(
        &[
            "keygen",
            "--key-size",
            "2048",
            "--key-out",
            &cluster.path("k.key").display().to_string(),
            "--cert-out",
            &cluster.path("k.crt").display().to_string(),
            "--secret-out",
            &cluster.path("k.yaml").display().to_string(),
            "--secret-name",
            "sealed-secrets-keynew",
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let new: Value = serde_saphyr::from_str(&std::fs::read_to_string(cluster.path("k.yaml")).unwrap()).unwrap();
    create(new.clone());
    let age_file = String::from_utf8(B64.decode(new["data"]["age.key"].as_str().unwrap()).unwrap()).unwrap();
    let new_recipient = gitseal_core::v2::Identity::parse_file(&age_file).unwrap()[0]
        .recipient()
        .clone();

    // SealedSecrets: one recording the old key, one v2 to the new key, one recording nothing.
    let mut recorded = docs(&cluster.seal_offline(OLD_CERT))[0].clone();
    recorded["metadata"]["name"] = json!("a");
    create(recorded.clone());
    let o = cluster.run(&["seal", "--recipient", new_recipient.as_str(), DB], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let mut v2 = docs(&stdout(&o))[0].clone();
    v2["metadata"]["name"] = json!("b");
    create(v2);
    let mut unrecorded = recorded.clone();
    unrecorded["metadata"]["name"] = json!("c");
    unrecorded["metadata"]["annotations"] = json!({});
    create(unrecorded);

    let o = cluster.run(&["keys", "list"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{table}"))
            .to_string()
    };
    assert!(table.starts_with("NAME "), "{table}");
    assert!(
        row("sealed-secrets-keynew").contains(new_recipient.fingerprint()),
        "{table}"
    );
    assert!(row("sealed-secrets-keynew").trim_end().ends_with(" 1"), "{table}");
    assert!(row("sealed-secrets-keydemo").trim_end().ends_with(" 1"), "{table}");
    assert!(
        stderr(&o).contains("1 SealedSecret record no key yet"),
        "{}",
        stderr(&o)
    );

    // Backup to two people; each can open it, and so can the age CLI.
    let (alice, bob) = (
        gitseal_core::v2::Identity::generate(),
        gitseal_core::v2::Identity::generate(),
    );
    let alice_file = cluster.write("alice.txt", alice.to_file("x").as_bytes());
    let backup = cluster.path("keys.age");
    let o = cluster.run(
        &[
            "keys",
            "backup",
            "--to",
            alice.recipient().as_str(),
            "--to",
            bob.recipient().as_str(),
            "-o",
            &backup.display().to_string(),
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("backed up 2 keys"), "{}", stderr(&o));
    let text = std::fs::read_to_string(&backup).unwrap();
    assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(!text.contains("PRIVATE KEY"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Standard age, armored: the age CLI opens it as well (CI installs it).
    if let Ok(out) = std::process::Command::new("age")
        .args(["--decrypt", "--identity"])
        .arg(&alice_file)
        .arg(&backup)
        .output()
    {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let list = String::from_utf8(out.stdout).unwrap();
        assert!(list.contains("kind: List") && list.contains("sealed-secrets-keynew"));
        assert!(!list.contains("resourceVersion"), "server fields are dropped");
    }

    // The keys are lost; restore brings them back exactly.
    {
        let _guard = cluster.rt.enter();
        let api: kube::Api<Secret> = kube::Api::namespaced(cluster.emulator.client(), "kube-system");
        for name in ["sealed-secrets-keydemo1", "sealed-secrets-keynew"] {
            let _ = cluster.rt.block_on(api.delete(name, &Default::default()));
        }
    }
    let secret = |name: &str| cluster.emulator.get("v1", "secrets", Some("kube-system"), name);
    assert!(secret("sealed-secrets-keynew").is_none());
    let b = backup.display().to_string();
    let o = cluster.run(
        &["keys", "restore", &b, "--identity", &alice_file.display().to_string()],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(secret("sealed-secrets-keynew").unwrap()["data"], new["data"]);
    assert!(stdout(&o).contains("created"), "{}", stdout(&o));
    assert!(secret("sealed-secrets-keydemo1").is_some());
    // Again: nothing to do.
    let o = cluster.run(&["keys", "restore", &b, "-i", &alice_file.display().to_string()], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("created"), "{}", stdout(&o));
    // A different key under the same name is never overwritten.
    {
        let _guard = cluster.rt.enter();
        let api: kube::Api<Secret> = kube::Api::namespaced(cluster.emulator.client(), "kube-system");
        let patch = json!({"data": {"tls.key": B64.encode("something else")}});
        cluster
            .rt
            .block_on(api.patch(
                "sealed-secrets-keynew",
                &Default::default(),
                &kube::api::Patch::Merge(&patch),
            ))
            .unwrap();
    }
    let o = cluster.run(&["keys", "restore", &b, "-i", &alice_file.display().to_string()], "");
    assert_fails(
        &o,
        1,
        &["secret kube-system/sealed-secrets-keynew exists with other content: not overwritten"],
    );
    assert_eq!(
        secret("sealed-secrets-keynew").unwrap()["data"]["tls.key"],
        B64.encode("something else")
    );
    // Someone else's identity doesn't open it.
    let stranger = cluster.write(
        "stranger.txt",
        gitseal_core::v2::Identity::generate().to_file("x").as_bytes(),
    );
    let o = cluster.run(&["keys", "restore", &b, "-i", &stranger.display().to_string()], "");
    assert_fails(&o, 1, &["keys.age", "no identity matches"]);
}

#[test]
fn v2_sealing_without_recipients_asks_the_controller_and_says_when_it_has_none() {
    // These keys were made by Bitnami's controller: no age.key, so no recipients.
    let cluster = Cluster::start();
    let o = cluster.run(&["seal", "--scheme", "v2", DB], "");
    assert_fails(
        &o,
        1,
        &[
            "service kube-system/sealed-secrets-controller serves no age recipients",
            "--recipient",
        ],
    );
    let o = cluster.run(&["recipients"], "");
    assert_fails(&o, 1, &["serves no age recipients"]);
}
