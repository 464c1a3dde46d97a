//! The object store: resource types (built-in and CRD-registered), objects as JSON, the global
//! resourceVersion counter, the watch history, and the write semantics of create / update /
//! delete including Secret rules, generation bumps, status-subresource isolation and
//! ownerReference garbage collection.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::ops::Bound;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::status::ApiError;

/// How many changes are kept for watches resuming from an older resourceVersion.
pub(crate) const HISTORY_LIMIT: usize = 100_000;
const BROADCAST_CAPACITY: usize = 16_384;

/// `(group, plural)`; objects of all versions of one resource share storage (no conversion).
pub(crate) type TypeKey = (String, String);

#[derive(Debug, Clone)]
pub(crate) struct ResourceType {
    pub group: String,
    /// Served versions, preferred first.
    pub versions: Vec<String>,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
    /// Has a `/status` subresource: main writes keep the old status, status writes only status.
    pub status: bool,
    /// Custom resource: `metadata.generation` is maintained and `status` is dropped on create.
    pub custom: bool,
}

impl ResourceType {
    pub fn key(&self) -> TypeKey {
        (self.group.clone(), self.plural.clone())
    }
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }
    /// Group-qualified plural as used in error messages: `secrets`, `widgets.example.com`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
    fn is(&self, group: &str, plural: &str) -> bool {
        self.group == group && self.plural == plural
    }
    fn tracks_generation(&self) -> bool {
        self.custom || self.is(CRD_GROUP, "customresourcedefinitions")
    }
}

const CRD_GROUP: &str = "apiextensions.k8s.io";

/// (group, version, plural, kind, namespaced, status subresource, short names)
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    bool,
    &'static [&'static str],
);
const BUILTINS: &[Builtin] = &[
    ("", "v1", "namespaces", "Namespace", false, true, &["ns"]),
    ("", "v1", "secrets", "Secret", true, false, &[]),
    ("", "v1", "events", "Event", true, false, &["ev"]),
    ("", "v1", "services", "Service", true, true, &["svc"]),
    ("", "v1", "configmaps", "ConfigMap", true, false, &["cm"]),
    ("events.k8s.io", "v1", "events", "Event", true, false, &["ev"]),
    ("coordination.k8s.io", "v1", "leases", "Lease", true, false, &[]),
    (
        CRD_GROUP,
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        true,
        &["crd", "crds"],
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One committed change, kept in the history and fanned out to watchers.
#[derive(Debug)]
pub(crate) struct Change {
    pub rv: u64,
    pub key: TypeKey,
    pub kind: EventType,
    pub object: Arc<Value>,
    /// The object before a modification (to send DELETED/ADDED when a selector stops/starts matching).
    pub prev: Option<Arc<Value>>,
}

type Objects = BTreeMap<(String, String), Arc<Value>>;
/// Retained changes to replay plus a receiver for everything after them.
pub(crate) type Subscription = (Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>);

pub(crate) struct Store {
    types: BTreeMap<TypeKey, ResourceType>,
    objects: HashMap<TypeKey, Objects>,
    rv: u64,
    history: VecDeque<Arc<Change>>,
    /// Watches may resume from any resourceVersion >= this; older ones get 410 Expired.
    compacted: u64,
    events: broadcast::Sender<Arc<Change>>,
    rng: u64,
}

pub(crate) fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or("")
}

fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn set_or_remove(obj: &mut Value, field: &str, value: Option<&Value>) {
    match (obj.as_object_mut(), value) {
        (Some(m), Some(v)) => drop(m.insert(field.to_string(), v.clone())),
        (Some(m), None) => drop(m.remove(field)),
        (None, _) => {}
    }
}

/// Top-level fields other than `metadata` and `status` ("the spec"), compared for generation bumps.
fn spec_eq(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| -> Map<String, Value> {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.remove("metadata");
        m.remove("status");
        m
    };
    strip(a) == strip(b)
}

fn validate_name(rt: &ResourceType, name: &str) -> Result<(), ApiError> {
    let label = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    let (ok, what) = if rt.is("", "namespaces") || rt.is("", "services") {
        (
            label(name),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
        )
    } else {
        (
            name.len() <= 253 && name.split('.').all(label),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
        )
    };
    if ok {
        return Ok(());
    }
    let detail = format!(
        "metadata.name: Invalid value: {name:?}: {what}, and must start and end with an alphanumeric character"
    );
    Err(ApiError::invalid(&rt.kind, name, &detail))
}

impl Store {
    pub fn new() -> Store {
        let seed = std::collections::hash_map::RandomState::new().build_hasher().finish() | 1;
        let mut store = Store {
            types: BTreeMap::new(),
            objects: HashMap::new(),
            rv: 0,
            history: VecDeque::new(),
            compacted: 0,
            events: broadcast::channel(BROADCAST_CAPACITY).0,
            rng: seed,
        };
        for (group, version, plural, kind, namespaced, status, short) in BUILTINS {
            store.register(ResourceType {
                group: group.to_string(),
                versions: vec![version.to_string()],
                plural: plural.to_string(),
                singular: kind.to_lowercase(),
                kind: kind.to_string(),
                list_kind: format!("{kind}List"),
                short_names: short.iter().map(|s| s.to_string()).collect(),
                namespaced: *namespaced,
                status: *status,
                custom: false,
            });
        }
        store
    }

    fn register(&mut self, rt: ResourceType) {
        self.types.insert(rt.key(), rt);
    }

    pub fn types(&self) -> impl Iterator<Item = &ResourceType> {
        self.types.values()
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    /// The resource served at `group/version` under `plural`.
    pub fn resolve(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .get(&(group.to_string(), plural.to_string()))
            .filter(|rt| rt.versions.iter().any(|v| v == version))
    }

    pub fn resolve_kind(&self, api_version: &str, kind: &str) -> Option<(&ResourceType, String)> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.types
            .values()
            .find(|rt| rt.group == group && rt.kind == kind && rt.versions.iter().any(|v| v == version))
            .map(|rt| (rt, version.to_string()))
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn new_uid(&mut self) -> String {
        let (a, b) = (self.next_random(), self.next_random());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.objects
            .get(&rt.key())?
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Objects of a type in `(namespace, name)` order, optionally in one namespace, strictly after `after`.
    pub fn iter<'a>(
        &'a self,
        rt: &ResourceType,
        namespace: Option<&'a str>,
        after: Option<(String, String)>,
    ) -> impl Iterator<Item = &'a Arc<Value>> + 'a {
        let start = match (after, namespace) {
            (Some(cursor), _) => Bound::Excluded(cursor),
            (None, Some(ns)) => Bound::Included((ns.to_string(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        self.objects
            .get(&rt.key())
            .into_iter()
            .flat_map(move |m| m.range((start.clone(), Bound::Unbounded)))
            .take_while(move |((ns, _), _)| namespace.is_none_or(|want| want == ns))
            .map(|(_, v)| v)
    }

    /// Changes after `rv` plus a receiver for everything later, or `None` if `rv` was compacted away.
    pub fn subscribe(&self, rv: u64) -> Option<Subscription> {
        if rv < self.compacted {
            return None;
        }
        let start = self.history.partition_point(|c| c.rv <= rv);
        Some((self.history.range(start..).cloned().collect(), self.events.subscribe()))
    }

    /// Forget all retained history, like an etcd compaction at the current revision.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    fn emit(&mut self, key: TypeKey, kind: EventType, object: Arc<Value>, prev: Option<Arc<Value>>) {
        let change = Arc::new(Change {
            rv: self.rv,
            key,
            kind,
            object,
            prev,
        });
        if self.history.len() >= HISTORY_LIMIT
            && let Some(old) = self.history.pop_front()
        {
            self.compacted = old.rv;
        }
        self.history.push_back(change.clone());
        let _ = self.events.send(change);
    }

    /// Store `obj` under a fresh resourceVersion and emit ADDED (no `prev`) or MODIFIED.
    fn commit(&mut self, rt: &ResourceType, mut obj: Value, prev: Option<Arc<Value>>) -> Arc<Value> {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let key = (
            meta_str(&obj, "namespace").to_string(),
            meta_str(&obj, "name").to_string(),
        );
        let obj = Arc::new(obj);
        self.objects.entry(rt.key()).or_default().insert(key, obj.clone());
        if rt.is(CRD_GROUP, "customresourcedefinitions") {
            if let Some(old) = prev.as_deref().and_then(crd_type) {
                self.types.remove(&old.key());
            }
            if let Some(new) = crd_type(&obj) {
                self.register(new);
            }
        }
        let kind = if prev.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.emit(rt.key(), kind, obj.clone(), prev);
        obj
    }

    /// Create semantics: namespace/name checks, generateName, uid, creationTimestamp, generation.
    pub fn create(
        &mut self,
        rt: &ResourceType,
        url_namespace: Option<&str>,
        mut obj: Value,
        dry_run: bool,
    ) -> Result<Arc<Value>, ApiError> {
        if !obj.is_object() || !(obj["metadata"].is_object() || obj["metadata"].is_null()) {
            return Err(ApiError::bad_request("the body of the request was not a JSON object"));
        }
        let body_ns = meta_str(&obj, "namespace").to_string();
        let namespace = match (rt.namespaced, url_namespace) {
            (false, _) => String::new(),
            (true, Some(url)) if body_ns.is_empty() || body_ns == url => url.to_string(),
            (true, Some(_)) => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            (true, None) if body_ns.is_empty() => "default".to_string(),
            (true, None) => body_ns,
        };
        let mut name = meta_str(&obj, "name").to_string();
        if name.is_empty() {
            let prefix = meta_str(&obj, "generateName").to_string();
            if prefix.is_empty() {
                let detail = "metadata.name: Required value: name or generateName is required";
                return Err(ApiError::invalid(&rt.kind, "", detail));
            }
            const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
            loop {
                let r = self.next_random();
                let suffix: String = (0..5)
                    .map(|i| ALPHABET[(r >> (i * 8)) as usize % ALPHABET.len()] as char)
                    .collect();
                name = format!("{prefix}{suffix}");
                if self.get(rt, &namespace, &name).is_none() {
                    break;
                }
            }
        }
        validate_name(rt, &name)?;
        let ns_type = &self.types[&(String::new(), "namespaces".to_string())];
        if rt.namespaced && self.get(ns_type, "", &namespace).is_none() {
            return Err(ApiError::not_found("namespaces", &namespace));
        }
        if self.get(rt, &namespace, &name).is_some() {
            return Err(ApiError::already_exists(&rt.qualified(), &name));
        }
        let uid = self.new_uid();
        let meta = &mut obj["metadata"];
        meta["name"] = json!(name);
        let meta_map = meta.as_object_mut().expect("metadata is an object");
        if rt.namespaced {
            meta_map.insert("namespace".into(), json!(namespace));
        } else {
            meta_map.remove("namespace");
        }
        meta_map.remove("resourceVersion");
        meta_map.insert("uid".into(), json!(uid));
        meta_map.insert("creationTimestamp".into(), json!(now_rfc3339()));
        if rt.tracks_generation() {
            meta_map.insert("generation".into(), json!(1));
        }
        if rt.custom
            && rt.status
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        if obj["apiVersion"].as_str().unwrap_or("").is_empty() {
            obj["apiVersion"] = json!(rt.api_version(&rt.versions[0]));
        }
        obj["kind"] = json!(rt.kind);
        normalize(rt, &mut obj, None)?;
        if dry_run {
            return Ok(Arc::new(obj));
        }
        Ok(self.commit(rt, obj, None))
    }

    /// Update (PUT, or the result of a patch). `subresource == Some("status")` changes only status.
    pub fn update(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        new: Value,
        subresource: Option<&str>,
        dry_run: bool,
    ) -> Result<Arc<Value>, ApiError> {
        let old = self
            .get(rt, namespace, name)
            .ok_or_else(|| ApiError::not_found(&rt.qualified(), name))?;
        if !new.is_object() {
            return Err(ApiError::bad_request("the body of the request was not a JSON object"));
        }
        let (body_name, body_ns) = (meta_str(&new, "name"), meta_str(&new, "namespace"));
        if !body_name.is_empty() && body_name != name {
            let msg = format!("the name of the object ({body_name}) does not match the name on the URL ({name})");
            return Err(ApiError::bad_request(msg));
        }
        if rt.namespaced && !body_ns.is_empty() && body_ns != namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let body_rv = meta_str(&new, "resourceVersion");
        if !body_rv.is_empty() && body_rv != meta_str(&old, "resourceVersion") {
            return Err(ApiError::conflict(&rt.qualified(), name));
        }
        let mut obj = if subresource == Some("status") {
            let mut o = (*old).clone();
            set_or_remove(&mut o, "status", new.get("status"));
            o
        } else {
            let mut o = new;
            if rt.status {
                set_or_remove(&mut o, "status", old.get("status"));
            }
            o
        };
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "resourceVersion",
        ] {
            set_or_remove(&mut obj["metadata"], field, old["metadata"].get(field));
        }
        obj["apiVersion"] = old["apiVersion"].clone();
        obj["kind"] = json!(rt.kind);
        normalize(rt, &mut obj, Some(&old))?;
        if rt.tracks_generation() && !spec_eq(&obj, &old) {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            obj["metadata"]["generation"] = json!(generation);
        }
        if obj == *old || dry_run {
            // The real API server turns a no-op update into a no-op: same resourceVersion, no event.
            return Ok(if obj == *old { old } else { Arc::new(obj) });
        }
        Ok(self.commit(rt, obj, Some(old)))
    }

    /// Delete with optional uid/resourceVersion preconditions, then collect garbage.
    pub fn delete(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        preconditions: &Value,
        dry_run: bool,
    ) -> Result<Arc<Value>, ApiError> {
        let old = self
            .get(rt, namespace, name)
            .ok_or_else(|| ApiError::not_found(&rt.qualified(), name))?;
        for field in ["uid", "resourceVersion"] {
            if let Some(want) = preconditions[field].as_str()
                && want != meta_str(&old, field)
            {
                return Err(ApiError::conflict(&rt.qualified(), name));
            }
        }
        if dry_run {
            return Ok(old);
        }
        let deleted = self.remove_tree(&rt.key(), namespace, name).unwrap_or(old);
        self.collect_garbage();
        Ok(deleted)
    }

    /// Remove one object (emitting DELETED at a fresh resourceVersion), cascading to the contents
    /// of a namespace or the custom resources of a CRD.
    fn remove_tree(&mut self, key: &TypeKey, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let obj = self
            .objects
            .get_mut(key)?
            .remove(&(namespace.to_string(), name.to_string()))?;
        if key.0.is_empty() && key.1 == "namespaces" {
            let keys: Vec<TypeKey> = self.objects.keys().cloned().collect();
            for k in keys {
                let names: Vec<String> = self.objects[&k]
                    .keys()
                    .filter(|(ns, _)| ns == name)
                    .map(|k| k.1.clone())
                    .collect();
                for n in names {
                    self.remove_tree(&k, name, &n);
                }
            }
        } else if key.0 == CRD_GROUP
            && let Some(rt) = crd_type(&obj)
        {
            let names: Vec<(String, String)> = self
                .objects
                .get(&rt.key())
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            for (ns, n) in names {
                self.remove_tree(&rt.key(), &ns, &n);
            }
            self.types.remove(&rt.key());
        }
        self.rv += 1;
        let mut gone = (*obj).clone();
        gone["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let gone = Arc::new(gone);
        self.emit(key.clone(), EventType::Deleted, gone.clone(), None);
        Some(gone)
    }

    /// Delete every object whose ownerReferences all point at uids that no longer exist, to a fixpoint.
    fn collect_garbage(&mut self) {
        loop {
            let uids: HashSet<&str> = self
                .objects
                .values()
                .flat_map(|m| m.values())
                .map(|o| meta_str(o, "uid"))
                .collect();
            let orphans: Vec<(TypeKey, String, String)> = self
                .objects
                .iter()
                .flat_map(|(key, m)| m.iter().map(move |(k, o)| (key, k, o)))
                .filter(|(_, _, o)| {
                    let refs = o["metadata"]["ownerReferences"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    !refs.is_empty() && refs.iter().all(|r| !uids.contains(r["uid"].as_str().unwrap_or("")))
                })
                .map(|(key, (ns, name), _)| (key.clone(), ns.clone(), name.clone()))
                .collect();
            if orphans.is_empty() {
                return;
            }
            for (key, ns, name) in orphans {
                self.remove_tree(&key, &ns, &name);
            }
        }
    }
}

/// Per-kind defaulting and validation, run on every create and update.
fn normalize(rt: &ResourceType, obj: &mut Value, old: Option<&Value>) -> Result<(), ApiError> {
    let name = meta_str(obj, "name").to_string();
    let invalid = |detail: &str| ApiError::invalid(&rt.kind, &name, detail);
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "secrets") => {
            if !(obj["data"].is_object() || obj["data"].is_null()) {
                return Err(ApiError::bad_request("Secret data must be a map of base64 strings"));
            }
            if let Some(Value::Object(string_data)) = obj.as_object_mut().and_then(|m| m.remove("stringData")) {
                for (k, v) in string_data {
                    let text = v.as_str().unwrap_or_default();
                    obj["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
                }
            }
            if let Some(data) = obj["data"].as_object() {
                for (k, v) in data {
                    let decodes = v
                        .as_str()
                        .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok());
                    if !decodes {
                        return Err(ApiError::bad_request(format!(
                            "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at key {k:?}"
                        )));
                    }
                }
            }
            if obj["type"].as_str().unwrap_or("").is_empty() {
                obj["type"] = json!("Opaque");
            }
            if let Some(old) = old {
                if old["type"] != obj["type"] {
                    return Err(invalid(&format!(
                        "type: Invalid value: {}: field is immutable",
                        obj["type"]
                    )));
                }
                check_immutable(old, obj, &["data"], &invalid)?;
            }
        }
        ("", "configmaps") => {
            if let Some(old) = old {
                check_immutable(old, obj, &["data", "binaryData"], &invalid)?;
            }
        }
        ("", "namespaces") => {
            if !obj["metadata"]["labels"].is_object() {
                obj["metadata"]["labels"] = json!({});
            }
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            if old.is_none() {
                obj["status"] = json!({ "phase": "Active" });
            }
        }
        (CRD_GROUP, "customresourcedefinitions") => {
            let rt = crd_type(obj).ok_or_else(|| {
                invalid("spec: Invalid value: group, names.plural, names.kind, scope and versions are required")
            })?;
            if name != format!("{}.{}", rt.plural, rt.group) {
                return Err(invalid(
                    "metadata.name: Invalid value: must be spec.names.plural+\".\"+spec.group",
                ));
            }
            let cond = |t: &str| json!({"type": t, "status": "True", "reason": t, "message": "", "lastTransitionTime": now_rfc3339()});
            let conditions = old
                .map(|o| o["status"]["conditions"].clone())
                .filter(Value::is_array)
                .unwrap_or_else(|| json!([cond("NamesAccepted"), cond("Established")]));
            let storage = obj["spec"]["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| v["storage"] == json!(true));
            let stored: Vec<Value> = storage.map(|v| v["name"].clone()).collect();
            obj["status"] = json!({
                "acceptedNames": obj["spec"]["names"],
                "conditions": conditions,
                "storedVersions": stored,
            });
        }
        _ => {}
    }
    Ok(())
}

fn check_immutable(
    old: &Value,
    new: &Value,
    fields: &[&str],
    invalid: &dyn Fn(&str) -> ApiError,
) -> Result<(), ApiError> {
    if old["immutable"] != json!(true) {
        return Ok(());
    }
    let changed: Vec<&str> = fields
        .iter()
        .copied()
        .chain(["immutable"])
        .filter(|f| old[f] != new[f])
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let details: Vec<String> = changed
        .iter()
        .map(|f| format!("{f}: Forbidden: field is immutable when `immutable` is set"))
        .collect();
    Err(invalid(&details.join(", ")))
}

/// The resource type a CustomResourceDefinition object declares, if it is well-formed.
fn crd_type(crd: &Value) -> Option<ResourceType> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let kind = text(&names["kind"])?;
    let versions: Vec<&Value> = spec["versions"]
        .as_array()?
        .iter()
        .filter(|v| v["served"] != json!(false))
        .collect();
    Some(ResourceType {
        group: text(&spec["group"])?,
        versions: versions.iter().filter_map(|v| text(&v["name"])).collect(),
        plural: text(&names["plural"])?,
        singular: text(&names["singular"]).unwrap_or_else(|| kind.to_lowercase()),
        list_kind: text(&names["listKind"]).unwrap_or_else(|| format!("{kind}List")),
        short_names: names["shortNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(text)
            .collect(),
        namespaced: spec["scope"].as_str()? == "Namespaced",
        status: versions.iter().any(|v| v["subresources"]["status"].is_object()),
        custom: true,
        kind,
    })
    .filter(|rt| !rt.versions.is_empty())
}
