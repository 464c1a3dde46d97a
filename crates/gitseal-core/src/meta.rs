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

/// Base64 as Go's `encoding/base64.StdEncoding` reads it (and so the API server and
/// the Sealed Secrets controller): standard alphabet, padding required, `\r` and
/// `\n` skipped, non-zero trailing bits accepted.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    const GO_STD: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    if s.contains(['\n', '\r']) {
        let compact: String = s.chars().filter(|c| *c != '\n' && *c != '\r').collect();
        GO_STD.decode(compact)
    } else {
        GO_STD.decode(s)
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
        assert!(decode_base64("YW*t").is_err());
    }
}
