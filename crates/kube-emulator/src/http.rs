//! Request routing and the REST verbs: URL parsing, get / list / watch / create / update / patch /
//! delete / deletecollection, metadata-only (`as=PartialObjectMetadata[List]`) and minimal
//! `as=Table` responses for kubectl.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use crate::patch::{self, PatchKind};
use crate::selectors::Filter;
use crate::status::ApiError;
use crate::store::{ResourceType, Store, meta_str};
use crate::watch::WatchStream;
use crate::{RequestAttributes, Shared, State as EmuState, WriteRecord, discovery, faults, protobuf, proxy};

const MAX_BODY: usize = 64 * 1024 * 1024;

pub(crate) fn json_response(code: StatusCode, value: &Value) -> Response {
    let mut resp = Response::new(Body::from(serde_json::to_vec(value).unwrap_or_default()));
    *resp.status_mut() = code;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn partial(obj: &Value) -> Value {
    json!({ "apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": obj["metadata"] })
}

/// An object as served at `version`: apiVersion rewritten (versions share storage), or metadata only.
pub(crate) fn render(obj: &Value, rt: &ResourceType, version: &str, meta_only: bool) -> Value {
    if meta_only {
        return partial(obj);
    }
    let mut out = obj.clone();
    out["apiVersion"] = json!(rt.api_version(version));
    out
}

struct Req {
    method: Method,
    query: HashMap<String, String>,
    accept: String,
    content_type: String,
    user_agent: String,
    body: Bytes,
}

impl Req {
    fn q(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }
    fn flag(&self, key: &str) -> bool {
        matches!(self.q(key), Some("true" | "1"))
    }
    fn meta_only(&self) -> bool {
        self.accept.contains("as=PartialObjectMetadata")
    }
    fn table(&self) -> bool {
        self.accept.contains("as=Table")
    }
    fn dry_run(&self) -> bool {
        self.q("dryRun") == Some("All")
    }
    fn json_body(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    }
    fn filter(&self) -> Result<Filter, ApiError> {
        Filter::parse(self.q("labelSelector"), self.q("fieldSelector")).map_err(ApiError::bad_request)
    }
}

/// A resolved resource URL.
struct Target {
    rt: ResourceType,
    version: String,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

impl Target {
    fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }
    fn not_found(&self, name: &str) -> ApiError {
        ApiError::not_found(&self.rt.qualified(), name)
    }
    fn record(&self, st: &mut EmuState, req: &Req, name: &str) {
        if req.dry_run() {
            return;
        }
        st.writes.push(WriteRecord {
            method: req.method.to_string(),
            api_version: self.rt.api_version(&self.version),
            plural: self.rt.plural.clone(),
            namespace: self.namespace.clone(),
            name: name.to_string(),
            subresource: self.sub.clone(),
            field_manager: req.q("fieldManager").map(str::to_string),
        });
    }
    fn object_response(&self, code: StatusCode, obj: &Value, req: &Req) -> Response {
        if req.table() {
            return json_response(
                code,
                &table(std::slice::from_ref(obj), meta_str(obj, "resourceVersion")),
            );
        }
        json_response(code, &render(obj, &self.rt, &self.version, req.meta_only()))
    }
}

/// The single axum handler behind every path.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Some(target) = proxy::parse(parts.uri.path()) {
        return proxy::forward(&shared, target, parts, body).await;
    }
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    if let Some(resp) = faults::intercept(&shared, parts.method.as_str(), &path_and_query).await {
        return resp;
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return ApiError::bad_request(e.to_string()).into_response(),
    };
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut req = Req {
        method: parts.method.clone(),
        query: Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|q| q.0)
            .unwrap_or_default(),
        accept: header(header::ACCEPT),
        content_type: header(header::CONTENT_TYPE),
        user_agent: header(header::USER_AGENT),
        body,
    };
    if !req.body.is_empty() && req.content_type.contains("protobuf") {
        let Some(obj) = protobuf::to_json(&req.body) else {
            let message =
                "the body of the request was in an unknown format - accepted media types include: application/json";
            return ApiError::new(415, message).into_response();
        };
        req.body = Bytes::from(serde_json::to_vec(&obj).unwrap_or_default());
        req.content_type = "application/json".to_string();
    }
    let segments: Vec<&str> = parts.uri.path().split('/').filter(|s| !s.is_empty()).collect();
    dispatch(&shared, &segments, &req).unwrap_or_else(IntoResponse::into_response)
}

fn dispatch(shared: &Arc<Shared>, segments: &[&str], req: &Req) -> Result<Response, ApiError> {
    let found = |v: Option<Value>| {
        v.map(|v| json_response(StatusCode::OK, &v))
            .ok_or_else(ApiError::path_not_found)
    };
    let (group, version, rest) = match segments {
        ["version"] => return found(Some(discovery::version())),
        ["api"] => return found(Some(discovery::api_versions(shared.addr))),
        ["apis"] => return found(Some(discovery::group_list(&shared.lock().store))),
        ["apis", group] => return found(discovery::group(&shared.lock().store, group)),
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::path_not_found()),
    };
    if rest.is_empty() {
        return found(discovery::resource_list(&shared.lock().store, group, version));
    }
    let target = resolve(&shared.lock().store, group, version, rest)?;
    let verb = match (req.method.as_str(), target.name.is_some()) {
        ("GET", false) if req.flag("watch") => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", false) => "deletecollection",
        ("DELETE", true) => "delete",
        (other, _) => other,
    };
    shared.lock().requests.insert(RequestAttributes {
        verb: verb.to_string(),
        group: group.to_string(),
        resource: target.rt.plural.clone(),
        subresource: target.sub.clone(),
        namespace: target.namespace.clone(),
        user_agent: req.user_agent.clone(),
    });
    match (req.method.as_str(), target.name.clone()) {
        ("GET", None) if req.flag("watch") => watch(shared, &target, req),
        ("GET", None) => list(shared, &target, req),
        ("POST", None) if target.namespace.is_some() || !target.rt.namespaced => create(shared, &target, req),
        ("DELETE", None) => delete_collection(shared, &target, req),
        ("GET", Some(name)) => {
            let obj = shared.lock().store.get(&target.rt, target.ns(), &name);
            let obj = obj.ok_or_else(|| target.not_found(&name))?;
            Ok(target.object_response(StatusCode::OK, &obj, req))
        }
        ("PUT", Some(name)) => {
            let obj = req.json_body()?;
            let mut st = shared.lock();
            let updated = st.store.update(
                &target.rt,
                target.ns(),
                &name,
                obj,
                target.sub.as_deref(),
                req.dry_run(),
            )?;
            target.record(&mut st, req, &name);
            drop(st);
            Ok(target.object_response(StatusCode::OK, &updated, req))
        }
        ("PATCH", Some(name)) => patch(shared, &target, &name, req),
        ("DELETE", Some(name)) if target.sub.is_none() => {
            let options: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let dry_run = req.dry_run() || options["dryRun"].as_array().is_some_and(|a| a.contains(&json!("All")));
            let mut st = shared.lock();
            let deleted = st
                .store
                .delete(&target.rt, target.ns(), &name, &options["preconditions"], dry_run)?;
            if !dry_run {
                target.record(&mut st, req, &name);
            }
            drop(st);
            Ok(target.object_response(StatusCode::OK, &deleted, req))
        }
        (method, _) => Err(ApiError::new(
            405,
            format!("the server does not allow the {method} method on this resource"),
        )),
    }
}

/// Map the path after `/api/v1` or `/apis/{g}/{v}` to a resource, namespace, name and subresource.
fn resolve(store: &Store, group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    let namespaced = match rest {
        ["namespaces", ns, plural, tail @ ..] => store
            .resolve(group, version, plural)
            .filter(|rt| rt.namespaced)
            .map(|rt| (rt, Some(ns.to_string()), tail)),
        _ => None,
    };
    let (rt, namespace, tail) = match namespaced {
        Some(found) => found,
        None => match store.resolve(group, version, rest[0]) {
            Some(rt) if !rt.namespaced || rest.len() == 1 => (rt, None, &rest[1..]),
            _ => return Err(ApiError::path_not_found()),
        },
    };
    let (name, sub) = match tail {
        [] => (None, None),
        [name] => (Some(name.to_string()), None),
        [name, "status"] if rt.status => (Some(name.to_string()), Some("status".to_string())),
        _ => return Err(ApiError::path_not_found()),
    };
    Ok(Target {
        rt: rt.clone(),
        version: version.to_string(),
        namespace,
        name,
        sub,
    })
}

fn encode_continue(rv: u64, last: &Value) -> String {
    let token = json!([rv, meta_str(last, "namespace"), meta_str(last, "name")]).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token)
}

fn decode_continue(token: &str) -> Option<(u64, String, String)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
    serde_json::from_slice(&raw).ok()
}

fn list(shared: &Arc<Shared>, target: &Target, req: &Req) -> Result<Response, ApiError> {
    let filter = req.filter()?;
    let limit = req.q("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0);
    let cursor = match req.q("continue").filter(|c| !c.is_empty()) {
        Some(token) => Some(decode_continue(token).ok_or_else(|| ApiError::bad_request("invalid continue token"))?),
        None => None,
    };
    let (items, list_rv, next) = {
        let st = shared.lock();
        // Continued pages report the first page's resourceVersion, so a watch started from the
        // list replays anything that changed while paging (there is no MVCC snapshot).
        let list_rv = match &cursor {
            Some((rv, ..)) if *rv < st.store.compacted() => {
                return Err(ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. \
                     You can start a new list without the continue parameter.",
                ));
            }
            Some((rv, ..)) => *rv,
            None => st.store.resource_version(),
        };
        let after = cursor.map(|(_, ns, name)| (ns, name));
        let mut matching = st
            .store
            .iter(&target.rt, target.namespace.as_deref(), after)
            .filter(|o| filter.matches(o));
        let items: Vec<Arc<Value>> = matching.by_ref().take(limit.unwrap_or(usize::MAX)).cloned().collect();
        let more = limit.is_some() && matching.next().is_some();
        let next = items.last().filter(|_| more).map(|last| encode_continue(list_rv, last));
        (items, list_rv, next)
    };
    let mut metadata = json!({ "resourceVersion": list_rv.to_string() });
    if let Some(token) = next {
        metadata["continue"] = json!(token);
    }
    let body = if req.table() {
        table(
            &items.iter().map(|o| (**o).clone()).collect::<Vec<_>>(),
            &list_rv.to_string(),
        )
    } else if req.meta_only() {
        let items: Vec<Value> = items.iter().map(|o| partial(o)).collect();
        json!({ "apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList", "metadata": metadata, "items": items })
    } else {
        let items: Vec<Value> = items
            .iter()
            .map(|o| render(o, &target.rt, &target.version, false))
            .collect();
        let api_version = target.rt.api_version(&target.version);
        json!({ "apiVersion": api_version, "kind": target.rt.list_kind, "metadata": metadata, "items": items })
    };
    Ok(json_response(StatusCode::OK, &body))
}

fn watch(shared: &Arc<Shared>, target: &Target, req: &Req) -> Result<Response, ApiError> {
    let filter = req.filter()?;
    let rv = req.q("resourceVersion").unwrap_or("");
    let send_initial = req.flag("sendInitialEvents");
    let st = shared.lock();
    let start_rv = st.store.resource_version();
    let (initial, replay, live) = if send_initial || rv.is_empty() || rv == "0" {
        let ns = target.namespace.as_deref();
        let initial = st
            .store
            .iter(&target.rt, ns, None)
            .filter(|o| filter.matches(o))
            .cloned()
            .collect();
        let live = st.store.subscribe(start_rv).map(|(_, live)| live);
        (initial, Vec::new(), live)
    } else {
        let rv: u64 = rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?;
        match st.store.subscribe(rv) {
            Some((replay, live)) => (Vec::new(), replay, Some(live)),
            None => (Vec::new(), Vec::new(), None),
        }
    };
    let stream = WatchStream {
        rt: target.rt.clone(),
        version: target.version.clone(),
        namespace: target.namespace.clone(),
        filter,
        meta_only: req.meta_only(),
        bookmarks: req.flag("allowWatchBookmarks"),
        timeout: req
            .q("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .map(Duration::from_secs),
        initial,
        initial_end: send_initial,
        replay,
        start_rv,
        live,
        drops: shared.drops.subscribe(),
    };
    drop(st);
    Ok(stream.respond())
}

fn create(shared: &Arc<Shared>, target: &Target, req: &Req) -> Result<Response, ApiError> {
    let obj = req.json_body()?;
    if !meta_str(&obj, "resourceVersion").is_empty() {
        return Err(ApiError::new(
            500,
            "resourceVersion should not be set on objects to be created",
        ));
    }
    if let Some(kind) = obj["kind"].as_str().filter(|k| *k != target.rt.kind && !k.is_empty()) {
        return Err(ApiError::bad_request(format!(
            "kind {kind} does not match the resource {}",
            target.rt.qualified()
        )));
    }
    let mut st = shared.lock();
    let created = st
        .store
        .create(&target.rt, target.namespace.as_deref(), obj, req.dry_run())?;
    target.record(&mut st, req, meta_str(&created, "name"));
    drop(st);
    Ok(target.object_response(StatusCode::CREATED, &created, req))
}

fn patch(shared: &Arc<Shared>, target: &Target, name: &str, req: &Req) -> Result<Response, ApiError> {
    let kind = PatchKind::from_content_type(&req.content_type)?;
    if kind == PatchKind::Apply && req.q("fieldManager").is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(
            "PATCH requests of type application/apply-patch+yaml require fieldManager",
        ));
    }
    let mut st = shared.lock();
    let current = st.store.get(&target.rt, target.ns(), name);
    let (code, result) = match current {
        Some(current) => {
            let patched = patch::apply_patch(&current, kind, &req.body)?;
            let updated = st.store.update(
                &target.rt,
                target.ns(),
                name,
                patched,
                target.sub.as_deref(),
                req.dry_run(),
            )?;
            (StatusCode::OK, updated)
        }
        None if kind == PatchKind::Apply && target.sub.is_none() => {
            let mut obj = patch::parse_apply(&req.body)?;
            if !obj.is_object() || !(obj["metadata"].is_object() || obj["metadata"].is_null()) {
                return Err(ApiError::bad_request(
                    "apply body must be an object with object metadata",
                ));
            }
            match meta_str(&obj, "name") {
                "" => obj["metadata"]["name"] = json!(name),
                n if n != name => return Err(ApiError::bad_request("the name of the object does not match the URL")),
                _ => {}
            }
            if let Some(meta) = obj["metadata"].as_object_mut() {
                meta.remove("resourceVersion");
            }
            let created = st
                .store
                .create(&target.rt, target.namespace.as_deref(), obj, req.dry_run())?;
            (StatusCode::CREATED, created)
        }
        None => return Err(target.not_found(name)),
    };
    target.record(&mut st, req, name);
    drop(st);
    Ok(target.object_response(code, &result, req))
}

fn delete_collection(shared: &Arc<Shared>, target: &Target, req: &Req) -> Result<Response, ApiError> {
    let filter = req.filter()?;
    let mut st = shared.lock();
    let victims: Vec<(String, String)> = st
        .store
        .iter(&target.rt, target.namespace.as_deref(), None)
        .filter(|o| filter.matches(o))
        .map(|o| (meta_str(o, "namespace").to_string(), meta_str(o, "name").to_string()))
        .collect();
    let mut items = Vec::new();
    for (ns, name) in victims {
        if let Ok(obj) = st.store.delete(&target.rt, &ns, &name, &Value::Null, req.dry_run()) {
            items.push(render(&obj, &target.rt, &target.version, false));
        }
    }
    target.record(&mut st, req, "");
    let rv = st.store.resource_version().to_string();
    drop(st);
    let api_version = target.rt.api_version(&target.version);
    let body = json!({ "apiVersion": api_version, "kind": target.rt.list_kind, "metadata": { "resourceVersion": rv }, "items": items });
    Ok(json_response(StatusCode::OK, &body))
}

fn age(obj: &Value) -> String {
    use time::format_description::well_known::Rfc3339;
    let Ok(created) = time::OffsetDateTime::parse(meta_str(obj, "creationTimestamp"), &Rfc3339) else {
        return "<unknown>".to_string();
    };
    let secs = (time::OffsetDateTime::now_utc() - created).whole_seconds().max(0);
    match secs {
        0..120 => format!("{secs}s"),
        120..7200 => format!("{}m", secs / 60),
        7200..172_800 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

/// A minimal `meta.k8s.io/v1` Table (Name, Age) so that plain `kubectl get` prints something.
fn table(items: &[Value], rv: &str) -> Value {
    let column = |name: &str, format: &str| json!({ "name": name, "type": "string", "format": format, "description": name, "priority": 0 });
    let rows: Vec<Value> = items
        .iter()
        .map(|o| json!({ "cells": [meta_str(o, "name"), age(o)], "object": partial(o) }))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": { "resourceVersion": rv },
        "columnDefinitions": [column("Name", "name"), column("Age", "")],
        "rows": rows,
    })
}
