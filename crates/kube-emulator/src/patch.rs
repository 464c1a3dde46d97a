//! PATCH bodies. Merge patch is RFC 7386; strategic merge patch is treated as a merge patch (no
//! patchMergeKey list merging); JSON patch is RFC 6902; server-side apply is approximated by
//! merge-patching the applied configuration (no managedFields, no field ownership conflicts, fields
//! dropped from a later apply are not removed).

use serde_json::Value;

use crate::status::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    Merge,
    Json,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(content_type: &str) -> Result<PatchKind, ApiError> {
        match content_type.split(';').next().unwrap_or("").trim() {
            "application/merge-patch+json" | "application/strategic-merge-patch+json" => Ok(PatchKind::Merge),
            "application/json-patch+json" => Ok(PatchKind::Json),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(PatchKind::Apply),
            other => Err(ApiError::new(
                415,
                format!("the body of the request was in an unknown format: {other}"),
            )),
        }
    }
}

/// Parse an apply body, which may be YAML or JSON.
pub(crate) fn parse_apply(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Ok(v);
    }
    let text = std::str::from_utf8(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    serde_saphyr::from_str::<Value>(text).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

/// The object that results from applying `body` to `current`.
pub(crate) fn apply_patch(current: &Value, kind: PatchKind, body: &[u8]) -> Result<Value, ApiError> {
    let mut doc = current.clone();
    match kind {
        PatchKind::Merge => {
            let patch: Value = serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            json_patch::merge(&mut doc, &patch);
        }
        PatchKind::Apply => json_patch::merge(&mut doc, &parse_apply(body)?),
        PatchKind::Json => {
            let patch: json_patch::Patch =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            json_patch::patch(&mut doc, &patch).map_err(|e| ApiError::new(422, e.to_string()))?;
        }
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_kinds() {
        let cur = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        let merged = apply_patch(&cur, PatchKind::Merge, br#"{"a": {"b": null, "d": 3}, "l": [3]}"#).unwrap();
        assert_eq!(merged, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
        let jp = br#"[{"op": "replace", "path": "/a/b", "value": 5}, {"op": "add", "path": "/l/-", "value": 9}]"#;
        assert_eq!(
            apply_patch(&cur, PatchKind::Json, jp).unwrap(),
            json!({"a": {"b": 5, "c": 2}, "l": [1, 2, 9]})
        );
        let bad = br#"[{"op": "test", "path": "/a/b", "value": 7}]"#;
        assert_eq!(apply_patch(&cur, PatchKind::Json, bad).unwrap_err().code, 422);
        let applied = apply_patch(&cur, PatchKind::Apply, b"a:\n  c: 4\n").unwrap();
        assert_eq!(applied["a"], json!({"b": 1, "c": 4}));
        assert_eq!(PatchKind::from_content_type("text/plain").unwrap_err().code, 415);
    }
}
