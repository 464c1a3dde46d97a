//! Every Kubernetes API call the controller makes, in one place.
//!
//! The chart's RBAC is checked against this list (`controller/tests/chart.rs`),
//! and an integration test checks that the controller, driven through unsealing,
//! drift, key generation, events and leader election against the API emulator,
//! makes no request outside it (`controller/tests/integration.rs`). A new API call
//! therefore fails a test until it is listed here, and then until the chart
//! grants it.

/// Where a call is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// In each watched namespace, or across all namespaces when watching them all.
    Watched,
    /// In the controller's own namespace (key Secrets, the Lease).
    Own,
}

/// One resource and the verbs used on it.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// The API group; `""` for the core group.
    pub group: &'static str,
    /// The resource as RBAC names it: the plural, with `/subresource` if any.
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
    pub scope: Scope,
    /// What the controller does with it.
    pub why: &'static str,
}

pub const CALLS: &[Call] = &[
    Call {
        group: "bitnami.com",
        resource: "sealedsecrets",
        verbs: &["get", "list", "watch"],
        scope: Scope::Watched,
        why: "watch SealedSecrets; read one whole before decrypting (the cache drops ciphertexts)",
    },
    Call {
        group: "bitnami.com",
        resource: "sealedsecrets/status",
        verbs: &["patch"],
        scope: Scope::Watched,
        why: "write the Synced condition and observedGeneration",
    },
    Call {
        group: "",
        resource: "secrets",
        verbs: &["get", "list", "watch", "create", "update"],
        scope: Scope::Watched,
        why: "metadata-only watch of Secrets for drift; read, create and replace the unsealed Secrets",
    },
    Call {
        group: "events.k8s.io",
        resource: "events",
        verbs: &["create", "patch"],
        scope: Scope::Watched,
        why: "Unsealed/ErrUnsealFailed/ErrUpdateFailed events, and their series on repeats",
    },
    Call {
        group: "",
        resource: "secrets",
        verbs: &["list", "watch", "create"],
        scope: Scope::Own,
        why: "load and watch the key Secrets; store generated keys",
    },
    Call {
        group: "coordination.k8s.io",
        resource: "leases",
        verbs: &["get", "create", "update"],
        scope: Scope::Own,
        why: "leader election (with --leader-elect)",
    },
];

/// Whether `CALLS` lists `verb` on `group`/`resource` in `scope`.
pub fn listed(group: &str, resource: &str, verb: &str, scope: Scope) -> bool {
    CALLS
        .iter()
        .any(|c| c.group == group && c.resource == resource && c.scope == scope && c.verbs.contains(&verb))
}
