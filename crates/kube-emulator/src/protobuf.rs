//! Just enough Kubernetes protobuf decoding for kubectl's typed `create` commands, which always
//! send `application/vnd.kubernetes.protobuf` bodies: `kubectl create namespace|secret|configmap`.
//! Other kinds get `415 Unsupported Media Type`; responses are always JSON.

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// How one protobuf field maps to JSON.
enum F {
    Str(&'static str),
    Bool(&'static str),
    /// Bytes, rendered as base64 (JSON's encoding of `[]byte`).
    Bytes(&'static str),
    StrList(&'static str),
    StrMap(&'static str),
    BytesMap(&'static str),
    Msg(&'static str, Schema),
    MsgList(&'static str, Schema),
}
type Schema = &'static [(u64, F)];

const OWNER_REF: Schema = &[
    (1, F::Str("kind")),
    (3, F::Str("name")),
    (4, F::Str("uid")),
    (5, F::Str("apiVersion")),
    (6, F::Bool("controller")),
    (7, F::Bool("blockOwnerDeletion")),
];
const OBJECT_META: Schema = &[
    (1, F::Str("name")),
    (2, F::Str("generateName")),
    (3, F::Str("namespace")),
    (11, F::StrMap("labels")),
    (12, F::StrMap("annotations")),
    (13, F::MsgList("ownerReferences", OWNER_REF)),
    (14, F::StrList("finalizers")),
];
const NAMESPACE: Schema = &[
    (1, F::Msg("metadata", OBJECT_META)),
    (2, F::Msg("spec", &[(1, F::StrList("finalizers"))])),
];
const SECRET: Schema = &[
    (1, F::Msg("metadata", OBJECT_META)),
    (2, F::BytesMap("data")),
    (3, F::Str("type")),
    (4, F::StrMap("stringData")),
    (5, F::Bool("immutable")),
];
const CONFIG_MAP: Schema = &[
    (1, F::Msg("metadata", OBJECT_META)),
    (2, F::StrMap("data")),
    (3, F::BytesMap("binaryData")),
    (4, F::Bool("immutable")),
];
const STR_ENTRY: Schema = &[(1, F::Str("k")), (2, F::Str("v"))];
const BYTES_ENTRY: Schema = &[(1, F::Str("k")), (2, F::Bytes("v"))];
const TYPE_META: Schema = &[(1, F::Str("apiVersion")), (2, F::Str("kind"))];

enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn fields(mut buf: &[u8]) -> Option<Vec<(u64, Wire<'_>)>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let wire = match key & 7 {
            0 => Wire::Varint(varint(&mut buf)?),
            2 => {
                let len = usize::try_from(varint(&mut buf)?).ok()?;
                let (data, rest) = (buf.get(..len)?, buf.get(len..)?);
                buf = rest;
                Wire::Bytes(data)
            }
            1 => {
                buf = buf.get(8..)?;
                continue;
            }
            5 => {
                buf = buf.get(4..)?;
                continue;
            }
            _ => return None,
        };
        out.push((key >> 3, wire));
    }
    Some(out)
}

fn text(bytes: &[u8]) -> Option<Value> {
    Some(json!(std::str::from_utf8(bytes).ok()?))
}

fn decode(buf: &[u8], schema: Schema) -> Option<Map<String, Value>> {
    let mut obj = Map::new();
    for (number, wire) in fields(buf)? {
        let Some((_, field)) = schema.iter().find(|(n, _)| *n == number) else {
            continue;
        };
        match (field, wire) {
            (F::Bool(name), Wire::Varint(v)) => drop(obj.insert(name.to_string(), json!(v != 0))),
            (F::Str(_), Wire::Bytes([])) => {}
            (F::Str(name), Wire::Bytes(b)) => drop(obj.insert(name.to_string(), text(b)?)),
            (F::Bytes(name), Wire::Bytes(b)) => drop(obj.insert(
                name.to_string(),
                json!(base64::engine::general_purpose::STANDARD.encode(b)),
            )),
            (F::StrList(name), Wire::Bytes(b)) => obj.entry(*name).or_insert(json!([])).as_array_mut()?.push(text(b)?),
            (F::StrMap(name) | F::BytesMap(name), Wire::Bytes(b)) => {
                let entry_schema = if matches!(field, F::StrMap(_)) {
                    STR_ENTRY
                } else {
                    BYTES_ENTRY
                };
                let entry = decode(b, entry_schema)?;
                let key = entry.get("k")?.as_str()?.to_string();
                let value = entry.get("v").cloned().unwrap_or(json!(""));
                obj.entry(*name)
                    .or_insert(json!({}))
                    .as_object_mut()?
                    .insert(key, value);
            }
            (F::Msg(name, inner), Wire::Bytes(b)) => {
                drop(obj.insert(name.to_string(), Value::Object(decode(b, inner)?)))
            }
            (F::MsgList(name, inner), Wire::Bytes(b)) => obj
                .entry(*name)
                .or_insert(json!([]))
                .as_array_mut()?
                .push(Value::Object(decode(b, inner)?)),
            _ => return None,
        }
    }
    Some(obj)
}

/// Decode a `k8s\0`-prefixed protobuf body of a supported kind into its JSON form.
pub(crate) fn to_json(body: &[u8]) -> Option<Value> {
    let envelope = decode_envelope(body.strip_prefix(b"k8s\0")?)?;
    let (type_meta, raw) = envelope;
    let kind = type_meta.get("kind")?.as_str()?;
    let schema = match kind {
        "Namespace" => NAMESPACE,
        "Secret" => SECRET,
        "ConfigMap" => CONFIG_MAP,
        _ => return None,
    };
    let mut obj = type_meta.clone();
    obj.extend(decode(raw, schema)?);
    Some(Value::Object(obj))
}

/// `runtime.Unknown`: typeMeta = 1, raw = 2.
fn decode_envelope(buf: &[u8]) -> Option<(Map<String, Value>, &[u8])> {
    let mut type_meta = None;
    let mut raw = None;
    for (number, wire) in fields(buf)? {
        match (number, wire) {
            (1, Wire::Bytes(b)) => type_meta = Some(decode(b, TYPE_META)?),
            (2, Wire::Bytes(b)) => raw = Some(b),
            _ => {}
        }
    }
    Some((type_meta?, raw?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_kubectl_namespace() {
        // `kubectl create namespace x`, as captured with -v=8.
        let body = b"k8s\x00\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x19\x0a\x11\x0a\x01x\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x12\x00\x1a\x02\x0a\x00\x1a\x00\x22\x00";
        let obj = super::to_json(body).unwrap();
        assert_eq!(obj["kind"], "Namespace");
        assert_eq!(obj["apiVersion"], "v1");
        assert_eq!(obj["metadata"]["name"], "x");
    }
}
