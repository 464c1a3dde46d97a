//! `.gitseal.yaml`: per-path sealing rules in a repository, like `.sops.yaml`'s
//! creation_rules. Found from a file's directory upward; the first rule whose
//! `path_regex` matches the file's path (relative to the config's directory,
//! with `/` separators) applies. Flags on the command line win over it.
//!
//! ```yaml
//! creation_rules:
//!   - path_regex: ^clusters/prod/
//!     recipients_files: [keys/prod.txt, keys/recovery.txt]   # implies scheme: v2
//!   - path_regex: ^clusters/legacy/
//!     cert: certs/legacy.pem                                 # scheme: bitnami
//!     scope: namespace-wide
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use gitseal_core::Scope;
use regex::Regex;
use serde::Deserialize;

use crate::cli::SchemeArg;

/// The names looked for, in this order, in each directory.
pub const NAMES: [&str; 2] = [".gitseal.yaml", ".gitseal.yml"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    creation_rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    path_regex: Option<String>,
    scheme: Option<String>,
    cert: Option<String>,
    #[serde(default)]
    recipients: Vec<String>,
    #[serde(default)]
    recipients_files: Vec<String>,
    scope: Option<String>,
}

/// One rule, with paths resolved against the config's directory.
#[derive(Debug)]
pub struct Rule {
    path_regex: Option<Regex>,
    pub scheme: Option<SchemeArg>,
    /// A path (resolved) or an http(s)/file URL, as `--cert` takes.
    pub cert: Option<String>,
    pub recipients: Vec<String>,
    pub recipients_files: Vec<PathBuf>,
    pub scope: Option<Scope>,
}

impl Rule {
    /// The scheme this rule asks for: its own, else what its keys imply.
    pub fn implied_scheme(&self) -> Option<SchemeArg> {
        self.scheme
            .or(if !self.recipients.is_empty() || !self.recipients_files.is_empty() {
                Some(SchemeArg::V2)
            } else if self.cert.is_some() {
                Some(SchemeArg::Bitnami)
            } else {
                None
            })
    }
}

#[derive(Debug)]
pub struct RepoConfig {
    /// Where the config file is.
    pub path: PathBuf,
    dir: PathBuf,
    rules: Vec<Rule>,
}

impl RepoConfig {
    /// Parses a config's text; `path` is where it was read, for messages and
    /// for resolving relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<RepoConfig> {
        let shown = path.display();
        let raw: RawConfig = serde_saphyr::from_str(text).map_err(|e| anyhow!("{shown}: {e}"))?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut rules = Vec::new();
        for (i, r) in raw.creation_rules.into_iter().enumerate() {
            let at = format!("{shown}: creation_rules[{i}]");
            let path_regex = r
                .path_regex
                .map(|re| Regex::new(&re).map_err(|e| anyhow!("{at}: path_regex: {e}")))
                .transpose()?;
            let scheme = match r.scheme.as_deref() {
                None => None,
                Some("v2") => Some(SchemeArg::V2),
                Some("bitnami") => Some(SchemeArg::Bitnami),
                Some(other) => bail!("{at}: scheme {other:?}: use v2 or bitnami"),
            };
            let scope = r
                .scope
                .map(|s| s.parse::<Scope>().map_err(|e| anyhow!("{at}: scope: {e}")))
                .transpose()?;
            for recipient in &r.recipients {
                recipient
                    .parse::<gitseal_core::v2::Recipient>()
                    .map_err(|e| anyhow!("{at}: recipients: {e}"))?;
            }
            let is_url = |s: &str| s.contains("://");
            let rule = Rule {
                path_regex,
                scheme,
                cert: r.cert.map(|c| {
                    if is_url(&c) {
                        c
                    } else {
                        dir.join(c).display().to_string()
                    }
                }),
                recipients: r.recipients,
                recipients_files: r.recipients_files.iter().map(|f| dir.join(f)).collect(),
                scope,
            };
            if rule.scheme == Some(SchemeArg::Bitnami)
                && (!rule.recipients.is_empty() || !rule.recipients_files.is_empty())
            {
                bail!("{at}: recipients seal v2 items; they don't go with scheme: bitnami");
            }
            rules.push(rule);
        }
        Ok(RepoConfig {
            path: path.to_path_buf(),
            dir,
            rules,
        })
    }

    /// The nearest config at or above `start` (a directory), if any.
    pub fn find(start: &Path) -> Result<Option<RepoConfig>> {
        let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
        for dir in start.ancestors() {
            for name in NAMES {
                let candidate = dir.join(name);
                if candidate.is_file() {
                    let text = std::fs::read_to_string(&candidate)
                        .with_context(|| format!("reading {}", candidate.display()))?;
                    return Self::parse(&candidate, &text).map(Some);
                }
            }
        }
        Ok(None)
    }

    /// The config that governs `file` (found from its directory upward), and the
    /// rule for it. `None` for a file no rule matches.
    pub fn for_file(file: &Path) -> Result<Option<(RepoConfig, usize)>> {
        let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let dir = abs.parent().unwrap_or(Path::new("."));
        let Some(config) = Self::find(dir)? else {
            return Ok(None);
        };
        Ok(config.rule_index(&abs).map(|i| (config, i)))
    }

    fn rule_index(&self, abs_file: &Path) -> Option<usize> {
        let dir = std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone());
        let rel = abs_file.strip_prefix(&dir).unwrap_or(abs_file);
        let rel: String = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        self.rules
            .iter()
            .position(|r| r.path_regex.as_ref().is_none_or(|re| re.is_match(&rel)))
    }

    pub fn rule(&self, index: usize) -> &Rule {
        &self.rules[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R1: &str = "age1apkw8399cd78f2u606zv9f0wql8u8natpydgxj2txe4vv0k46qjslqj9qx";

    #[test]
    fn the_first_matching_rule_applies_with_paths_resolved() {
        let text = format!(
            "creation_rules:\n  - path_regex: ^prod/.*\\.yaml$\n    recipients: [{R1}]\n    recipients_files: [keys/dr.txt]\n    scope: namespace-wide\n  - path_regex: ^legacy/\n    cert: certs/old.pem\n  - cert: https://sealer.example/v1/cert.pem\n"
        );
        let c = RepoConfig::parse(Path::new("/repo/.gitseal.yaml"), &text).unwrap();
        let rule_for = |p: &str| c.rule_index(Path::new(p)).map(|i| c.rule(i));
        let prod = rule_for("/repo/prod/db.yaml").unwrap();
        assert_eq!(prod.implied_scheme(), Some(SchemeArg::V2));
        assert_eq!(prod.recipients_files, [PathBuf::from("/repo/keys/dr.txt")]);
        assert_eq!(prod.scope, Some(Scope::NamespaceWide));
        let legacy = rule_for("/repo/legacy/a/b.json").unwrap();
        assert_eq!(legacy.implied_scheme(), Some(SchemeArg::Bitnami));
        assert_eq!(legacy.cert.as_deref(), Some("/repo/certs/old.pem"));
        // Not a .yaml under prod/: falls through to the catch-all, a URL kept as is.
        let other = rule_for("/repo/prod/notes.txt").unwrap();
        assert_eq!(other.cert.as_deref(), Some("https://sealer.example/v1/cert.pem"));
    }

    #[test]
    fn mistakes_name_the_file_and_the_rule() {
        let err = |text: &str| {
            RepoConfig::parse(Path::new("r/.gitseal.yaml"), text)
                .unwrap_err()
                .to_string()
        };
        assert!(err("creation_rules:\n  - path_regx: x\n").contains("r/.gitseal.yaml"));
        assert!(
            err("creation_rules:\n  - path_regex: x\n  - scheme: v3\n").contains("creation_rules[1]: scheme \"v3\"")
        );
        assert!(err("creation_rules:\n  - path_regex: '('\n").contains("creation_rules[0]: path_regex"));
        assert!(err("creation_rules:\n  - recipients: [age1nope]\n").contains("invalid age recipient"));
        assert!(err("creation_rules:\n  - scope: wide\n").contains("scope"));
        let e = err(&format!(
            "creation_rules:\n  - scheme: bitnami\n    recipients: [{R1}]\n"
        ));
        assert!(e.contains("don't go with scheme: bitnami"), "{e}");
    }
}
