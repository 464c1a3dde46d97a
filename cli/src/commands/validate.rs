//! `gitseal validate`: offline checks, or the controller's verdict with
//! `--online`; one line per problem.

use anyhow::{Context as _, Result};
use gitseal_core::unseal::{UnsealOptions, unseal_with};
use gitseal_core::validate::check_structure;
use http::StatusCode;

use super::{objects_or_nothing, sealed_secret};
use crate::cli::ValidateArgs;
use crate::io;
use crate::online::Controller;

/// Returns whether everything passed.
pub fn run(args: &ValidateArgs, kube: io::Kube<'_>) -> Result<bool> {
    if args.online {
        return online(args, kube);
    }
    let keys = io::load_keys(&args.keys)?;
    let identities = io::load_identities(&args.identities, &args.keys)?;
    let identities: Vec<&gitseal_core::v2::Identity> = identities.iter().collect();
    let cert = args.cert.as_deref().map(io::load_cert).transpose()?;
    let sources = io::read_inputs(&args.files)?;
    let objs = objects_or_nothing(&sources, "SealedSecret")?;
    let opts = UnsealOptions {
        accept_deprecated_v1_data: args.accept_deprecated_v1_data,
        ..Default::default()
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
        if (!keys.is_empty() || !identities.is_empty())
            && let Err(e) = unseal_with(&sealed, &keys, &identities, opts)
        {
            problems.push(format!("{where_}: {e}"));
        }
    }
    report(&problems, objs.len())
}

/// Each SealedSecret goes to the controller's `/v1/verify`, one request per
/// document, as kubeseal `--validate` sends them.
fn online(args: &ValidateArgs, kube: io::Kube<'_>) -> Result<bool> {
    let sources = io::read_inputs(&args.files)?;
    let objs = objects_or_nothing(&sources, "SealedSecret")?;
    // Everything is read and parsed before the first request.
    let checks: Vec<Result<String, String>> = objs
        .iter()
        .map(|obj| {
            sealed_secret(obj)
                .map(|ss| ss.metadata.name.unwrap_or_default())
                .map_err(|e| format!("{e:#}"))
        })
        .collect();
    let mut controller: Option<Controller> = None;
    let mut problems = Vec::new();
    for (obj, check) in objs.iter().zip(checks) {
        let name = match check {
            Ok(name) => name,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let controller = match &mut controller {
            Some(c) => &*c,
            slot @ None => &*slot.insert(Controller::connect(kube, &args.controller)?),
        };
        let body = serde_json::to_vec(&obj.value).context("cannot encode the SealedSecret")?;
        let reply = controller
            .post("/v1/verify", body, "validate")
            .with_context(|| obj.describe())?;
        match reply.status {
            s if s.is_success() => {}
            StatusCode::CONFLICT => {
                problems.push(format!("{}: unable to decrypt sealed secret: {name}", obj.describe()))
            }
            _ => problems.push(format!(
                "{}: cannot validate sealed secret {name}: {}",
                obj.describe(),
                reply.describe()
            )),
        }
    }
    report(&problems, objs.len())
}

/// One line per problem on stdout, a summary on stderr.
fn report(problems: &[String], n: usize) -> Result<bool> {
    let report: String = problems.iter().map(|p| format!("{p}\n")).collect();
    io::emit(None, report.as_bytes(), None)?;
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
