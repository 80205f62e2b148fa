use std::io::IsTerminal;

use swarmd_config::{LogFormat, LogSection};
use tracing_subscriber::EnvFilter;

/// A log filter that does not parse; `origin` is where it came from.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {directive:?} is not a valid log filter: {why}")]
pub struct LogFilterError {
    pub origin: &'static str,
    pub directive: String,
    pub why: String,
}

/// Installs the global subscriber, writing to stderr. The filter is `--log`
/// when given, else `RUST_LOG` when set, else `log.filter` from the config.
pub fn init(log: &LogSection, flag_given: bool) -> Result<(), LogFilterError> {
    let rust_log = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let (directive, origin) = match rust_log {
        Some(v) if !flag_given => (v, "RUST_LOG"),
        _ => (log.filter.clone(), "log.filter"),
    };
    let filter = EnvFilter::try_new(&directive).map_err(|e| LogFilterError {
        origin,
        why: e.to_string(),
        directive: directive.clone(),
    })?;
    // A node whose log destination breaks (a closed pipe, a full disk) keeps running.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    match log.format {
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}
