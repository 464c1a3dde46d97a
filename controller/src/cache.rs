//! What the controller keeps from its watches, kept small so that memory stays
//! flat with many objects (the budget: 64 MiB for 10,000 SealedSecrets,
//! their Secrets and 10,000 unrelated Secrets).
//!
//! - SealedSecrets are cached without their ciphertexts ([`slim`]); the
//!   reconciler reads the whole object only when it must decrypt.
//! - Secrets are indexed by name with only their resourceVersion, plus, for
//!   Secrets that concern the controller, the few annotations and owner
//!   references it reads ([`SecretIndex`]). An unrelated Secret costs about a
//!   hundred bytes.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use gitseal_api::SealedSecret;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher;

use crate::annotations::{CACHED_DIGEST, CACHED_ITEMS};
use crate::digest::sealed_digest;

/// Shrinks a SealedSecret for the cache. It keeps what deciding "nothing to
/// do" needs: name, namespace, uid, generation, status, the template's shape,
/// the sealed digest ([`CACHED_DIGEST`]) and the item names ([`CACHED_ITEMS`]).
/// It drops the ciphertexts, template bodies, the template's metadata other
/// than its labels and annotations, and the object's own annotations and
/// labels, except the `app.kubernetes.io/instance` label that the
/// `condition_info` metric reports. The reconciler reads the whole object only
/// when it must decrypt.
pub fn slim(ss: &mut SealedSecret) {
    let digest = sealed_digest(ss);
    let items: Vec<&str> = ss.spec.encrypted_data.keys().map(String::as_str).collect();
    let cached = BTreeMap::from([
        (CACHED_DIGEST.to_string(), digest),
        (CACHED_ITEMS.to_string(), items.join(",")),
    ]);
    ss.metadata.annotations = Some(cached);
    ss.metadata.managed_fields = None;
    ss.metadata.labels = ss.metadata.labels.take().and_then(|mut labels| {
        labels.retain(|k, _| k == INSTANCE_LABEL);
        (!labels.is_empty()).then_some(labels)
    });
    // An empty map owns no allocation.
    ss.spec.encrypted_data = BTreeMap::new();
    if let Some(template) = ss.spec.template.as_mut() {
        if let Some(data) = template.data.as_mut() {
            // Keep which items the template sets (Some) or removes (None).
            data.values_mut().flatten().for_each(|v| *v = String::new());
        }
        // Of the template's metadata only its labels and annotations are read
        // (managed keys, skip-set-owner-references); the name and namespace that
        // kubeseal writes there are forced to the SealedSecret's anyway. An
        // ObjectMeta is some 500 bytes, on every cached SealedSecret.
        template.metadata = template.metadata.take().and_then(|m| {
            (m.labels.is_some() || m.annotations.is_some()).then(|| ObjectMeta {
                labels: m.labels,
                annotations: m.annotations,
                ..Default::default()
            })
        });
    }
    // A template left with nothing the reconciler reads (its type and
    // `immutable` matter only when writing, from the whole object) is dropped:
    // the boxed template is some 450 bytes even when empty.
    if ss
        .spec
        .template
        .as_ref()
        .is_some_and(|t| t.metadata.is_none() && t.data.is_none())
    {
        ss.spec.template = None;
    }
    ss.spec.data = ss.spec.data.take().map(|_| k8s_openapi::ByteString(Vec::new()));
}

/// The label `condition_info` copies from each SealedSecret.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";

/// Whether `ss` came from the cache and lacks its ciphertexts.
pub fn is_slim(ss: &SealedSecret) -> bool {
    ss.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(CACHED_DIGEST))
}

/// The names of `ss`'s sealed items, whether it is cached ([`slim`]) or whole.
pub fn item_names(ss: &SealedSecret) -> Vec<String> {
    match ss.metadata.annotations.as_ref().and_then(|a| a.get(CACHED_ITEMS)) {
        Some(items) if is_slim(ss) => items.split(',').filter(|i| !i.is_empty()).map(str::to_string).collect(),
        _ => ss.spec.encrypted_data.keys().cloned().collect(),
    }
}

/// Secret metadata by namespace and name, fed by a metadata-only watch.
///
/// Like kube-runtime's reflector store it swaps in a relisted state only when
/// the relist is complete, so readers never see a half-filled index.
#[derive(Default)]
pub struct SecretIndex {
    state: RwLock<State>,
    ready: tokio::sync::Notify,
}

#[derive(Default)]
struct State {
    live: HashMap<Box<str>, Entry>,
    relisting: Option<HashMap<Box<str>, Entry>>,
    ready: bool,
}

fn index_key(namespace: &str, name: &str) -> Box<str> {
    format!("{namespace}/{name}").into_boxed_str()
}

struct Entry {
    resource_version: Box<str>,
    /// What the controller reads from Secrets that concern it; `None` for the
    /// (usually many) Secrets that don't.
    related: Option<Box<Related>>,
}

/// The annotations the controller reads from a Secret, by index into this table.
const KEPT_ANNOTATIONS: [&str; 5] = [
    crate::annotations::SEALED_DIGEST,
    crate::annotations::CONTENT_MAC,
    crate::annotations::KEYS,
    gitseal_api::annotations::MANAGED,
    gitseal_api::annotations::PATCH,
];

struct Related {
    annotations: Box<[(u8, Box<str>)]>,
    owners: Box<[Owner]>,
}

/// A SealedSecret owner reference: name, uid and the controller flag.
type Owner = (Box<str>, Box<str>, Option<bool>);

impl Entry {
    fn of(meta: &ObjectMeta) -> Entry {
        let annotations: Box<[(u8, Box<str>)]> = meta
            .annotations
            .iter()
            .flatten()
            .filter_map(|(k, v)| {
                let i = KEPT_ANNOTATIONS.iter().position(|kept| kept == k)?;
                Some((i as u8, v.as_str().into()))
            })
            .collect();
        let owners: Box<[_]> = meta
            .owner_references
            .iter()
            .flatten()
            .filter(|r| r.kind == "SealedSecret")
            .map(|r| (r.name.as_str().into(), r.uid.as_str().into(), r.controller))
            .collect();
        let related =
            (!annotations.is_empty() || !owners.is_empty()).then(|| Box::new(Related { annotations, owners }));
        Entry {
            resource_version: meta.resource_version.as_deref().unwrap_or_default().into(),
            related,
        }
    }

    fn to_meta(&self, namespace: &str, name: &str) -> ObjectMeta {
        let mut meta = ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            resource_version: Some(self.resource_version.to_string()),
            ..Default::default()
        };
        if let Some(related) = &self.related {
            if !related.annotations.is_empty() {
                meta.annotations = Some(
                    related
                        .annotations
                        .iter()
                        .map(|(i, v)| (KEPT_ANNOTATIONS[*i as usize].to_string(), v.to_string()))
                        .collect(),
                );
            }
            if !related.owners.is_empty() {
                meta.owner_references = Some(
                    related
                        .owners
                        .iter()
                        .map(|(name, uid, controller)| OwnerReference {
                            api_version: "bitnami.com/v1alpha1".into(),
                            kind: "SealedSecret".into(),
                            name: name.to_string(),
                            uid: uid.to_string(),
                            controller: *controller,
                            block_owner_deletion: None,
                        })
                        .collect(),
                );
            }
        }
        meta
    }
}

impl SecretIndex {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies one watch event.
    pub fn apply(&self, event: &watcher::Event<PartialObjectMeta<Secret>>) {
        let key = |m: &PartialObjectMeta<Secret>| index_key(&m.namespace().unwrap_or_default(), &m.name_any());
        let mut state = self.write();
        match event {
            watcher::Event::Apply(m) => {
                state.live.insert(key(m), Entry::of(&m.metadata));
            }
            watcher::Event::Delete(m) => {
                state.live.remove(&key(m));
            }
            watcher::Event::Init => state.relisting = Some(HashMap::new()),
            watcher::Event::InitApply(m) => {
                let entry = Entry::of(&m.metadata);
                state.relisting.get_or_insert_with(HashMap::new).insert(key(m), entry);
            }
            watcher::Event::InitDone => {
                if let Some(mut fresh) = state.relisting.take() {
                    fresh.shrink_to_fit();
                    state.live = fresh;
                }
                if !state.ready {
                    state.ready = true;
                    self.ready.notify_waiters();
                }
            }
        }
    }

    /// Returns once the first full list has been applied.
    pub async fn wait_until_ready(&self) {
        loop {
            let notified = self.ready.notified();
            if self.state.read().unwrap_or_else(|e| e.into_inner()).ready {
                return;
            }
            notified.await;
        }
    }

    /// The cached metadata of a Secret: name, namespace, resourceVersion and,
    /// if it has any, the annotations and owner references the controller reads.
    pub fn get(&self, namespace: &str, name: &str) -> Option<ObjectMeta> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        Some(state.live.get(&index_key(namespace, name))?.to_meta(namespace, name))
    }

    pub fn len(&self) -> usize {
        self.state.read().unwrap_or_else(|e| e.into_inner()).live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, rv: &str, annotations: &[(&str, &str)], owner: Option<&str>) -> PartialObjectMeta<Secret> {
        PartialObjectMeta {
            types: None,
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("app".into()),
                resource_version: Some(rv.into()),
                labels: Some([("team".to_string(), "x".to_string())].into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                owner_references: owner.map(|kind| {
                    vec![OwnerReference {
                        kind: kind.into(),
                        name: name.into(),
                        uid: "u".into(),
                        controller: Some(true),
                        api_version: "bitnami.com/v1alpha1".into(),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            },
            _phantom: Default::default(),
        }
    }

    #[tokio::test]
    async fn keeps_only_what_the_controller_reads_and_swaps_relists_whole() {
        let index = SecretIndex::default();
        index.apply(&watcher::Event::Init);
        index.apply(&watcher::Event::InitApply(meta(
            "db",
            "5",
            &[(crate::annotations::SEALED_DIGEST, "d1"), ("note", "x")],
            Some("SealedSecret"),
        )));
        index.apply(&watcher::Event::InitApply(meta(
            "other",
            "6",
            &[("note", "x")],
            Some("Deployment"),
        )));
        assert!(
            index.get("app", "db").is_none(),
            "not visible before the list completes"
        );
        index.apply(&watcher::Event::InitDone);
        index.wait_until_ready().await;

        let db = index.get("app", "db").unwrap();
        assert_eq!(db.resource_version.as_deref(), Some("5"));
        assert_eq!(db.name.as_deref(), Some("db"));
        let annotations = db.annotations.unwrap();
        assert_eq!(annotations.len(), 1, "foreign annotations are dropped");
        assert_eq!(annotations[crate::annotations::SEALED_DIGEST], "d1");
        let owner = &db.owner_references.unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("SealedSecret", "u", Some(true))
        );
        let other = index.get("app", "other").unwrap();
        assert!(other.annotations.is_none() && other.owner_references.is_none() && other.labels.is_none());

        // A relist replaces the state only when complete.
        index.apply(&watcher::Event::Init);
        index.apply(&watcher::Event::InitApply(meta("db", "9", &[], None)));
        assert_eq!(
            index.get("app", "other").unwrap().resource_version.as_deref(),
            Some("6")
        );
        index.apply(&watcher::Event::InitDone);
        assert!(index.get("app", "other").is_none(), "gone after the relist");
        assert_eq!(index.get("app", "db").unwrap().resource_version.as_deref(), Some("9"));

        index.apply(&watcher::Event::Delete(meta("db", "10", &[], None)));
        assert!(index.is_empty());
    }

    #[test]
    fn slim_drops_a_template_that_holds_nothing_it_reads() {
        let mut ss = SealedSecret::new(
            "db",
            gitseal_api::SealedSecretSpec {
                encrypted_data: [("password".to_string(), "AgB...".to_string())].into(),
                template: Some(Box::new(gitseal_api::SecretTemplateSpec {
                    metadata: Some(ObjectMeta {
                        name: Some("db".into()),
                        namespace: Some("app".into()),
                        ..Default::default()
                    }),
                    type_: Some("Opaque".into()),
                    ..Default::default()
                })),
                ..Default::default()
            },
        );
        let managed = crate::digest::managed_keys(&ss);
        slim(&mut ss);
        assert!(ss.spec.template.is_none());
        assert_eq!(crate::digest::managed_keys(&ss), managed);
        assert!(!crate::plan::skips_owner_references(&ss));
    }

    #[test]
    fn slim_keeps_only_what_the_reconciler_reads() {
        let mut ss = SealedSecret::new(
            "db",
            gitseal_api::SealedSecretSpec {
                encrypted_data: [
                    ("password".to_string(), "AgB...".to_string()),
                    ("user".to_string(), "AgC...".to_string()),
                ]
                .into(),
                template: Some(Box::new(gitseal_api::SecretTemplateSpec {
                    metadata: Some(ObjectMeta {
                        name: Some("db".into()),
                        namespace: Some("app".into()),
                        annotations: Some(
                            [(
                                gitseal_api::annotations::SKIP_SET_OWNER_REFERENCES.to_string(),
                                "true".to_string(),
                            )]
                            .into(),
                        ),
                        ..Default::default()
                    }),
                    data: Some(
                        [
                            ("dsn".to_string(), Some("{{ .user }}:{{ .password }}".to_string())),
                            ("user".to_string(), None),
                        ]
                        .into(),
                    ),
                    ..Default::default()
                })),
                ..Default::default()
            },
        );
        ss.metadata.labels = Some(
            [
                (INSTANCE_LABEL.to_string(), "app".to_string()),
                ("team".to_string(), "x".to_string()),
            ]
            .into(),
        );
        ss.metadata.annotations = Some(
            [(
                "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                "{...}".to_string(),
            )]
            .into(),
        );
        let digest = sealed_digest(&ss);
        let managed = crate::digest::managed_keys(&ss);
        assert!(!is_slim(&ss));

        slim(&mut ss);
        assert!(is_slim(&ss));
        assert!(ss.spec.encrypted_data.is_empty());
        assert_eq!(item_names(&ss), ["password", "user"]);
        assert_eq!(
            crate::digest::managed_keys(&ss),
            managed,
            "the managed keys survive slimming"
        );
        let annotations = ss.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations[CACHED_DIGEST], digest);
        assert_eq!(annotations.len(), 2, "the object's own annotations are dropped");
        assert_eq!(ss.metadata.labels.as_ref().unwrap().len(), 1);
        assert!(
            crate::plan::skips_owner_references(&ss),
            "template annotations are kept"
        );
        let tmeta = ss.spec.template.as_ref().unwrap().metadata.as_ref().unwrap();
        assert_eq!((tmeta.name.as_deref(), tmeta.namespace.as_deref()), (None, None));
        let tdata = ss.spec.template.as_ref().unwrap().data.as_ref().unwrap();
        assert_eq!(
            tdata["dsn"].as_deref(),
            Some(""),
            "template bodies dropped, their presence kept"
        );
    }
}
