//! Secret → SealedSecret, as kubeseal does it.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gitseal_api::annotations::SEALED_TO;
use gitseal_api::{SealedSecret, SealedSecretSpec, SecretTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::hybrid;
use crate::keys::PublicKey;
use crate::meta;
use crate::names;
use crate::scope::Scope;
use crate::v2;

/// Kubernetes refuses Secrets whose data exceeds 1 MiB.
pub const MAX_SECRET_BYTES: usize = 1 << 20;

/// A plaintext Secret read from a manifest.
#[derive(Clone, Default)]
pub struct InputSecret {
    pub metadata: ObjectMeta,
    pub type_: Option<String>,
    pub immutable: Option<bool>,
    /// `data` (decoded) then `stringData`, which wins on duplicate keys.
    pub items: BTreeMap<String, Zeroizing<Vec<u8>>>,
}

/// Shows item names and sizes, never values.
impl std::fmt::Debug for InputSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let items: BTreeMap<&str, usize> = self.items.iter().map(|(k, v)| (k.as_str(), v.len())).collect();
        f.debug_struct("InputSecret")
            .field("metadata", &self.metadata)
            .field("type_", &self.type_)
            .field("immutable", &self.immutable)
            .field("item_sizes", &items)
            .finish()
    }
}

/// Why a manifest is not a usable Secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    #[error("{0}")]
    WrongKind(String),
    #[error("invalid metadata: {0}")]
    Metadata(String),
    #[error("{field} must be {expected}")]
    FieldType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("{field} item {item:?}: {reason}")]
    Item {
        field: &'static str,
        item: String,
        reason: String,
    },
    #[error("Secret data is {0} bytes, over the 1 MiB Kubernetes limit")]
    TooLarge(usize),
}

/// Why a Secret could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    #[error("Secret has no name; set metadata.name or pass --name")]
    MissingName,
    #[error("secret must declare a namespace for {0} scope; set metadata.namespace or pass --namespace")]
    MissingNamespace(Scope),
    #[error("namespace mismatch: the Secret says {secret:?} but the target is {flag:?}")]
    NamespaceMismatch { secret: String, flag: String },
    #[error("invalid name: {0}")]
    InvalidName(String),
    #[error("invalid namespace: {0}")]
    InvalidNamespace(String),
    #[error("invalid item: {0}")]
    InvalidItem(String),
    #[error("Secret has no data or stringData; pass --allow-empty-data to seal it anyway")]
    Empty,
    #[error("item {0:?}: encryption failed")]
    Encrypt(String),
    #[error("item {item:?}: {error}")]
    V2 { item: String, error: v2::V2Error },
    #[error("the target is not a SealedSecret: {0}")]
    NotSealedSecret(String),
}

impl InputSecret {
    /// Reads a Secret from a decoded manifest object.
    pub fn from_value(value: &Value) -> Result<Self, SecretError> {
        meta::expect_kind(value, "v1", "Secret").map_err(SecretError::WrongKind)?;
        let metadata = match value.get("metadata") {
            None | Some(Value::Null) => ObjectMeta::default(),
            Some(m) => serde_json::from_value(m.clone()).map_err(|e| SecretError::Metadata(e.to_string()))?,
        };
        let type_ = match value.get("type") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(SecretError::FieldType {
                    field: "type",
                    expected: "a string",
                });
            }
        };
        let immutable = match value.get("immutable") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(SecretError::FieldType {
                    field: "immutable",
                    expected: "true or false",
                });
            }
        };
        let mut items = BTreeMap::new();
        for (field, decode) in [("data", true), ("stringData", false)] {
            let map = match value.get(field) {
                None | Some(Value::Null) => continue,
                Some(Value::Object(m)) => m,
                Some(_) => {
                    return Err(SecretError::FieldType {
                        field,
                        expected: "a map of strings",
                    });
                }
            };
            for (k, v) in map {
                let item_err = |reason: String| SecretError::Item {
                    field,
                    item: k.clone(),
                    reason,
                };
                let s = match v {
                    Value::String(s) => s,
                    Value::Null => "",
                    other => {
                        return Err(item_err(format!(
                            "expected a string, found {} (quote the value in YAML)",
                            meta::json_type(other)
                        )));
                    }
                };
                let bytes = if decode {
                    meta::decode_base64(s).map_err(|e| item_err(format!("invalid base64: {e}")))?
                } else {
                    s.as_bytes().to_vec()
                };
                items.insert(k.clone(), Zeroizing::new(bytes));
            }
        }
        let total: usize = items.iter().map(|(k, v)| k.len() + v.len()).sum();
        if total > MAX_SECRET_BYTES {
            return Err(SecretError::TooLarge(total));
        }
        Ok(Self {
            metadata,
            type_,
            immutable,
            items,
        })
    }
}

/// How to seal: kubeseal's flags.
#[derive(Debug, Clone, Default)]
pub struct SealOptions<'a> {
    /// `--scope`, if given: rewrites the scope annotations. Without it the Secret's
    /// own scope annotations apply (strict when it has none).
    pub scope: Option<Scope>,
    /// `--name`: overrides the Secret's name.
    pub name: Option<&'a str>,
    /// `--namespace`, if given explicitly.
    pub namespace: Option<&'a str>,
    /// The namespace for Secrets that have none (kubeconfig context, else `default`).
    pub default_namespace: &'a str,
    pub allow_empty_data: bool,
}

/// Server-set fields and plaintext-bearing annotations kubeseal strips.
fn strip_metadata(meta: &mut ObjectMeta) {
    meta::strip_server_fields(meta);
    meta::strip_last_applied(meta);
}

/// kubeseal's rule: a Secret's own namespace must match the one it is sealed for,
/// except in cluster-wide scope.
fn check_namespace(own: Option<&str>, target: &str, scope: Scope) -> Result<(), SealError> {
    match own {
        Some(own) if own != target && scope.needs_namespace() => Err(SealError::NamespaceMismatch {
            secret: own.to_string(),
            flag: target.to_string(),
        }),
        _ => Ok(()),
    }
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// What items are sealed to.
#[derive(Debug, Clone, Copy)]
pub enum SealTo<'a> {
    /// A controller's RSA certificate: Bitnami's format, which every Sealed
    /// Secrets controller opens.
    Bitnami(&'a PublicKey),
    /// age recipients: gitseal's v2 format (`docs/format.md`).
    Recipients(&'a [v2::Recipient]),
}

impl<'a> From<&'a PublicKey> for SealTo<'a> {
    fn from(key: &'a PublicKey) -> Self {
        SealTo::Bitnami(key)
    }
}

impl<'a> From<&'a [v2::Recipient]> for SealTo<'a> {
    fn from(r: &'a [v2::Recipient]) -> Self {
        SealTo::Recipients(r)
    }
}

/// Seals a Secret to a certificate or to age recipients.
pub fn seal<'a>(
    input: InputSecret,
    to: impl Into<SealTo<'a>>,
    opts: &SealOptions<'_>,
) -> Result<SealedSecret, SealError> {
    let to = to.into();
    let InputSecret {
        mut metadata,
        type_,
        immutable,
        items,
    } = input;
    if let Some(name) = opts.name {
        metadata.name = Some(name.to_string());
    }
    let name = nonempty(metadata.name.as_deref())
        .ok_or(SealError::MissingName)?
        .to_string();
    names::check_subdomain(&name).map_err(SealError::InvalidName)?;

    let scope = match opts.scope {
        Some(scope) => {
            scope.write_annotations(metadata.annotations.get_or_insert_with(BTreeMap::new));
            scope
        }
        None => Scope::from_annotations(metadata.annotations.as_ref()),
    };

    let own_ns = nonempty(metadata.namespace.as_deref()).map(str::to_string);
    let namespace = match (own_ns, nonempty(opts.namespace)) {
        (Some(own), Some(flag)) => {
            check_namespace(Some(&own), flag, scope)?;
            Some(own)
        }
        (Some(own), None) => Some(own),
        (None, Some(flag)) => Some(flag.to_string()),
        (None, None) if scope.needs_namespace() => nonempty(Some(opts.default_namespace)).map(str::to_string),
        (None, None) => None,
    };
    if scope.needs_namespace() && namespace.is_none() {
        return Err(SealError::MissingNamespace(scope));
    }
    if let Some(ns) = &namespace {
        names::check_label(ns).map_err(SealError::InvalidNamespace)?;
    }
    metadata.namespace = namespace.clone();

    if items.is_empty() && !opts.allow_empty_data {
        return Err(SealError::Empty);
    }
    let ns = namespace.as_deref().unwrap_or("");
    let encrypted_data = encrypt_items(&items, to, scope, ns, &name)?;

    strip_metadata(&mut metadata);
    let mut outer_annotations = BTreeMap::new();
    scope.write_annotations(&mut outer_annotations);
    if let SealTo::Bitnami(key) = to {
        outer_annotations.insert(SEALED_TO.into(), key.short_fingerprint());
    }
    let mut sealed = SealedSecret::new(
        &name,
        SealedSecretSpec {
            template: Some(Box::new(SecretTemplateSpec {
                metadata: Some(metadata),
                type_,
                immutable,
                data: None,
            })),
            encrypted_data,
            data: None,
        },
    );
    sealed.metadata.namespace = namespace;
    sealed.metadata.annotations = (!outer_annotations.is_empty()).then_some(outer_annotations);
    Ok(sealed)
}

pub(crate) fn encrypt_items(
    items: &BTreeMap<String, Zeroizing<Vec<u8>>>,
    to: SealTo<'_>,
    scope: Scope,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, String>, SealError> {
    let label = scope.label(namespace, name);
    items
        .iter()
        .map(|(k, v)| {
            names::check_data_key(k).map_err(SealError::InvalidItem)?;
            let value = match to {
                SealTo::Bitnami(key) => {
                    let ct = hybrid::encrypt(key, &label, v).map_err(|_| SealError::Encrypt(k.clone()))?;
                    STANDARD.encode(ct)
                }
                SealTo::Recipients(recipients) => {
                    let binding = v2::Binding {
                        scope,
                        namespace,
                        name,
                        key: k,
                    };
                    v2::seal(v, recipients, &binding).map_err(|error| SealError::V2 { item: k.clone(), error })?
                }
            };
            Ok((k.clone(), value))
        })
        .collect()
}

/// Most fingerprints a [`SEALED_TO`] annotation is read for: it is only a hint,
/// and a SealedSecret is rarely sealed to more than a couple of keys.
const MAX_SEALED_TO: usize = 16;

/// The short key fingerprints a SealedSecret says its items were sealed to
/// ([`SEALED_TO`]), to try before the others. Empty if it doesn't say.
pub fn sealed_to(annotations: Option<&BTreeMap<String, String>>) -> Vec<&str> {
    annotations
        .and_then(|a| a.get(SEALED_TO))
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .take(MAX_SEALED_TO)
                .collect()
        })
        .unwrap_or_default()
}

/// Adds `key` to the [`SEALED_TO`] annotation after items were sealed to it,
/// keeping the list sorted. Only if the annotation is there already: without it,
/// nobody knows the keys the other items were sealed to, and a partial list
/// would claim otherwise. Returns whether the annotation changed.
fn add_sealed_to(annotations: Option<&mut BTreeMap<String, String>>, key: &PublicKey) -> bool {
    let Some(value) = annotations.and_then(|a| a.get_mut(SEALED_TO)) else {
        return false;
    };
    let fp = key.short_fingerprint();
    let mut list: Vec<&str> = value.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if list.contains(&fp.as_str()) {
        return false;
    }
    list.push(&fp);
    list.sort_unstable();
    *value = list.join(",");
    true
}

/// Seals one value (`--raw`): bare base64 for pasting into `encryptedData`.
pub fn seal_raw(
    plaintext: &[u8],
    key: &PublicKey,
    scope: Scope,
    namespace: &str,
    name: &str,
) -> Result<String, SealError> {
    if scope.needs_namespace() && namespace.is_empty() {
        return Err(SealError::MissingNamespace(scope));
    }
    if scope.needs_name() && name.is_empty() {
        return Err(SealError::MissingName);
    }
    let ct =
        hybrid::encrypt(key, &scope.label(namespace, name), plaintext).map_err(|_| SealError::Encrypt("raw".into()))?;
    Ok(STANDARD.encode(ct))
}

/// `--merge-into`: seals `input`'s items for the existing SealedSecret — under
/// *its* name, namespace and scope — and adds or replaces just those items.
/// Template labels and annotations from the input are merged in; everything else
/// in the existing object is left as it was. Returns the item names written.
pub fn merge_into<'a>(
    existing: &mut SealedSecret,
    input: InputSecret,
    to: impl Into<SealTo<'a>>,
) -> Result<Vec<String>, SealError> {
    let to = to.into();
    let name = nonempty(existing.metadata.name.as_deref())
        .ok_or(SealError::MissingName)?
        .to_string();
    let namespace = existing.metadata.namespace.clone().unwrap_or_default();
    let scope = Scope::from_annotations(existing.metadata.annotations.as_ref());
    if scope.needs_namespace() && namespace.is_empty() {
        return Err(SealError::MissingNamespace(scope));
    }
    check_namespace(nonempty(input.metadata.namespace.as_deref()), &namespace, scope)?;
    if existing.spec.data.is_some() {
        return Err(SealError::NotSealedSecret(
            "it uses the deprecated spec.data field; re-seal it before merging items into it".into(),
        ));
    }
    let sealed = encrypt_items(&input.items, to, scope, &namespace, &name)?;
    let written: Vec<String> = sealed.keys().cloned().collect();
    existing.spec.encrypted_data.extend(sealed);
    if let SealTo::Bitnami(key) = to {
        add_sealed_to(existing.metadata.annotations.as_mut(), key);
    }

    let mut meta = input.metadata;
    strip_metadata(&mut meta);
    let template = existing.spec.template.get_or_insert_with(Default::default);
    let tmeta = template.metadata.get_or_insert_with(Default::default);
    if let Some(labels) = meta.labels {
        tmeta.labels.get_or_insert_with(BTreeMap::new).extend(labels);
    }
    if let Some(mut annotations) = meta.annotations {
        // The file's scope stays in force.
        Scope::Strict.write_annotations(&mut annotations);
        if !annotations.is_empty() {
            tmeta.annotations.get_or_insert_with(BTreeMap::new).extend(annotations);
        }
    }
    if template.type_.is_none() {
        template.type_ = input.type_;
    }
    Ok(written)
}

/// [`merge_into`] on the document as it was read, so that a rewrite changes only
/// what the merge changed: keys keep their order, fields gitseal doesn't model
/// (kubeseal's `creationTimestamp: null`, unknown annotations, status) stay, and
/// untouched items stay byte-identical. Returns the item names written.
pub fn merge_into_document<'a>(
    doc: &mut Value,
    input: InputSecret,
    to: impl Into<SealTo<'a>>,
) -> Result<Vec<String>, SealError> {
    let mut typed: SealedSecret =
        serde_json::from_value(doc.clone()).map_err(|e| SealError::NotSealedSecret(e.to_string()))?;
    let written = merge_into(&mut typed, input, to)?;

    let root = doc
        .as_object_mut()
        .ok_or_else(|| SealError::NotSealedSecret("not an object".into()))?;
    let spec = ensure_object(root, "spec");
    let data = ensure_object(spec, "encryptedData");
    for name in &written {
        data.insert(name.clone(), Value::String(typed.spec.encrypted_data[name].clone()));
    }
    sort_if_it_was_sorted(data, &written);
    if let Some(v) = typed.metadata.annotations.as_ref().and_then(|a| a.get(SEALED_TO)) {
        let mdoc = ensure_object(ensure_object(root, "metadata"), "annotations");
        mdoc.insert(SEALED_TO.into(), Value::String(v.clone()));
    }
    let spec = ensure_object(root, "spec");

    let template = typed.spec.template.unwrap_or_default();
    let tdoc = ensure_object(spec, "template");
    if let Some(t) = template.type_ {
        tdoc.entry("type").or_insert(Value::String(t));
    }
    let tmeta = template.metadata.unwrap_or_default();
    let mdoc = ensure_object(tdoc, "metadata");
    for (field, merged) in [("labels", tmeta.labels), ("annotations", tmeta.annotations)] {
        let Some(merged) = merged else { continue };
        let map = ensure_object(mdoc, field);
        let added: Vec<String> = merged.keys().filter(|k| !map.contains_key(*k)).cloned().collect();
        for (k, v) in merged {
            map.insert(k, Value::String(v));
        }
        sort_if_it_was_sorted(map, &added);
    }
    Ok(written)
}

/// The object at `key` inside `obj`, created (or replacing a null) if needed.
fn ensure_object<'a>(obj: &'a mut serde_json::Map<String, Value>, key: &str) -> &'a mut serde_json::Map<String, Value> {
    let slot = obj.entry(key).or_insert_with(|| Value::Object(Default::default()));
    if !slot.is_object() {
        *slot = Value::Object(Default::default());
    }
    slot.as_object_mut().expect("just made an object")
}

/// kubeseal (Go) writes map keys sorted; keep a sorted map sorted after adding keys.
fn sort_if_it_was_sorted(map: &mut serde_json::Map<String, Value>, added: &[String]) {
    let before: Vec<&String> = map.keys().filter(|k| !added.contains(k)).collect();
    if before.windows(2).all(|w| w[0] <= w[1]) {
        map.sort_keys();
    }
}
