//! Knowing when nothing changed, without RSA.
//!
//! - The **sealed digest** is a SHA-256 over everything that decides the Secret:
//!   name, namespace, scope, `encryptedData`, the template and the v1 blob. The
//!   inputs are ciphertexts and template text, so a plain hash reveals nothing.
//! - The **content MAC** is an HMAC-SHA256 over what the controller wrote to the
//!   Secret. It is keyed with material derived from a private key
//!   ([`crate::keys::KeySet::mac_key`]) because a plain hash of low-entropy
//!   plaintext (a PIN, a short password) could be brute-forced by anyone who can
//!   read the annotation.
//!
//! A Secret whose digest matches and whose MAC verifies is up to date: no decrypt.

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gitseal_api::SealedSecret;
use gitseal_core::Scope;
use k8s_openapi::api::core::v1::Secret;

use crate::annotations;

/// Length-prefixed fields, so that no two inputs serialise alike.
struct Fields<'a, C>(&'a mut C, fn(&mut C, &[u8]));

impl<C> Fields<'_, C> {
    fn put(&mut self, bytes: &[u8]) {
        (self.1)(self.0, &(bytes.len() as u64).to_be_bytes());
        (self.1)(self.0, bytes);
    }
}

/// The sealed digest of a SealedSecret (base64url, 43 characters).
pub fn sealed_digest(ss: &SealedSecret) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut f = Fields(&mut ctx, |c, b| c.update(b));
    f.put(b"gitseal/sealed-digest/v1");
    f.put(ss.metadata.namespace.as_deref().unwrap_or("").as_bytes());
    f.put(ss.metadata.name.as_deref().unwrap_or("").as_bytes());
    f.put(
        Scope::from_annotations(ss.metadata.annotations.as_ref())
            .to_string()
            .as_bytes(),
    );
    f.put(&(ss.spec.encrypted_data.len() as u64).to_be_bytes());
    for (k, v) in &ss.spec.encrypted_data {
        f.put(k.as_bytes());
        f.put(v.as_bytes());
    }
    // serde_json output of these types is deterministic (BTreeMaps, fixed field order).
    f.put(&serde_json::to_vec(&ss.spec.template).unwrap_or_default());
    f.put(ss.spec.data.as_ref().map_or(&[][..], |d| &d.0[..]));
    URL_SAFE_NO_PAD.encode(ctx.finish().as_ref())
}

/// What the content MAC covers, read from a Secret: the data items in `items`,
/// type, immutability, and the template's own labels and annotations.
pub struct Content<'a> {
    pub digest: &'a str,
    pub secret: &'a Secret,
    /// The data keys the controller manages.
    pub items: &'a [String],
    pub label_keys: &'a [String],
    pub annotation_keys: &'a [String],
}

/// HMAC over a Secret's managed content (base64url).
pub fn content_mac(key: &hmac::Key, c: &Content<'_>) -> String {
    let mut ctx = hmac::Context::with_key(key);
    let mut f = Fields(&mut ctx, |c, b| c.update(b));
    f.put(b"gitseal/content-mac/v1");
    f.put(c.digest.as_bytes());
    f.put(c.secret.type_.as_deref().unwrap_or("Opaque").as_bytes());
    f.put(&[u8::from(c.secret.immutable.unwrap_or(false))]);
    let data = c.secret.data.as_ref();
    let labels = c.secret.metadata.labels.as_ref();
    let annots = c.secret.metadata.annotations.as_ref();
    let data_values: Vec<Option<&[u8]>> = c
        .items
        .iter()
        .map(|k| data.and_then(|d| d.get(k)).map(|v| &v.0[..]))
        .collect();
    let label_values: Vec<Option<&[u8]>> = c
        .label_keys
        .iter()
        .map(|k| labels.and_then(|l| l.get(k)).map(|v| v.as_bytes()))
        .collect();
    let annotation_values: Vec<Option<&[u8]>> = c
        .annotation_keys
        .iter()
        .map(|k| annots.and_then(|a| a.get(k)).map(|v| v.as_bytes()))
        .collect();
    for (tag, keys, values) in [
        (&b"data"[..], c.items, &data_values),
        (b"labels", c.label_keys, &label_values),
        (b"annotations", c.annotation_keys, &annotation_values),
    ] {
        f.put(tag);
        f.put(&(keys.len() as u64).to_be_bytes());
        for (k, v) in keys.iter().zip(values) {
            f.put(k.as_bytes());
            match v {
                Some(v) => {
                    f.put(&[1]);
                    f.put(v);
                }
                None => f.put(&[0]),
            }
        }
    }
    URL_SAFE_NO_PAD.encode(ctx.sign().as_ref())
}

/// The keys a SealedSecret's Secret gets, known without decrypting:
/// (data items, template label keys, template annotation keys).
pub fn managed_keys(ss: &SealedSecret) -> (Vec<String>, Vec<String>, Vec<String>) {
    let template = ss.spec.template.as_ref();
    let mut items: Vec<String> = crate::cache::item_names(ss);
    if let Some(tdata) = template.and_then(|t| t.data.as_ref()) {
        for (k, v) in tdata {
            match v {
                Some(_) => items.push(k.clone()),
                None => items.retain(|i| i != k),
            }
        }
    }
    items.sort();
    items.dedup();
    let meta = template.and_then(|t| t.metadata.as_ref());
    let labels = meta
        .and_then(|m| m.labels.as_ref())
        .map(|l| l.keys().cloned().collect())
        .unwrap_or_default();
    let annots = meta
        .and_then(|m| m.annotations.as_ref())
        .map(|a| a.keys().filter(|k| !annotations::is_ours(k)).cloned().collect())
        .unwrap_or_default();
    (items, labels, annots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitseal_api::SealedSecretSpec;
    use k8s_openapi::ByteString;

    fn ss() -> SealedSecret {
        let mut ss = SealedSecret::new(
            "db",
            SealedSecretSpec {
                encrypted_data: [("password".to_string(), "AAAA".to_string())].into(),
                template: Some(Box::default()),
                data: None,
            },
        );
        ss.metadata.namespace = Some("app".into());
        ss
    }

    #[test]
    fn digest_covers_identity_scope_items_and_template() {
        let base = sealed_digest(&ss());
        assert_eq!(base, sealed_digest(&ss()), "deterministic");
        let mut other = ss();
        other.metadata.namespace = Some("other".into());
        assert_ne!(base, sealed_digest(&other));
        let mut other = ss();
        other.metadata.annotations =
            Some([(gitseal_api::annotations::CLUSTER_WIDE.to_string(), "true".to_string())].into());
        assert_ne!(base, sealed_digest(&other), "scope annotation change must re-trigger");
        let mut other = ss();
        other.spec.encrypted_data.insert("password".into(), "AAAB".into());
        assert_ne!(base, sealed_digest(&other));
        let mut other = ss();
        other.spec.template.as_mut().unwrap().type_ = Some("kubernetes.io/tls".into());
        assert_ne!(base, sealed_digest(&other));
        let mut other = ss();
        other.metadata.labels = Some([("unrelated".to_string(), "x".to_string())].into());
        assert_eq!(base, sealed_digest(&other), "outer labels don't change the Secret");
    }

    #[test]
    fn mac_detects_edits_to_managed_content_only() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"k");
        let mut secret = Secret {
            data: Some([("password".to_string(), ByteString(b"hunter2".to_vec()))].into()),
            ..Default::default()
        };
        secret.metadata.labels = Some([("app".to_string(), "db".to_string())].into());
        let items = vec!["password".to_string()];
        let labels = vec!["app".to_string()];
        let mac = |s: &Secret| {
            content_mac(
                &key,
                &Content {
                    digest: "d",
                    secret: s,
                    items: &items,
                    label_keys: &labels,
                    annotation_keys: &[],
                },
            )
        };
        let original = mac(&secret);
        let mut edited = secret.clone();
        edited
            .data
            .as_mut()
            .unwrap()
            .insert("password".into(), ByteString(b"hunter3".to_vec()));
        assert_ne!(original, mac(&edited));
        let mut relabelled = secret.clone();
        relabelled
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("app".into(), "other".into());
        assert_ne!(original, mac(&relabelled));
        let mut extra = secret.clone();
        extra
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("added-by-someone".into(), "x".into());
        assert_eq!(original, mac(&extra), "labels the template doesn't set are not ours");
        let other_key = hmac::Key::new(hmac::HMAC_SHA256, b"other");
        let c = Content {
            digest: "d",
            secret: &secret,
            items: &items,
            label_keys: &labels,
            annotation_keys: &[],
        };
        assert_ne!(original, content_mac(&other_key, &c), "keyed");
    }

    #[test]
    fn managed_keys_follow_template_data() {
        let mut s = ss();
        s.spec.template.as_mut().unwrap().data = Some(
            [
                ("config".to_string(), Some("{{ .password }}".to_string())),
                ("password".to_string(), None),
            ]
            .into(),
        );
        let (items, _, _) = managed_keys(&s);
        assert_eq!(items, vec!["config".to_string()]);
    }
}
