//! `gitseal-controller`: unseals SealedSecrets into Secrets, owns and renews the
//! sealing keys, and serves the certificate and the verify/rotate API.
//!
//! A drop-in replacement for the Bitnami controller: same CRD, key Secrets, HTTP
//! API, annotations, events and metric names. The modules split by concern:
//!
//! - pure logic, unit-tested without a cluster: [`keys`] (the key set and its
//!   ordering), [`digest`] (what was unsealed, and whether a Secret drifted),
//!   [`plan`] (what to write to the Secret), [`status`] (the `Synced` condition),
//!   [`ratelimit`];
//! - I/O: [`keywatch`] (key Secrets in, generated keys out), [`reconcile`] (the
//!   kube-runtime controller), [`leader`] (Lease election), [`http`], [`metrics`],
//!   [`telemetry`];
//! - [`config`] holds the flags, [`rbac`] lists every API call the controller
//!   makes, and [`run`] wires everything together.

pub mod cache;
pub mod config;
pub mod digest;
pub mod error;
pub mod events;
pub mod http;
pub mod keys;
pub mod keywatch;
pub mod leader;
pub mod metrics;
pub mod plan;
pub mod ratelimit;
pub mod rbac;
pub mod reconcile;
pub mod run;
pub mod status;
pub mod telemetry;

pub use error::Error;

/// Annotations gitseal-controller writes on the Secrets it manages. Bitnami's
/// controller ignores them, so switching back and forth is safe.
pub mod annotations {
    /// SHA-256 of the sealed input (ciphertexts, template, scope, name): tells
    /// whether the SealedSecret changed since the Secret was written.
    pub const SEALED_DIGEST: &str = "gitseal.dev/sealed-digest";
    /// Keyed MAC over the Secret content the controller wrote: detects hand edits
    /// without decrypting and without publishing a plain hash of the plaintext.
    pub const CONTENT_MAC: &str = "gitseal.dev/content-mac";
    /// Short fingerprints of the keys that opened the items, tried first next time.
    pub const KEYS: &str = "gitseal.dev/keys";
    /// In-memory only: the sealed digest, stamped on cached SealedSecrets whose
    /// ciphertexts were dropped to keep memory flat. Never written to the cluster.
    pub const CACHED_DIGEST: &str = "gitseal.dev/cached-digest";
    /// In-memory only: the item names of a cached SealedSecret, comma-separated.
    pub const CACHED_ITEMS: &str = "gitseal.dev/cached-items";

    pub fn is_ours(key: &str) -> bool {
        key.starts_with("gitseal.dev/")
    }
}
