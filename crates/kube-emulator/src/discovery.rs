//! Legacy (non-aggregated) discovery: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/{g}`,
//! `/apis/{g}/{v}` — enough for kubectl and `kube::Discovery`. Aggregated discovery and OpenAPI
//! documents are not served (kubectl falls back to the legacy endpoints).

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::store::{ResourceType, Store};

pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-kube-emulator",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub(crate) fn api_versions(addr: SocketAddr) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": addr.to_string() }],
    })
}

fn group_entry(store: &Store, group: &str) -> Option<Value> {
    let mut versions: Vec<String> = Vec::new();
    for rt in store.types().filter(|rt| rt.group == group) {
        for v in &rt.versions {
            if !versions.contains(v) {
                versions.push(v.clone());
            }
        }
    }
    let gv = |v: &String| json!({ "groupVersion": format!("{group}/{v}"), "version": v });
    let preferred = gv(versions.first()?);
    Some(
        json!({ "name": group, "versions": versions.iter().map(gv).collect::<Vec<_>>(), "preferredVersion": preferred }),
    )
}

pub(crate) fn group_list(store: &Store) -> Value {
    let mut names: Vec<&str> = store
        .types()
        .map(|rt| rt.group.as_str())
        .filter(|g| !g.is_empty())
        .collect();
    names.dedup();
    let groups: Vec<Value> = names.iter().filter_map(|g| group_entry(store, g)).collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

pub(crate) fn group(store: &Store, group: &str) -> Option<Value> {
    let mut v = group_entry(store, group)?;
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

fn resource_entries(rt: &ResourceType) -> [Value; 2] {
    let verbs = [
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ];
    let mut main = json!({
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": verbs,
    });
    if !rt.short_names.is_empty() {
        main["shortNames"] = json!(rt.short_names);
    }
    let status = json!({
        "name": format!("{}/status", rt.plural),
        "singularName": "",
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": ["get", "patch", "update"],
    });
    [main, status]
}

pub(crate) fn resource_list(store: &Store, group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = store
        .types()
        .filter(|rt| rt.group == group && rt.versions.iter().any(|v| v == version))
        .collect();
    if types.is_empty() {
        return None;
    }
    let resources: Vec<Value> = types
        .iter()
        .flat_map(|rt| {
            let [main, status] = resource_entries(rt);
            std::iter::once(main).chain(rt.status.then_some(status))
        })
        .collect();
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources }),
    )
}
