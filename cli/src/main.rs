//! The `gitseal` command: a thin shell over `gitseal-core`.

mod cli;
mod commands;
mod io;
mod online;
mod repo_config;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory as _, FromArgMatches as _, Parser as _};

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            // One line: the context chain joined with ": ".
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("gitseal: error: {msg}");
            if e.downcast_ref::<io::UsageError>().is_some() || e.downcast_ref::<online::NoClusterConfig>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// Parses the arguments. Installed as `kubectl-gitseal`, kubectl runs it as a plugin
/// (`kubectl gitseal seal …`) and help and errors say `kubectl gitseal`.
fn parse() -> Cli {
    let plugin = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .is_some_and(|name| name == "kubectl-gitseal");
    if !plugin {
        return Cli::parse();
    }
    let matches = Cli::command().bin_name("kubectl gitseal").get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let kube = io::Kube {
        kubeconfig: cli.kubeconfig.as_deref(),
        context: cli.context.as_deref(),
    };
    match &cli.command {
        Command::Seal(args) => commands::seal::run(args, kube)?,
        Command::Unseal(args) => commands::unseal::run(args, kube)?,
        Command::Validate(args) => {
            if !commands::validate::run(args, kube)? {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Cert(args) => commands::cert::run(args, kube)?,
        Command::Recipients(args) => commands::cert::recipients(args, kube)?,
        Command::Keys { command } => {
            if !commands::keys::run(command, kube)? {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Reencrypt(args) => match &args.all {
            Some(dir) => {
                if !commands::reencrypt_all::run(args, dir, kube)? {
                    return Ok(ExitCode::from(1));
                }
            }
            None => commands::reencrypt::run(args, kube)?,
        },
        Command::Scan(args) => {
            if !commands::scan::run(args)? {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Keygen(args) => commands::keygen::run(args)?,
        Command::Demo => commands::demo::run()?,
        Command::Crd => io::emit(None, gitseal_core::api::crd_yaml().as_bytes(), None)?,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "gitseal", &mut script);
            io::emit(None, &script, None)?;
        }
        Command::Man { out_dir } => {
            let dir = out_dir.display();
            std::fs::create_dir_all(out_dir).with_context(|| format!("{dir}: cannot create"))?;
            clap_mangen::generate_to(Cli::command(), out_dir)
                .with_context(|| format!("{dir}: cannot write man pages"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
