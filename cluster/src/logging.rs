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

/// A URL (or a comma-separated list of them) as it may be logged or
/// reported: credentials in the authority and the query are masked.
pub fn redacted_url(url: &str) -> String {
    url.split(',')
        .map(|one| {
            let one = one.trim();
            let (one, query) = match one.split_once('?') {
                Some((base, _)) => (base, "?***"),
                None => (one, ""),
            };
            let (scheme, rest) = one.split_once("://").unwrap_or(("", one));
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let authority = match authority.rsplit_once('@') {
                Some((_, host)) => format!("***@{host}"),
                None => authority.to_string(),
            };
            match scheme {
                "" => format!("{authority}{path}{query}"),
                _ => format!("{scheme}://{authority}{path}{query}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::redacted_url;

    #[test]
    fn credentials_in_urls_are_masked() {
        assert_eq!(
            redacted_url("nats://edge:s3cret@10.0.0.1:4222, tls://h:4223"),
            "nats://***@10.0.0.1:4222,tls://h:4223"
        );
        assert_eq!(redacted_url("u:p@h:4222"), "***@h:4222");
        assert_eq!(redacted_url("nats://h:4222"), "nats://h:4222");
        assert_eq!(
            redacted_url("https://k:v@otel.example:4318/v1/traces?api-key=abc"),
            "https://***@otel.example:4318/v1/traces?***"
        );
        assert_eq!(
            redacted_url("http://a/b@c"),
            "http://a/b@c",
            "an @ in the path is no userinfo"
        );
    }
}
