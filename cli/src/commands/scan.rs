//! `gitseal scan`: report secrets about to be committed in the clear. Exit
//! status 1 when anything is found, so it works as a pre-commit hook.
//!
//! Directories are walked with git's ignore rules (`.gitignore`) plus
//! `.gitsealignore` files, which use the same syntax. Files named explicitly, as
//! pre-commit passes them, are checked against the `.gitsealignore` files of
//! their directory and its parents.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use gitseal_core::scan::{Finding, scan};
use ignore::WalkBuilder;
use ignore::gitignore::Gitignore;

use crate::cli::ScanArgs;

/// Name of the ignore file, in gitignore syntax.
pub const IGNORE_FILE: &str = ".gitsealignore";

/// Files larger than this are skipped: generated bundles, not hand-written manifests.
const MAX_FILE_BYTES: u64 = 8 << 20;

/// Returns whether the scan was clean.
pub fn run(args: &ScanArgs) -> Result<bool> {
    let roots = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    for root in &roots {
        let meta = std::fs::metadata(root).with_context(|| format!("{}: cannot read", root.display()))?;
        if meta.is_dir() {
            walk(root, &mut files)?;
        } else if !ignored_explicit(root) {
            files.push(root.clone());
        }
    }
    let mut found = 0usize;
    let mut in_files = 0usize;
    for file in &files {
        let findings = scan_file(file)?;
        if !findings.is_empty() {
            in_files += 1;
        }
        for Finding { line, what } in findings {
            found += 1;
            println!("{}:{line}: {what}", file.display());
        }
    }
    if found > 0 {
        eprintln!(
            "gitseal scan: {found} finding{} in {in_files} file{}; seal Secrets with `gitseal seal`, \
             or list deliberate exceptions in {IGNORE_FILE} (or mark the line `gitseal:ignore`)",
            if found == 1 { "" } else { "s" },
            if in_files == 1 { "" } else { "s" },
        );
    }
    Ok(found == 0)
}

fn walk(root: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let walker = WalkBuilder::new(root)
        .hidden(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .filter_entry(|e| e.file_name() != ".git")
        .build();
    for entry in walker {
        let entry = entry.with_context(|| format!("{}: cannot walk", root.display()))?;
        if entry.file_type().is_some_and(|t| t.is_file()) {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(())
}

/// Whether a `.gitsealignore` in the file's directory or a parent matches it.
fn ignored_explicit(file: &Path) -> bool {
    let Ok(absolute) = std::path::absolute(file) else {
        return false;
    };
    absolute.ancestors().skip(1).any(|dir| {
        let rules = dir.join(IGNORE_FILE);
        if !rules.is_file() {
            return false;
        }
        let (matcher, _) = Gitignore::new(&rules);
        matcher.matched_path_or_any_parents(&absolute, false).is_ignore()
    })
}

fn scan_file(file: &Path) -> Result<Vec<Finding>> {
    let name = file.display();
    let size = std::fs::metadata(file)
        .with_context(|| format!("{name}: cannot read"))?
        .len();
    if size > MAX_FILE_BYTES {
        return Ok(Vec::new());
    }
    let bytes = std::fs::read(file).with_context(|| format!("{name}: cannot read"))?;
    if bytes.contains(&0) {
        return Ok(Vec::new()); // binary
    }
    let text = String::from_utf8_lossy(&bytes);
    let manifest = matches!(file.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"));
    Ok(scan(&text, manifest))
}
