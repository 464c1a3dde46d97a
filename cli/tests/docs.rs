//! The guides under `docs/`, tried step by step.
//!
//! Every ```` ```sh ```` block of a guide runs, in order, in `bash -euo pipefail`,
//! in a fresh directory, against a fresh emulated cluster: the API emulator with
//! the CRD installed, and the real controller (in-process) in `kube-system`
//! behind the Service `sealed-secrets-controller`, as the chart installs it, with
//! a key made a day earlier.
//! `gitseal` and `kubectl` are on `PATH`, `KUBECONFIG` points at the emulator,
//! and `$GITSEAL_REPO` is the repository (for the chart and testdata).
//!
//! Blocks of any other language (`console`, `yaml`, …) are for reading only:
//! they need Helm, Argo CD, Flux or a real cluster. `docs/README.md` says so.
//!
//! The emulator serves no OpenAPI documents, so `kubectl apply` and `create` get
//! `--validate=false` from a wrapper; the server still rejects invalid objects.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser as _;
use common::repo;
use kube_emulator::Emulator;
use serde_json::json;

/// A fenced ```` ```sh ```` block: its first line number in the guide, and its text.
struct Step {
    line: usize,
    script: String,
}

fn steps(markdown: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let mut current: Option<(bool, usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match (&mut current, fence) {
            (None, true) => {
                let info = line.trim_start().trim_start_matches('`').trim();
                current = Some((info == "sh", i + 2, String::new()));
            }
            (Some((run, first, text)), true) => {
                if *run {
                    out.push(Step {
                        line: *first,
                        script: std::mem::take(text),
                    });
                }
                current = None;
            }
            (Some((_, _, text)), false) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, false) => {}
        }
    }
    assert!(current.is_none(), "a fenced block is not closed");
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh emulated cluster with the controller running in `kube-system`.
struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    kubeconfig: PathBuf,
    // Last: the emulator and the controller run on it until the guide is done.
    _rt: tokio::runtime::Runtime,
}

impl Cluster {
    fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let http: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let metrics: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let emulator = rt.block_on(async {
            let emu = Emulator::start().await.unwrap();
            emu.install_crd(serde_json::to_value(gitseal_api::crd()).unwrap())
                .unwrap();
            emu
        });
        // The controller has been running a while: its key is a day old, so a
        // key a guide adds is always the newest.
        let params = gitseal_core::keys::KeyGenParams {
            bits: 4096,
            common_name: String::new(),
            not_before: time::OffsetDateTime::now_utc() - time::Duration::days(1),
            validity: time::Duration::days(3650),
        };
        let key = gitseal_core::keys::generate(&params).unwrap();
        {
            let _guard = rt.enter();
            let secret = gitseal_core::keys::key_secret(&key, "kube-system", "sealed-secrets-keyq4w8z");
            emulator.create(serde_json::to_value(secret).unwrap()).unwrap();
        }
        std::fs::write(&kubeconfig, emulator.kubeconfig("default")).unwrap();
        let flags = gitseal_controller::config::Flags::parse_from([
            "gitseal-controller".to_string(),
            format!("--kubeconfig={}", kubeconfig.display()),
            "--namespace=kube-system".into(),
            format!("--listen-addr={http}"),
            format!("--listen-metrics-addr={metrics}"),
        ]);
        rt.spawn(async move {
            if let Err(e) = gitseal_controller::run::run(flags).await {
                eprintln!("controller stopped: {e:#}");
            }
        });
        {
            let _guard = rt.enter();
            emulator
                .create(json!({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "sealed-secrets-controller", "namespace": "kube-system"},
                    "spec": {"ports": [{"name": "http", "port": 8080, "targetPort": 8080}]}}))
                .unwrap();
            emulator.register_service_backend("kube-system", "sealed-secrets-controller", http);
        }
        // Ready once it has loaded the key.
        let start = Instant::now();
        while !ready(http) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the controller never got ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }

        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_gitseal"), bin.join("gitseal")).unwrap();
        let wrapper = bin.join("kubectl");
        std::fs::write(
            &wrapper,
            "#!/bin/sh\ncase \"$1\" in apply|create) exec \"$REAL_KUBECTL\" \"$@\" --validate=false;; esac\nexec \"$REAL_KUBECTL\" \"$@\"\n",
        )
        .unwrap();
        let mut perms = std::fs::metadata(&wrapper).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&wrapper, perms).unwrap();
        Cluster {
            dir,
            bin,
            kubeconfig,
            _rt: rt,
        }
    }

    /// Runs one step; on failure, panics with where it is and what it printed.
    fn run(&self, guide: &str, step: &Step, kubectl: &Path, work: &Path) {
        let path = format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default());
        let mut child = Command::new("bash");
        child
            .args(["-euo", "pipefail", "-c", &step.script])
            .current_dir(work)
            .env("PATH", path)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("REAL_KUBECTL", kubectl)
            .env("GITSEAL_REPO", repo("."))
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1");
        let out = child.output().unwrap();
        assert!(
            out.status.success(),
            "{guide}:{}: this step failed ({}):\n{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            step.line,
            out.status,
            step.script,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn ready(addr: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}

/// The machine's kubectl. CI has it; elsewhere the guides are skipped, saying so.
fn kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

fn try_guide(name: &str) {
    let Some(kubectl) = kubectl() else {
        eprintln!("skipping docs/{name}: kubectl is not installed");
        return;
    };
    let guide = format!("docs/{name}");
    let text = std::fs::read_to_string(repo(&guide)).unwrap();
    let steps = steps(&text);
    assert!(!steps.is_empty(), "{guide} has no runnable steps");
    let cluster = Cluster::start();
    let work = cluster.dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    for step in &steps {
        cluster.run(&guide, step, &kubectl, &work);
    }
}

#[test]
fn every_guide_is_tried() {
    let mut listed: Vec<String> = std::fs::read_dir(repo("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        // The index and the format specification are reference, not guides.
        .filter(|n| n.ends_with(".md") && n != "README.md" && n != "format.md")
        .collect();
    listed.sort();
    let tried = [
        "argo-cd.md",
        "flux.md",
        "key-backup.md",
        "migrating-from-bitnami.md",
        "multi-cluster.md",
        "multi-namespace.md",
        "quick-start.md",
        "rotation.md",
        "troubleshooting.md",
    ];
    assert_eq!(listed, tried, "each guide needs a test below");
}

#[test]
fn quick_start() {
    try_guide("quick-start.md");
}

#[test]
fn argo_cd() {
    try_guide("argo-cd.md");
}

#[test]
fn flux() {
    try_guide("flux.md");
}

#[test]
fn multi_cluster() {
    try_guide("multi-cluster.md");
}

#[test]
fn multi_namespace() {
    try_guide("multi-namespace.md");
}

#[test]
fn key_backup() {
    try_guide("key-backup.md");
}

#[test]
fn rotation() {
    try_guide("rotation.md");
}

#[test]
fn migrating_from_bitnami() {
    try_guide("migrating-from-bitnami.md");
}

#[test]
fn troubleshooting() {
    try_guide("troubleshooting.md");
}

#[test]
fn steps_are_the_sh_blocks_in_order() {
    let md = "# T\n```sh\necho one\n```\ntext\n```yaml\nkind: X\n```\n````\nnested\n````\n```sh\necho two\necho three\n```\n";
    let s = steps(md);
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].line, s[0].script.as_str()), (3, "echo one\n"));
    assert_eq!((s[1].line, s[1].script.as_str()), (13, "echo two\necho three\n"));
}
