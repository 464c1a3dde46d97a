//! Go `text/template` for Sealed Secrets' `spec.template.data`.
//!
//! Sealed Secrets renders each `template.data` value as a Go template whose dot is
//! a map from item name to decrypted value, with the Sprig function map minus
//! `env`, `expandenv` and `getHostByName`. This crate implements the part of that
//! language people use in Secret templates, byte-for-byte with Go's output:
//!
//! - text, `{{ }}` actions, `{{-`/`-}}` trim markers and `{{/* comments */}}`;
//! - field access (`.user`), `$` and variables (`$x := ...`), parenthesised pipelines;
//! - `if`/`else if`/`else`, `with`, `range` (over the dot map) and `end`;
//! - Go built-ins `index`, `printf`, `print`, `println`, `len`, `eq`, `ne`, `lt`, `le`,
//!   `gt`, `ge`, `and`, `or`, `not`;
//! - Sprig string functions, see [`FUNCTIONS`].
//!
//! Anything else (another Sprig function, `define`, `template`, floats …) is a
//! [`Error`] naming the construct. The engine never silently renders a different
//! value from Go's.
//!
//! Values are byte strings, as in Go: decrypted items need not be UTF-8.

mod exec;
mod funcs;
mod parse;

use std::collections::BTreeMap;

pub use funcs::FUNCTIONS;

/// A template error: parse or execution. The message names the failing construct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("template parse error at byte {offset}: {message}")]
    Parse { offset: usize, message: String },
    #[error("function {0:?} is not supported in template data")]
    UnsupportedFunction(String),
    #[error("function {0:?} is disabled in Sealed Secrets templates")]
    DisabledFunction(String),
    #[error("template execution error: {0}")]
    Exec(String),
}

/// A parsed template, ready to execute many times.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<parse::Node>,
}

impl Template {
    /// Parses `source`. Unknown or disabled functions are rejected here, as Go does.
    pub fn parse(source: &str) -> Result<Self, Error> {
        let nodes = parse::parse(source)?;
        Ok(Self { nodes })
    }

    /// Executes the template with `data` as the dot.
    pub fn execute(&self, data: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, Error> {
        exec::execute(&self.nodes, data)
    }
}

/// Parses and executes `source` once.
pub fn render(source: &str, data: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, Error> {
    Template::parse(source)?.execute(data)
}

#[cfg(test)]
mod tests;
