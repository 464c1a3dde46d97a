//! `gitseal seal`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use gitseal_core::Scope;
use gitseal_core::manifest::{Format, to_document};
use gitseal_core::seal::{InputSecret, SealOptions, SealTo, merge_into_document, seal, seal_raw};
use gitseal_core::v2;
use time::OffsetDateTime;

use super::{Object, objects, objects_or_nothing};
use crate::cli::{SchemeArg, SealArgs};
use crate::io::{self, Source, usage};
use crate::online::{Controller, NoClusterConfig};
use crate::repo_config::RepoConfig;

/// What the items are sealed to.
enum Target {
    Cert(gitseal_core::Certificate),
    Recipients(Vec<v2::Recipient>),
}

impl Target {
    fn seal_to(&self) -> SealTo<'_> {
        match self {
            Target::Cert(c) => c.public_key().into(),
            Target::Recipients(r) => r.as_slice().into(),
        }
    }
}

fn connect(kube: io::Kube<'_>, args: &SealArgs, what: &str) -> Result<Controller> {
    Controller::connect(kube, &args.controller).map_err(|e| {
        if e.downcast_ref::<NoClusterConfig>().is_some() {
            usage(format!(
                "{what}, or give a kubeconfig (--kubeconfig, $KUBECONFIG) to fetch it from the controller"
            ))
        } else {
            e
        }
    })
}

/// The file whose path picks the `.gitseal.yaml` rule: the output, else the
/// `--merge-into` target, else the first input, else `<stdin>` in the current
/// directory.
fn governed_path(args: &SealArgs) -> PathBuf {
    let inputs = args.io.inputs();
    args.io
        .output
        .clone()
        .or_else(|| args.merge_into.clone())
        .or_else(|| inputs.into_iter().find(|p| p != Path::new("-")))
        .unwrap_or_else(|| PathBuf::from("<stdin>"))
}

/// Reads recipients from `--recipient` values and recipients files.
pub fn read_recipients(values: &[String], files: &[PathBuf]) -> Result<Vec<v2::Recipient>> {
    let mut recipients = Vec::new();
    for r in values {
        recipients.push(
            r.parse::<v2::Recipient>()
                .map_err(|e| usage(format!("--recipient: {e}")))?,
        );
    }
    for path in files {
        let bytes = io::read_file(path)?;
        let text = String::from_utf8_lossy(&bytes);
        let parsed =
            v2::parse_recipients(&text).map_err(|(line, e)| anyhow::anyhow!("{}:{line}: {e}", path.display()))?;
        if parsed.is_empty() {
            bail!("{}: no age recipients in it", path.display());
        }
        recipients.extend(parsed);
    }
    Ok(recipients)
}

/// The certificate (`--scheme bitnami`) or the age recipients (`--scheme v2`).
/// Flags win; then the `.gitseal.yaml` rule for the file; without either, the
/// controller's certificate. Also returns the rule's scope, if any.
fn target(args: &SealArgs, kube: io::Kube<'_>) -> Result<(Target, Option<Scope>)> {
    let flag_recipients = read_recipients(&args.recipients, &args.recipients_files)?;
    let flag_scheme = match (args.scheme, flag_recipients.is_empty()) {
        (Some(SchemeArg::Bitnami), false) => {
            return Err(usage(
                "--recipient and --recipients-file seal v2 items: drop --scheme bitnami, or the recipients",
            ));
        }
        (Some(scheme), _) => Some(scheme),
        (None, false) => Some(SchemeArg::V2),
        // A Bitnami item opens with one RSA key: several certificates mean v2.
        (None, true) if args.cert.len() > 1 => Some(SchemeArg::V2),
        (None, true) if !args.cert.is_empty() => Some(SchemeArg::Bitnami),
        (None, true) => None,
    };
    let config = RepoConfig::for_file(&governed_path(args))?;
    let rule = config.as_ref().map(|(c, i)| c.rule(*i));
    let scheme = flag_scheme
        .or_else(|| rule.and_then(|r| r.implied_scheme()))
        .unwrap_or(SchemeArg::Bitnami);
    let rule_scope = rule.and_then(|r| r.scope);
    if scheme == SchemeArg::V2 {
        // Each --cert contributes the age recipient it carries.
        let mut recipients = flag_recipients;
        for spec in &args.cert {
            let shown = io::redact(spec);
            let cert = io::load_cert(spec)?;
            let recipient = cert
                .age_recipient()
                .ok_or_else(|| {
                    usage(format!(
                        "{shown}: the certificate carries no age recipient (a Bitnami controller's, or a key made \
                         before gitseal added them): v2 items need --recipient, or seal Bitnami items to one --cert"
                    ))
                })?
                .map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
            recipients.push(recipient);
        }
        if recipients.is_empty()
            && let Some(r) = rule
        {
            recipients = read_recipients(&r.recipients, &r.recipients_files).with_context(|| {
                format!(
                    "the recipients of {}",
                    config
                        .as_ref()
                        .map_or_else(String::new, |(c, _)| c.path.display().to_string())
                )
            })?;
        }
        if recipients.is_empty() {
            let controller = connect(kube, args, "no recipients: pass --recipient or --recipients-file")?;
            recipients = controller.recipients()?;
        }
        return Ok((Target::Recipients(recipients), rule_scope));
    }

    // --cert (or GITSEAL_CERT) wins; then the rule's; without either, the controller's, as kubeseal.
    if args.cert.len() > 1 {
        return Err(usage(
            "a Bitnami item opens with one RSA key: give one --cert, or --scheme v2 to seal for several clusters",
        ));
    }
    let cert_spec = args.cert.first().cloned().or_else(|| rule.and_then(|r| r.cert.clone()));
    let (cert, shown) = match cert_spec.as_deref() {
        Some(spec) => (io::load_cert(spec)?, io::redact(spec)),
        None => {
            let controller = connect(kube, args, "no certificate: pass --cert FILE|URL or set GITSEAL_CERT")?;
            let (_, cert) = controller.certificate()?;
            (cert, format!("the certificate from {}", controller.service()))
        }
    };
    if !args.allow_expired_cert {
        cert.check_not_expired(OffsetDateTime::now_utc())
            .with_context(|| format!("{shown} (pass --allow-expired-cert to use it anyway)"))?;
    }
    Ok((Target::Cert(cert), rule_scope))
}

pub fn run(args: &SealArgs, kube: io::Kube<'_>) -> Result<()> {
    let (target, rule_scope) = target(args, kube)?;
    let scope = args.scope.map(Scope::from).or(rule_scope);
    if args.raw {
        return raw(args, &target, scope, kube);
    }
    let sources = io::read_inputs(&args.io.inputs())?;
    let secrets = secrets(&sources)?;
    if let Some(path) = &args.merge_into {
        return merge(path, secrets, target.seal_to());
    }

    let default_ns = io::default_namespace(kube)?;
    let opts = SealOptions {
        scope,
        name: args.name.as_deref(),
        namespace: args.namespace.as_deref(),
        default_namespace: &default_ns,
        allow_empty_data: args.allow_empty_data,
    };
    let format = args.io.format();
    let mut out = String::new();
    for (obj, secret) in secrets {
        let sealed = seal(secret, target.seal_to(), &opts).with_context(|| obj.describe())?;
        out.push_str(&to_document(&sealed, format).map_err(anyhow::Error::msg)?);
    }
    io::emit(args.io.output.as_deref(), out.as_bytes(), Some(0o644))
}

/// Reads every object as a Secret; an input with none is an error.
fn secrets(sources: &[Source]) -> Result<Vec<(Object, InputSecret)>> {
    objects_or_nothing(sources, "Secret")?
        .into_iter()
        .map(|obj| {
            let secret = InputSecret::from_value(&obj.value).with_context(|| obj.describe())?;
            Ok((obj, secret))
        })
        .collect()
}

fn raw(args: &SealArgs, target: &Target, scope: Option<Scope>, kube: io::Kube<'_>) -> Result<()> {
    let inputs = args.io.inputs();
    let (item, value): (Option<&str>, zeroize::Zeroizing<Vec<u8>>) = match &args.from_file {
        // kubeseal accepts `key=path` and ignores the key; v2 binds it.
        Some(spec) => {
            if !inputs.is_empty() {
                return Err(usage("--raw takes one value: --from-file or one input, not both"));
            }
            let (item, path) = spec
                .split_once('=')
                .map_or((None, spec.as_str()), |(k, p)| (Some(k), p));
            (item, io::read_file(Path::new(path))?.into())
        }
        None => (None, io::read_single_input(&inputs)?.bytes),
    };
    if value.len() > gitseal_core::seal::MAX_SECRET_BYTES {
        bail!("--raw: the value is over the 1 MiB Kubernetes limit");
    }
    let scope = scope.unwrap_or_default();
    let namespace = io::raw_namespace(args.namespace.as_deref(), scope, kube)?;
    let name = args.name.clone().unwrap_or_default();
    let sealed = match target {
        Target::Cert(cert) => {
            seal_raw(&value, cert.public_key(), scope, &namespace, &name).map_err(|e| usage(format!("--raw: {e}")))?
        }
        Target::Recipients(recipients) => {
            let key = item
                .ok_or_else(|| usage("--raw with v2 binds the item name: pass the value as --from-file ITEM=PATH"))?;
            gitseal_core::names::check_data_key(key).map_err(|e| usage(format!("--raw: item {key:?}: {e}")))?;
            if scope.needs_name() && name.is_empty() {
                return Err(usage("--raw: strict scope needs --name"));
            }
            let binding = v2::Binding {
                scope,
                namespace: &namespace,
                name: &name,
                key,
            };
            v2::seal(&value, recipients, &binding).map_err(|e| usage(format!("--raw: {e}")))?
        }
    };
    io::emit(args.io.output.as_deref(), sealed.as_bytes(), Some(0o644))
}

fn merge(target: &Path, secrets: Vec<(Object, InputSecret)>, to: SealTo<'_>) -> Result<()> {
    let [(obj, secret)]: [(Object, InputSecret); 1] = secrets.try_into().map_err(|v: Vec<_>| {
        let names: Vec<String> = v.iter().map(|(o, _): &(Object, InputSecret)| o.describe()).collect();
        anyhow::anyhow!(
            "--merge-into takes exactly one Secret, the input has {}: {}",
            v.len(),
            names.join(", ")
        )
    })?;
    let source = Source {
        name: target.display().to_string(),
        bytes: io::read_file(target)?.into(),
    };
    let existing = objects(std::slice::from_ref(&source))?;
    let [existing_obj]: [Object; 1] = existing.try_into().map_err(|v: Vec<_>| {
        anyhow::anyhow!(
            "{}: --merge-into needs exactly one SealedSecret, found {} documents",
            source.name,
            v.len()
        )
    })?;
    gitseal_core::meta::expect_kind(&existing_obj.value, "bitnami.com/v1alpha1", "SealedSecret")
        .map_err(|e| anyhow::anyhow!("{}: {e}", existing_obj.describe()))?;
    let mut doc = existing_obj.value.clone();
    merge_into_document(&mut doc, secret, to)
        .with_context(|| format!("{} into {}", obj.describe(), existing_obj.describe()))?;
    let text = gitseal_core::manifest::decode_text(&source.bytes)?;
    let out = to_document(&doc, Format::detect(&text)).map_err(anyhow::Error::msg)?;
    io::write_atomic(target, out.as_bytes(), None)
}
