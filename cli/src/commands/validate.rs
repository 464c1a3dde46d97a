//! `gitseal validate`: offline checks, one line per problem.

use anyhow::Result;
use gitseal_core::unseal::{UnsealOptions, unseal};
use gitseal_core::validate::check_structure;

use super::{objects_or_nothing, sealed_secret};
use crate::cli::ValidateArgs;
use crate::io;

/// Returns whether everything passed.
pub fn run(args: &ValidateArgs) -> Result<bool> {
    let keys = io::load_keys(&args.keys)?;
    let cert = args.cert.as_deref().map(io::load_cert).transpose()?;
    let sources = io::read_inputs(&args.files)?;
    let objs = objects_or_nothing(&sources, "SealedSecret")?;
    let opts = UnsealOptions {
        accept_deprecated_v1_data: args.accept_deprecated_v1_data,
    };
    let mut problems = Vec::new();
    for obj in &objs {
        let sealed = match sealed_secret(obj) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{e:#}"));
                continue;
            }
        };
        let where_ = obj.describe();
        for p in check_structure(&sealed, cert.as_ref().map(|c| c.public_key())) {
            problems.push(format!("{where_}: {p}"));
        }
        if !keys.is_empty()
            && let Err(e) = unseal(&sealed, &keys, opts)
        {
            problems.push(format!("{where_}: {e}"));
        }
    }
    let report: String = problems.iter().map(|p| format!("{p}\n")).collect();
    io::emit(None, report.as_bytes(), None)?;
    let n = objs.len();
    if problems.is_empty() {
        eprintln!("{n} SealedSecret{} valid", if n == 1 { "" } else { "s" });
    } else {
        eprintln!(
            "{} problem{} in {n} SealedSecret{}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            if n == 1 { "" } else { "s" }
        );
    }
    Ok(problems.is_empty())
}
