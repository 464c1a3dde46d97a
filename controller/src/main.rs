//! `gitseal-controller`: parse flags, set up logs, run. Everything else is in the library.

use clap::Parser;
use gitseal_controller::config::Flags;

// jemalloc rather than glibc's malloc: with 10,000 SealedSecrets the controller's
// churn (watch events replacing cached objects between request buffers) left glibc
// holding about 25 MiB of freed fragments; jemalloc's size classes keep peak RSS
// near the live heap (measured by `cargo bench --bench scale -- memory`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let flags = Flags::parse();
    if let Err(e) = gitseal_controller::telemetry::init(&flags) {
        eprintln!("gitseal-controller: {e}");
        return std::process::ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gitseal-controller: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(gitseal_controller::run::run(flags)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "gitseal-controller stopped");
            std::process::ExitCode::FAILURE
        }
    }
}
