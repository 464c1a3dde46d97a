//! What to write to the Secret: ownership rules and the desired object. Pure.
//!
//! Bitnami's semantics (reference §2.3, §2.4):
//! - a Secret controlled by this SealedSecret (ownerReference UID) is replaced;
//! - an existing Secret it doesn't control is refused, unless annotated
//!   `managed` (replace and take ownership) or `patch` (merge data, labels and
//!   annotations; take ownership only if `managed` is also set);
//! - `skip-set-owner-references` in the template leaves ownerReferences off.

use std::collections::BTreeMap;

use gitseal_api::SealedSecret;
use gitseal_api::annotations::{MANAGED, PATCH, SKIP_SET_OWNER_REFERENCES};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::annotations;

/// How the controller may treat an existing Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// No Secret yet.
    Absent,
    /// Controlled by this SealedSecret, or carrying `managed`: replace it.
    Replace,
    /// Carrying `patch`: merge into it; `take_ownership` if also `managed`.
    Patch { take_ownership: bool },
    /// Someone else's: refuse.
    Unmanaged,
}

fn flag(meta: &ObjectMeta, key: &str) -> bool {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .is_some_and(|v| v == "true")
}

/// Whether `meta` is controlled by the SealedSecret with this UID.
pub fn controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && r.uid == uid)
}

/// Decides ownership from the existing Secret's metadata (a metadata-only view is enough).
pub fn ownership(ss: &SealedSecret, existing: Option<&ObjectMeta>) -> Ownership {
    let Some(meta) = existing else {
        return Ownership::Absent;
    };
    let uid = ss.metadata.uid.as_deref().unwrap_or("");
    let managed = flag(meta, MANAGED);
    if flag(meta, PATCH) {
        return Ownership::Patch {
            take_ownership: managed,
        };
    }
    if managed || (!uid.is_empty() && controlled_by(meta, uid)) {
        return Ownership::Replace;
    }
    // With skip-set-owner-references there is no ownerReference to go by; a
    // Secret this controller wrote for this very SealedSecret still counts.
    if skips_owner_references(ss) && meta.owner_references.as_ref().is_none_or(Vec::is_empty) {
        let ours = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(annotations::SEALED_DIGEST))
            .is_some();
        if ours {
            return Ownership::Replace;
        }
    }
    Ownership::Unmanaged
}

pub fn skips_owner_references(ss: &SealedSecret) -> bool {
    ss.spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .is_some_and(|m| flag(m, SKIP_SET_OWNER_REFERENCES))
}

/// The ownerReference the controller sets.
pub fn owner_reference(ss: &SealedSecret) -> OwnerReference {
    OwnerReference {
        api_version: "bitnami.com/v1alpha1".into(),
        kind: "SealedSecret".into(),
        name: ss.metadata.name.clone().unwrap_or_default(),
        uid: ss.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The gitseal annotations recorded on the Secret. The content MAC is added by
/// the caller, over the Secret this function returns.
pub struct Stamp {
    pub digest: String,
    pub keys: Vec<String>,
}

/// Builds the Secret to write from the unsealed one, per `ownership`.
///
/// `unsealed` is the Secret exactly as the template and decrypted items make
/// it; `existing` is the full current Secret (for patch mode and for keeping
/// foreign ownerReferences out of the way).
pub fn desired_secret(
    ss: &SealedSecret,
    unsealed: Secret,
    existing: Option<&Secret>,
    ownership: Ownership,
    stamp: &Stamp,
) -> Secret {
    let mut desired = match (ownership, existing) {
        (Ownership::Patch { take_ownership }, Some(existing)) => {
            let mut merged = existing.clone();
            merged.metadata = ObjectMeta {
                name: existing.metadata.name.clone(),
                namespace: existing.metadata.namespace.clone(),
                resource_version: existing.metadata.resource_version.clone(),
                labels: merge(existing.metadata.labels.clone(), unsealed.metadata.labels),
                annotations: merge(existing.metadata.annotations.clone(), unsealed.metadata.annotations),
                owner_references: existing.metadata.owner_references.clone(),
                finalizers: existing.metadata.finalizers.clone(),
                ..Default::default()
            };
            let mut data = existing.data.clone().unwrap_or_default();
            data.extend(unsealed.data.unwrap_or_default());
            merged.data = Some(data);
            merged.string_data = None;
            merged.type_ = unsealed.type_;
            if unsealed.immutable.is_some() {
                merged.immutable = unsealed.immutable;
            }
            if take_ownership && !skips_owner_references(ss) {
                merged.metadata.owner_references = Some(vec![owner_reference(ss)]);
            }
            merged
        }
        _ => {
            let mut s = unsealed;
            if let Some(existing) = existing {
                s.metadata.resource_version = existing.metadata.resource_version.clone();
            }
            s.metadata.owner_references = (!skips_owner_references(ss)).then(|| vec![owner_reference(ss)]);
            s
        }
    };
    let a = desired.metadata.annotations.get_or_insert_with(BTreeMap::new);
    a.retain(|k, _| !annotations::is_ours(k));
    a.insert(annotations::SEALED_DIGEST.into(), stamp.digest.clone());
    if !stamp.keys.is_empty() {
        a.insert(annotations::KEYS.into(), stamp.keys.join(","));
    }
    desired
}

fn merge(
    base: Option<BTreeMap<String, String>>,
    over: Option<BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    match (base, over) {
        (None, None) => None,
        (b, o) => {
            let mut m = b.unwrap_or_default();
            m.extend(o.unwrap_or_default());
            Some(m)
        }
    }
}

/// What writing `desired` over `existing` amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Create,
    Update,
    /// Already as desired.
    Unchanged,
    /// The Secret is immutable and its content would change.
    ImmutableConflict,
}

pub fn write_kind(existing: Option<&Secret>, desired: &Secret) -> Write {
    let Some(existing) = existing else {
        return Write::Create;
    };
    let same_content = existing.data.as_ref().map(|d| d.iter().collect::<Vec<_>>())
        == desired.data.as_ref().map(|d| d.iter().collect::<Vec<_>>())
        && existing.type_.as_deref().unwrap_or("Opaque") == desired.type_.as_deref().unwrap_or("Opaque");
    let same_meta = existing.metadata.labels == desired.metadata.labels
        && existing.metadata.annotations == desired.metadata.annotations
        && existing.metadata.owner_references == desired.metadata.owner_references;
    let same_immutable = existing.immutable.unwrap_or(false) == desired.immutable.unwrap_or(false);
    if same_content && same_meta && same_immutable {
        return Write::Unchanged;
    }
    if existing.immutable == Some(true) && !(same_content && same_immutable) {
        return Write::ImmutableConflict;
    }
    Write::Update
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitseal_api::{SealedSecretSpec, SecretTemplateSpec};
    use k8s_openapi::ByteString;

    fn ss(template_annotations: &[(&str, &str)]) -> SealedSecret {
        let mut ss = SealedSecret::new(
            "db",
            SealedSecretSpec {
                encrypted_data: BTreeMap::new(),
                template: Some(Box::new(SecretTemplateSpec {
                    metadata: Some(ObjectMeta {
                        annotations: Some(
                            template_annotations
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                                .collect(),
                        ),
                        labels: Some([("app".to_string(), "db".to_string())].into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                })),
                data: None,
            },
        );
        ss.metadata.namespace = Some("app".into());
        ss.metadata.uid = Some("uid-1".into());
        ss
    }

    fn secret(annotations: &[(&str, &str)], owner_uid: Option<&str>, data: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("db".into()),
                namespace: Some("app".into()),
                resource_version: Some("7".into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                owner_references: owner_uid.map(|uid| {
                    vec![OwnerReference {
                        uid: uid.into(),
                        controller: Some(true),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            type_: Some("Opaque".into()),
            ..Default::default()
        }
    }

    fn unsealed(data: &[(&str, &str)]) -> Secret {
        let mut s = secret(&[], None, data);
        s.metadata.resource_version = None;
        s.metadata.annotations = None;
        s.metadata.labels = Some([("app".to_string(), "db".to_string())].into());
        s
    }

    fn stamp() -> Stamp {
        Stamp {
            digest: "d".into(),
            keys: vec!["fp".into()],
        }
    }

    #[test]
    fn ownership_rules() {
        let s = ss(&[]);
        assert_eq!(ownership(&s, None), Ownership::Absent);
        assert_eq!(
            ownership(&s, Some(&secret(&[], Some("uid-1"), &[]).metadata)),
            Ownership::Replace
        );
        assert_eq!(
            ownership(&s, Some(&secret(&[], Some("uid-2"), &[]).metadata)),
            Ownership::Unmanaged
        );
        assert_eq!(
            ownership(&s, Some(&secret(&[], None, &[]).metadata)),
            Ownership::Unmanaged
        );
        assert_eq!(
            ownership(&s, Some(&secret(&[(MANAGED, "true")], None, &[]).metadata)),
            Ownership::Replace
        );
        assert_eq!(
            ownership(&s, Some(&secret(&[(MANAGED, "yes")], None, &[]).metadata)),
            Ownership::Unmanaged
        );
        assert_eq!(
            ownership(&s, Some(&secret(&[(PATCH, "true")], None, &[]).metadata)),
            Ownership::Patch { take_ownership: false }
        );
        assert_eq!(
            ownership(
                &s,
                Some(&secret(&[(PATCH, "true"), (MANAGED, "true")], None, &[]).metadata)
            ),
            Ownership::Patch { take_ownership: true }
        );
        // skip-set-owner-references: recognised by the controller's own stamp only.
        let skip = ss(&[(SKIP_SET_OWNER_REFERENCES, "true")]);
        assert_eq!(
            ownership(
                &skip,
                Some(&secret(&[(annotations::SEALED_DIGEST, "x")], None, &[]).metadata)
            ),
            Ownership::Replace
        );
        assert_eq!(
            ownership(&skip, Some(&secret(&[], None, &[]).metadata)),
            Ownership::Unmanaged
        );
    }

    #[test]
    fn replace_sets_owner_and_stamp_and_keeps_rv() {
        let s = ss(&[]);
        let existing = secret(&[], Some("uid-1"), &[("old", "x")]);
        let d = desired_secret(
            &s,
            unsealed(&[("password", "p")]),
            Some(&existing),
            Ownership::Replace,
            &stamp(),
        );
        let owner = &d.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.uid.as_str(), owner.controller, owner.block_owner_deletion),
            ("uid-1", Some(true), Some(true))
        );
        assert_eq!(owner.kind, "SealedSecret");
        assert_eq!(d.metadata.resource_version.as_deref(), Some("7"));
        assert!(
            !d.data.as_ref().unwrap().contains_key("old"),
            "replace drops items no longer sealed"
        );
        assert_eq!(
            d.metadata.annotations.as_ref().unwrap()[annotations::SEALED_DIGEST],
            "d"
        );
        assert_eq!(write_kind(Some(&existing), &d), Write::Update);
        assert_eq!(write_kind(Some(&d), &d), Write::Unchanged);
        assert_eq!(write_kind(None, &d), Write::Create);
    }

    #[test]
    fn patch_merges_and_takes_ownership_only_when_managed() {
        let s = ss(&[]);
        let existing = secret(
            &[(PATCH, "true")],
            Some("someone-else"),
            &[("keep", "k"), ("password", "old")],
        );
        let d = desired_secret(
            &s,
            unsealed(&[("password", "new")]),
            Some(&existing),
            Ownership::Patch { take_ownership: false },
            &stamp(),
        );
        let data = d.data.as_ref().unwrap();
        assert_eq!(data["keep"].0, b"k");
        assert_eq!(data["password"].0, b"new");
        assert_eq!(d.metadata.owner_references.as_ref().unwrap()[0].uid, "someone-else");
        assert_eq!(d.metadata.annotations.as_ref().unwrap()[PATCH], "true");
        assert_eq!(d.metadata.labels.as_ref().unwrap()["app"], "db");
        let d = desired_secret(
            &s,
            unsealed(&[("password", "new")]),
            Some(&existing),
            Ownership::Patch { take_ownership: true },
            &stamp(),
        );
        assert_eq!(d.metadata.owner_references.as_ref().unwrap()[0].uid, "uid-1");
    }

    #[test]
    fn skip_owner_references_leaves_them_off() {
        let s = ss(&[(SKIP_SET_OWNER_REFERENCES, "true")]);
        let d = desired_secret(&s, unsealed(&[("a", "b")]), None, Ownership::Absent, &stamp());
        assert!(d.metadata.owner_references.is_none());
    }

    #[test]
    fn immutable_secrets_are_not_rewritten() {
        let s = ss(&[]);
        let mut existing = secret(&[], Some("uid-1"), &[("password", "old")]);
        existing.immutable = Some(true);
        let mut u = unsealed(&[("password", "new")]);
        u.immutable = Some(true);
        let d = desired_secret(&s, u, Some(&existing), Ownership::Replace, &stamp());
        assert_eq!(write_kind(Some(&existing), &d), Write::ImmutableConflict);
        // Metadata-only changes to an immutable Secret are allowed.
        let mut same = existing.clone();
        same.metadata.annotations = d.metadata.annotations.clone();
        same.metadata.labels = None;
        let mut u = unsealed(&[("password", "old")]);
        u.immutable = Some(true);
        let d2 = desired_secret(&s, u, Some(&same), Ownership::Replace, &stamp());
        assert_eq!(write_kind(Some(&same), &d2), Write::Update);
    }
}
