//! Kubernetes API types shared by the `gitseal` CLI and `gitseal-controller`.
//!
//! The SealedSecret resource is Bitnami's `bitnami.com/v1alpha1` CRD, unchanged, so
//! objects written by kubeseal and by gitseal are interchangeable. The native Secret
//! type comes from `k8s-openapi`.

use std::collections::BTreeMap;

pub use k8s_openapi;
use k8s_openapi::ByteString;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::CustomResource;
use kube::CustomResourceExt as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use k8s_openapi::api::core::v1::Secret;

/// Annotation and label names, as Bitnami defines them.
pub mod annotations {
    /// `"true"` on a SealedSecret (and its template): empty OAEP label.
    pub const CLUSTER_WIDE: &str = "sealedsecrets.bitnami.com/cluster-wide";
    /// `"true"` on a SealedSecret (and its template): the label is the namespace.
    pub const NAMESPACE_WIDE: &str = "sealedsecrets.bitnami.com/namespace-wide";
    /// On an existing Secret: the controller may take it over.
    pub const MANAGED: &str = "sealedsecrets.bitnami.com/managed";
    /// On an existing Secret: the controller merges into it instead of replacing.
    pub const PATCH: &str = "sealedsecrets.bitnami.com/patch";
    /// On `spec.template.metadata`: the Secret gets no ownerReference.
    pub const SKIP_SET_OWNER_REFERENCES: &str = "sealedsecrets.bitnami.com/skip-set-owner-references";
    /// Label on the controller's key Secrets; value `active` (or `compromised`).
    pub const SEALED_SECRETS_KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";
    /// gitseal's own, on a SealedSecret's `metadata.annotations`: short
    /// fingerprints of the keys its items were sealed to, comma-separated. Only a
    /// hint for which key to try first; Bitnami's controller ignores it.
    pub const SEALED_TO: &str = "gitseal.dev/sealed-to";
    /// Annotations kubeseal strips from the template because they hold plaintext.
    pub const LAST_APPLIED: [&str; 2] = [
        "kubectl.kubernetes.io/last-applied-configuration",
        "kubecfg.ksonnet.io/last-applied-configuration",
    ];
}

/// SealedSecretSpec is the specification of a SealedSecret.
// kube-derive takes one `printcolumn(...)` per column, which clippy reads as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "bitnami.com",
    version = "v1alpha1",
    kind = "SealedSecret",
    plural = "sealedsecrets",
    namespaced,
    status = "SealedSecretStatus",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.conditions[0].message"),
    printcolumn(name = "Synced", type_ = "string", json_path = ".status.conditions[0].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    doc = "SealedSecret is the K8s representation of a \"sealed Secret\" - a regular k8s Secret that has been sealed (encrypted) using the controller's key."
)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretSpec {
    /// Item name → sealed value (base64).
    #[serde(default)]
    #[schemars(schema_with = "schema::encrypted_data")]
    pub encrypted_data: BTreeMap<String, String>,
    /// Secret template: metadata, type and immutability of the Secret to create,
    /// plus `data` rendered as Go templates over the decrypted items.
    // Boxed: it is large and usually absent, and the controller caches many specs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Box<SecretTemplateSpec>>,
    /// Deprecated: the whole Secret sealed as one blob (pre-v0.7 kubeseal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::byte_string")]
    pub data: Option<ByteString>,
}

/// SecretTemplateSpec describes the structure a Secret should have when created from a template.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretTemplateSpec {
    /// Standard object's metadata, copied to the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::template_metadata")]
    pub metadata: Option<ObjectMeta>,
    /// Used to facilitate programmatic handling of secret data.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Immutable, if set to true, ensures that data stored in the Secret cannot be updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
    /// Keys that should be templated using decrypted data. A null value removes
    /// that key from the Secret (Go's `map[string]*string`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::nullable_string_map")]
    pub data: Option<BTreeMap<String, Option<String>>>,
}

/// SealedSecretStatus is the most recently observed status of the SealedSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretStatus {
    /// ObservedGeneration reflects the generation most recently observed by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Represents the latest available observations of a sealed secret's current state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<SealedSecretCondition>,
}

/// SealedSecretCondition describes the state of a sealed secret at a certain point.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretCondition {
    /// Type of condition for a sealed secret. Valid value: "Synced".
    #[serde(rename = "type")]
    pub type_: String,
    /// Status of the condition for a sealed secret. Valid values for "Synced": "True", "False", or "Unknown".
    pub status: String,
    /// The last time this condition was updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
    /// Last time the condition transitioned from one status to another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// The reason for the condition's last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A human readable message indicating details about the transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl SealedSecret {
    /// The SealedSecret's own annotations (never the template's).
    pub fn annotations(&self) -> Option<&BTreeMap<String, String>> {
        self.metadata.annotations.as_ref()
    }
}

/// The CRD as it is installed: the generated schema plus the constraints Bitnami's
/// CRD has that serde defaults can't express (`encryptedData` is required).
pub fn crd() -> CustomResourceDefinition {
    let mut crd = SealedSecret::crd();
    crd.spec.names.list_kind = Some("SealedSecretList".into());
    for v in &mut crd.spec.versions {
        let Some(schema) = v.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) else {
            continue;
        };
        schema.required = Some(vec!["spec".into()]);
        if let Some(spec) = schema.properties.as_mut().and_then(|p| p.get_mut("spec")) {
            spec.required = Some(vec!["encryptedData".into()]);
            if let Some(ed) = spec.properties.as_mut().and_then(|p| p.get_mut("encryptedData")) {
                ed.default = None;
            }
        }
        if let Some(status) = schema.properties.as_mut().and_then(|p| p.get_mut("status")) {
            status.x_kubernetes_preserve_unknown_fields = Some(true);
        }
    }
    crd
}

/// The CRD as YAML, the form committed to the repository and installed by the chart.
pub fn crd_yaml() -> String {
    let body = serde_saphyr::to_string(&crd()).expect("a CRD always serializes");
    format!("---\n{body}")
}

mod schema {
    use schemars::{Schema, SchemaGenerator, json_schema};

    pub fn encrypted_data(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "additionalProperties": { "type": "string" },
            "x-kubernetes-preserve-unknown-fields": true,
        })
    }

    pub fn byte_string(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "byte", "nullable": true })
    }

    pub fn nullable_string_map(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "additionalProperties": { "type": "string" },
            "nullable": true,
        })
    }

    pub fn template_metadata(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "nullable": true,
            "x-kubernetes-preserve-unknown-fields": true,
            "properties": {
                "annotations": { "type": "object", "additionalProperties": { "type": "string" } },
                "finalizers": { "type": "array", "items": { "type": "string" } },
                "labels": { "type": "object", "additionalProperties": { "type": "string" } },
                "name": { "type": "string" },
                "namespace": { "type": "string" },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = include_str!("../crd/sealedsecrets.bitnami.com.yaml");

    /// The committed CRD (installed by the chart and `gitseal crd`) must be what the
    /// Rust type generates. Regenerate with `cargo run -p gitseal -- crd > crates/gitseal-api/crd/sealedsecrets.bitnami.com.yaml`.
    #[test]
    fn committed_crd_matches_the_rust_type() {
        assert!(
            COMMITTED == crd_yaml(),
            "crates/gitseal-api/crd/sealedsecrets.bitnami.com.yaml is stale; regenerate it with \
             `cargo run -p gitseal -- crd > crates/gitseal-api/crd/sealedsecrets.bitnami.com.yaml`"
        );
    }

    #[test]
    fn crd_matches_bitnami_names_and_columns() {
        let crd = crd();
        assert_eq!(crd.metadata.name.as_deref(), Some("sealedsecrets.bitnami.com"));
        assert_eq!(crd.spec.group, "bitnami.com");
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.kind, "SealedSecret");
        assert_eq!(crd.spec.names.list_kind.as_deref(), Some("SealedSecretList"));
        assert_eq!(crd.spec.names.singular.as_deref(), Some("sealedsecret"));
        let v = &crd.spec.versions[0];
        assert_eq!(v.name, "v1alpha1");
        assert!(v.served && v.storage);
        assert!(v.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some());
        let cols: Vec<_> = v
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| (c.name.as_str(), c.json_path.as_str()))
            .collect();
        assert_eq!(
            cols,
            [
                ("Status", ".status.conditions[0].message"),
                ("Synced", ".status.conditions[0].status"),
                ("Age", ".metadata.creationTimestamp"),
            ]
        );
        let schema = v.schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap();
        let spec = &schema.properties.as_ref().unwrap()["spec"];
        assert_eq!(spec.required.as_deref(), Some(&["encryptedData".to_string()][..]));
        let ed = &spec.properties.as_ref().unwrap()["encryptedData"];
        assert_eq!(ed.x_kubernetes_preserve_unknown_fields, Some(true));
    }

    #[test]
    fn reads_kubeseal_output_with_null_creation_timestamps() {
        let ss: SealedSecret = serde_json::from_str(
            r#"{"kind":"SealedSecret","apiVersion":"bitnami.com/v1alpha1",
                "metadata":{"name":"a","namespace":"b","creationTimestamp":null},
                "spec":{"template":{"metadata":{"name":"a","namespace":"b","creationTimestamp":null}},
                        "encryptedData":{"k":"AgA="}}}"#,
        )
        .unwrap();
        assert_eq!(ss.spec.encrypted_data["k"], "AgA=");
        let out = serde_json::to_string(&ss).unwrap();
        assert!(!out.contains("creationTimestamp"), "{out}");
    }
}
