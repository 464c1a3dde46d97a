//! The controller binary against the in-repo API emulator: the scenarios users
//! rely on, end to end through kube-rs, watches and the emulator's semantics.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

const T: Duration = Duration::from_secs(20);
const V1: &str = "v1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seal_update_and_wrong_namespace() {
    let emu = emulator().await;
    emu.create(key_secret("second-key-secret.yaml", CONTROLLER_NS)).unwrap();
    let key = private_key("second.key");
    let _c = Controller::start(&emu, &[]);

    emu.create(sealed_secret(&key, "app", "db", &[("password", "hunter2")]))
        .unwrap();
    let secret = eventually(T, "Secret app/db", || emu.get(V1, "secrets", Some("app"), "db")).await;
    assert_eq!(secret_data(&secret, "password").as_deref(), Some("hunter2"));
    assert_eq!(secret["metadata"]["labels"]["app"], "db");
    let owner = &secret["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["controller"].as_bool()),
        (Some("SealedSecret"), Some(true))
    );
    assert_eq!(eventually(T, "Synced", || synced(&emu, "app", "db")).await.0, "True");

    // Update: a changed item and a new one.
    let mut updated = sealed_secret(&key, "app", "db", &[("password", "changed"), ("user", "admin")]);
    let current = emu
        .get("bitnami.com/v1alpha1", "sealedsecrets", Some("app"), "db")
        .unwrap();
    updated["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    let client = emu.client();
    let api: kube::Api<gitseal_api::SealedSecret> = kube::Api::namespaced(client, "app");
    api.replace("db", &Default::default(), &serde_json::from_value(updated).unwrap())
        .await
        .unwrap();
    eventually(T, "updated Secret", || {
        let s = emu.get(V1, "secrets", Some("app"), "db")?;
        (secret_data(&s, "password").as_deref() == Some("changed")
            && secret_data(&s, "user").as_deref() == Some("admin"))
        .then_some(())
    })
    .await;

    // Sealed for another namespace: refused, with a reason.
    let mut moved = sealed_secret(&key, "other", "db", &[("password", "x")]);
    moved["metadata"]["namespace"] = json!("app");
    moved["metadata"]["name"] = json!("moved");
    emu.create(moved).unwrap();
    let (status, message) = eventually(T, "Synced=False", || {
        synced(&emu, "app", "moved").filter(|(s, _)| s == "False")
    })
    .await;
    assert_eq!(status, "False");
    assert!(message.contains("no key could decrypt secret (password)"), "{message}");
    let ss = emu
        .get("bitnami.com/v1alpha1", "sealedsecrets", Some("app"), "moved")
        .unwrap();
    assert_eq!(ss["status"]["conditions"][0]["reason"], "ErrUnsealFailed");
    assert!(emu.get(V1, "secrets", Some("app"), "moved").is_none());
    let events = emu.list("events.k8s.io/v1", "events", Some("app"));
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "ErrUnsealFailed" && e["regarding"]["name"] == "moved")
    );
    let unsealed: Vec<_> = events
        .iter()
        .filter(|e| e["reason"] == "Unsealed" && e["regarding"]["name"] == "db")
        .collect();
    assert!(!unsealed.is_empty());
    // Every API call made on the way is one the chart grants.
    assert_calls_listed(&emu);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unowned_secrets_are_refused_managed_and_patch_adopted() {
    let emu = emulator().await;
    emu.create(key_secret("second-key-secret.yaml", CONTROLLER_NS)).unwrap();
    let key = private_key("second.key");
    let plain = |name: &str, annotations: serde_json::Value| {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "app", "annotations": annotations},
               "data": {"keep": "a2VlcA==", "password": "b2xk"}})
    };
    emu.create(plain("theirs", json!({}))).unwrap();
    emu.create(plain("managed", json!({"sealedsecrets.bitnami.com/managed": "true"})))
        .unwrap();
    emu.create(plain("patched", json!({"sealedsecrets.bitnami.com/patch": "true"})))
        .unwrap();
    let _c = Controller::start(&emu, &[]);
    for name in ["theirs", "managed", "patched"] {
        emu.create(sealed_secret(&key, "app", name, &[("password", "new")]))
            .unwrap();
    }
    let (_, msg) = eventually(T, "theirs refused", || {
        synced(&emu, "app", "theirs").filter(|(s, _)| s == "False")
    })
    .await;
    assert_eq!(
        msg,
        "Resource \"theirs\" already exists and is not managed by SealedSecret"
    );
    let managed = eventually(T, "managed adopted", || {
        emu.get(V1, "secrets", Some("app"), "managed")
            .filter(|s| secret_data(s, "password").as_deref() == Some("new"))
    })
    .await;
    assert!(managed["data"].get("keep").is_none(), "managed replaces the data");
    assert_eq!(managed["metadata"]["ownerReferences"][0]["kind"], "SealedSecret");
    let patched = eventually(T, "patch merged", || {
        emu.get(V1, "secrets", Some("app"), "patched")
            .filter(|s| secret_data(s, "password").as_deref() == Some("new"))
    })
    .await;
    assert_eq!(
        secret_data(&patched, "keep").as_deref(),
        Some("keep"),
        "patch keeps other items"
    );
    assert!(
        patched["metadata"]["ownerReferences"].is_null(),
        "patch alone doesn't take ownership"
    );
    // The refused Secret was never written.
    let theirs = emu.get(V1, "secrets", Some("app"), "theirs").unwrap();
    assert_eq!(secret_data(&theirs, "password").as_deref(), Some("old"));
    assert!(!emu.writes().iter().any(|w| w.plural == "secrets" && w.name == "theirs"));
    // Every API call made on the way is one the chart grants.
    assert_calls_listed(&emu);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_restored_and_deletion_cascades() {
    let emu = emulator().await;
    emu.create(key_secret("second-key-secret.yaml", CONTROLLER_NS)).unwrap();
    let key = private_key("second.key");
    let c = Controller::start(&emu, &[]);
    emu.create(sealed_secret(&key, "app", "db", &[("password", "hunter2")]))
        .unwrap();
    eventually(T, "Secret", || emu.get(V1, "secrets", Some("app"), "db")).await;
    let client = emu.client();
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> = kube::Api::namespaced(client.clone(), "app");

    // A hand edit is reverted.
    let patch = json!({"data": {"password": "aGFja2Vk"}});
    secrets
        .patch(
            "db",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    eventually(T, "edit reverted", || {
        let s = emu.get(V1, "secrets", Some("app"), "db")?;
        (secret_data(&s, "password").as_deref() == Some("hunter2")).then_some(())
    })
    .await;

    // A deleted Secret is recreated.
    secrets.delete("db", &Default::default()).await.unwrap();
    eventually(T, "Secret recreated", || emu.get(V1, "secrets", Some("app"), "db")).await;

    // A label-only edit by someone else is left alone (not ours), and costs no decrypt.
    let before = scrape(&c).await;
    let decrypts = metric(&before, "sealed_secrets_controller_rsa_decrypts_total", &[]).unwrap();
    let patch = json!({"metadata": {"labels": {"team": "x"}}});
    secrets
        .patch(
            "db",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = scrape(&c).await;
    assert_eq!(
        metric(&after, "sealed_secrets_controller_rsa_decrypts_total", &[]),
        Some(decrypts)
    );
    assert_eq!(
        emu.get(V1, "secrets", Some("app"), "db").unwrap()["metadata"]["labels"]["team"],
        "x"
    );

    // Deleting the SealedSecret deletes its Secret (garbage collection).
    let sealed: kube::Api<gitseal_api::SealedSecret> = kube::Api::namespaced(client, "app");
    sealed.delete("db", &Default::default()).await.unwrap();
    eventually(T, "Secret collected", || {
        emu.get(V1, "secrets", Some("app"), "db").is_none().then_some(())
    })
    .await;
    // Every API call made on the way is one the chart grants.
    assert_calls_listed(&emu);
}

async fn scrape(c: &Controller) -> String {
    let (status, body) = http("GET", &format!("http://{}/metrics", c.metrics), None).await;
    assert_eq!(status, 200);
    body
}

fn key_secrets(emu: &kube_emulator::Emulator) -> Vec<serde_json::Value> {
    emu.list(V1, "secrets", Some(CONTROLLER_NS))
        .into_iter()
        .filter(|s| s["metadata"]["labels"]["sealedsecrets.bitnami.com/sealed-secrets-key"] == "active")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_generated_renewed_forced_and_hot_reloaded() {
    let emu = emulator().await;
    let c = Controller::start(&emu, &["--key-renew-period", "4s"]);
    // No key at start: the leader generates one, stored as Bitnami does.
    let first = eventually(T, "generated key", || key_secrets(&emu).into_iter().next()).await;
    assert_eq!(first["type"], "kubernetes.io/tls");
    assert!(
        first["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("sealed-secrets-key")
    );
    let pem = wait_ready(&c).await;
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    // Renewal after the period.
    eventually(Duration::from_secs(30), "renewed key", || {
        (key_secrets(&emu).len() >= 2).then_some(())
    })
    .await;
    // SIGUSR1 forces one more.
    let n = key_secrets(&emu).len();
    c.signal("USR1");
    eventually(T, "forced key", || (key_secrets(&emu).len() > n).then_some(())).await;
    // Every API call made on the way is one the chart grants.
    assert_calls_listed(&emu);
}

/// Waits for /readyz, then returns the served certificate.
async fn wait_ready(c: &Controller) -> String {
    for _ in 0..200 {
        if http("GET", &c.url("/readyz"), None).await.0 == 200 {
            let (status, pem) = http("GET", &c.url("/v1/cert.pem"), None).await;
            assert_eq!(status, 200);
            return pem;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("controller never became ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_secrets_added_and_removed_at_runtime() {
    let emu = emulator().await;
    emu.create(key_secret("second-key-secret.yaml", CONTROLLER_NS)).unwrap();
    let demo = private_key("demo.key");
    let c = Controller::start(&emu, &["--key-renew-period", "0"]);
    // Sealed to a key the controller doesn't have yet.
    emu.create(sealed_secret(&demo, "app", "late", &[("token", "t0k3n")]))
        .unwrap();
    eventually(T, "Synced=False", || {
        synced(&emu, "app", "late").filter(|(s, _)| s == "False")
    })
    .await;
    // Adding the key Secret fixes it without a restart.
    let added = emu.create(key_secret("demo-key-secret.yaml", CONTROLLER_NS)).unwrap();
    eventually(T, "Synced=True after key added", || {
        synced(&emu, "app", "late").filter(|(s, _)| s == "True")
    })
    .await;
    let secret = emu.get(V1, "secrets", Some("app"), "late").unwrap();
    assert_eq!(secret_data(&secret, "token").as_deref(), Some("t0k3n"));
    // Removing it: verify no longer succeeds for that SealedSecret.
    let ss = emu
        .get("bitnami.com/v1alpha1", "sealedsecrets", Some("app"), "late")
        .unwrap();
    assert_eq!(http("POST", &c.url("/v1/verify"), Some(&ss)).await.0, 200);
    let client = emu.client();
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> = kube::Api::namespaced(client, CONTROLLER_NS);
    secrets
        .delete(added["metadata"]["name"].as_str().unwrap(), &Default::default())
        .await
        .unwrap();
    let mut code = 0;
    for _ in 0..100 {
        code = http("POST", &c.url("/v1/verify"), Some(&ss)).await.0;
        if code == 409 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(code, 409);
    // A malformed key Secret is skipped, not fatal.
    emu.create(json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "broken-key", "namespace": CONTROLLER_NS, "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
        "data": {"tls.key": "bm90IGEga2V5", "tls.crt": "bm90IGEgY2VydA=="}}))
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(http("GET", &c.url("/healthz"), None).await.0, 200);
    assert_eq!(http("GET", &c.url("/v1/cert.pem"), None).await.0, 200);
    // Every API call made on the way is one the chart grants.
    assert_calls_listed(&emu);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failover_between_two_processes() {
    let emu = emulator().await;
    emu.create(key_secret("second-key-secret.yaml", CONTROLLER_NS)).unwrap();
    let key = private_key("second.key");
    let a = Controller::start(&emu, &["--pod-name", "replica-a"]);
    let b = Controller::start(&emu, &["--pod-name", "replica-b"]);
    let holder = || {
        emu.get(
            "coordination.k8s.io/v1",
            "leases",
            Some(CONTROLLER_NS),
            "gitseal-controller",
        )
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
    };
    let first = eventually(T, "a leader", holder).await;
    emu.create(sealed_secret(&key, "app", "one", &[("k", "v1")])).unwrap();
    eventually(T, "Secret one", || emu.get(V1, "secrets", Some("app"), "one")).await;
    // Both replicas serve the certificate.
    for c in [&a, &b] {
        assert_eq!(http("GET", &c.url("/v1/cert.pem"), None).await.0, 200);
    }
    // Kill the leader hard (no lease release): the other takes over within the lease duration.
    let (mut leader, survivor) = if first == "replica-a" { (a, b) } else { (b, a) };
    leader.child.kill().unwrap();
    let _ = leader.child.wait();
    let start = std::time::Instant::now();
    let next = eventually(T, "new leader", || holder().filter(|h| *h != first)).await;
    assert!(
        start.elapsed() < Duration::from_secs(3) + Duration::from_secs(3),
        "failover took {:?}",
        start.elapsed()
    );
    emu.create(sealed_secret(&key, "app", "two", &[("k", "v2")])).unwrap();
    eventually(T, "Secret two from the new leader", || {
        emu.get(V1, "secrets", Some("app"), "two")
    })
    .await;
    let metrics = scrape(&survivor).await;
    assert_eq!(
        metric(&metrics, "sealed_secrets_controller_leader", &[]),
        Some(1.0),
        "{next}"
    );
    // Every API call made on the way is one the chart grants.
    assert_calls_listed(&emu);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_rotate_endpoints_with_rate_limits() {
    let emu = emulator().await;
    emu.create(key_secret("second-key-secret.yaml", CONTROLLER_NS)).unwrap();
    emu.create(key_secret("demo-key-secret.yaml", CONTROLLER_NS)).unwrap();
    let old = private_key("second.key");
    let c = Controller::start(
        &emu,
        &[
            "--rate-limit",
            "1",
            "--rate-limit-burst",
            "3",
            "--key-renew-period",
            "0",
        ],
    );
    wait_ready(&c).await;
    let mut good = sealed_secret(&old, "app", "db", &[("password", "p")]);
    // A template that would leak the item through verify if it were rendered.
    good["spec"]["template"]["data"] = json!({"leak": "{{ fail .password }}"});
    let (code, body) = http("POST", &c.url("/v1/verify"), Some(&good)).await;
    assert_eq!(code, 200, "{body}");
    let mut tampered = good.clone();
    tampered["metadata"]["name"] = json!("renamed");
    let (code, body) = http("POST", &c.url("/v1/verify"), Some(&tampered)).await;
    assert_eq!(code, 409);
    assert_eq!(body.trim(), "unable to decrypt sealed secret");
    let (code, _) = http("POST", &c.url("/v1/verify"), Some(&good)).await;
    assert_eq!(code, 200);
    let (code, _) = http("POST", &c.url("/v1/verify"), Some(&good)).await;
    assert_eq!(code, 429, "burst of 3 exhausted");

    // Rotate: scope comes from the outer metadata; a widened template scope is overwritten.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut attack = sealed_secret(&old, "app", "db", &[("password", "p")]);
    attack["spec"]["template"]["metadata"]["annotations"] = json!({"sealedsecrets.bitnami.com/cluster-wide": "true"});
    let (code, body) = http("POST", &c.url("/v1/rotate"), Some(&attack)).await;
    assert_eq!(code, 200, "{body}");
    let rotated: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        rotated["metadata"]["annotations"]
            .get("sealedsecrets.bitnami.com/cluster-wide")
            .is_none()
    );
    assert!(
        rotated["spec"]["template"]["metadata"]["annotations"]
            .get("sealedsecrets.bitnami.com/cluster-wide")
            .is_none()
    );
    // Sealed to the newest key (the one whose cert is served), still for app/db in strict scope.
    let (_, pem) = http("GET", &c.url("/v1/cert.pem"), None).await;
    let served = gitseal_core::Certificate::from_pem(pem.as_bytes()).unwrap();
    let current = ["demo.key", "second.key"]
        .into_iter()
        .map(private_key)
        .find(|k| k.fingerprint() == served.public_key().fingerprint())
        .unwrap();
    let rotated_ss: gitseal_api::SealedSecret = serde_json::from_value(rotated).unwrap();
    let u = gitseal_core::unseal::unseal(&rotated_ss, &[current], Default::default()).unwrap();
    assert_eq!(u.secret.data.unwrap()["password"].0, b"p");
    let (code, _) = http("POST", &c.url("/v1/rotate"), Some(&tampered)).await;
    assert_eq!(code, 409);
    // Oversized bodies are refused.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let code = status_for_declared_length("POST", &c.url("/v1/verify"), 3 << 20).await;
    assert_eq!(code, 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_under_bitnami_names() {
    let emu = emulator().await;
    emu.create(key_secret("second-key-secret.yaml", CONTROLLER_NS)).unwrap();
    let key = private_key("second.key");
    let demo = private_key("demo.key");
    let c = Controller::start(&emu, &["--key-renew-period", "0"]);
    emu.create(sealed_secret(&key, "app", "good", &[("a", "1")])).unwrap();
    emu.create(sealed_secret(&demo, "app", "bad", &[("a", "1")])).unwrap();
    eventually(T, "both reconciled", || {
        (synced(&emu, "app", "good")?.0 == "True" && synced(&emu, "app", "bad")?.0 == "False").then_some(())
    })
    .await;
    let _ = http("GET", &c.url("/v1/cert.pem"), None).await;
    tokio::time::sleep(Duration::from_secs(11)).await; // one gauge refresh
    let m = scrape(&c).await;
    let p = "sealed_secrets_controller_";
    assert!(metric(&m, &format!("{p}build_info"), &[]).is_some(), "{m}");
    assert!(metric(&m, &format!("{p}unseal_requests_total"), &[]).unwrap() >= 2.0);
    assert!(
        metric(
            &m,
            &format!("{p}unseal_errors_total"),
            &[("reason", "unseal"), ("namespace", "app")]
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(
        metric(
            &m,
            &format!("{p}condition_info"),
            &[("name", "good"), ("condition", "Synced")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, &format!("{p}condition_info"), &[("name", "bad")]),
        Some(-1.0)
    );
    assert!(
        metric(
            &m,
            &format!("{p}http_requests_total"),
            &[("path", "/v1/cert.pem"), ("code", "200")]
        )
        .is_some()
    );
    assert!(
        metric(
            &m,
            &format!("{p}http_request_duration_seconds_count"),
            &[("path", "/v1/cert.pem")]
        )
        .is_some()
    );
    assert!(metric(&m, &format!("{p}reconcile_duration_seconds_count"), &[]).unwrap() >= 2.0);
    assert!(metric(&m, &format!("{p}rsa_decrypts_total"), &[]).unwrap() >= 1.0);
    assert_eq!(
        metric(&m, &format!("{p}sealed_secrets_per_key"), &[("status", "active")]),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compromised_keys_decrypt_but_are_never_served() {
    let emu = emulator().await;
    let mut compromised = key_secret("demo-key-secret.yaml", CONTROLLER_NS);
    compromised["metadata"]["labels"]["sealedsecrets.bitnami.com/sealed-secrets-key"] = json!("compromised");
    emu.create(compromised).unwrap();
    emu.create(key_secret("second-key-secret.yaml", CONTROLLER_NS)).unwrap();
    let c = Controller::start(&emu, &["--key-renew-period", "0"]);
    emu.create(sealed_secret(&private_key("demo.key"), "app", "old", &[("a", "1")]))
        .unwrap();
    eventually(T, "unsealed with the compromised key", || {
        synced(&emu, "app", "old").filter(|(s, _)| s == "True")
    })
    .await;
    let (_, pem) = http("GET", &c.url("/v1/cert.pem"), None).await;
    let served = gitseal_core::Certificate::from_pem(pem.as_bytes()).unwrap();
    assert_eq!(
        served.public_key().fingerprint(),
        private_key("second.key").fingerprint()
    );
    tokio::time::sleep(Duration::from_secs(11)).await;
    let m = scrape(&c).await;
    assert_eq!(
        metric(
            &m,
            "sealed_secrets_controller_sealed_secrets_per_key",
            &[("status", "compromised")]
        ),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_under_api_faults_and_never_touches_unowned_secrets() {
    let emu = emulator().await;
    emu.create(key_secret("second-key-secret.yaml", CONTROLLER_NS)).unwrap();
    let key = private_key("second.key");
    for i in 0..20 {
        emu.create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("s{i}"), "namespace": "app"}, "data": {"x": "eA=="}}))
            .unwrap();
    }
    for i in 0..500 {
        emu.create(sealed_secret(
            &key,
            "app",
            &format!("s{i}"),
            &[("item", &format!("value-{i}"))],
        ))
        .unwrap();
    }
    let faults = emu.faults();
    faults.set_seed(7);
    faults.set_error_rate(0.10, &[500, 429, 409]);
    faults.set_watch_drop_interval(Some(Duration::from_secs(2)));
    let _c = Controller::start(&emu, &["--key-renew-period", "0"]);
    tokio::time::sleep(Duration::from_secs(10)).await;
    faults.clear();
    assert!(faults.injected() > 0);
    eventually(Duration::from_secs(120), "all 480 owned Secrets", || {
        (20..500)
            .all(|i| {
                emu.get(V1, "secrets", Some("app"), &format!("s{i}"))
                    .is_some_and(|s| secret_data(&s, "item") == Some(format!("value-{i}")))
            })
            .then_some(())
    })
    .await;
    eventually(Duration::from_secs(60), "unowned refused with status", || {
        (0..20)
            .all(|i| synced(&emu, "app", &format!("s{i}")).is_some_and(|(s, _)| s == "False"))
            .then_some(())
    })
    .await;
    for i in 0..20 {
        let s = emu.get(V1, "secrets", Some("app"), &format!("s{i}")).unwrap();
        assert_eq!(secret_data(&s, "x").as_deref(), Some("x"));
    }
    let touched: Vec<_> = emu
        .writes()
        .into_iter()
        .filter(|w| w.plural == "secrets" && w.namespace.as_deref() == Some("app"))
        .filter(|w| {
            w.name
                .strip_prefix('s')
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n < 20)
        })
        .collect();
    assert!(touched.is_empty(), "unowned Secrets were written: {touched:?}");
    // Every API call made on the way is one the chart grants.
    assert_calls_listed(&emu);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_items_unseal_next_to_bitnami_ones_and_recipients_are_served() {
    use gitseal_core::seal::{InputSecret, SealOptions, merge_into, seal};
    use gitseal_core::v2::{Identity, Recipient};
    let emu = emulator().await;
    let c = Controller::start(&emu, &[]);
    // The generated key carries an age identity; its recipient is served.
    let pem = wait_ready(&c).await;
    let (status, body) = http("GET", &c.url("/v1/recipients"), None).await;
    assert_eq!(status, 200, "{body}");
    let served = gitseal_core::v2::parse_recipients(&body).unwrap();
    assert_eq!(served.len(), 1);
    let key = &key_secrets(&emu)[0];
    assert!(key["data"]["age.key"].is_string(), "stored in the key Secret");

    // One Bitnami item sealed to the certificate, one v2 item sealed to the
    // cluster and to a recovery key the cluster never sees.
    let cert = gitseal_core::Certificate::from_pem(pem.as_bytes()).unwrap();
    let input = |data: serde_json::Value| {
        InputSecret::from_value(&json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "mixed", "namespace": "app"}, "stringData": data}))
        .unwrap()
    };
    let mut ss = seal(input(json!({"rsa": "one"})), cert.public_key(), &SealOptions::default()).unwrap();
    let recovery = Identity::generate();
    let recipients: Vec<Recipient> = vec![served[0].clone(), recovery.recipient().clone()];
    merge_into(&mut ss, input(json!({"age": "two"})), recipients.as_slice()).unwrap();
    emu.create(serde_json::to_value(&ss).unwrap()).unwrap();
    let secret = eventually(T, "Secret app/mixed", || emu.get(V1, "secrets", Some("app"), "mixed")).await;
    assert_eq!(secret_data(&secret, "rsa").as_deref(), Some("one"));
    assert_eq!(secret_data(&secret, "age").as_deref(), Some("two"));
    let m = scrape(&c).await;
    let p = "sealed_secrets_controller_";
    assert_eq!(
        metric(&m, &format!("{p}unsealed_items_total"), &[("format", "v2")]),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, &format!("{p}unsealed_items_total"), &[("format", "bitnami")]),
        Some(1.0)
    );

    // A SealedSecret of v2 items only records the key whose age identity opened
    // it, so the per-key count (and key retirement) sees it.
    let opts = SealOptions {
        name: Some("v2only"),
        ..Default::default()
    };
    let only_ss = seal(input(json!({"only": "three"})), recipients.as_slice(), &opts).unwrap();
    emu.create(serde_json::to_value(&only_ss).unwrap()).unwrap();
    let secret = eventually(T, "Secret app/v2only", || emu.get(V1, "secrets", Some("app"), "v2only")).await;
    assert_eq!(secret_data(&secret, "only").as_deref(), Some("three"));
    assert_eq!(
        secret["metadata"]["annotations"]["gitseal.dev/keys"].as_str(),
        Some(cert.public_key().short_fingerprint().as_str())
    );

    // A v2 value moved to another SealedSecret is refused, with the reason.
    let mut moved = ss.clone();
    moved.metadata.name = Some("moved".into());
    moved.spec.encrypted_data.remove("rsa");
    emu.create(serde_json::to_value(&moved).unwrap()).unwrap();
    let (_, message) = eventually(T, "Synced=False", || {
        synced(&emu, "app", "moved").filter(|(s, _)| s == "False")
    })
    .await;
    assert!(message.contains("item \"age\": the value is bound to"), "{message}");

    // /v1/verify opens v2 items too.
    let (status, _) = http("POST", &c.url("/v1/verify"), Some(&serde_json::to_value(&ss).unwrap())).await;
    assert_eq!(status, 200);
    assert_calls_listed(&emu);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_selector_never_hides_an_existing_secret() {
    // The selector picks SealedSecrets by label; their Secrets need not carry it,
    // so the Secret cache can't say a Secret is absent.
    let emu = emulator().await;
    emu.create(key_secret("second-key-secret.yaml", CONTROLLER_NS)).unwrap();
    let key = private_key("second.key");
    let flags = ["--label-selector", "tier=prod"];
    let labelled = |value: &str| {
        let mut ss = sealed_secret(&key, "app", "db", &[("password", value)]);
        ss["metadata"]["labels"] = json!({"tier": "prod"});
        ss
    };
    let c = Controller::start(&emu, &flags);
    emu.create(labelled("one")).unwrap();
    let secret = eventually(T, "Secret app/db", || emu.get(V1, "secrets", Some("app"), "db")).await;
    assert!(secret["metadata"]["labels"]["tier"].is_null());
    drop(c);

    // A new process, then a change: it must update the Secret, not try to create it.
    let _c = Controller::start(&emu, &flags);
    let mut updated = labelled("two");
    let current = emu
        .get("bitnami.com/v1alpha1", "sealedsecrets", Some("app"), "db")
        .unwrap();
    updated["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    let api: kube::Api<gitseal_api::SealedSecret> = kube::Api::namespaced(emu.client(), "app");
    api.replace("db", &Default::default(), &serde_json::from_value(updated).unwrap())
        .await
        .unwrap();
    eventually(T, "updated Secret", || {
        let s = emu.get(V1, "secrets", Some("app"), "db")?;
        (secret_data(&s, "password").as_deref() == Some("two")).then_some(())
    })
    .await;
    let (status, message) = eventually(T, "Synced", || synced(&emu, "app", "db")).await;
    assert_eq!((status.as_str(), message.as_str()), ("True", ""));
}
