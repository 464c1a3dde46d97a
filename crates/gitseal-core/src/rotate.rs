//! Re-sealing to a newer key: the controller's `/v1/rotate` and `gitseal reencrypt`.
//!
//! Two rules upstream learned the hard way:
//! - the scope comes from the SealedSecret's own metadata, and the template's
//!   scope annotations are overwritten with it, so re-sealing can never widen the
//!   scope (CVE-2026-22728);
//! - `template.data` is neither rendered nor baked into `encryptedData`: it is kept
//!   as written, so rotation is no decryption oracle and loses nothing.

use std::borrow::Borrow;
use std::collections::BTreeMap;

use gitseal_api::SealedSecret;
use zeroize::Zeroize;

use crate::keys::{PrivateKey, PublicKey};
use crate::meta;
use crate::scope::Scope;
use crate::seal::{SealError, encrypt_items};
use crate::unseal::{UnsealError, UnsealOptions, unseal};

/// Why a SealedSecret could not be re-sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    #[error(transparent)]
    Unseal(#[from] UnsealError),
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// Decrypts every item of `sealed` with `keys` and seals it again to `to`, under
/// the same name, namespace and (outer) scope. Everything else is kept; server
/// fields and status are dropped. A deprecated `spec.data` blob becomes
/// `encryptedData` items.
pub fn reseal<K: Borrow<PrivateKey>>(
    sealed: &SealedSecret,
    keys: &[K],
    to: &PublicKey,
    opts: UnsealOptions,
) -> Result<SealedSecret, RotateError> {
    let opts = UnsealOptions {
        skip_templates: true,
        ..opts
    };
    // Items in gitseal's v2 format stay as they are: they name their own
    // recipients, some of which (recovery keys, other clusters) this key set
    // doesn't know. Only Bitnami items move to `to`.
    let v2_items: BTreeMap<String, String> = sealed
        .spec
        .encrypted_data
        .iter()
        .filter(|(_, v)| crate::v2::is_v2(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if sealed.spec.data.is_some() && !sealed.spec.encrypted_data.is_empty() {
        return Err(UnsealError::BothDataFields.into());
    }
    let has_bitnami = sealed.spec.data.is_some() || v2_items.len() < sealed.spec.encrypted_data.len();
    let mut unsealed = if v2_items.is_empty() {
        unseal(sealed, keys, opts)?
    } else {
        let mut bitnami_only = sealed.clone();
        bitnami_only.spec.encrypted_data.retain(|_, v| !crate::v2::is_v2(v));
        unseal(&bitnami_only, keys, opts)?
    };
    let scope = Scope::from_annotations(sealed.metadata.annotations.as_ref());
    let namespace = sealed.metadata.namespace.as_deref().unwrap_or("");
    let name = sealed.metadata.name.as_deref().unwrap_or("");

    let mut items: BTreeMap<String, zeroize::Zeroizing<Vec<u8>>> = BTreeMap::new();
    for (k, mut v) in unsealed.secret.data.take().unwrap_or_default() {
        items.insert(k, zeroize::Zeroizing::new(std::mem::take(&mut v.0)));
    }
    let encrypted = encrypt_items(&items, to.into(), scope, namespace, name);
    drop(items);
    let mut encrypted_data = encrypted?;
    encrypted_data.extend(v2_items);

    let mut out = sealed.clone();
    meta::strip_server_fields(&mut out.metadata);
    out.status = None;
    let v1_blob = out.spec.data.take().is_some();
    out.spec.encrypted_data = encrypted_data;
    // Every Bitnami item is now sealed to `to`, so the record is complete
    // whatever it said before.
    if has_bitnami {
        out.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(gitseal_api::annotations::SEALED_TO.into(), to.short_fingerprint());
    }
    let template = out.spec.template.get_or_insert_with(Default::default);
    if v1_blob {
        // The blob carried the whole Secret; its metadata and type become the template.
        let mut secret_meta = unsealed.secret.metadata.clone();
        meta::strip_server_fields(&mut secret_meta);
        secret_meta.name = None;
        secret_meta.namespace = None;
        template.metadata = Some(secret_meta);
        template.type_ = unsealed.secret.type_.clone();
    }
    let template_meta = template.metadata.get_or_insert_with(Default::default);
    let annotations = template_meta.annotations.get_or_insert_with(BTreeMap::new);
    scope.write_annotations(annotations);
    if annotations.is_empty() {
        template_meta.annotations = None;
    }
    if let Some(data) = unsealed.secret.data.as_mut() {
        data.values_mut().for_each(|v| v.0.zeroize());
    }
    Ok(out)
}

/// Where [`reencrypt_items`] moves items. `None` leaves items of that format as
/// they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct Targets<'a> {
    /// Bitnami items go to this certificate's key.
    pub bitnami: Option<&'a PublicKey>,
    /// v2 items go to exactly these recipients.
    pub recipients: Option<&'a [crate::v2::Recipient]>,
    /// Bitnami items become v2 items (to `recipients`).
    pub to_v2: bool,
}

/// What [`reencrypt_items`] changed.
#[derive(Debug, Default)]
pub struct ItemChanges {
    /// The new value of each item that changed.
    pub items: BTreeMap<String, String>,
    /// Items left byte-identical: already where the targets say.
    pub kept: usize,
    /// The `gitseal.dev/sealed-to` value to write when every Bitnami item ends
    /// up sealed to the Bitnami target.
    pub sealed_to: Option<String>,
}

/// Repo-wide re-encryption, item by item: an item already sealed to its target
/// (the same RSA key, or exactly the same recipients) stays byte-identical, so
/// diffs show only what moved. Others are opened with `keys` / `identities` and
/// sealed again under the SealedSecret's own scope, namespace and name.
pub fn reencrypt_items(
    sealed: &SealedSecret,
    keys: &[&PrivateKey],
    identities: &[&crate::v2::Identity],
    targets: Targets<'_>,
) -> Result<ItemChanges, RotateError> {
    use crate::{hybrid, v2};
    let scope = Scope::from_annotations(sealed.metadata.annotations.as_ref());
    let namespace = sealed.metadata.namespace.as_deref().unwrap_or("");
    let name = sealed.metadata.name.as_deref().unwrap_or("");
    let label = scope.label(namespace, name);
    let item_err = |item: &str, failure: crate::unseal::ItemFailure| {
        RotateError::Unseal(UnsealError::Items(vec![(item.to_string(), failure)]))
    };
    let want_fps = targets.recipients.map(|r| {
        let mut fps: Vec<&str> = r.iter().map(|r| r.fingerprint()).collect();
        fps.sort_unstable();
        fps.dedup();
        fps
    });
    let mut changes = ItemChanges::default();
    let mut all_bitnami_on_target = targets.bitnami.is_some();
    let mut bitnami_items = 0usize;
    for (item, value) in &sealed.spec.encrypted_data {
        let binding = v2::Binding {
            scope,
            namespace,
            name,
            key: item,
        };
        if v2::is_v2(value) {
            let (Some(recipients), Some(want)) = (targets.recipients, &want_fps) else {
                changes.kept += 1;
                continue;
            };
            let mut have = v2::recorded(value);
            have.sort_unstable();
            have.dedup();
            if &have == want {
                changes.kept += 1;
                continue;
            }
            let (plain, _) =
                v2::open(value, identities, &binding).map_err(|e| item_err(item, crate::unseal::ItemFailure::V2(e)))?;
            let resealed = v2::seal(&plain, recipients, &binding).map_err(|error| SealError::V2 {
                item: item.clone(),
                error,
            })?;
            changes.items.insert(item.clone(), resealed);
            continue;
        }
        let to_v2 = targets.to_v2 && targets.recipients.is_some();
        if !to_v2 && targets.bitnami.is_none() {
            changes.kept += 1;
            continue;
        }
        let ct = crate::meta::decode_base64(value)
            .map_err(|e| item_err(item, crate::unseal::ItemFailure::InvalidBase64(e.to_string())))?;
        let (plain, index) = hybrid::decrypt(keys.iter().copied(), &label, &ct)
            .map_err(|_| item_err(item, crate::unseal::ItemFailure::NoKey))?;
        let value = if let (true, Some(recipients)) = (to_v2, targets.recipients) {
            all_bitnami_on_target = false;
            v2::seal(&plain, recipients, &binding).map_err(|error| SealError::V2 {
                item: item.clone(),
                error,
            })?
        } else if let Some(to) = targets.bitnami {
            bitnami_items += 1;
            if keys[index].fingerprint() == to.fingerprint() {
                changes.kept += 1;
                continue;
            }
            let ct = hybrid::encrypt(to, &label, &plain).map_err(|_| SealError::Encrypt(item.clone()))?;
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ct)
        } else {
            changes.kept += 1;
            continue;
        };
        changes.items.insert(item.clone(), value);
    }
    if all_bitnami_on_target
        && bitnami_items > 0
        && let Some(to) = targets.bitnami
    {
        changes.sealed_to = Some(to.short_fingerprint());
    }
    Ok(changes)
}
