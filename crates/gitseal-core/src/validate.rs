//! Offline structural checks of a SealedSecret, with no private key.

use gitseal_api::SealedSecret;

use crate::hybrid;
use crate::keys::PublicKey;
use crate::meta;
use crate::names;
use crate::scope::Scope;

/// Checks what can be checked without a private key. With `cert_key`, every
/// item's wrapped-key length must match that certificate's modulus. Returns one
/// message per problem; empty means the object looks sealable by that controller.
pub fn check_structure(sealed: &SealedSecret, cert_key: Option<&PublicKey>) -> Vec<String> {
    let mut problems = Vec::new();
    match sealed.metadata.name.as_deref() {
        None | Some("") => problems.push("metadata.name is missing".to_string()),
        Some(name) => {
            if let Err(e) = names::check_subdomain(name) {
                problems.push(format!("metadata.name: {e}"));
            }
        }
    }
    let outer_scope = Scope::from_annotations(sealed.annotations());
    match sealed.metadata.namespace.as_deref() {
        None | Some("") if outer_scope.needs_namespace() => {
            problems.push(format!("metadata.namespace is missing ({outer_scope} scope needs one)"));
        }
        None | Some("") => {}
        Some(ns) => {
            if let Err(e) = names::check_label(ns) {
                problems.push(format!("metadata.namespace: {e}"));
            }
        }
    }
    let template_annotations = sealed
        .spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref());
    let template_scope = Scope::from_annotations(template_annotations);
    if template_scope != outer_scope {
        problems.push(format!(
            "scope annotations disagree: metadata says {outer_scope}, spec.template.metadata says {template_scope}"
        ));
    }
    if sealed.spec.data.is_some() && !sealed.spec.encrypted_data.is_empty() {
        problems.push("spec.data (deprecated) and spec.encryptedData are both set".to_string());
    }
    if sealed.spec.data.is_none() && sealed.spec.encrypted_data.is_empty() {
        let has_template_data = sealed
            .spec
            .template
            .as_ref()
            .and_then(|t| t.data.as_ref())
            .is_some_and(|d| !d.is_empty());
        if !has_template_data {
            problems.push("spec.encryptedData is empty".to_string());
        }
    }
    for (item, value) in &sealed.spec.encrypted_data {
        if let Err(e) = names::check_data_key(item) {
            problems.push(format!("item {item:?}: {e}"));
        }
        if crate::v2::is_v2(value) {
            // Sealed to age recipients, not to the certificate: check its shape.
            if let Err(e) = crate::v2::parse(value) {
                problems.push(format!("item {item:?}: {e}"));
            }
            continue;
        }
        let ct = match meta::decode_base64(value) {
            Ok(ct) => ct,
            Err(e) => {
                problems.push(format!("item {item:?}: invalid base64: {e}"));
                continue;
            }
        };
        let rsa_len = match hybrid::declared_rsa_len(&ct) {
            Ok(n) => n,
            Err(e) => {
                problems.push(format!("item {item:?}: {e}"));
                continue;
            }
        };
        if ct.len() < 2 + rsa_len + hybrid::TAG_LEN {
            problems.push(format!("item {item:?}: ciphertext is truncated"));
        }
        if let Some(key) = cert_key
            && rsa_len != key.modulus_len()
        {
            problems.push(format!(
                "item {item:?}: sealed to a {}-bit key, but the certificate's key is {}-bit",
                rsa_len * 8,
                key.bits()
            ));
        }
    }
    problems
}
