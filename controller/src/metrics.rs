//! Prometheus metrics under Bitnami's names (`sealed_secrets_controller_*`),
//! plus gitseal's own.

use std::sync::Arc;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub revision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub reason: String,
    pub namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    pub namespace: String,
    pub name: String,
    pub condition: String,
    pub ss_app_kubernetes_io_instance: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub path: String,
    pub code: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpDurationLabels {
    pub path: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FormatLabels {
    /// `bitnami` (RSA-OAEP + AES-GCM) or `v2` (age).
    pub format: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyLabels {
    pub key: String,
    pub status: String,
}

fn default_buckets() -> Histogram {
    // Prometheus' client_golang DefBuckets, as upstream uses.
    Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
}

pub struct Metrics {
    pub registry: Registry,
    pub unseal_requests: Counter,
    pub unseal_errors: Family<ErrorLabels, Counter>,
    pub condition_info: Family<ConditionLabels, Gauge>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<HttpDurationLabels, Histogram, fn() -> Histogram>,
    pub reconcile_duration: Histogram,
    pub rsa_decrypts: Counter,
    pub unsealed_items: Family<FormatLabels, Counter>,
    pub sealed_secrets_per_key: Family<KeyLabels, Gauge>,
    pub keys_loaded: Family<KeyLabels, Gauge>,
    pub is_leader: Gauge,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("sealed_secrets_controller");
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                revision: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        registry.register("build_info", "Build information.", build_info);
        let unseal_requests = Counter::default();
        registry.register(
            "unseal_requests",
            "Total number of sealed secret unseal requests",
            unseal_requests.clone(),
        );
        let unseal_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "unseal_errors",
            "Total number of sealed secret unseal errors by reason",
            unseal_errors.clone(),
        );
        let condition_info = Family::<ConditionLabels, Gauge>::default();
        registry.register(
            "condition_info",
            "Current SealedSecret condition status. Values are -1 (false), 0 (unknown or absent), 1 (true)",
            condition_info.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register("http_requests", "Total number of HTTP requests", http_requests.clone());
        let http_duration =
            Family::<HttpDurationLabels, Histogram, fn() -> Histogram>::new_with_constructor(default_buckets);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request duration in seconds",
            http_duration.clone(),
        );
        let reconcile_duration = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        registry.register(
            "reconcile_duration_seconds",
            "Time to reconcile one SealedSecret",
            reconcile_duration.clone(),
        );
        let rsa_decrypts = Counter::default();
        registry.register(
            "rsa_decrypts",
            "RSA private-key operations performed while unsealing",
            rsa_decrypts.clone(),
        );
        let unsealed_items = Family::<FormatLabels, Counter>::default();
        registry.register(
            "unsealed_items",
            "Items unsealed, by item format (bitnami or v2)",
            unsealed_items.clone(),
        );
        let sealed_secrets_per_key = Family::<KeyLabels, Gauge>::default();
        registry.register(
            "sealed_secrets_per_key",
            "SealedSecrets whose items were last opened with each key (status=compromised shows what still depends on a compromised key)",
            sealed_secrets_per_key.clone(),
        );
        let keys_loaded = Family::<KeyLabels, Gauge>::default();
        registry.register("keys", "Loaded sealing keys", keys_loaded.clone());
        let is_leader = Gauge::default();
        registry.register("leader", "1 if this replica is the leader", is_leader.clone());
        Arc::new(Metrics {
            registry,
            unseal_requests,
            unseal_errors,
            condition_info,
            http_requests,
            http_duration,
            reconcile_duration,
            rsa_decrypts,
            unsealed_items,
            sealed_secrets_per_key,
            keys_loaded,
            is_leader,
        })
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts the items of one unseal by format.
    pub fn items_unsealed(&self, total: usize, v2: usize) {
        for (format, n) in [("bitnami", total.saturating_sub(v2)), ("v2", v2)] {
            self.unsealed_items
                .get_or_create(&FormatLabels { format: format.into() })
                .inc_by(n as u64);
        }
    }

    pub fn unseal_error(&self, reason: &str, namespace: &str) {
        self.unseal_errors
            .get_or_create(&ErrorLabels {
                reason: reason.to_string(),
                namespace: namespace.to_string(),
            })
            .inc();
    }
}

/// Times a reconcile into the histogram when dropped.
pub struct ReconcileTimer<'a> {
    histogram: &'a Histogram,
    start: Instant,
}

impl<'a> ReconcileTimer<'a> {
    pub fn start(histogram: &'a Histogram) -> Self {
        ReconcileTimer {
            histogram,
            start: Instant::now(),
        }
    }
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}
