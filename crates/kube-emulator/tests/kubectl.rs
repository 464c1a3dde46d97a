//! kubectl against the emulator via `Emulator::kubeconfig`.

use kube_emulator::Emulator;
use serde_json::{Value, json};

async fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> Option<(bool, String)> {
    let out = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .await;
    match out {
        Ok(out) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            Some((out.status.success(), text))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("running kubectl: {e}"),
    }
}

#[tokio::test]
async fn kubectl_works() {
    let emu = Emulator::start().await.unwrap();
    let path = std::env::temp_dir().join(format!("kube-emulator-{}.kubeconfig", emu.addr().port()));
    std::fs::write(&path, emu.kubeconfig("default")).unwrap();
    emu.create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "listed"}, "stringData": {"k": "v"}}))
        .unwrap();

    let Some((ok, out)) = kubectl(&path, &["get", "secrets", "-n", "default", "-o", "json"]).await else {
        eprintln!("kubectl not found on PATH; skipping");
        return;
    };
    assert!(ok, "{out}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["items"][0]["metadata"]["name"], "listed");
    assert_eq!(list["items"][0]["data"]["k"], "dg==");

    // kubectl's typed create commands send protobuf.
    let (ok, out) = kubectl(&path, &["create", "namespace", "x"]).await.unwrap();
    assert!(ok, "{out}");
    assert!(emu.get("v1", "namespaces", None, "x").is_some());
    let (ok, out) = kubectl(
        &path,
        &["create", "secret", "generic", "s", "-n", "x", "--from-literal=a=b"],
    )
    .await
    .unwrap();
    assert!(ok, "{out}");
    assert_eq!(emu.get("v1", "secrets", Some("x"), "s").unwrap()["data"]["a"], "Yg==");

    // Table output, apply, label and delete.
    let (ok, out) = kubectl(&path, &["get", "secrets", "-n", "x"]).await.unwrap();
    assert!(ok && out.contains("NAME") && out.contains('s'), "{out}");
    let manifest = std::env::temp_dir().join(format!("kube-emulator-{}.yaml", emu.addr().port()));
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: \"1\"\n",
    )
    .unwrap();
    let manifest = manifest.to_str().unwrap();
    let (ok, out) = kubectl(&path, &["apply", "--validate=false", "-f", manifest])
        .await
        .unwrap();
    assert!(ok, "{out}");
    let (ok, out) = kubectl(&path, &["apply", "--server-side", "--validate=false", "-f", manifest])
        .await
        .unwrap();
    assert!(ok, "{out}");
    let (ok, out) = kubectl(&path, &["label", "configmap", "applied", "team=x"])
        .await
        .unwrap();
    assert!(ok, "{out}");
    assert_eq!(
        emu.get("v1", "configmaps", Some("default"), "applied").unwrap()["metadata"]["labels"]["team"],
        "x"
    );
    let (ok, out) = kubectl(&path, &["delete", "namespace", "x"]).await.unwrap();
    assert!(ok, "{out}");
    assert!(emu.get("v1", "secrets", Some("x"), "s").is_none());
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(manifest);
}
