use std::io::IsTerminal;

use swarmd_config::{LogFormat, LogSection};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::registry::LookupSpan;

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
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .event_format(Human)
            .init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}

/// The human format: time, level, message and fields, and nothing of the
/// spans ractor opens per actor (`Actor{id="0.11"}:...`, ids that mean
/// nothing to a person). Supervision lines name supervisor and child.
struct Human;

impl<S, N> FormatEvent<S, N> for Human
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        SystemTime.format_time(&mut writer)?;
        let level = *event.metadata().level();
        let shown = match (writer.has_ansi_escapes(), level) {
            (true, tracing::Level::ERROR) => "\x1b[31mERROR\x1b[0m",
            (true, tracing::Level::WARN) => "\x1b[33m WARN\x1b[0m",
            (_, tracing::Level::ERROR) => "ERROR",
            (_, tracing::Level::WARN) => " WARN",
            (_, tracing::Level::INFO) => " INFO",
            (_, tracing::Level::DEBUG) => "DEBUG",
            (_, tracing::Level::TRACE) => "TRACE",
        };
        write!(writer, " {shown} ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
