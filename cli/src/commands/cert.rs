//! `gitseal cert` and `gitseal recipients`: the controller's certificate and age
//! recipients, fetched through the API server.

use anyhow::Result;
use time::OffsetDateTime;

use crate::cli::CertArgs;
use crate::io;
use crate::online::Controller;

pub fn run(args: &CertArgs, kube: io::Kube<'_>) -> Result<()> {
    let controller = Controller::connect(kube, &args.controller)?;
    // Parsed before anything is written: a proxy error page never lands in cert.pem.
    let (pem, cert) = controller.certificate()?;
    if let Err(e) = cert.check_not_expired(OffsetDateTime::now_utc()) {
        eprintln!("gitseal: warning: the certificate from {}: {e}", controller.service());
    }
    io::emit(args.output.as_deref(), &pem, Some(0o644))
}

pub fn recipients(args: &CertArgs, kube: io::Kube<'_>) -> Result<()> {
    let controller = Controller::connect(kube, &args.controller)?;
    let recipients = controller.recipients()?;
    let text: String = recipients.iter().map(|r| format!("{}\n", r.as_str())).collect();
    io::emit(args.output.as_deref(), text.as_bytes(), Some(0o644))
}
