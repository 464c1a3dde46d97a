//! Sealing scopes and the OAEP label each one binds.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use gitseal_api::annotations::{CLUSTER_WIDE, NAMESPACE_WIDE};

/// Where a sealed value may be unsealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Scope {
    /// Only as the same name in the same namespace (label `"<ns>/<name>"`).
    #[default]
    Strict,
    /// Under any name in the same namespace (label `"<ns>"`).
    NamespaceWide,
    /// Anywhere in the cluster (empty label).
    ClusterWide,
}

/// An unknown `--scope` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid scope {0:?}: must be one of: strict, namespace-wide, cluster-wide")]
pub struct ParseScopeError(pub String);

impl FromStr for Scope {
    type Err = ParseScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "strict" => Ok(Scope::Strict),
            "namespace-wide" => Ok(Scope::NamespaceWide),
            "cluster-wide" => Ok(Scope::ClusterWide),
            other => Err(ParseScopeError(other.to_string())),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        })
    }
}

impl Scope {
    /// The OAEP label for this scope. This is the only place labels are built;
    /// sealing and unsealing both call it.
    pub fn label(self, namespace: &str, name: &str) -> Vec<u8> {
        match self {
            Scope::Strict => format!("{namespace}/{name}").into_bytes(),
            Scope::NamespaceWide => namespace.as_bytes().to_vec(),
            Scope::ClusterWide => Vec::new(),
        }
    }

    /// Reads the scope from annotations. Only the exact value `"true"` counts, and
    /// cluster-wide wins over namespace-wide.
    pub fn from_annotations(annotations: Option<&BTreeMap<String, String>>) -> Self {
        let is_true = |k: &str| annotations.and_then(|a| a.get(k)).is_some_and(|v| v == "true");
        if is_true(CLUSTER_WIDE) {
            Scope::ClusterWide
        } else if is_true(NAMESPACE_WIDE) {
            Scope::NamespaceWide
        } else {
            Scope::Strict
        }
    }

    /// Rewrites the scope annotations so that they say exactly this scope.
    pub fn write_annotations(self, annotations: &mut BTreeMap<String, String>) {
        annotations.remove(CLUSTER_WIDE);
        annotations.remove(NAMESPACE_WIDE);
        match self {
            Scope::Strict => {}
            Scope::NamespaceWide => {
                annotations.insert(NAMESPACE_WIDE.into(), "true".into());
            }
            Scope::ClusterWide => {
                annotations.insert(CLUSTER_WIDE.into(), "true".into());
            }
        }
    }

    /// Whether sealing in this scope needs a namespace.
    pub fn needs_namespace(self) -> bool {
        self != Scope::ClusterWide
    }

    /// Whether sealing in this scope needs a name.
    pub fn needs_name(self) -> bool {
        self == Scope::Strict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_bitnami() {
        assert_eq!(Scope::Strict.label("myns", "myname"), b"myns/myname");
        assert_eq!(Scope::Strict.label("", "myname"), b"/myname");
        assert_eq!(Scope::NamespaceWide.label("myns", "x"), b"myns");
        assert_eq!(Scope::ClusterWide.label("myns", "x"), b"");
    }

    #[test]
    fn annotations_need_exactly_true_and_cluster_wide_wins() {
        let mut a = BTreeMap::new();
        a.insert(NAMESPACE_WIDE.to_string(), "True".to_string());
        assert_eq!(Scope::from_annotations(Some(&a)), Scope::Strict);
        a.insert(NAMESPACE_WIDE.to_string(), "true".to_string());
        assert_eq!(Scope::from_annotations(Some(&a)), Scope::NamespaceWide);
        a.insert(CLUSTER_WIDE.to_string(), "true".to_string());
        assert_eq!(Scope::from_annotations(Some(&a)), Scope::ClusterWide);
        Scope::Strict.write_annotations(&mut a);
        assert!(a.is_empty());
        Scope::NamespaceWide.write_annotations(&mut a);
        assert_eq!(Scope::from_annotations(Some(&a)), Scope::NamespaceWide);
    }

    #[test]
    fn parse_rejects_unknown_scopes_with_the_kubeseal_message() {
        assert_eq!("".parse::<Scope>(), Ok(Scope::Strict));
        let e = "wide".parse::<Scope>().unwrap_err().to_string();
        assert!(
            e.contains("must be one of: strict, namespace-wide, cluster-wide"),
            "{e}"
        );
    }
}
