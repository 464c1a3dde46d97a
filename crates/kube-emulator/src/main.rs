//! `kube-emulator [--port N] [--kubeconfig FILE]`: run the emulated API server by hand, e.g. to
//! point kubectl at it (`kubectl --kubeconfig FILE get secrets`).

use std::net::SocketAddr;
use std::process::ExitCode;

const USAGE: &str = "usage: kube-emulator [--port N] [--kubeconfig FILE] [--namespace NS]";

#[tokio::main]
async fn main() -> ExitCode {
    let (mut port, mut kubeconfig, mut namespace) = (0u16, None, "default".to_string());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--port" | "--kubeconfig" | "--namespace" => args.next(),
            _ => None,
        };
        match (arg.as_str(), value) {
            ("--port", Some(v)) if v.parse::<u16>().is_ok() => port = v.parse().unwrap_or(0),
            ("--kubeconfig", Some(v)) => kubeconfig = Some(v),
            ("--namespace", Some(v)) => namespace = v,
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let emulator = match kube_emulator::Emulator::start_on(SocketAddr::from(([127, 0, 0, 1], port))).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("kube-emulator: cannot listen on port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = kubeconfig
        && let Err(e) = std::fs::write(&path, emulator.kubeconfig(&namespace))
    {
        eprintln!("kube-emulator: cannot write {path}: {e}");
        return ExitCode::FAILURE;
    }
    println!("{}", emulator.url());
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("kube-emulator: {e}");
    }
    ExitCode::SUCCESS
}
