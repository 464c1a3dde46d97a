//! Small rules shared by sealing and unsealing: metadata clean-up and base64.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use gitseal_api::annotations::LAST_APPLIED;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Clears the fields the API server sets, plus ownerReferences: none of them may
/// travel from one object to another.
pub fn strip_server_fields(meta: &mut ObjectMeta) {
    meta.self_link = None;
    meta.uid = None;
    meta.resource_version = None;
    meta.generation = None;
    meta.creation_timestamp = None;
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.owner_references = None;
    meta.managed_fields = None;
}

/// Removes the last-applied annotations, which hold the plaintext Secret.
pub fn strip_last_applied(meta: &mut ObjectMeta) {
    if let Some(a) = meta.annotations.as_mut() {
        for k in LAST_APPLIED {
            a.remove(k);
        }
    }
    if meta.annotations.as_ref().is_some_and(BTreeMap::is_empty) {
        meta.annotations = None;
    }
    if meta.labels.as_ref().is_some_and(BTreeMap::is_empty) {
        meta.labels = None;
    }
}

/// A base64 decoding failure that never echoes the input: the bytes are secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Base64Error(String);

impl From<base64::DecodeError> for Base64Error {
    fn from(e: base64::DecodeError) -> Self {
        use base64::DecodeError::*;
        Base64Error(match e {
            InvalidByte(at, _) => format!("invalid character at offset {at}"),
            InvalidLength(n) => format!("invalid length {n}"),
            InvalidLastSymbol(at, _) => format!("invalid last symbol at offset {at}"),
            InvalidPadding => "invalid padding".to_string(),
        })
    }
}

/// Checks `apiVersion` and `kind`, naming what was found instead.
pub fn expect_kind(value: &serde_json::Value, api_version: &str, kind: &str) -> Result<(), String> {
    let get = |k: &str| value.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
    let (found_api, found_kind) = (get("apiVersion"), get("kind"));
    // A Secret may omit apiVersion; kubectl assumes v1.
    let api_ok = found_api == api_version || (found_api.is_empty() && api_version == "v1");
    if found_kind == kind && api_ok {
        return Ok(());
    }
    let found = if found_kind.is_empty() {
        "no kind".to_string()
    } else {
        format!("{found_api}/{found_kind}")
    };
    Err(format!("expected a {api_version} {kind}, found {found}"))
}

/// How an error names a JSON value's type.
pub fn json_type(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Base64 as Go's `encoding/base64.StdEncoding` reads it (and so the API server and
/// the Sealed Secrets controller): standard alphabet, padding required, `\r` and
/// `\n` skipped, non-zero trailing bits accepted.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, Base64Error> {
    const GO_STD: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    if s.contains(['\n', '\r']) {
        let compact = zeroize::Zeroizing::new(s.chars().filter(|c| *c != '\n' && *c != '\r').collect::<String>());
        Ok(GO_STD.decode(compact.as_bytes())?)
    } else {
        Ok(GO_STD.decode(s)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_reads_what_go_reads() {
        assert_eq!(decode_base64("YWRtaW4=").unwrap(), b"admin");
        assert_eq!(decode_base64("YWRt\naW4=\r\n").unwrap(), b"admin");
        // Non-zero trailing bits: Go accepts, strict decoders don't.
        assert_eq!(decode_base64("YR==").unwrap(), b"a");
        assert!(decode_base64("YWRtaW4").is_err(), "padding is required");
        assert_eq!(
            decode_base64("YW*t").unwrap_err().to_string(),
            "invalid character at offset 2",
            "no input echoed"
        );
    }
}
