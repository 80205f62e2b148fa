//! `[telemetry]`: spans out to an OpenTelemetry collector over OTLP.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySection {
    /// The collector, e.g. `http://127.0.0.1:4317`; unset: no export (unless
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    pub protocol: OtlpProtocol,
    /// The `service.name` of this node's spans.
    pub service_name: String,
    /// One export call gives up after this long (and is retried later).
    pub export_timeout_ms: u64,
    /// Spans per export call at most.
    pub max_batch: usize,
    /// How far the exporter may fall behind the ledger, in events; beyond,
    /// the oldest are skipped and counted as dropped.
    pub max_lag: u64,
    /// How often an idle exporter looks for new events.
    pub poll_interval_ms: u64,
}

impl Default for TelemetrySection {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            protocol: OtlpProtocol::Grpc,
            service_name: "swarmd".into(),
            export_timeout_ms: 3_000,
            max_batch: 512,
            max_lag: 100_000,
            poll_interval_ms: 250,
        }
    }
}

impl TelemetrySection {
    pub fn export_timeout(&self) -> Duration {
        Duration::from_millis(self.export_timeout_ms)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}

/// OTLP over gRPC (port 4317 by convention) or HTTP with protobuf bodies (4318).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    Grpc,
    HttpProtobuf,
}

impl FromStr for OtlpProtocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "grpc" => Ok(Self::Grpc),
            "http/protobuf" | "http" => Ok(Self::HttpProtobuf),
            _ => Err(format!(
                "{s:?} is not an OTLP protocol: grpc or http/protobuf"
            )),
        }
    }
}

impl fmt::Display for OtlpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
        })
    }
}

impl Serialize for OtlpProtocol {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OtlpProtocol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Where and how this node exports, when it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpTarget {
    pub endpoint: String,
    pub protocol: OtlpProtocol,
}

impl TelemetrySection {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        let t = self;
        if let Some(endpoint) = &t.otlp_endpoint
            && let Err(why) = check_endpoint(endpoint)
        {
            return Err(("telemetry.otlp_endpoint", why));
        }
        for (key, value) in [
            ("telemetry.export_timeout_ms", t.export_timeout_ms),
            ("telemetry.max_batch", t.max_batch as u64),
            ("telemetry.max_lag", t.max_lag),
            ("telemetry.poll_interval_ms", t.poll_interval_ms),
        ] {
            if value == 0 {
                return Err((key, "must be at least 1".into()));
            }
        }
        if t.service_name.trim().is_empty() {
            return Err(("telemetry.service_name", "must not be empty".into()));
        }
        Ok(())
    }
}

/// An endpoint is an `http://` or `https://` URL with a host (and a port).
pub fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .ok_or_else(|| format!("{endpoint:?} is not an http:// or https:// URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("{endpoint:?} has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_urls_with_a_host() {
        assert!(check_endpoint("http://127.0.0.1:4317").is_ok());
        assert!(check_endpoint("https://collector.example/otlp").is_ok());
        assert!(check_endpoint("127.0.0.1:4317").is_err());
        assert!(check_endpoint("http://:4317").is_err());
        assert!(check_endpoint("grpc://x").is_err());
    }

    #[test]
    fn protocols_parse_by_their_otlp_names() {
        assert_eq!("grpc".parse(), Ok(OtlpProtocol::Grpc));
        assert_eq!("http/protobuf".parse(), Ok(OtlpProtocol::HttpProtobuf));
        assert!("thrift".parse::<OtlpProtocol>().is_err());
    }
}
