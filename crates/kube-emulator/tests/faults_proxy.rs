//! Fault injection and the service proxy.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams, PostParams};
use kube_emulator::Emulator;
use serde_json::{Value, json};

/// A plain HTTP request (no kube client retries): status, Retry-After header and body.
async fn raw(emu: &Emulator, method: &str, path: &str) -> (u16, Option<String>, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", emu.url()))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, retry_after, String::from_utf8(body.to_vec()).unwrap())
}

fn code(e: kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn error_rate_targeted_and_delay() {
    let emu = Emulator::start().await.unwrap();
    let faults = emu.faults();
    let secrets: Api<Secret> = Api::default_namespaced(emu.client());

    faults.set_error_rate(1.0, &[500]);
    let err = secrets.list(&ListParams::default()).await.unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!(
            (s.code, s.reason.as_str(), s.status.is_some()),
            (500, "InternalError", true)
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(code(secrets.get("x").await.unwrap_err()), 500);
    assert_eq!(faults.injected(), 2);
    // Direct store access bypasses faults.
    assert!(emu.get("v1", "namespaces", None, "default").is_some());
    faults.clear();
    assert!(secrets.list(&ListParams::default()).await.unwrap().items.is_empty());

    // Targeted: only matching method + path, only `count` times.
    faults.fail_next("POST", "/secrets", 409, 2);
    let s: Secret = serde_json::from_value(json!({"metadata": {"name": "s"}})).unwrap();
    assert_eq!(code(secrets.create(&PostParams::default(), &s).await.unwrap_err()), 409);
    assert!(secrets.list(&ListParams::default()).await.is_ok());
    assert_eq!(code(secrets.create(&PostParams::default(), &s).await.unwrap_err()), 409);
    secrets.create(&PostParams::default(), &s).await.unwrap();
    assert_eq!(faults.injected(), 4);

    // 429 carries Retry-After, which kube's default client honours before retrying.
    faults.fail_next("GET", "/secrets/s", 429, 1);
    let (status, retry_after, body) = raw(&emu, "GET", "/api/v1/namespaces/default/secrets/s").await;
    assert_eq!((status, retry_after.as_deref()), (429, Some("1")));
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (body["kind"].as_str(), body["reason"].as_str()),
        (Some("Status"), Some("TooManyRequests"))
    );
    faults.fail_next("GET", "/secrets/s", 429, 1);
    let started = Instant::now();
    secrets.get("s").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900));

    // Random failures follow the seeded PRNG.
    faults.set_seed(42);
    faults.set_error_rate(0.5, &[500, 503]);
    let before = faults.injected();
    let mut failed = 0;
    for _ in 0..40 {
        let (status, _, _) = raw(&emu, "GET", "/api/v1/namespaces/default/secrets").await;
        assert!([200, 500, 503].contains(&status));
        failed += u64::from(status != 200);
    }
    assert!((5..35).contains(&failed), "{failed}");
    assert_eq!(faults.injected() - before, failed);
    faults.clear();

    faults.set_delay(Duration::from_millis(200));
    let started = Instant::now();
    secrets.get("s").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    faults.clear();
}

#[tokio::test]
async fn service_proxy() {
    let emu = Emulator::start().await.unwrap();
    let backend = axum::Router::new()
        .route("/v1/cert.pem", axum::routing::get(|| async { "CERT" }))
        .route(
            "/v1/verify",
            axum::routing::post(|body: String| async move { (http::StatusCode::CONFLICT, format!("bad: {body}")) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, backend).await.unwrap() });

    let path = "/api/v1/namespaces/default/services/http:sealer:/proxy/v1/cert.pem";
    let (status, _, body) = raw(&emu, "GET", path).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains(r#"services \"sealer\" not found"#), "{body}");

    emu.create(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "sealer"}, "spec": {"ports": [{"port": 8080}]}}))
        .unwrap();
    let (status, _, body) = raw(&emu, "GET", path).await;
    assert_eq!(status, 503);
    assert!(
        body.contains(r#"no endpoints available for service \"sealer\""#),
        "{body}"
    );

    emu.register_service_backend("default", "sealer", backend_addr);
    // Faults do not apply to the proxy.
    emu.faults().set_error_rate(1.0, &[500]);
    let client = emu.client();
    let req = http::Request::get(path).body(Vec::new()).unwrap();
    assert_eq!(client.request_text(req).await.unwrap(), "CERT");
    let req = http::Request::post("/api/v1/namespaces/default/services/sealer:8080/proxy/v1/verify")
        .body(b"xyz".to_vec())
        .unwrap();
    let err = client.request_text(req).await.unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!((s.code, s.message.as_str()), (409, "bad: xyz")),
        other => panic!("{other:?}"),
    }
    emu.faults().clear();
    let cms: Api<ConfigMap> = Api::default_namespaced(emu.client());
    assert!(cms.list(&ListParams::default()).await.unwrap().items.is_empty());
}
