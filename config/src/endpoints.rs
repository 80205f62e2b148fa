//! Where a node's endpoints are: its HTTP listener and its trace collector.

use std::net::SocketAddr;

use crate::http::{DEFAULT_HTTP_LISTEN, HttpListen};
use crate::model::{NodeConfig, Role};
use crate::telemetry::OtlpTarget;

impl NodeConfig {
    /// Where this node's HTTP endpoint listens, if it has one.
    pub fn http_listen(&self) -> Option<SocketAddr> {
        match self.http.listen {
            HttpListen::Off => None,
            HttpListen::At(addr) => Some(addr),
            HttpListen::Auto if self.node.role == Role::Edge => None,
            HttpListen::Auto => Some(DEFAULT_HTTP_LISTEN.parse().expect("a constant address")),
        }
    }

    /// The collector this node exports to: `telemetry.otlp_endpoint`, else
    /// the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (and `_PROTOCOL`).
    pub fn otlp_target(&self) -> Option<OtlpTarget> {
        let t = &self.telemetry;
        if let Some(endpoint) = &t.otlp_endpoint {
            return Some(OtlpTarget {
                endpoint: endpoint.clone(),
                protocol: t.protocol,
            });
        }
        let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok()?;
        let protocol = std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(t.protocol);
        (!endpoint.trim().is_empty()).then_some(OtlpTarget { endpoint, protocol })
    }
}
