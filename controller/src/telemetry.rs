//! Logs: text or JSON, INFO/DEBUG to stdout and WARN/ERROR to stderr by default
//! (upstream's `--log-info-stdout`). Secret values are never logged: the types
//! that hold them print item names only.

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};

use crate::config::{Flags, LogFormat};

fn filter(level: &str) -> Result<EnvFilter, String> {
    let directive = match level.to_ascii_uppercase().as_str() {
        "DEBUG" => "debug".to_string(),
        "INFO" => "info".to_string(),
        "WARN" | "WARNING" => "warn".to_string(),
        "ERROR" => "error".to_string(),
        _ => level.to_string(),
    };
    EnvFilter::try_new(format!("{directive},hyper=warn,rustls=warn,tower=warn"))
        .map_err(|e| format!("invalid --log-level {level:?}: {e}"))
}

pub fn init(flags: &Flags) -> Result<(), String> {
    let filter = filter(&flags.log_level)?;
    let writer = if flags.log_info_stdout {
        BoxMakeWriter::new(std::io::stderr.with_max_level(Level::WARN).or_else(std::io::stdout))
    } else {
        BoxMakeWriter::new(std::io::stderr)
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let result = match flags.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
    result.map_err(|e| e.to_string())
}
