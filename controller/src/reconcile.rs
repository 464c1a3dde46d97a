//! The reconciler: SealedSecret → Secret, on kube-runtime's Controller.
//!
//! Cost model, in order of preference:
//! 1. nothing changed and the Secret is known good: no API call, no RSA;
//! 2. the Secret changed or is unverified: one GET, an HMAC check, no RSA;
//! 3. otherwise decrypt (trying first the keys that opened it last time, then
//!    newest to oldest) and write.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use gitseal_api::SealedSecret;
use gitseal_core::seal::sealed_to;
use gitseal_core::unseal::{UnsealOptions, unseal_with};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use tokio::sync::{OnceCell, Semaphore};
use tracing::{Instrument, debug, info, info_span, warn};
use zeroize::Zeroize;

use crate::annotations::{CACHED_DIGEST, CONTENT_MAC, KEYS, SEALED_DIGEST};
use crate::cache::{SecretIndex, is_slim, slim};
use crate::config::Flags;
use crate::digest::{Content, content_mac, managed_keys, sealed_digest};
use crate::error::Error;
use crate::events::{EventType, Publisher};
use crate::keys::KeySet;
use crate::keywatch::KeyStore;
use crate::metrics::{Metrics, ReconcileTimer};
use crate::plan::{Ownership, Stamp, Write, desired_secret, ownership, write_kind};
use crate::status::{Outcome, next_status};

/// The field manager for everything the controller writes.
pub const FIELD_MANAGER: &str = "gitseal-controller";

type Key = (String, String);

/// In-flight reconciles per decryption permit (`--concurrency`).
const RECONCILES_PER_DECRYPT: usize = 4;

/// State shared by every namespace's controller.
pub struct Shared {
    pub client: kube::Client,
    pub flags: Arc<Flags>,
    pub keys: Arc<KeyStore>,
    pub metrics: Arc<Metrics>,
    pub events: Publisher,
    /// Secrets known to hold what their SealedSecret says, by resourceVersion.
    verified: Mutex<HashMap<Key, String>>,
    /// Which keys opened each SealedSecret, for the per-key gauge.
    pub key_use: Mutex<HashMap<Key, Vec<String>>>,
    failures: Mutex<HashMap<Key, u32>>,
    /// Bounds concurrent decryption across namespaces.
    decrypt_permits: Semaphore,
    /// Every namespace's SealedSecret cache, for the metrics refresher.
    pub stores: Mutex<Vec<Store<SealedSecret>>>,
}

impl Shared {
    pub fn new(client: kube::Client, flags: Arc<Flags>, keys: Arc<KeyStore>, metrics: Arc<Metrics>) -> Arc<Self> {
        let events = Publisher::new(client.clone(), "sealed-secrets", flags.pod_name.as_deref(), "Unseal");
        let permits = flags.concurrency();
        Arc::new(Shared {
            client,
            flags,
            keys,
            metrics,
            events,
            verified: Mutex::default(),
            key_use: Mutex::default(),
            failures: Mutex::default(),
            decrypt_permits: Semaphore::new(permits),
            stores: Mutex::default(),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One namespace's (or the whole cluster's) context.
pub struct Ctx {
    shared: Arc<Shared>,
    namespace: Option<String>,
    sealed: Store<SealedSecret>,
    /// Metadata of Secrets; `None` with `--skip-recreate`.
    secrets: Option<Arc<SecretIndex>>,
    primed: OnceCell<()>,
}

fn key_of(ss: &SealedSecret) -> Key {
    (ss.namespace().unwrap_or_default(), ss.name_any())
}

async fn reconcile(ss: Arc<SealedSecret>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let (namespace, name) = key_of(&ss);
    let span = info_span!("reconcile", namespace, name);
    async move {
        let shared = ctx.shared.clone();
        let _timer = ReconcileTimer::start(&shared.metrics.reconcile_duration);
        shared.metrics.unseal_requests.inc();
        ctx.primed.get_or_init(|| prime(&ctx)).await;
        let result = sync(&ss, &ctx).await;
        let outcome = match &result {
            Ok(_) => Outcome::ok(),
            Err(e) => Outcome {
                synced: false,
                reason: e.event_reason().into(),
                message: e.message(),
            },
        };
        let reference = ss.object_ref(&());
        match &result {
            Ok(true) => {
                info!("unsealed");
                publish(
                    &shared,
                    &reference,
                    EventType::Normal,
                    "Unsealed",
                    "SealedSecret unsealed successfully",
                )
                .await;
            }
            Ok(false) => debug!("up to date"),
            Err(e) => {
                warn!(reason = e.metric_reason(), error = %e.message(), "reconcile failed");
                shared.metrics.unseal_error(e.metric_reason(), &namespace);
                if !matches!(e, Error::NoKeys) {
                    publish(&shared, &reference, EventType::Warning, e.event_reason(), &e.message()).await;
                }
            }
        }
        if shared.flags.update_status && !matches!(result, Err(Error::NoKeys)) {
            write_status(&ss, &ctx, &outcome).await?;
        }
        result?;
        lock(&shared.failures).remove(&key_of(&ss));
        // The watches bring every change. No periodic requeue: with many
        // SealedSecrets the scheduler's timers would cost megabytes for nothing.
        Ok(Action::await_change())
    }
    .instrument(span)
    .await
}

async fn publish(
    shared: &Shared,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    if let Err(e) = shared.events.publish(reference, type_, reason, note).await {
        debug!(error = %e, "publishing an event failed");
    }
}

async fn write_status(ss: &SealedSecret, ctx: &Ctx, outcome: &Outcome) -> Result<(), Error> {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let Some(status) = next_status(ss, outcome, now) else {
        return Ok(());
    };
    let api: Api<SealedSecret> = Api::namespaced(ctx.shared.client.clone(), &ss.namespace().unwrap_or_default());
    let patch = serde_json::json!({ "status": status });
    match api
        .patch_status(&ss.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        // Deleted meanwhile: nothing to report on.
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => {
            ctx.shared
                .metrics
                .unseal_error("status", &ss.namespace().unwrap_or_default());
            Err(Error::Status(e))
        }
    }
}

/// After a restart: one paginated LIST of Secrets verifies every unchanged
/// Secret by its MAC, instead of a GET per SealedSecret.
async fn prime(ctx: &Ctx) {
    let _ = ctx.sealed.wait_until_ready().await;
    let Some(secrets_index) = &ctx.secrets else { return };
    secrets_index.wait_until_ready().await;
    ctx.shared.keys.wait_ready().await;
    let keys = ctx.shared.keys.snapshot();
    let Some(mac_key) = keys.mac_key() else { return };
    let api: Api<Secret> = match &ctx.namespace {
        Some(ns) => Api::namespaced(ctx.shared.client.clone(), ns),
        None => Api::all(ctx.shared.client.clone()),
    };
    let mut lp = ListParams::default().limit(500);
    if let Some(sel) = &ctx.shared.flags.label_selector {
        lp = lp.labels(sel);
    }
    let mut verified = 0usize;
    loop {
        let page = match api.list(&lp).await {
            Ok(page) => page,
            Err(e) => {
                debug!(error = %e, "priming list failed; falling back to per-object checks");
                return;
            }
        };
        for secret in &page.items {
            let (ns, name) = (secret.namespace().unwrap_or_default(), secret.name_any());
            let Some(ss) = ctx.sealed.get(&ObjectRef::new(&name).within(&ns)) else {
                continue;
            };
            if let Some(rv) = verify(&ss, &digest_of(&ss), secret, mac_key) {
                lock(&ctx.shared.verified).insert((ns.clone(), name.clone()), rv);
                record_key_use(&ctx.shared, (ns, name), &secret.metadata);
                verified += 1;
            }
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => lp = lp.continue_token(&token),
            None => break,
        }
    }
    info!(
        namespace = ctx.namespace.as_deref().unwrap_or("*"),
        verified, "verified existing Secrets"
    );
}

fn digest_of(ss: &SealedSecret) -> String {
    ss.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CACHED_DIGEST))
        .cloned()
        .unwrap_or_else(|| sealed_digest(ss))
}

/// If `secret` provably holds what `ss` (whose sealed digest is `digest`) says,
/// its resourceVersion.
fn verify(ss: &SealedSecret, digest: &str, secret: &Secret, mac_key: &aws_lc_rs::hmac::Key) -> Option<String> {
    if ss.spec.data.is_some() {
        return None; // v1 blobs don't say which items they hold
    }
    let annotations = secret.metadata.annotations.as_ref()?;
    if annotations.get(SEALED_DIGEST).map(String::as_str) != Some(digest) {
        return None;
    }
    let own = ownership(ss, Some(&secret.metadata));
    if !matches!(own, Ownership::Replace | Ownership::Patch { .. }) {
        return None;
    }
    let (items, label_keys, annotation_keys) = managed_keys(ss);
    if own == Ownership::Replace {
        let present: Vec<&String> = secret.data.iter().flatten().map(|(k, _)| k).collect();
        if present != items.iter().collect::<Vec<_>>() {
            return None; // items added or removed by hand
        }
    }
    let content = Content {
        digest,
        secret,
        items: &items,
        label_keys: &label_keys,
        annotation_keys: &annotation_keys,
    };
    (annotations.get(CONTENT_MAC).map(String::as_str) == Some(content_mac(mac_key, &content).as_str()))
        .then(|| secret.metadata.resource_version.clone().unwrap_or_default())
}

/// The short key fingerprints recorded on a Secret ([`KEYS`]).
fn recorded_keys(secret_meta: &ObjectMeta) -> Vec<String> {
    secret_meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(KEYS))
        .map(|v| v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

fn record_key_use(shared: &Shared, key: Key, secret_meta: &ObjectMeta) {
    lock(&shared.key_use).insert(key, recorded_keys(secret_meta));
}

/// Brings the Secret in line. `Ok(true)` if it was written.
async fn sync(ss: &Arc<SealedSecret>, ctx: &Ctx) -> Result<bool, Error> {
    let shared = &ctx.shared;
    let keys = shared.keys.snapshot();
    if keys.is_empty() {
        return Err(Error::NoKeys);
    }
    let (namespace, name) = key_of(ss);
    let id = (namespace.clone(), name.clone());
    let digest = digest_of(ss);

    // 1. The cache says the Secret is the one we verified, and nothing changed.
    let cached = ctx.secrets.as_ref().map(|s| s.get(&namespace, &name));
    if let Some(Some(meta)) = &cached {
        let rv = meta.resource_version.as_deref().unwrap_or("");
        let same_digest = meta.annotations.as_ref().and_then(|a| a.get(SEALED_DIGEST)) == Some(&digest);
        let verified = lock(&shared.verified).get(&id).is_some_and(|v| v == rv);
        if verified && same_digest && matches!(ownership(ss, Some(meta)), Ownership::Replace | Ownership::Patch { .. })
        {
            record_key_use(shared, id, meta);
            return Ok(false);
        }
    }

    // 2. Read the Secret, unless the cache (complete after priming) says there is
    // none and this controller never wrote one: right after a write the cache can
    // lag, and trusting it would decrypt again only to hit AlreadyExists. With a
    // label selector the cache holds only labelled Secrets, so absence says nothing.
    let secrets: Api<Secret> = Api::namespaced(shared.client.clone(), &namespace);
    let written_before = lock(&shared.verified).contains_key(&id);
    let cache_complete = shared.flags.label_selector.is_none();
    let existing = match cached {
        Some(None) if !written_before && cache_complete => None,
        _ => secrets.get_opt(&name).await.map_err(Error::Fetch)?,
    };
    let own = ownership(ss, existing.as_ref().map(|s| &s.metadata));
    if own == Ownership::Unmanaged {
        return Err(Error::Unmanaged(name));
    }
    if let (Some(existing), Some(mac_key)) = (&existing, keys.mac_key())
        && let Some(rv) = verify(ss, &digest, existing, mac_key)
    {
        lock(&shared.verified).insert(id.clone(), rv);
        record_key_use(shared, id, &existing.metadata);
        return Ok(false);
    }

    // 3. Decrypt. The cache holds no ciphertexts: read the whole object.
    let (full, digest) = if is_slim(ss) {
        let api: Api<SealedSecret> = Api::namespaced(shared.client.clone(), &namespace);
        match api.get_opt(&name).await.map_err(Error::Fetch)? {
            Some(full) => {
                let digest = sealed_digest(&full);
                (Arc::new(full), digest)
            }
            None => return Ok(false), // deleted meanwhile
        }
    } else {
        (ss.clone(), digest)
    };
    let hint = existing
        .as_ref()
        .map(|s| recorded_keys(&s.metadata))
        .unwrap_or_default();
    let opts = UnsealOptions {
        accept_deprecated_v1_data: shared.flags.accept_deprecated_v1_data,
        skip_templates: false,
    };
    let permit = shared.decrypt_permits.acquire().await.ok();
    let (keys_for_task, full_for_task) = (keys.clone(), full.clone());
    let (unsealed, used) = tokio::task::spawn_blocking(move || decrypt(&keys_for_task, &full_for_task, &hint, opts))
        .await
        .map_err(|e| {
            Error::Unseal(gitseal_core::unseal::UnsealError::Identity(format!(
                "unseal task failed: {e}"
            )))
        })?;
    drop(permit);
    let mut unsealed = unsealed?;
    shared.metrics.rsa_decrypts.inc_by(unsealed.rsa_operations as u64);
    shared
        .metrics
        .items_unsealed(full.spec.encrypted_data.len(), unsealed.v2_items);

    let (items, label_keys, annotation_keys) = managed_keys(&full);
    let secret = std::mem::take(&mut unsealed.secret);
    let stamp = Stamp {
        digest: digest.clone(),
        keys: used.clone(),
    };
    let mut desired = desired_secret(&full, secret, existing.as_ref(), own, &stamp);
    if let Some(mac_key) = keys.mac_key() {
        let mac = content_mac(
            mac_key,
            &Content {
                digest: &digest,
                secret: &desired,
                items: &items,
                label_keys: &label_keys,
                annotation_keys: &annotation_keys,
            },
        );
        desired
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(CONTENT_MAC.into(), mac);
    }
    let result = write(&secrets, &name, existing.as_ref(), &desired).await;
    if let Some(data) = desired.data.as_mut() {
        data.values_mut().for_each(|v| v.0.zeroize());
    }
    let (written, rv) = result?;
    lock(&shared.verified).insert(id.clone(), rv);
    lock(&shared.key_use).insert(id, used);
    Ok(written)
}

type Decrypted = (
    Result<gitseal_core::unseal::Unsealed, gitseal_core::unseal::UnsealError>,
    Vec<String>,
);

/// Unseals `ss` trying first the keys that opened it last time (`last_used`, from
/// its Secret), then the keys it says it was sealed to, then newest to oldest.
fn decrypt(keys: &KeySet, ss: &SealedSecret, last_used: &[String], opts: UnsealOptions) -> Decrypted {
    let mut hint: Vec<&str> = last_used.iter().map(String::as_str).collect();
    hint.extend(sealed_to(ss.metadata.annotations.as_ref()));
    let order = keys.decryption_order(&hint);
    let identities = keys.age_identities();
    let result = unseal_with(ss, &order, &identities, opts);
    let mut used: Vec<String> = Vec::new();
    if let Ok(u) = &result {
        let indices: HashSet<usize> = u.key_by_item.values().copied().collect();
        for i in indices {
            if let Some(fp) = order.get(i).and_then(|k| keys.fingerprint_of(k)) {
                used.push(fp.to_string());
            }
        }
        // v2 items count for the key whose age identity opened them.
        for &i in u.identity_by_item.values() {
            if let Some(fp) = identities.get(i).and_then(|id| keys.fingerprint_of_identity(id)) {
                used.push(fp.to_string());
            }
        }
        used.sort();
        used.dedup();
    }
    (result, used)
}

/// Writes `desired`. Returns whether anything was written and the resulting resourceVersion.
async fn write(
    api: &Api<Secret>,
    name: &str,
    existing: Option<&Secret>,
    desired: &Secret,
) -> Result<(bool, String), Error> {
    let pp = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    let rv_of = |s: Secret| s.metadata.resource_version.unwrap_or_default();
    match write_kind(existing, desired) {
        Write::Unchanged => Ok((
            false,
            existing
                .and_then(|e| e.metadata.resource_version.clone())
                .unwrap_or_default(),
        )),
        Write::ImmutableConflict => Err(Error::Immutable(name.to_string())),
        Write::Create => api
            .create(&pp, desired)
            .await
            .map(|s| (true, rv_of(s)))
            .map_err(Error::Update),
        Write::Update => match api.replace(name, &pp, desired).await {
            Ok(s) => Ok((true, rv_of(s))),
            Err(kube::Error::Api(e)) if e.code == 422 && e.message.contains("immutable") => {
                Err(Error::Immutable(name.to_string()))
            }
            Err(e) => Err(Error::Update(e)),
        },
    }
}

fn error_policy(ss: Arc<SealedSecret>, error: &Error, ctx: Arc<Ctx>) -> Action {
    let mut failures = lock(&ctx.shared.failures);
    let n = failures.entry(key_of(&ss)).or_insert(0);
    *n = n.saturating_add(1);
    let cap = if error.transient() { 30.0 } else { 300.0 };
    let delay = (0.5 * 2f64.powi((*n - 1).min(20) as i32)).min(cap);
    Action::requeue(Duration::from_secs_f64(delay))
}

/// Runs the controller for one namespace (`None`: all namespaces) until the future is dropped.
pub async fn run_controller(shared: Arc<Shared>, namespace: Option<String>) {
    let client = shared.client.clone();
    let flags = shared.flags.clone();
    let (ss_api, secret_api): (Api<SealedSecret>, Api<PartialObjectMeta<Secret>>) = match &namespace {
        Some(ns) => (Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns)),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let mut wc = watcher::Config::default();
    if let Some(sel) = &flags.label_selector {
        wc = wc.labels(sel);
    }
    let (sealed, sealed_writer) = reflector::store::<SealedSecret>();
    lock(&shared.stores).push(sealed.clone());
    let old_gc = flags.old_gc_behavior.then(|| client.clone());
    let sealed_stream = watcher(ss_api, wc.clone())
        .default_backoff()
        .modify(slim)
        .inspect(move |event| {
            if let (Some(client), Ok(watcher::Event::Delete(ss))) = (&old_gc, event) {
                tokio::spawn(delete_owned_secret(client.clone(), ss.clone()));
            }
        })
        .reflect(sealed_writer)
        .applied_objects();

    let (secrets, secrets_stream) = if flags.skip_recreate {
        (None, None)
    } else {
        let index = Arc::new(SecretIndex::default());
        let writer = index.clone();
        // Api<PartialObjectMeta<_>> makes metadata-only requests: memory stays flat.
        let stream = watcher(secret_api, wc)
            .default_backoff()
            .inspect(move |event| {
                if let Ok(event) = event {
                    writer.apply(event);
                }
            })
            .touched_objects();
        (Some(index), Some(stream))
    };

    let ctx = Arc::new(Ctx {
        shared: shared.clone(),
        namespace: namespace.clone(),
        sealed: sealed.clone(),
        secrets,
        primed: OnceCell::new(),
    });
    let key_changes = tokio_stream_from_watch(shared.keys.subscribe());
    // Decryption is bounded by `decrypt_permits`; more reconciles than permits
    // keep the CPUs busy while others wait on the API server.
    let concurrency = u16::try_from(flags.concurrency().saturating_mul(RECONCILES_PER_DECRYPT))
        .unwrap_or(u16::MAX)
        .max(1);
    let mut controller = Controller::for_stream(sealed_stream, sealed)
        .with_config(ControllerConfig::default().concurrency(concurrency))
        .reconcile_all_on(key_changes);
    if let Some(stream) = secrets_stream {
        controller = controller.watches_stream(stream, |meta: PartialObjectMeta<Secret>| {
            Some(ObjectRef::<SealedSecret>::new(&meta.name_any()).within(&meta.namespace().unwrap_or_default()))
        });
    }
    info!(
        namespace = namespace.as_deref().unwrap_or("*"),
        "watching SealedSecrets"
    );
    controller
        .run(reconcile, error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// A stream that yields whenever the key set changes.
fn tokio_stream_from_watch(
    mut rx: tokio::sync::watch::Receiver<u64>,
) -> impl futures::Stream<Item = ()> + Send + 'static {
    rx.mark_unchanged();
    futures::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        Some(((), rx))
    })
}

/// `--old-gc-behavior`: delete the Secret explicitly, only if this SealedSecret controls it.
async fn delete_owned_secret(client: kube::Client, ss: SealedSecret) {
    let (ns, name) = key_of(&ss);
    let api: Api<Secret> = Api::namespaced(client, &ns);
    let Ok(Some(secret)) = api.get_opt(&name).await else {
        return;
    };
    let uid = ss.metadata.uid.clone().unwrap_or_default();
    if uid.is_empty() || !crate::plan::controlled_by(&secret.metadata, &uid) {
        return;
    }
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: secret.metadata.uid.clone(),
            resource_version: secret.metadata.resource_version.clone(),
        }),
        ..Default::default()
    };
    match api.delete(&name, &dp).await {
        Ok(_) => info!(namespace = ns, name, "deleted the Secret of a deleted SealedSecret"),
        Err(e) => warn!(namespace = ns, name, error = %e, "deleting the Secret failed"),
    }
}

/// Recomputes the gauges that describe the whole set: condition_info and SealedSecrets per key.
pub fn refresh_gauges(shared: &Shared) {
    use crate::metrics::{ConditionLabels, KeyLabels};
    let m = &shared.metrics;
    m.condition_info.clear();
    let stores = lock(&shared.stores).clone();
    let mut live: HashSet<Key> = HashSet::new();
    for store in &stores {
        for ss in store.state() {
            live.insert(key_of(&ss));
            m.condition_info
                .get_or_create(&ConditionLabels {
                    namespace: ss.namespace().unwrap_or_default(),
                    name: ss.name_any(),
                    condition: "Synced".into(),
                    ss_app_kubernetes_io_instance: ss
                        .labels()
                        .get(crate::cache::INSTANCE_LABEL)
                        .cloned()
                        .unwrap_or_default(),
                })
                .set(crate::status::condition_value(&ss));
        }
    }
    let keys = shared.keys.snapshot();
    let mut per_key: BTreeMap<String, i64> = keys.keys().iter().map(|k| (k.short_fingerprint.clone(), 0)).collect();
    {
        let mut use_map = lock(&shared.key_use);
        use_map.retain(|k, _| live.contains(k));
        for fps in use_map.values() {
            for fp in fps {
                *per_key.entry(fp.clone()).or_insert(0) += 1;
            }
        }
    }
    m.sealed_secrets_per_key.clear();
    for (fp, count) in per_key {
        let status = keys.status_of(&fp).map_or("unloaded", |s| s.as_str());
        m.sealed_secrets_per_key
            .get_or_create(&KeyLabels {
                key: fp,
                status: status.into(),
            })
            .set(count);
    }
}

/// Mock API-server tests (kube-rs's tower-test pattern): each test scripts the
/// exact requests a reconcile must make, answers them, and fails on any other.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyCache;
    use gitseal_api::SealedSecretSpec;
    use gitseal_core::seal::seal_raw;
    use http::{Method, Request, Response};
    use kube::client::Body;
    use kube::runtime::watcher::Event as WEvent;
    use serde_json::{Value, json};

    type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

    const KEY_SECRET: &str = include_str!("../../testdata/keys/second-key-secret.yaml");

    fn keys() -> Arc<KeyStore> {
        let secret: Secret = serde_saphyr::from_str(KEY_SECRET).unwrap();
        let (set, errors) = KeyCache::default().build(
            [&secret],
            crate::config::KeyOrderPriority::CertNotBefore,
            "sealed-secrets-key",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let store = Arc::new(KeyStore::default());
        store.replace(set);
        store.mark_ready();
        store
    }

    fn sealed(keys: &KeyStore) -> SealedSecret {
        let set = keys.snapshot();
        let public = set.current().unwrap().key.public_key();
        let value = seal_raw(b"hunter2", public, gitseal_core::Scope::Strict, "app", "db").unwrap();
        let mut ss = SealedSecret::new(
            "db",
            SealedSecretSpec {
                encrypted_data: [("password".to_string(), value)].into(),
                ..Default::default()
            },
        );
        ss.metadata.namespace = Some("app".into());
        ss.metadata.uid = Some("ss-uid".into());
        ss.metadata.generation = Some(1);
        ss.metadata.resource_version = Some("10".into());
        ss
    }

    fn ctx(client: kube::Client, keys: Arc<KeyStore>, ss: &SealedSecret, secrets: &[Secret]) -> Arc<Ctx> {
        let flags = Arc::new(<Flags as clap::Parser>::parse_from(["gitseal-controller"]));
        let shared = Shared::new(client, flags, keys, Metrics::new());
        // As the watches feed them: the SealedSecret slimmed, Secrets indexed.
        let (sealed, mut sw) = reflector::store::<SealedSecret>();
        let mut cached = ss.clone();
        slim(&mut cached);
        sw.apply_watcher_event(&WEvent::Init);
        sw.apply_watcher_event(&WEvent::InitApply(cached));
        sw.apply_watcher_event(&WEvent::InitDone);
        let index = Arc::new(SecretIndex::default());
        index.apply(&WEvent::Init);
        for s in secrets {
            index.apply(&WEvent::InitApply(PartialObjectMeta::<Secret> {
                types: None,
                metadata: s.metadata.clone(),
                _phantom: Default::default(),
            }));
        }
        index.apply(&WEvent::InitDone);
        // Keep the writer alive for the test's duration.
        std::mem::forget(sw);
        Arc::new(Ctx {
            shared,
            namespace: Some("app".into()),
            sealed,
            secrets: Some(index),
            primed: OnceCell::new(),
        })
    }

    async fn expect(
        handle: &mut Handle,
        method: Method,
        path: &str,
    ) -> (Value, tower_test::mock::SendResponse<Response<Body>>) {
        let (req, send) = tokio::time::timeout(Duration::from_secs(5), handle.next_request())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {method} {path}"))
            .expect("service dropped");
        assert_eq!(req.method(), method, "{}", req.uri());
        assert_eq!(req.uri().path(), path);
        let bytes = req.into_body().collect_bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (body, send)
    }

    fn respond(send: tower_test::mock::SendResponse<Response<Body>>, status: u16, body: Value) {
        send.send_response(
            Response::builder()
                .status(status)
                .body(Body::from(serde_json::to_vec(&body).unwrap()))
                .unwrap(),
        );
    }

    fn empty_list() -> Value {
        json!({"apiVersion": "v1", "kind": "SecretList", "metadata": {"resourceVersion": "1"}, "items": []})
    }

    #[test]
    fn a_sealed_to_record_spares_the_wrong_key_trials() {
        // Two keys of one size: a key of another size is told apart without RSA.
        use base64::Engine as _;
        let b64 = |b: &str| base64::engine::general_purpose::STANDARD.encode(b);
        let expired: Secret = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "sealed-secrets-keyold", "namespace": "kube-system",
                "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": b64(include_str!("../../testdata/keys/expired.crt")),
                     "tls.key": b64(include_str!("../../testdata/keys/expired.key"))}}))
        .unwrap();
        let secrets = [serde_saphyr::from_str::<Secret>(KEY_SECRET).unwrap(), expired];
        let (set, errors) = KeyCache::default().build(
            secrets.iter(),
            crate::config::KeyOrderPriority::CertNotBefore,
            "sealed-secrets-key",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let oldest = set.keys().last().unwrap();
        assert!(!Arc::ptr_eq(oldest, set.current().unwrap()));
        let input = gitseal_core::seal::InputSecret::from_value(&json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "app"}, "stringData": {"a": "1", "b": "2", "c": "3"}}))
        .unwrap();
        let opts = gitseal_core::seal::SealOptions::default();
        let ss = gitseal_core::seal::seal(input, oldest.key.public_key(), &opts).unwrap();
        let unseal_opts = UnsealOptions::default();

        let (opened, used) = decrypt(&set, &ss, &[], unseal_opts);
        assert_eq!(opened.unwrap().rsa_operations, 3, "one item per RSA operation");
        assert_eq!(used, std::slice::from_ref(&oldest.short_fingerprint));

        // Sealed by kubeseal: nothing says which key, so newest to oldest.
        let mut unrecorded = ss.clone();
        unrecorded.metadata.annotations = None;
        let (opened, _) = decrypt(&set, &unrecorded, &[], unseal_opts);
        assert_eq!(
            opened.unwrap().rsa_operations,
            4,
            "the first item tries the newest key first"
        );
        // A Secret's record of the key that opened it last time works as well.
        let (opened, _) = decrypt(
            &set,
            &unrecorded,
            std::slice::from_ref(&oldest.short_fingerprint),
            unseal_opts,
        );
        assert_eq!(opened.unwrap().rsa_operations, 3);
    }

    #[tokio::test]
    async fn new_sealed_secret_creates_secret_then_restart_does_nothing() {
        let keys = keys();
        let ss = sealed(&keys);
        let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let ctx1 = ctx(kube::Client::new(svc, "default"), keys.clone(), &ss, &[]);
        let full = serde_json::to_value(&ss).unwrap();
        let verifier = tokio::spawn(async move {
            let (_, send) = expect(&mut handle, Method::GET, "/api/v1/namespaces/app/secrets").await;
            respond(send, 200, empty_list());
            // The cache holds no ciphertexts: the whole object is read once, to decrypt.
            let (_, send) = expect(
                &mut handle,
                Method::GET,
                "/apis/bitnami.com/v1alpha1/namespaces/app/sealedsecrets/db",
            )
            .await;
            respond(send, 200, full);
            let (mut secret, send) = expect(&mut handle, Method::POST, "/api/v1/namespaces/app/secrets").await;
            assert_eq!(secret["data"]["password"], "aHVudGVyMg==");
            assert_eq!(secret["metadata"]["ownerReferences"][0]["uid"], "ss-uid");
            assert_eq!(secret["metadata"]["ownerReferences"][0]["blockOwnerDeletion"], true);
            secret["metadata"]["resourceVersion"] = json!("11");
            respond(send, 201, secret.clone());
            let (event, send) = expect(
                &mut handle,
                Method::POST,
                "/apis/events.k8s.io/v1/namespaces/app/events",
            )
            .await;
            assert_eq!(event["reason"], "Unsealed");
            assert_eq!(event["type"], "Normal");
            respond(send, 201, event);
            let (patch, send) = expect(
                &mut handle,
                Method::PATCH,
                "/apis/bitnami.com/v1alpha1/namespaces/app/sealedsecrets/db/status",
            )
            .await;
            assert_eq!(patch["status"]["conditions"][0]["type"], "Synced");
            assert_eq!(patch["status"]["conditions"][0]["status"], "True");
            assert_eq!(patch["status"]["observedGeneration"], 1);
            respond(
                send,
                200,
                json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "db"}, "spec": {"encryptedData": {}}}),
            );
            (handle, secret, patch["status"].clone())
        });
        let cached = ctx1.sealed.get(&ObjectRef::new("db").within("app")).unwrap();
        reconcile(cached, ctx1.clone()).await.unwrap();
        let (_handle, secret_json, status) = verifier.await.unwrap();
        assert!(ctx1.shared.metrics.rsa_decrypts.get() >= 1);

        // Restart: a fresh controller sees the Secret it wrote and the status it set.
        let secret: Secret = serde_json::from_value(secret_json.clone()).unwrap();
        let mut synced = ss.clone();
        synced.status = Some(serde_json::from_value(status).unwrap());
        let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let ctx2 = ctx(
            kube::Client::new(svc, "default"),
            keys,
            &synced,
            std::slice::from_ref(&secret),
        );
        let verifier = tokio::spawn(async move {
            let (_, send) = expect(&mut handle, Method::GET, "/api/v1/namespaces/app/secrets").await;
            respond(
                send,
                200,
                json!({"apiVersion": "v1", "kind": "SecretList", "metadata": {}, "items": [secret_json]}),
            );
            // Nothing else may be requested.
            let extra = tokio::time::timeout(Duration::from_millis(300), handle.next_request()).await;
            assert!(
                extra.is_err() || extra.unwrap().is_none(),
                "restart made an extra API call"
            );
        });
        let cached = ctx2.sealed.get(&ObjectRef::new("db").within("app")).unwrap();
        reconcile(cached, ctx2.clone()).await.unwrap();
        verifier.await.unwrap();
        assert_eq!(ctx2.shared.metrics.rsa_decrypts.get(), 0, "restart must not decrypt");
    }

    #[tokio::test]
    async fn unowned_secret_is_refused_and_reported() {
        let keys = keys();
        let ss = sealed(&keys);
        let foreign = Secret {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("db".into()),
                namespace: Some("app".into()),
                resource_version: Some("5".into()),
                ..Default::default()
            },
            data: Some([("password".to_string(), k8s_openapi::ByteString(b"theirs".to_vec()))].into()),
            ..Default::default()
        };
        let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let ctx = ctx(
            kube::Client::new(svc, "default"),
            keys,
            &ss,
            std::slice::from_ref(&foreign),
        );
        let foreign_json = serde_json::to_value(&foreign).unwrap();
        let verifier = tokio::spawn(async move {
            let (_, send) = expect(&mut handle, Method::GET, "/api/v1/namespaces/app/secrets").await;
            respond(
                send,
                200,
                json!({"apiVersion": "v1", "kind": "SecretList", "metadata": {}, "items": [foreign_json.clone()]}),
            );
            let (_, send) = expect(&mut handle, Method::GET, "/api/v1/namespaces/app/secrets/db").await;
            respond(send, 200, foreign_json);
            let (event, send) = expect(
                &mut handle,
                Method::POST,
                "/apis/events.k8s.io/v1/namespaces/app/events",
            )
            .await;
            assert_eq!(event["reason"], "ErrUpdateFailed");
            assert_eq!(
                event["note"],
                "Resource \"db\" already exists and is not managed by SealedSecret"
            );
            respond(send, 201, event);
            let (patch, send) = expect(
                &mut handle,
                Method::PATCH,
                "/apis/bitnami.com/v1alpha1/namespaces/app/sealedsecrets/db/status",
            )
            .await;
            assert_eq!(patch["status"]["conditions"][0]["status"], "False");
            assert_eq!(patch["status"]["conditions"][0]["reason"], "ErrUpdateFailed");
            respond(
                send,
                200,
                json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "db"}, "spec": {"encryptedData": {}}}),
            );
        });
        let cached = ctx.sealed.get(&ObjectRef::new("db").within("app")).unwrap();
        let err = reconcile(cached, ctx.clone()).await.unwrap_err();
        assert!(matches!(err, Error::Unmanaged(_)), "{err}");
        verifier.await.unwrap();
        assert_eq!(
            ctx.shared.metrics.rsa_decrypts.get(),
            0,
            "refusal happens before any decryption"
        );
    }
}
