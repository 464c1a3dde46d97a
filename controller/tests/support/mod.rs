//! Test support: an emulated API server, the real controller binary against it,
//! and helpers to seal test SealedSecrets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gitseal_core::keys::parse_private_keys;
use gitseal_core::{PrivateKey, Scope};
use kube_emulator::Emulator;
use serde_json::{Value, json};

pub const CONTROLLER_NS: &str = "gitseal";

pub fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/keys")
        .join(name)
}

/// A key Secret from testdata, as JSON, placed in `namespace`.
pub fn key_secret(file: &str, namespace: &str) -> Value {
    let text = std::fs::read_to_string(testdata(file)).unwrap();
    let mut v: Value = serde_saphyr::from_str(&text).unwrap();
    v["metadata"]["namespace"] = json!(namespace);
    v
}

pub fn private_key(file: &str) -> PrivateKey {
    parse_private_keys(&std::fs::read(testdata(file)).unwrap())
        .unwrap()
        .remove(0)
}

/// A SealedSecret sealed to `key` for `namespace/name`, with the given items.
pub fn sealed_secret(key: &PrivateKey, namespace: &str, name: &str, items: &[(&str, &str)]) -> Value {
    let encrypted: serde_json::Map<String, Value> = items
        .iter()
        .map(|(k, v)| {
            let ct =
                gitseal_core::seal::seal_raw(v.as_bytes(), key.public_key(), Scope::Strict, namespace, name).unwrap();
            (k.to_string(), json!(ct))
        })
        .collect();
    json!({
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"encryptedData": encrypted, "template": {"metadata": {"labels": {"app": name}}}}
    })
}

pub async fn emulator() -> Emulator {
    let emu = Emulator::start().await.unwrap();
    emu.install_crd(serde_json::to_value(gitseal_api::crd()).unwrap())
        .unwrap();
    for ns in [CONTROLLER_NS, "app", "other"] {
        emu.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .unwrap();
    }
    emu
}

pub fn secret_data(secret: &Value, item: &str) -> Option<String> {
    use base64::Engine as _;
    let b64 = secret["data"][item].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    String::from_utf8(bytes).ok()
}

/// Polls `f` until it returns `Some`, or panics after `timeout` with `what`.
pub async fn eventually<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn synced(emu: &Emulator, ns: &str, name: &str) -> Option<(String, String)> {
    let ss = emu.get("bitnami.com/v1alpha1", "sealedsecrets", Some(ns), name)?;
    let c = &ss["status"]["conditions"][0];
    Some((
        c["status"].as_str()?.to_string(),
        c["message"].as_str().unwrap_or("").to_string(),
    ))
}

/// A running `gitseal-controller` process.
pub struct Controller {
    pub child: Child,
    pub api: SocketAddr,
    pub metrics: SocketAddr,
    pub logs: mpsc::Receiver<String>,
    _kubeconfig: tempfile::NamedTempFile,
}

impl Controller {
    pub fn start(emu: &Emulator, extra: &[&str]) -> Controller {
        let kubeconfig = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(kubeconfig.path(), emu.kubeconfig("default")).unwrap();
        // GITSEAL_CONTROLLER_WRAPPER runs the binary under a profiler, e.g. heaptrack.
        let binary = env!("CARGO_BIN_EXE_gitseal-controller");
        let mut command = match std::env::var("GITSEAL_CONTROLLER_WRAPPER") {
            Ok(wrapper) if !wrapper.is_empty() => {
                let mut c = Command::new(wrapper);
                c.arg(binary);
                c
            }
            _ => Command::new(binary),
        };
        let mut child = command
            .args(["--kubeconfig"])
            .arg(kubeconfig.path())
            .args([
                "--namespace",
                CONTROLLER_NS,
                "--listen-addr",
                "127.0.0.1:0",
                "--listen-metrics-addr",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--log-info-stdout=false",
                "--key-size",
                "2048",
                "--leader-elect-lease-duration",
                "3s",
                "--leader-elect-renew-deadline",
                "2s",
                "--leader-elect-retry-period",
                "500ms",
            ])
            .args(extra)
            .env_remove("KUBECONFIG")
            .env_remove("POD_NAMESPACE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gitseal-controller");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("GITSEAL_TEST_LOGS").is_some() {
                    eprintln!("controller: {line}");
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("controller did not report its listen addresses");
            };
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if v["message"] == "serving HTTP" {
                let api = v["api"].as_str().unwrap().parse().unwrap();
                let metrics = v["metrics"].as_str().unwrap().parse().unwrap();
                return Controller {
                    child,
                    api,
                    metrics,
                    logs: rx,
                    _kubeconfig: kubeconfig,
                };
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.api, path)
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Every log line so far.
    pub fn drain_logs(&self) -> Vec<String> {
        self.logs.try_iter().collect()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tiny HTTP client for the controller's own endpoints.
pub async fn http(method: &str, url: &str, body: Option<&Value>) -> (u16, String) {
    let uri: http::Uri = url.parse().unwrap();
    let addr = format!("{}:{}", uri.host().unwrap(), uri.port_u16().unwrap());
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(conn);
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
    let req = http::Request::builder()
        .method(method)
        .uri(uri.path())
        .header("host", "controller")
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(bytes)))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    use http_body_util::BodyExt;
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The status of a request that only announces a body of `len` bytes. The
/// server must refuse it from the Content-Length alone; sending the body would
/// race the server closing the connection.
pub async fn status_for_declared_length(method: &str, url: &str, len: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let uri: http::Uri = url.parse().unwrap();
    let addr = format!("{}:{}", uri.host().unwrap(), uri.port_u16().unwrap());
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {} HTTP/1.1\r\nhost: controller\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n",
        uri.path()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64];
    let n = stream.read(&mut buf).await.unwrap();
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// One metric sample's value from Prometheus text, matching the name and every label given.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric_name, rest) = match series.split_once('{') {
            Some((n, r)) => (n, r),
            None => (series, ""),
        };
        if metric_name != name {
            return None;
        }
        if !labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))) {
            return None;
        }
        value.parse().ok()
    })
}

/// Asserts that every request the controller made to `emu` is listed in
/// [`gitseal_controller::rbac::CALLS`], in the right namespace: the chart's RBAC
/// is checked against that list (`tests/chart.rs`). Returns how many distinct
/// requests were checked.
pub fn assert_calls_listed(emu: &Emulator) -> usize {
    use gitseal_controller::rbac::{Scope, listed};
    let ours: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.user_agent == gitseal_controller::run::USER_AGENT)
        .collect();
    assert!(!ours.is_empty(), "no request from the controller was recorded");
    for r in &ours {
        let resource = match &r.subresource {
            Some(sub) => format!("{}/{sub}", r.resource),
            None => r.resource.clone(),
        };
        let own = r.namespace.as_deref() == Some(CONTROLLER_NS) && listed(&r.group, &resource, &r.verb, Scope::Own);
        assert!(
            own || listed(&r.group, &resource, &r.verb, Scope::Watched),
            "the controller called {} {}/{} in {:?}, which gitseal_controller::rbac::CALLS doesn't list",
            r.verb,
            r.group,
            resource,
            r.namespace.as_deref().unwrap_or("all namespaces")
        );
    }
    ours.len()
}
