//! Key Secrets in, generated keys out.
//!
//! Every replica watches the key Secrets in the controller's namespace (the
//! labelled ones and the legacy one named after the key prefix), so added,
//! changed and deleted keys take effect without a restart. Only the leader
//! generates keys ([`renewal_loop`]).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};

use futures::{StreamExt, future};
use gitseal_api::annotations::SEALED_SECRETS_KEY_LABEL;
use gitseal_core::keys::{KeyGenParams, generate, key_secret};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};
use tracing::{error, info, warn};

use crate::config::Flags;
use crate::keys::{KeyCache, KeySet, parse_key_secret};
use crate::metrics::{KeyLabels, Metrics};

/// The current key set, shared by reconcilers and HTTP handlers.
pub struct KeyStore {
    set: RwLock<Arc<KeySet>>,
    /// Bumped on every change; reconcilers re-check failed SealedSecrets.
    version: watch::Sender<u64>,
    ready: watch::Sender<bool>,
}

impl Default for KeyStore {
    fn default() -> Self {
        KeyStore {
            set: RwLock::new(Arc::new(KeySet::default())),
            version: watch::channel(0).0,
            ready: watch::channel(false).0,
        }
    }
}

impl KeyStore {
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn replace(&self, set: KeySet) {
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        self.version.send_modify(|v| *v += 1);
    }

    /// The initial key lists have been read.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    pub fn mark_ready(&self) {
        self.ready.send_replace(true);
    }

    pub async fn wait_ready(&self) {
        let mut rx = self.ready.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}

/// Watches the key Secrets forever, keeping `store` current.
pub async fn watch_keys(
    client: kube::Client,
    namespace: String,
    flags: Arc<Flags>,
    store: Arc<KeyStore>,
    metrics: Arc<Metrics>,
) {
    let api: Api<Secret> = Api::namespaced(client, &namespace);
    let (labelled, labelled_w) = reflector::store::<Secret>();
    let (legacy, legacy_w) = reflector::store::<Secret>();
    let labelled_events = watcher(api.clone(), watcher::Config::default().labels(SEALED_SECRETS_KEY_LABEL))
        .default_backoff()
        .reflect(labelled_w);
    let legacy_events = watcher(
        api,
        watcher::Config::default().fields(&format!("metadata.name={}", flags.key_prefix)),
    )
    .default_backoff()
    .reflect(legacy_w);
    let mut events = std::pin::pin!(futures::stream::select(labelled_events, legacy_events));
    let mut cache = KeyCache::default();
    let mut reported: HashSet<(String, String)> = HashSet::new();
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => continue,
            Ok(_) => {}
            Err(e) => {
                warn!(namespace, error = %e, "watching key Secrets failed; retrying");
                continue;
            }
        }
        // Both lists must be complete before the key set means anything.
        if !(listed(&labelled) && listed(&legacy)) {
            continue;
        }
        let secrets: Vec<Arc<Secret>> = labelled.state().into_iter().chain(legacy.state()).collect();
        let (set, errors) = cache.build(
            secrets.iter().map(|s| s.as_ref()),
            flags.key_order_priority,
            &flags.key_prefix,
        );
        for (name, why) in errors {
            if reported.insert((name.clone(), why.clone())) {
                error!(namespace, secret = name, error = why, "skipping malformed key Secret");
            }
        }
        publish_key_metrics(&metrics, &set);
        let summary = |s: &KeySet| -> Vec<(String, &'static str)> {
            s.keys()
                .iter()
                .map(|k| (k.short_fingerprint.clone(), k.status.as_str()))
                .collect()
        };
        if summary(&store.snapshot()) != summary(&set) {
            info!(
                namespace,
                keys = set.len(),
                current = set.current().map(|k| k.name.as_str()).unwrap_or("none"),
                "key set changed"
            );
        }
        store.replace(set);
        store.mark_ready();
    }
}

fn listed(store: &Store<Secret>) -> bool {
    // A reader is ready once its first list completed.
    future::FutureExt::now_or_never(store.wait_until_ready()).is_some()
}

fn publish_key_metrics(metrics: &Metrics, set: &KeySet) {
    metrics.keys_loaded.clear();
    for k in set.keys() {
        metrics
            .keys_loaded
            .get_or_create(&KeyLabels {
                key: k.short_fingerprint.clone(),
                status: k.status.as_str().to_string(),
            })
            .set(1);
    }
}

/// Generates a key, stores it as a key Secret the way Bitnami does, and adds it
/// to `store` at once. Returns the Secret's name.
pub async fn generate_key(
    client: &kube::Client,
    namespace: &str,
    flags: &Flags,
    store: &KeyStore,
) -> anyhow::Result<String> {
    let params = KeyGenParams {
        bits: flags.key_size,
        common_name: flags.my_cn.clone(),
        not_before: OffsetDateTime::now_utc(),
        validity: time::Duration::try_from(flags.key_ttl)?,
    };
    let generated = tokio::task::spawn_blocking(move || generate(&params)).await??;
    let mut secret = key_secret(&generated, namespace, "");
    secret.metadata.name = None;
    secret.metadata.generate_name = Some(flags.key_prefix.clone());
    let labels = secret.metadata.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in &flags.privatekey_labels.0 {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if !flags.privatekey_annotations.0.is_empty() {
        secret.metadata.annotations = Some(flags.privatekey_annotations.0.iter().cloned().collect());
    }
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let created = api.create(&PostParams::default(), &secret).await?;
    let name = created.metadata.name.clone().unwrap_or_default();
    if let Some(Ok(key)) = parse_key_secret(&created, flags.key_order_priority, &flags.key_prefix) {
        let mut keys: Vec<_> = store.snapshot().keys().to_vec();
        keys.push(Arc::new(key));
        store.replace(KeySet::new(keys));
    }
    info!(
        namespace,
        secret = name,
        bits = flags.key_size,
        "generated a new sealing key"
    );
    Ok(name)
}

/// The leader's key duty: a key at start if none is usable or the newest is
/// older than `--key-cutoff-time`, then one every `--key-renew-period`, and one
/// whenever `force` is notified (SIGUSR1).
pub async fn renewal_loop(
    client: kube::Client,
    namespace: String,
    flags: Arc<Flags>,
    store: Arc<KeyStore>,
    force: Arc<Notify>,
) {
    store.wait_ready().await;
    let mut forced = false;
    loop {
        let set = store.snapshot();
        let due = forced || set.needs_new_key(flags.key_cutoff_time) || {
            // Renewal time may have come while another replica was leader.
            set.next_renewal(flags.key_renew_period, OffsetDateTime::now_utc())
                .is_some_and(|d| d.is_zero())
        };
        if due {
            match generate_key(&client, &namespace, &flags, &store).await {
                Ok(_) => forced = false,
                Err(e) => {
                    error!(namespace, error = %e, "generating a sealing key failed; retrying in 10s");
                    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                    continue;
                }
            }
        }
        let set = store.snapshot();
        let wait = set.next_renewal(flags.key_renew_period, OffsetDateTime::now_utc());
        tokio::select! {
            _ = async { match wait { Some(d) => tokio::time::sleep(d).await, None => future::pending().await } } => {}
            _ = force.notified() => forced = true,
        }
    }
}
