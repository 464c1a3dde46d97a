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
    let (v2_items, bitnami): (BTreeMap<String, String>, BTreeMap<String, String>) = sealed
        .spec
        .encrypted_data
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(_, v)| crate::v2::is_v2(v));
    let mut unsealed = if v2_items.is_empty() {
        unseal(sealed, keys, opts)?
    } else {
        let mut bitnami_only = sealed.clone();
        bitnami_only.spec.encrypted_data = bitnami;
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
    // Every item is now sealed to `to`, so the record is complete whatever it said before.
    out.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(gitseal_api::annotations::SEALED_TO.into(), to.short_fingerprint());
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
