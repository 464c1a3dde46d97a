//! The service proxy subresource: `/api/v1/namespaces/{ns}/services/{[scheme:]name[:port]}/proxy/{path}`
//! is forwarded to a backend registered with
//! [`Emulator::register_service_backend`](crate::Emulator::register_service_backend).

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header;
use http::request::Parts;
use http_body_util::Full;

use crate::Shared;
use crate::status::ApiError;

pub(crate) type ProxyClient =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub(crate) fn client() -> ProxyClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

pub(crate) struct ProxyTarget {
    namespace: String,
    service: String,
    path: String,
}

/// Recognise a service proxy path.
pub(crate) fn parse(path: &str) -> Option<ProxyTarget> {
    let mut it = path.strip_prefix("/api/v1/namespaces/")?.splitn(4, '/');
    let namespace = it.next()?.to_string();
    if it.next()? != "services" {
        return None;
    }
    let spec = it.next()?;
    let rest = it.next()?;
    let path = match rest.strip_prefix("proxy") {
        Some("") => "",
        Some(p) if p.starts_with('/') => &p[1..],
        _ => return None,
    };
    // `name`, `name:port`, or `scheme:name:port`
    let parts: Vec<&str> = spec.split(':').collect();
    let service = if parts.len() == 3 { parts[1] } else { parts[0] }.to_string();
    Some(ProxyTarget {
        namespace,
        service,
        path: path.to_string(),
    })
}

fn is_hop_by_hop(name: &header::HeaderName) -> bool {
    [
        header::CONNECTION,
        header::HOST,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::TE,
        header::TRAILER,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

pub(crate) async fn forward(shared: &Shared, target: ProxyTarget, parts: Parts, body: Body) -> Response {
    let backend = {
        let st = shared.lock();
        let services = st.store.resolve("", "v1", "services").expect("services are built in");
        if st.store.get(services, &target.namespace, &target.service).is_none() {
            return ApiError::not_found("services", &target.service).into_response();
        }
        st.backends
            .get(&(target.namespace.clone(), target.service.clone()))
            .copied()
    };
    let Some(addr) = backend else {
        let message = format!("no endpoints available for service \"{}\"", target.service);
        return ApiError::new(503, message).into_response();
    };
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return ApiError::bad_request(e.to_string()).into_response(),
    };
    let query = parts.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let mut req = http::Request::builder()
        .method(parts.method)
        .uri(format!("http://{addr}/{}{query}", target.path));
    for (name, value) in parts.headers.iter().filter(|(n, _)| !is_hop_by_hop(n)) {
        req = req.header(name, value);
    }
    let req = match req.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return ApiError::bad_request(e.to_string()).into_response(),
    };
    match shared.proxy.request(req).await {
        Ok(resp) => {
            let (mut parts, body) = resp.into_parts();
            let headers = std::mem::take(&mut parts.headers);
            let mut last = None;
            for (name, value) in headers {
                last = name.or(last);
                if let Some(name) = last.as_ref().filter(|n| !is_hop_by_hop(n)) {
                    parts.headers.append(name.clone(), value);
                }
            }
            Response::from_parts(parts, Body::new(body))
        }
        Err(e) => ApiError::new(503, format!("error trying to reach service: {e}")).into_response(),
    }
}
