//! `metav1.Status` error responses, shaped like the real API server's so that kube-rs turns them
//! into `kube::Error::Api(Status)` with the usual `reason`/`code`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

/// A failed API request: HTTP code, machine-readable reason, human message and optional details.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

/// The `reason` the real API server pairs with an HTTP status code.
pub(crate) fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}

impl ApiError {
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: reason_for(code),
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, name: &str, resource: &str) -> Self {
        let (kind, group) = resource.split_once('.').unwrap_or((resource, ""));
        let mut d = json!({ "name": name, "kind": kind });
        if !group.is_empty() {
            d["group"] = json!(group);
        }
        self.details = Some(d);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// `resource` is the group-qualified plural, e.g. `secrets` or `widgets.example.com`.
    pub fn not_found(resource: &str, name: &str) -> Self {
        Self::new(404, format!("{resource} \"{name}\" not found")).with_details(name, resource)
    }

    pub fn path_not_found() -> Self {
        Self::new(404, "the server could not find the requested resource")
    }

    pub fn already_exists(resource: &str, name: &str) -> Self {
        let mut e = Self::new(409, format!("{resource} \"{name}\" already exists")).with_details(name, resource);
        e.reason = "AlreadyExists";
        e
    }

    pub fn conflict(resource: &str, name: &str) -> Self {
        Self::new(
            409,
            format!(
                "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again"
            ),
        )
        .with_details(name, resource)
    }

    /// 422 Invalid, `Kind "name" is invalid: <field>: <detail>`.
    pub fn invalid(kind: &str, name: &str, detail: &str) -> Self {
        let mut e = Self::new(422, format!("{kind} \"{name}\" is invalid: {detail}"));
        e.details = Some(json!({ "name": name, "kind": kind }));
        e
    }

    pub fn expired(message: &str) -> Self {
        Self::new(410, message)
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        });
        let mut details = self.details.clone();
        if self.code == 429 {
            details.get_or_insert_with(|| json!({}))["retryAfterSeconds"] = json!(1);
        }
        if let Some(d) = details {
            v["details"] = d;
        }
        v["code"] = json!(self.code);
        v
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = crate::http::json_response(code, &self.to_json());
        if self.code == 429 {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}
