//! A small, in-process Kubernetes API server for integration tests and benchmarks.
//!
//! [`Emulator::start`] serves plain HTTP on `127.0.0.1` and speaks enough of the API for
//! `kube::Client`, `kube::runtime::watcher`/`metadata_watcher`, the events `Recorder` and
//! `kubectl` (with `--validate=false` where a command wants OpenAPI).
//!
//! # Emulated faithfully
//! - Built-in resources: core/v1 `namespaces`, `secrets`, `events`, `services`, `configmaps`;
//!   `events.k8s.io/v1` events; `coordination.k8s.io/v1` leases; `apiextensions.k8s.io/v1` CRDs.
//!   Creating a CRD registers its group, served versions, names, scope and `/status` subresource
//!   (and reports it `Established`); deleting it removes the type and all its objects.
//! - Metadata: global `resourceVersion` counter, `uid`, `creationTimestamp`, `generateName`,
//!   `generation` for custom resources (bumped on changes outside metadata and status),
//!   DNS-1123 name validation, namespace existence, URL/body name and namespace checks.
//! - Secrets: `stringData` folded into `data`, default `type: Opaque`, `immutable` and `type`
//!   immutability (ConfigMaps honour `immutable` too).
//! - Verbs: get, list (label/field selectors, `limit`/`continue`), watch (initial events,
//!   resume from a resourceVersion with `410 Expired` once it left the retained history,
//!   `sendInitialEvents` with the `k8s.io/initial-events-end` bookmark, periodic bookmarks,
//!   selector transitions as ADDED/DELETED, `timeoutSeconds`), create, update with
//!   resourceVersion preconditions, merge / JSON / strategic / apply patches, delete (with
//!   preconditions), deletecollection, status-subresource isolation, no-op updates that do not bump
//!   the resourceVersion, `dryRun=All`, metadata-only responses and ownerReference garbage
//!   collection (also deleting namespace contents). Errors are `metav1.Status` objects.
//!
//! # Additions to the planned API
//! [`Emulator::start_on`] (fixed address, for the binary) and [`Faults::compact_history`] (forget
//! the watch history so resuming watchers get `410 Expired`). kubectl's typed `create namespace |
//! secret | configmap` commands send protobuf, which is decoded for exactly those kinds; minimal
//! `as=Table` responses make plain `kubectl get` print names and ages.
//!
//! # Deliberately not emulated
//! No authentication, authorization or admission; no schema validation, defaulting or pruning of
//! custom resources; no `managedFields` — server-side apply is a merge patch of the applied
//! configuration; strategic merge patch is a plain merge patch; no finalizers, foreground or orphan
//! deletion (garbage collection runs synchronously right after a delete); no version conversion
//! (all served versions of a CRD share one storage); no MVCC snapshots for paginated lists
//! (continued pages report the first page's resourceVersion); `events/v1` and `events.k8s.io/v1`
//! are separate stores; no protobuf, no aggregated discovery, no OpenAPI.

mod discovery;
mod faults;
mod http;
mod patch;
mod protobuf;
mod proxy;
mod selectors;
mod status;
mod store;
mod watch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

pub use faults::Faults;

/// A successful mutating request received over HTTP.
#[derive(Debug, Clone)]
pub struct WriteRecord {
    /// `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// As in the URL, e.g. `v1` or `bitnami.com/v1alpha1`.
    pub api_version: String,
    pub plural: String,
    pub namespace: Option<String>,
    /// The object's name (for a create, the generated one); empty for deletecollection.
    pub name: String,
    pub subresource: Option<String>,
    pub field_manager: Option<String>,
}

/// What an API server's authorizer sees of a resource request (RBAC's request
/// attributes). The emulator keeps each distinct one it served, so tests can check
/// a client's calls against RBAC rules.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestAttributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` or `deletecollection`.
    pub verb: String,
    /// `""` for the core group.
    pub group: String,
    /// The plural, e.g. `secrets`.
    pub resource: String,
    pub subresource: Option<String>,
    /// `None` for a cluster-scoped resource or a request across all namespaces.
    pub namespace: Option<String>,
    /// The `User-Agent` header: who asked, as far as an unauthenticated server can tell.
    pub user_agent: String,
}

/// Everything mutable, behind one mutex that is never held across an `.await`.
pub(crate) struct State {
    pub store: store::Store,
    pub faults: faults::FaultState,
    pub writes: Vec<WriteRecord>,
    pub requests: std::collections::BTreeSet<RequestAttributes>,
    pub backends: HashMap<(String, String), SocketAddr>,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    pub addr: SocketAddr,
    /// Bumped to close every open watch.
    pub drops: tokio::sync::watch::Sender<u64>,
    pub drop_interval: tokio::sync::watch::Sender<Option<Duration>>,
    pub proxy: proxy::ProxyClient,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running emulated API server. Cheap to clone; it serves until the tokio runtime shuts down.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

impl Emulator {
    /// Binds `127.0.0.1:0` and serves in a tokio task. Namespaces `default`, `kube-system` and
    /// `kube-public` exist from the start.
    pub async fn start() -> std::io::Result<Emulator> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Like [`Emulator::start`], on a given address (used by the `kube-emulator` binary).
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let mut store = store::Store::new();
        let namespaces = store
            .resolve("", "v1", "namespaces")
            .cloned()
            .expect("namespaces are built in");
        for ns in ["default", "kube-system", "kube-public"] {
            let obj = serde_json::json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns } });
            store
                .create(&namespaces, None, obj, false)
                .map_err(|e| std::io::Error::other(e.message))?;
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                store,
                faults: faults::FaultState::default(),
                writes: Vec::new(),
                requests: Default::default(),
                backends: HashMap::new(),
            }),
            addr,
            drops: tokio::sync::watch::channel(0).0,
            drop_interval: tokio::sync::watch::channel(None).0,
            proxy: proxy::client(),
        });
        let app = axum::Router::new().fallback(http::handle).with_state(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("kube-emulator server stopped: {e}");
            }
        });
        faults::spawn_dropper(shared.clone());
        Ok(Emulator { shared })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// A client for this server with default namespace `default`.
    pub fn client(&self) -> kube::Client {
        let url = self.url().parse().expect("emulator URL is a valid URI");
        let mut config = kube::Config::new(url);
        config.default_namespace = "default".to_string();
        kube::Client::try_from(config).expect("client for the emulator")
    }

    /// A kubeconfig with one cluster/user/context named `emulator` (current), no auth, and the
    /// given default namespace.
    pub fn kubeconfig(&self, namespace: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: emulator\n  cluster:\n    server: {url}\n\
             users:\n- name: emulator\n  user: {{}}\ncontexts:\n- name: emulator\n  context:\n    \
             cluster: emulator\n    user: emulator\n    namespace: {namespace}\ncurrent-context: emulator\n\
             preferences: {{}}\n",
            url = self.url()
        )
    }

    /// Handle for injecting faults.
    pub fn faults(&self) -> Faults {
        Faults {
            shared: self.shared.clone(),
        }
    }

    /// Read an object directly, bypassing faults. `api_version` like `v1` or `bitnami.com/v1alpha1`;
    /// `namespace` is ignored for cluster-scoped resources and defaults to `default` otherwise.
    pub fn get(&self, api_version: &str, plural: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let st = self.shared.lock();
        let (rt, version) = resolve(&st.store, api_version, plural)?;
        let ns = if rt.namespaced {
            namespace.unwrap_or("default")
        } else {
            ""
        };
        st.store
            .get(rt, ns, name)
            .map(|o| http::render(&o, rt, &version, false))
    }

    /// List objects directly (all namespaces when `namespace` is `None`), ordered by namespace/name.
    pub fn list(&self, api_version: &str, plural: &str, namespace: Option<&str>) -> Vec<Value> {
        let st = self.shared.lock();
        let Some((rt, version)) = resolve(&st.store, api_version, plural) else {
            return Vec::new();
        };
        let ns = namespace.filter(|_| rt.namespaced);
        st.store
            .iter(rt, ns, None)
            .map(|o| http::render(o, rt, &version, false))
            .collect()
    }

    /// How many objects `list` would return, without rendering them: cheap
    /// enough to poll while a benchmark runs.
    pub fn count(&self, api_version: &str, plural: &str, namespace: Option<&str>) -> usize {
        let st = self.shared.lock();
        let Some((rt, _)) = resolve(&st.store, api_version, plural) else {
            return 0;
        };
        st.store.iter(rt, namespace.filter(|_| rt.namespaced), None).count()
    }

    /// Insert an object directly with create semantics (generateName, uid, resourceVersion,
    /// creationTimestamp, watch events), bypassing faults. A namespaced object without a namespace
    /// goes to `default`; a `resourceVersion` in the input is ignored.
    pub fn create(&self, mut obj: Value) -> Result<Value, String> {
        if !obj.is_object() {
            return Err("object expected".to_string());
        }
        let mut st = self.shared.lock();
        let (api_version, kind) = (
            obj["apiVersion"].as_str().unwrap_or(""),
            obj["kind"].as_str().unwrap_or(""),
        );
        let (rt, version) = st
            .store
            .resolve_kind(api_version, kind)
            .map(|(rt, v)| (rt.clone(), v))
            .ok_or_else(|| format!("no resource for apiVersion {api_version:?} kind {kind:?}"))?;
        if let Some(meta) = obj["metadata"].as_object_mut() {
            meta.remove("resourceVersion");
        }
        let created = st.store.create(&rt, None, obj, false).map_err(|e| e.message)?;
        Ok(http::render(&created, &rt, &version, false))
    }

    /// Register a CustomResourceDefinition (`apiextensions.k8s.io/v1`), same as POSTing it.
    pub fn install_crd(&self, crd: Value) -> Result<(), String> {
        let mut crd = crd;
        if crd.is_object() && crd["apiVersion"].is_null() {
            crd["apiVersion"] = Value::from("apiextensions.k8s.io/v1");
            crd["kind"] = Value::from("CustomResourceDefinition");
        }
        self.create(crd).map(drop)
    }

    /// Successful mutating requests received over HTTP, in order.
    pub fn writes(&self) -> Vec<WriteRecord> {
        self.shared.lock().writes.clone()
    }

    /// Each distinct resource request served over HTTP (not discovery, not the
    /// service proxy), as RBAC would authorize it.
    pub fn requests(&self) -> Vec<RequestAttributes> {
        self.shared.lock().requests.iter().cloned().collect()
    }

    /// Route the service proxy for `namespace/name` to `addr`. The Service object must also exist.
    pub fn register_service_backend(&self, namespace: &str, name: &str, addr: SocketAddr) {
        self.shared
            .lock()
            .backends
            .insert((namespace.to_string(), name.to_string()), addr);
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().store.resource_version()
    }
}

fn resolve<'a>(store: &'a store::Store, api_version: &str, plural: &str) -> Option<(&'a store::ResourceType, String)> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    store
        .resolve(group, version, plural)
        .map(|rt| (rt, version.to_string()))
}
