//! SealedSecret → Secret, exactly as the controller builds it (minus ownerReferences).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;

use gitseal_api::{SealedSecret, Secret};
use k8s_openapi::ByteString;
use zeroize::{Zeroize, Zeroizing};

use crate::hybrid::{self, HybridError};
use crate::keys::PrivateKey;
use crate::meta;
use crate::scope::Scope;

/// Options for [`unseal`].
#[derive(Debug, Clone, Copy, Default)]
pub struct UnsealOptions {
    /// Accept the deprecated whole-Secret blob in `spec.data`.
    pub accept_deprecated_v1_data: bool,
    /// Leave `template.data` unrendered: the Secret gets the decrypted items only.
    /// The controller's verify and rotate endpoints use this so that they are no
    /// decryption oracle (a template can copy an item into an error message).
    pub skip_templates: bool,
}

/// A successful unseal.
#[derive(Clone)]
pub struct Unsealed {
    pub secret: Secret,
    /// For each item, the index (into the keys given) of the key that opened it.
    pub key_by_item: BTreeMap<String, usize>,
    /// RSA private-key operations spent (keys of the wrong size are never tried).
    pub rsa_operations: usize,
    /// How many items were in gitseal's v2 (age) format; the others were Bitnami's.
    pub v2_items: usize,
    /// For each v2 item, the index (into the identities given) of the identity that opened it.
    pub identity_by_item: BTreeMap<String, usize>,
}

/// Shows identity and item names, never values.
impl fmt::Debug for Unsealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<&String> = self.secret.data.iter().flat_map(|d| d.keys()).collect();
        f.debug_struct("Unsealed")
            .field("name", &self.secret.metadata.name)
            .field("namespace", &self.secret.metadata.namespace)
            .field("items", &items)
            .field("key_by_item", &self.key_by_item)
            .finish()
    }
}

/// Why one item failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemFailure {
    /// No key opened it (wrong key, wrong scope/name/namespace, or tampering).
    NoKey,
    TooShort,
    InvalidBase64(String),
    /// A v2 (age) item that could not be opened.
    V2(crate::v2::V2Error),
}

/// Why a SealedSecret could not be unsealed. Unsealing is all or nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnsealError {
    #[error("cannot use the field 'encryptedData' and the deprecated field 'data' at the same time")]
    BothDataFields,
    #[error("using deprecated 'data' field; pass --accept-deprecated-v1-data to unseal it")]
    DeprecatedV1Data,
    #[error("deprecated 'data' field: {0}")]
    InvalidV1Data(String),
    #[error("{}", ItemFailures(.0))]
    Items(Vec<(String, ItemFailure)>),
    #[error("template data {key:?}: {error}")]
    Template { key: String, error: gotemplate::Error },
    #[error("{0}")]
    Identity(String),
    #[error("the Secret would hold {bytes} bytes of data (at {key:?}), over the 1 MiB Kubernetes limit")]
    TooLarge { key: String, bytes: usize },
}

impl UnsealError {
    /// The item names that failed, for callers that report them separately.
    pub fn failed_items(&self) -> Vec<&str> {
        match self {
            UnsealError::Items(items) => items.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

struct ItemFailures<'a>(&'a [(String, ItemFailure)]);

impl fmt::Display for ItemFailures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let no_key: Vec<&str> = self
            .0
            .iter()
            .filter(|(_, e)| *e == ItemFailure::NoKey)
            .map(|(k, _)| k.as_str())
            .collect();
        if !no_key.is_empty() {
            parts.push(format!("{} ({})", HybridError::NoKey, no_key.join(", ")));
        }
        for (k, e) in self.0 {
            match e {
                ItemFailure::NoKey => {}
                ItemFailure::TooShort => parts.push(format!("item {k:?}: {}", HybridError::TooShort)),
                ItemFailure::InvalidBase64(why) => parts.push(format!("item {k:?}: invalid base64: {why}")),
                ItemFailure::V2(e) => parts.push(format!("item {k:?}: {e}")),
            }
        }
        f.write_str(&parts.join("; "))
    }
}

/// Unseals with `keys`, tried in order for every item.
///
/// The scope, namespace and name come from the SealedSecret's own metadata, never
/// from its template.
pub fn unseal<K: Borrow<PrivateKey>>(
    sealed: &SealedSecret,
    keys: &[K],
    opts: UnsealOptions,
) -> Result<Unsealed, UnsealError> {
    unseal_with(sealed, keys, &[], opts)
}

/// [`unseal`] with age identities as well, for items in gitseal's v2 format.
pub fn unseal_with<K: Borrow<PrivateKey>>(
    sealed: &SealedSecret,
    keys: &[K],
    identities: &[&crate::v2::Identity],
    opts: UnsealOptions,
) -> Result<Unsealed, UnsealError> {
    let keys: Vec<&PrivateKey> = keys.iter().map(Borrow::borrow).collect();
    let keys = keys.as_slice();
    let namespace = sealed.metadata.namespace.as_deref().unwrap_or("");
    let name = sealed.metadata.name.as_deref().unwrap_or("");
    let scope = Scope::from_annotations(sealed.annotations());
    if name.is_empty() {
        return Err(UnsealError::Identity("SealedSecret has no metadata.name".into()));
    }
    let label = scope.label(namespace, name);

    if let Some(blob) = &sealed.spec.data {
        if !sealed.spec.encrypted_data.is_empty() {
            return Err(UnsealError::BothDataFields);
        }
        if !opts.accept_deprecated_v1_data {
            return Err(UnsealError::DeprecatedV1Data);
        }
        return unseal_v1(&blob.0, &label, keys, namespace, name);
    }

    let mut plain: BTreeMap<String, Zeroizing<Vec<u8>>> = BTreeMap::new();
    let mut key_by_item = BTreeMap::new();
    let mut failures = Vec::new();
    let mut rsa_operations = 0;
    let mut last_key: Option<usize> = None;
    let mut v2_items = 0;
    let mut identity_by_item = BTreeMap::new();
    for (item, value) in &sealed.spec.encrypted_data {
        if crate::v2::is_v2(value) {
            v2_items += 1;
            let binding = crate::v2::Binding {
                scope,
                namespace,
                name,
                key: item,
            };
            match crate::v2::open(value, identities, &binding) {
                Ok((pt, index)) => {
                    plain.insert(item.clone(), pt);
                    identity_by_item.insert(item.clone(), index);
                }
                Err(e) => failures.push((item.clone(), ItemFailure::V2(e))),
            }
            continue;
        }
        let ct = match meta::decode_base64(value) {
            Ok(ct) => ct,
            Err(e) => {
                failures.push((item.clone(), ItemFailure::InvalidBase64(e.to_string())));
                continue;
            }
        };
        // Items of one SealedSecret are nearly always sealed to the same key: try
        // the key that opened the previous item first.
        let first = last_key.map(|i: usize| keys[i]);
        let order = first.into_iter().chain(
            keys.iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != last_key)
                .map(|(_, k)| *k),
        );
        match hybrid::decrypt_counting(order, &label, &ct, &mut rsa_operations) {
            Ok((pt, position)) => {
                let index = match last_key {
                    Some(last) if position == 0 => last,
                    Some(last) if position <= last => position - 1,
                    Some(_) => position,
                    None => position,
                };
                last_key = Some(index);
                plain.insert(item.clone(), pt);
                key_by_item.insert(item.clone(), index);
            }
            Err(HybridError::TooShort) => failures.push((item.clone(), ItemFailure::TooShort)),
            Err(_) => failures.push((item.clone(), ItemFailure::NoKey)),
        }
    }
    if !failures.is_empty() {
        return Err(UnsealError::Items(failures));
    }

    let template = sealed.spec.template.clone().unwrap_or_default();
    let mut data: BTreeMap<String, ByteString> = BTreeMap::new();
    if let Some(tdata) = template.data.as_ref().filter(|_| !opts.skip_templates) {
        // The dot is item name → decrypted value; templates render even with no items.
        let mut context: BTreeMap<String, Vec<u8>> = plain.iter().map(|(k, v)| (k.clone(), v.to_vec())).collect();
        let rendered = tdata.iter().try_for_each(|(key, source)| {
            match source {
                // A null template value removes the item, as Go's map[string]*string does.
                None => drop(plain.remove(key)),
                Some(source) => {
                    let out = gotemplate::render(source, &context).map_err(|error| UnsealError::Template {
                        key: key.clone(),
                        error,
                    })?;
                    data.insert(key.clone(), ByteString(out));
                }
            }
            Ok(())
        });
        context.values_mut().for_each(Zeroize::zeroize);
        rendered?;
    }
    for (k, v) in plain {
        data.entry(k).or_insert_with(|| ByteString(v.to_vec()));
    }
    // Kubernetes refuses Secrets over 1 MiB; templates must not get around that.
    let mut total = 0usize;
    for (k, v) in &data {
        total += k.len() + v.0.len();
        if total > crate::seal::MAX_SECRET_BYTES {
            return Err(UnsealError::TooLarge {
                key: k.clone(),
                bytes: total,
            });
        }
    }

    let mut metadata = template.metadata.unwrap_or_default();
    meta::strip_server_fields(&mut metadata);
    metadata.name = sealed.metadata.name.clone();
    metadata.namespace = sealed.metadata.namespace.clone();
    let secret = Secret {
        metadata,
        type_: Some(
            template
                .type_
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "Opaque".into()),
        ),
        immutable: template.immutable,
        data: Some(data),
        ..Default::default()
    };
    Ok(Unsealed {
        secret,
        key_by_item,
        rsa_operations,
        v2_items,
        identity_by_item,
    })
}

fn unseal_v1(
    blob: &[u8],
    label: &[u8],
    keys: &[&PrivateKey],
    namespace: &str,
    name: &str,
) -> Result<Unsealed, UnsealError> {
    let mut rsa_operations = 0;
    let (plain, _) = hybrid::decrypt_counting(keys.iter().copied(), label, blob, &mut rsa_operations)
        .map_err(|e| UnsealError::InvalidV1Data(e.to_string()))?;
    // serde's message may quote the decrypted text: report the position only.
    let mut secret: Secret = serde_json::from_slice(&plain).map_err(|e| {
        UnsealError::InvalidV1Data(format!(
            "not a Secret (JSON error at line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    meta::strip_server_fields(&mut secret.metadata);
    secret.metadata.name = Some(name.to_string());
    secret.metadata.namespace = (!namespace.is_empty()).then(|| namespace.to_string());
    Ok(Unsealed {
        secret,
        key_by_item: BTreeMap::new(),
        rsa_operations,
        v2_items: 0,
        identity_by_item: BTreeMap::new(),
    })
}

/// Decrypts one `--raw` value.
pub fn unseal_raw(
    value: &str,
    keys: &[PrivateKey],
    scope: Scope,
    namespace: &str,
    name: &str,
) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
    if crate::v2::is_v2(value.trim()) {
        return Err(UnsealError::Identity(
            "a v2 (age) value binds its item name: put it in its SealedSecret and unseal that with --identity".into(),
        ));
    }
    if scope.needs_namespace() && namespace.is_empty() {
        return Err(UnsealError::Identity(format!(
            "{scope} scope needs the namespace the value was sealed for"
        )));
    }
    if scope.needs_name() && name.is_empty() {
        return Err(UnsealError::Identity(format!(
            "{scope} scope needs the name the value was sealed for"
        )));
    }
    let fail = |f| UnsealError::Items(vec![("raw".to_string(), f)]);
    let ct = meta::decode_base64(value.trim()).map_err(|e| fail(ItemFailure::InvalidBase64(e.to_string())))?;
    match hybrid::decrypt(keys, &scope.label(namespace, name), &ct) {
        Ok((pt, _)) => Ok(pt),
        Err(HybridError::TooShort) => Err(fail(ItemFailure::TooShort)),
        Err(_) => Err(fail(ItemFailure::NoKey)),
    }
}
