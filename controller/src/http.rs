//! The HTTP API on `--listen-addr` and the metrics endpoint on
//! `--listen-metrics-addr`.
//!
//! | path | |
//! |---|---|
//! | `/healthz` | 200 `ok` while the process serves |
//! | `/readyz` | 200 once keys are loaded, else 503 |
//! | `/v1/cert.pem` | the newest active certificate |
//! | `/v1/recipients` | the active keys' age recipients, newest first, one per line (404 if none has one) |
//! | `/v1/verify` | 200 if the posted SealedSecret decrypts, 409 if not (templates never rendered) |
//! | `/v1/rotate` | the posted SealedSecret re-sealed to the newest key, scope from its own metadata |
//!
//! Bodies are size-limited; verify and rotate are rate-limited per client.
//! Every replica serves these from the shared key Secrets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use gitseal_api::SealedSecret;
use gitseal_core::rotate::reseal;
use gitseal_core::unseal::{UnsealOptions, unseal_with};
use gitseal_core::{PrivateKey, PublicKey};

use crate::keywatch::KeyStore;
use crate::metrics::{HttpDurationLabels, HttpLabels, Metrics};
use crate::ratelimit::RateLimiter;

#[derive(Clone)]
pub struct ApiState {
    pub keys: Arc<KeyStore>,
    pub metrics: Arc<Metrics>,
    pub limiter: Option<Arc<RateLimiter>>,
    pub accept_deprecated_v1_data: bool,
}

pub fn router(state: ApiState, max_body: usize, timeout: std::time::Duration) -> Router {
    let limited = Router::new()
        .route("/v1/verify", any(verify))
        .route("/v1/rotate", any(rotate))
        .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    Router::new()
        .route("/healthz", any(|| async { "ok\n" }))
        .route("/readyz", any(ready))
        .route("/v1/cert.pem", any(cert))
        .route("/v1/recipients", any(recipients))
        .merge(limited)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .with_state(state)
}

pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.encode(),
                )
            }
        }),
    )
}

async fn observe(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    state
        .metrics
        .http_requests
        .get_or_create(&HttpLabels {
            path: path.clone(),
            code: resp.status().as_u16().to_string(),
            method: method.clone(),
        })
        .inc();
    state
        .metrics
        .http_duration
        .get_or_create(&HttpDurationLabels { path, method })
        .observe(start.elapsed().as_secs_f64());
    resp
}

/// The client as upstream keys it: the first `X-Forwarded-For` hop (the API
/// server's proxy sets it), else the peer address.
fn client_of(headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| peer.map(|p| p.ip().to_string()))
        .unwrap_or_default()
}

async fn rate_limit(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    if let Some(limiter) = &state.limiter {
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let client = format!("{} {}", req.uri().path(), client_of(req.headers(), peer));
        if let Err(wait) = limiter.check(&client, Instant::now()) {
            let mut resp = (StatusCode::TOO_MANY_REQUESTS, "Too many requests\n").into_response();
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
    }
    next.run(req).await
}

async fn ready(State(state): State<ApiState>) -> Response {
    if state.keys.is_ready() && state.keys.snapshot().current().is_some() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no sealing key loaded yet\n").into_response()
    }
}

async fn cert(State(state): State<ApiState>) -> Response {
    match state.keys.snapshot().current() {
        Some(k) => (
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            k.certificate.to_pem(),
        )
            .into_response(),
        None => (StatusCode::INTERNAL_SERVER_ERROR, "cannot get certificate\n").into_response(),
    }
}

async fn recipients(State(state): State<ApiState>) -> Response {
    let keys = state.keys.snapshot();
    let list: String = keys.recipients().iter().map(|r| format!("{}\n", r.as_str())).collect();
    if list.is_empty() {
        return (StatusCode::NOT_FOUND, "no active key has an age recipient\n").into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], list).into_response()
}

/// One SealedSecret from a JSON or single-document YAML body.
fn parse_body(body: &[u8]) -> Result<SealedSecret, String> {
    let text = gitseal_core::manifest::decode_text(body).map_err(|e| e.to_string())?;
    let docs = gitseal_core::manifest::parse_documents(&text).map_err(|e| e.to_string())?;
    let mut docs = docs.into_iter();
    let (Some(doc), None) = (docs.next(), docs.next()) else {
        return Err("expected exactly one SealedSecret document".into());
    };
    gitseal_core::meta::expect_kind(&doc.value, "bitnami.com/v1alpha1", "SealedSecret")?;
    serde_json::from_value(doc.value).map_err(|e| format!("invalid SealedSecret: {e}"))
}

/// RSA keys in decryption order, and age identities.
type Keys<'a> = (&'a [&'a PrivateKey], &'a [&'a gitseal_core::v2::Identity]);

/// Parses the body and runs `f` with every loaded key (newest first) on the
/// blocking pool. Templates are never rendered here, so these endpoints are no
/// decryption oracle (upstream #2019, #2049). `Err(response)` for a bad body;
/// `Ok(None)` if `f` failed.
async fn with_keys<T: Send + 'static>(
    state: &ApiState,
    body: &[u8],
    f: impl FnOnce(&SealedSecret, Keys<'_>, Option<&PublicKey>, UnsealOptions) -> Option<T> + Send + 'static,
) -> Result<Option<T>, Response> {
    let ss = parse_body(body).map_err(|msg| (StatusCode::BAD_REQUEST, format!("{msg}\n")).into_response())?;
    let keys = state.keys.snapshot();
    let opts = UnsealOptions {
        accept_deprecated_v1_data: state.accept_deprecated_v1_data,
        skip_templates: true,
    };
    let result = tokio::task::spawn_blocking(move || {
        let current = keys.current().map(|k| k.key.public_key());
        let hint = gitseal_core::seal::sealed_to(ss.metadata.annotations.as_ref());
        let order = keys.decryption_order(&hint);
        let identities = keys.age_identities();
        f(&ss, (&order, &identities), current, opts)
    })
    .await;
    Ok(result.ok().flatten())
}

async fn verify(State(state): State<ApiState>, body: Bytes) -> Response {
    let opened = with_keys(&state, &body, |ss, (keys, identities), _, opts| {
        unseal_with(ss, keys, identities, opts).ok().map(|u| u.rsa_operations)
    });
    match opened.await {
        Err(resp) => resp,
        Ok(Some(ops)) => {
            state.metrics.rsa_decrypts.inc_by(ops as u64);
            (StatusCode::OK, "").into_response()
        }
        Ok(None) => (StatusCode::CONFLICT, "unable to decrypt sealed secret\n").into_response(),
    }
}

async fn rotate(State(state): State<ApiState>, body: Bytes) -> Response {
    let rotated = with_keys(&state, &body, |ss, (keys, _), current, opts| {
        reseal(ss, keys, current?, opts).ok()
    });
    match rotated.await {
        Err(resp) => resp,
        Ok(Some(rotated)) => match serde_json::to_vec(&rotated) {
            Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
            Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode\n").into_response(),
        },
        Ok(None) => (StatusCode::CONFLICT, "unable to rotate secret\n").into_response(),
    }
}
