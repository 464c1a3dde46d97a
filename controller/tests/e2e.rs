//! Opt-in end-to-end suite against a real cluster: runs only when
//! `GITSEAL_E2E=1` and `KUBECONFIG` are set (skipped otherwise, saying so).
//!
//! It applies the CRD, runs the controller binary out of cluster in a
//! throw-away namespace, seals with the `gitseal` CLI (build it first:
//! `cargo build -p gitseal`), and checks unsealing, key rotation, drift restore
//! and the deletion cascade (which needs the cluster's garbage collector).

mod support;

use std::process::Command;
use std::time::Duration;

use gitseal_api::SealedSecret;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::http;

fn enabled() -> bool {
    std::env::var("GITSEAL_E2E").as_deref() == Ok("1") && std::env::var_os("KUBECONFIG").is_some()
}

async fn wait<T, F: std::future::Future<Output = Option<T>>>(what: &str, mut f: impl FnMut() -> F) -> T {
    for _ in 0..300 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_a_real_cluster() {
    if !enabled() {
        eprintln!("skipped: set GITSEAL_E2E=1 and KUBECONFIG to run the end-to-end suite");
        return;
    }
    let client = kube::Client::try_default().await.expect("KUBECONFIG client");
    let ns = format!("gitseal-e2e-{}", std::process::id());
    let ssa = PatchParams::apply("gitseal-e2e").force();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch("sealedsecrets.bitnami.com", &ssa, &Patch::Apply(gitseal_api::crd()))
        .await
        .expect("apply CRD");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .expect("create namespace");

    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_gitseal-controller"));
    let mut controller = Command::new(&bin)
        .args([
            "--namespace",
            &ns,
            "--namespaces",
            &ns,
            "--listen-addr",
            "127.0.0.1:18080",
        ])
        .args([
            "--listen-metrics-addr",
            "127.0.0.1:18081",
            "--key-size",
            "2048",
            "--leader-elect-lease-name",
            &ns,
        ])
        .spawn()
        .expect("start controller");
    let cert = wait("certificate", || async {
        let (code, pem) = http("GET", "http://127.0.0.1:18080/v1/cert.pem", None).await;
        (code == 200).then_some(pem)
    })
    .await;

    // Seal with the CLI, offline against the served certificate.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": ns}, "stringData": {"password": "e2e"}});
    std::fs::write(dir.path().join("secret.json"), secret.to_string()).unwrap();
    let gitseal = bin.with_file_name("gitseal");
    let out = Command::new(&gitseal)
        .args(["seal", "--cert"])
        .arg(dir.path().join("cert.pem"))
        .args(["-o", "json", "-f"])
        .arg(dir.path().join("secret.json"))
        .output()
        .expect("run gitseal (cargo build -p gitseal first)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sealed: SealedSecret = serde_json::from_slice(&out.stdout).unwrap();
    let sealed_api: Api<SealedSecret> = Api::namespaced(client.clone(), &ns);
    sealed_api.create(&PostParams::default(), &sealed).await.unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let s = wait("Secret", || async { secrets.get_opt("db").await.ok().flatten() }).await;
    assert_eq!(s.data.unwrap()["password"].0, b"e2e");

    // Rotation: SIGUSR1 makes the leader generate a key, served at once.
    let _ = Command::new("kill")
        .args(["-USR1", &controller.id().to_string()])
        .status();
    wait("a new certificate", || async {
        let (_, pem) = http("GET", "http://127.0.0.1:18080/v1/cert.pem", None).await;
        (pem != cert).then_some(())
    })
    .await;

    // Drift: a deleted Secret comes back.
    secrets.delete("db", &DeleteParams::default()).await.unwrap();
    wait("Secret restored", || async {
        secrets.get_opt("db").await.ok().flatten()
    })
    .await;

    // Cascade: deleting the SealedSecret deletes the Secret (cluster GC).
    sealed_api.delete("db", &DeleteParams::default()).await.unwrap();
    wait("Secret collected", || async {
        matches!(secrets.get_opt("db").await, Ok(None)).then_some(())
    })
    .await;

    let _ = controller.kill();
    let _ = controller.wait();
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
}
