//! `gitseal keys list|backup|restore`: the controller's key Secrets, read from
//! the cluster (or files), backed up as one age-encrypted file, and restored
//! without ever overwriting a key that is there.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, anyhow, bail};
use gitseal_core::api::SealedSecret;
use gitseal_core::api::annotations::SEALED_SECRETS_KEY_LABEL;
use gitseal_core::keys::{KeySecretInfo, describe_key_secret, utc_timestamp};
use gitseal_core::manifest::{Format, parse_documents, to_document};
use gitseal_core::v2;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::seal::read_recipients;
use crate::cli::{KeySource, KeysBackupArgs, KeysCommand, KeysListArgs, KeysRestoreArgs};
use crate::io::{self, Kube};
use crate::online::Cluster;

/// Returns whether everything succeeded.
pub fn run(command: &KeysCommand, kube: Kube<'_>) -> Result<bool> {
    match command {
        KeysCommand::List(args) => list(args, kube).map(|()| true),
        KeysCommand::Backup(args) => backup(args, kube).map(|()| true),
        KeysCommand::Restore(args) => restore(args, kube),
    }
}

/// The key Secrets, as JSON, from the files or the cluster. Server fields are
/// dropped, so a backup restores into any cluster.
fn key_secrets(source: &KeySource, cluster: Option<&Cluster>) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    if !source.keys.is_empty() {
        for path in &source.keys {
            let bytes = Zeroizing::new(io::read_file(path)?);
            let text = gitseal_core::manifest::decode_text(&bytes).with_context(|| path.display().to_string())?;
            for doc in parse_documents(&text).with_context(|| path.display().to_string())? {
                for (_, item) in doc.into_objects() {
                    if item.get("kind").and_then(Value::as_str) == Some("Secret") {
                        out.push(without_server_fields(item).with_context(|| path.display().to_string())?);
                    }
                }
            }
        }
        if out.is_empty() {
            bail!("no key Secrets in {}", paths(&source.keys));
        }
    } else {
        let cluster = cluster.ok_or_else(|| anyhow!("no cluster"))?;
        let ns = &source.controller_namespace;
        let api: Api<Secret> = Api::namespaced(cluster.client(), ns);
        let what = format!("list the key Secrets in namespace {ns}");
        let labelled = cluster.call(&what, api.list(&ListParams::default().labels(SEALED_SECRETS_KEY_LABEL)))?;
        let mut secrets = labelled.items;
        if !secrets
            .iter()
            .any(|s| s.metadata.name.as_deref() == Some(&source.key_prefix))
            && let Some(legacy) = cluster.call(&what, api.get_opt(&source.key_prefix))?
        {
            secrets.push(legacy);
        }
        for s in secrets {
            out.push(without_server_fields(serde_json::to_value(&s)?)?);
        }
        if out.is_empty() {
            bail!("no key Secrets in namespace {ns} (is the controller there? see --controller-namespace)");
        }
    }
    Ok(out)
}

/// A key Secret as it can be created anywhere: no uid, resourceVersion,
/// creationTimestamp, managedFields or ownerReferences (a `kubectl get -o yaml`
/// export has them, and the API server refuses to create an object with a
/// resourceVersion).
fn without_server_fields(secret: Value) -> Result<Value> {
    let mut s: Secret = serde_json::from_value(secret).context("not a Secret")?;
    gitseal_core::meta::strip_server_fields(&mut s.metadata);
    s.metadata.managed_fields = None;
    s.metadata.owner_references = None;
    Ok(serde_json::to_value(&s)?)
}

fn paths(p: &[std::path::PathBuf]) -> String {
    p.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

fn describe(secrets: &[Value]) -> Result<Vec<KeySecretInfo>> {
    let mut infos = Vec::new();
    for s in secrets {
        let name = s
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>");
        infos.push(describe_key_secret(s).map_err(|e| anyhow!("key Secret {name}: {e}"))?);
    }
    infos.sort_by(|a, b| b.not_before.cmp(&a.not_before).then_with(|| a.name.cmp(&b.name)));
    Ok(infos)
}

fn list(args: &KeysListArgs, kube: Kube<'_>) -> Result<()> {
    let cluster = if args.source.keys.is_empty() {
        Some(Cluster::connect(kube)?)
    } else {
        None
    };
    let infos = describe(&key_secrets(&args.source, cluster.as_ref())?)?;
    // Which SealedSecrets use which key: the record on the Secret the controller
    // wrote (the key that opened it), else the SealedSecret's own records.
    let usage = cluster.as_ref().map(usage).transpose()?;
    let mut out = String::from("NAME\tFINGERPRINT\tAGE RECIPIENT\tBITS\tCREATED\tSTATUS\tSEALEDSECRETS\n");
    for k in &infos {
        let count = usage.as_ref().map_or("-".to_string(), |u| {
            let rsa = u.by_key.get(&k.short_fingerprint).copied().unwrap_or(0);
            let age = k
                .age_fingerprint
                .as_ref()
                .and_then(|f| u.by_key.get(f))
                .copied()
                .unwrap_or(0);
            (rsa + age).to_string()
        });
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{count}\n",
            k.name,
            k.short_fingerprint,
            k.age_fingerprint.as_deref().unwrap_or("-"),
            k.bits,
            utc_timestamp(k.not_before),
            if k.status.is_empty() { "legacy" } else { &k.status },
        ));
    }
    print!("{}", columns(&out));
    if let Some(u) = usage
        && u.unrecorded > 0
    {
        eprintln!(
            "{} SealedSecret{} record no key yet (sealed by kubeseal, not yet unsealed by gitseal-controller)",
            u.unrecorded,
            if u.unrecorded == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

/// Tab-separated rows as aligned columns, as kubectl prints tables.
fn columns(tsv: &str) -> String {
    let rows: Vec<Vec<&str>> = tsv.lines().map(|l| l.split('\t').collect()).collect();
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i + 1 == r.len() {
                    s.to_string()
                } else {
                    format!("{s:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}

struct Usage {
    /// Short fingerprint (RSA or age) → SealedSecrets that use the key.
    by_key: BTreeMap<String, usize>,
    unrecorded: usize,
}

fn usage(cluster: &Cluster) -> Result<Usage> {
    let sealed: Api<SealedSecret> = Api::all(cluster.client());
    let sealed = cluster.call(
        "list SealedSecrets in all namespaces",
        sealed.list(&ListParams::default()),
    )?;
    let secrets: Api<Secret> = Api::all(cluster.client());
    // Only metadata: the values never leave the API server.
    let opened_by: BTreeMap<(String, String), Vec<String>> = cluster
        .call(
            "list Secret metadata in all namespaces",
            secrets.list_metadata(&ListParams::default()),
        )?
        .items
        .into_iter()
        .filter_map(|s| {
            let keys = s.metadata.annotations.as_ref()?.get("gitseal.dev/keys")?.clone();
            let id = (s.metadata.namespace.clone()?, s.metadata.name.clone()?);
            Some((id, keys.split(',').map(str::to_string).collect()))
        })
        .collect();
    let mut u = Usage {
        by_key: BTreeMap::new(),
        unrecorded: 0,
    };
    for ss in sealed.items {
        let id = (
            ss.metadata.namespace.clone().unwrap_or_default(),
            ss.metadata.name.clone().unwrap_or_default(),
        );
        let mut keys: Vec<String> = match opened_by.get(&id) {
            Some(k) => k.clone(),
            None => gitseal_core::seal::sealed_to(ss.metadata.annotations.as_ref())
                .into_iter()
                .map(str::to_string)
                .collect(),
        };
        for v in ss.spec.encrypted_data.values() {
            keys.extend(v2::recorded(v).into_iter().map(str::to_string));
        }
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            u.unrecorded += 1;
        }
        for k in keys {
            *u.by_key.entry(k).or_default() += 1;
        }
    }
    Ok(u)
}

fn backup(args: &KeysBackupArgs, kube: Kube<'_>) -> Result<()> {
    let recipients = read_recipients(&args.to, &args.to_files)?;
    let cluster = if args.source.keys.is_empty() {
        Some(Cluster::connect(kube)?)
    } else {
        None
    };
    let secrets = key_secrets(&args.source, cluster.as_ref())?;
    // Every key must be usable before it is trusted to a backup.
    let infos = describe(&secrets)?;
    let list = json!({"apiVersion": "v1", "kind": "List", "items": secrets});
    let plain = Zeroizing::new(to_document(&list, Format::Yaml).map_err(anyhow::Error::msg)?);
    let armored = v2::encrypt_file(plain.as_bytes(), &recipients)?;
    io::emit(args.output.as_deref(), armored.as_bytes(), Some(0o600))?;
    eprintln!(
        "backed up {} key{} ({}) for {} recipient{}",
        infos.len(),
        if infos.len() == 1 { "" } else { "s" },
        infos
            .iter()
            .map(|k| k.short_fingerprint.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        recipients.len(),
        if recipients.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

/// Returns whether every key Secret is now in place.
fn restore(args: &KeysRestoreArgs, kube: Kube<'_>) -> Result<bool> {
    let identities = io::load_identities(&args.identities, &[])?;
    let identities: Vec<&v2::Identity> = identities.iter().collect();
    let file = io::read_file(&args.file)?;
    let shown = args.file.display();
    let plain = v2::decrypt_file(&file, &identities).with_context(|| shown.to_string())?;
    let text = std::str::from_utf8(&plain).map_err(|_| anyhow!("{shown}: the backup is not text"))?;
    let mut secrets: Vec<Secret> = Vec::new();
    for doc in parse_documents(text).with_context(|| shown.to_string())? {
        for (_, item) in doc.into_objects() {
            let name = item
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if item.get("kind").and_then(Value::as_str) != Some("Secret") || name.is_empty() {
                bail!("{shown}: the backup holds something other than named key Secrets");
            }
            describe_key_secret(&item).map_err(|e| anyhow!("{shown}: key Secret {name}: {e}"))?;
            let item = without_server_fields(item).with_context(|| format!("{shown}: key Secret {name}"))?;
            secrets.push(serde_json::from_value(item).with_context(|| format!("{shown}: key Secret {name}"))?);
        }
    }
    if secrets.is_empty() {
        bail!("{shown}: the backup holds no key Secrets");
    }
    if args.dry_run {
        for s in &secrets {
            let ns = args
                .namespace
                .clone()
                .or_else(|| s.metadata.namespace.clone())
                .unwrap_or_default();
            println!("would create secret {ns}/{}", s.metadata.name.as_deref().unwrap_or(""));
        }
        return Ok(true);
    }
    let cluster = Cluster::connect(kube)?;
    let mut ok = true;
    for mut s in secrets {
        let ns = args
            .namespace
            .clone()
            .or_else(|| s.metadata.namespace.clone())
            .ok_or_else(|| anyhow!("{shown}: a key Secret has no namespace; pass --namespace"))?;
        s.metadata.namespace = Some(ns.clone());
        let name = s.metadata.name.clone().unwrap_or_default();
        let api: Api<Secret> = Api::namespaced(cluster.client(), &ns);
        let what = format!("create secret {ns}/{name}");
        match cluster.call(&what, api.get_opt(&name))? {
            Some(existing) if existing.data == s.data => println!("secret {ns}/{name} unchanged (already there)"),
            Some(_) => {
                eprintln!(
                    "gitseal: secret {ns}/{name} exists with other content: not overwritten (restore into another namespace with --namespace, or delete it first)"
                );
                ok = false;
            }
            None => match cluster.call(&what, api.create(&PostParams::default(), &s)) {
                Ok(_) => println!("secret {ns}/{name} created"),
                // Created by someone else meanwhile: never overwritten; say so and go on.
                Err(e) => {
                    eprintln!("gitseal: {e:#}");
                    ok = false;
                }
            },
        }
    }
    Ok(ok)
}
