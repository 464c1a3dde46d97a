//! `gitseal reencrypt --all DIR`: every SealedSecret in a tree, moved to the
//! current keys and recipients item by item.
//!
//! - Targets per file: the flags, else the file's `.gitseal.yaml` rule. Bitnami
//!   items move to the rule's `cert` (offline, with `--key`) or to the
//!   controller's newest key (online, through `/v1/rotate`); v2 items move to the
//!   rule's recipients. Items already there stay byte-identical.
//! - Online, a file whose rule names another cluster's certificate is left
//!   alone: re-sealing it to this controller would lock the other cluster out.
//! - Each file is written atomically, and only if all its SealedSecrets
//!   succeeded; a failure in one file doesn't stop the others, and makes the
//!   exit status 1.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use gitseal_core::Certificate;
use gitseal_core::api::annotations::SEALED_TO;
use gitseal_core::rotate::{Targets, reencrypt_items};
use gitseal_core::v2;
use serde_json::Value;

use super::reencrypt::{File, accept_rotated, mode_of};
use super::seal::read_recipients;
use super::sealed_secret;
use crate::cli::{ReencryptArgs, SchemeArg};
use crate::io::{self, Source};
use crate::online::Controller;
use crate::repo_config::RepoConfig;

/// Totals for the summary line.
#[derive(Default)]
struct Tally {
    files_written: usize,
    objects: usize,
    resealed: usize,
    kept: usize,
    notes: Vec<String>,
    errors: Vec<String>,
}

/// Keys and the controller, shared by every file.
struct Material {
    keys: Vec<gitseal_core::PrivateKey>,
    identities: Vec<v2::Identity>,
    flag_cert: Option<Certificate>,
    flag_recipients: Vec<v2::Recipient>,
    /// Connected on first need (online mode only).
    controller: Option<(Controller, Certificate)>,
    /// Each rule's recipients, by config file and rule: read once per run.
    rule_recipients: HashMap<(PathBuf, usize), Vec<v2::Recipient>>,
    /// Each rule certificate (a path or URL), loaded once per run.
    certs: HashMap<String, Certificate>,
}

impl Material {
    fn cert(&mut self, spec: &str) -> Result<Certificate> {
        if let Some(c) = self.certs.get(spec) {
            return Ok(c.clone());
        }
        let cert = io::load_cert(spec)?;
        self.certs.insert(spec.to_string(), cert.clone());
        Ok(cert)
    }
}

pub fn run(args: &ReencryptArgs, dir: &Path, kube: io::Kube<'_>) -> Result<bool> {
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let mut material = Material {
        keys: io::load_keys(&args.keys)?,
        identities: io::load_identities(&args.identities, &args.keys)?,
        flag_cert: args.cert.as_deref().map(io::load_cert).transpose()?,
        flag_recipients: read_recipients(&args.recipients, &args.recipients_files)?,
        controller: None,
        rule_recipients: HashMap::new(),
        certs: HashMap::new(),
    };
    let offline = !args.keys.is_empty();
    let files = candidates(dir);
    let tty = std::io::stderr().is_terminal();
    let mut tally = Tally::default();
    for (n, path) in files.iter().enumerate() {
        if tty {
            eprint!("\r\x1b[2K{}", progress(n, files.len(), path));
        }
        match one_file(args, path, offline, &mut material, kube, &mut tally) {
            Ok(()) => {}
            Err(e) => tally.errors.push(format!("{e:#}")),
        }
    }
    if tty {
        eprint!("\r\x1b[2K");
    }
    for s in &tally.notes {
        eprintln!("gitseal: {s}");
    }
    for e in &tally.errors {
        eprintln!("gitseal: {e}");
    }
    eprintln!(
        "{} SealedSecret{} in {} file{}: {} item{} re-sealed, {} unchanged; {} file{} rewritten{}",
        tally.objects,
        plural(tally.objects),
        files.len(),
        plural(files.len()),
        tally.resealed,
        plural(tally.resealed),
        tally.kept,
        tally.files_written,
        plural(tally.files_written),
        if tally.errors.is_empty() {
            String::new()
        } else {
            format!("; {} failed", tally.errors.len())
        }
    );
    Ok(tally.errors.is_empty())
}

/// `[#####·····]  12/40  path`: a bar for a terminal.
fn progress(done: usize, total: usize, path: &Path) -> String {
    const WIDTH: usize = 24;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!(
        "[{}{}] {:>w$}/{total}  {}",
        "#".repeat(filled),
        "·".repeat(WIDTH - filled),
        done + 1,
        path.display(),
        w = total.to_string().len()
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// YAML and JSON files under `dir` that mention SealedSecret, in a stable order.
fn candidates(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = ignore::WalkBuilder::new(dir)
        // .gitignore rules apply in a checkout and in an exported tree alike.
        .require_git(false)
        .build()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .map(|e| e.into_path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        })
        .filter(|p| std::fs::read(p).is_ok_and(|b| b.windows(12).any(|w| w == b"SealedSecret")))
        .collect();
    out.sort();
    out
}

fn one_file(
    args: &ReencryptArgs,
    path: &Path,
    offline: bool,
    material: &mut Material,
    kube: io::Kube<'_>,
    tally: &mut Tally,
) -> Result<()> {
    let shown = path.display().to_string();
    let source = Source {
        name: shown.clone(),
        bytes: io::read_file(path)?.into(),
    };
    let mut file = File::parse(&source, Some(path.to_path_buf()))?;
    if file.targets.is_empty() {
        return Ok(());
    }
    let config = RepoConfig::for_file(path)?;
    let rule = config.as_ref().map(|(c, i)| c.rule(*i));

    // Where v2 items go, and whether Bitnami items become v2.
    let rule_recipients = match (&config, rule) {
        (Some((c, i)), Some(r)) if !r.recipients.is_empty() || !r.recipients_files.is_empty() => {
            let key = (c.path.clone(), *i);
            if let Some(cached) = material.rule_recipients.get(&key) {
                cached.clone()
            } else {
                let read = read_recipients(&r.recipients, &r.recipients_files)
                    .with_context(|| format!("the rule for {shown}"))?;
                material.rule_recipients.insert(key, read.clone());
                read
            }
        }
        _ => Vec::new(),
    };
    let recipients: Vec<v2::Recipient> = if material.flag_recipients.is_empty() {
        rule_recipients
    } else {
        material.flag_recipients.clone()
    };
    // Bitnami items anywhere in the file? Only they need a certificate, the
    // controller, or --key; a tree of v2 items re-seals offline with identities.
    let file_has_bitnami = file.targets.iter().any(|t| {
        t.object.value["spec"]["encryptedData"]
            .as_object()
            .is_some_and(|items| items.values().any(|v| v.as_str().is_some_and(|v| !v2::is_v2(v))))
    });
    let to_v2 = file_has_bitnami && args.scheme.or(rule.and_then(|r| r.scheme)) == Some(SchemeArg::V2);
    if to_v2 && recipients.is_empty() {
        bail!("{shown}: scheme v2 needs recipients (--recipient, or the rule's recipients)");
    }
    if to_v2 && !offline {
        bail!("{shown}: turning Bitnami items into v2 items needs --key to open them");
    }

    // Where Bitnami items go (a rule's certificate matters only if there are any).
    let rule_cert = match rule.and_then(|r| r.cert.as_deref()) {
        Some(spec) if file_has_bitnami => Some(
            material
                .cert(spec)
                .with_context(|| format!("the certificate in the rule for {shown}"))?,
        ),
        _ => None,
    };
    let bitnami_target: Option<Certificate> = if !file_has_bitnami {
        None
    } else if offline {
        material.flag_cert.clone().or(rule_cert)
    } else {
        let (controller, cert) = match &material.controller {
            Some(c) => c,
            None => {
                let controller = Controller::connect(kube, &args.controller)?;
                let (_, cert) = controller.certificate()?;
                material.controller.insert((controller, cert))
            }
        };
        match &rule_cert {
            // Another cluster's (or an outdated copy of this one's) certificate:
            // re-sealing to this controller could lock that cluster out. Its
            // Bitnami items stay; v2 items are still handled.
            Some(rc) if rc.public_key().fingerprint() != cert.public_key().fingerprint() => {
                tally.notes.push(format!(
                    "{shown}: Bitnami items left as they are: its .gitseal.yaml rule names another certificate than \
                     {}'s current one (refresh it with gitseal cert if it is this cluster's)",
                    controller.service()
                ));
                None
            }
            _ => Some(cert.clone()),
        }
    };

    let keys: Vec<&gitseal_core::PrivateKey> = material.keys.iter().collect();
    let identities: Vec<&v2::Identity> = material.identities.iter().collect();
    let mut resealed = 0;
    let mut kept = 0;
    for i in 0..file.targets.len() {
        let object = &file.targets[i].object;
        let describe = object.describe();
        let mut value = object.value.clone();
        let sealed = sealed_secret(object)?;
        // Bitnami items the controller re-sealed (online); the rest is item by item.
        let mut rotated_items = 0;
        // Online: Bitnami items not recorded as on the controller's key go through /v1/rotate.
        if !offline && let (Some((controller, _)), Some(cert)) = (&material.controller, &bitnami_target) {
            let has_bitnami = sealed.spec.encrypted_data.values().any(|v| !v2::is_v2(v));
            let current = cert.public_key().short_fingerprint();
            let on_current = gitseal_core::seal::sealed_to(sealed.metadata.annotations.as_ref()) == [current.as_str()];
            if has_bitnami && !on_current {
                let body = serde_json::to_vec(&value).context("cannot encode the SealedSecret")?;
                let reply = controller
                    .post("/v1/rotate", body, "re-encrypt")
                    .with_context(|| describe.clone())?;
                if !reply.status.is_success() {
                    bail!("{describe}: cannot re-encrypt: {}", reply.describe());
                }
                let rotated = accept_rotated(&reply.body, &value).map_err(|e| anyhow!("{describe}: {e}"))?;
                rotated_items = sealed.spec.encrypted_data.values().filter(|v| !v2::is_v2(v)).count();
                value = rotated;
            }
        }
        let sealed = serde_json::from_value(value.clone()).with_context(|| describe.clone())?;
        let targets = Targets {
            bitnami: if offline {
                bitnami_target.as_ref().map(|c| c.public_key())
            } else {
                None
            },
            recipients: (!recipients.is_empty()).then_some(recipients.as_slice()),
            to_v2,
        };
        let changes = reencrypt_items(&sealed, &keys, &identities, targets).map_err(|e| anyhow!("{describe}: {e}"))?;
        // Items /v1/rotate re-sealed count as re-sealed, not as kept below.
        kept += changes.kept.saturating_sub(rotated_items);
        resealed += rotated_items + changes.items.len();
        for (item, new) in changes.items {
            value["spec"]["encryptedData"][item.as_str()] = Value::String(new);
        }
        if let Some(fp) = changes.sealed_to {
            let meta = value["metadata"]
                .as_object_mut()
                .ok_or_else(|| anyhow!("{describe}: no metadata"))?;
            let annotations = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(a) = annotations.as_object_mut() {
                a.insert(SEALED_TO.into(), Value::String(fp));
            }
        }
        if value != file.targets[i].object.value {
            file.set(i, value);
        }
    }
    // Only now, with every SealedSecret of the file done, is anything written.
    if let Some(bytes) = file.render()? {
        io::write_atomic(path, &bytes, Some(mode_of(path)))?;
        tally.files_written += 1;
    }
    tally.objects += file.targets.len();
    tally.resealed += resealed;
    tally.kept += kept;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::progress;
    use std::path::Path;

    #[test]
    fn the_bar_fills_with_the_files_done() {
        assert_eq!(
            progress(0, 4, Path::new("a.yaml")),
            format!("[{}] 1/4  a.yaml", "·".repeat(24))
        );
        assert_eq!(
            progress(2, 4, Path::new("b.yaml")),
            format!("[{}{}] 3/4  b.yaml", "#".repeat(12), "·".repeat(12))
        );
        assert_eq!(progress(9, 10, Path::new("c")).matches('#').count(), 21);
    }
}
