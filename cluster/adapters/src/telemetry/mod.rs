//! Spans out to an OpenTelemetry collector (OTLP). The exporter is a reader
//! of this node's own ledger, like the forwarder: every traced event this
//! node records becomes a span with the ledger's trace, span and parent ids,
//! so the console, the dashboard and the collector show one trace.
//!
//! No swarm actor ever waits for it: actors write to the ledger as always,
//! and the exporter follows behind from a persisted cursor. The ledger is
//! its buffer, bounded by `telemetry.max_lag` events: beyond, the oldest are
//! skipped and counted as dropped. A collector that is down or slow costs
//! retries with backoff, never a blocked layer.

mod exporter;
mod spans;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use exporter::{Telemetry, TelemetryArgs, TelemetryMsg, telemetry_child};
pub use spans::span_of;

/// What the exporter did, shared with `stats` and `/metrics`.
#[derive(Clone, Default)]
pub struct ExportStats(Arc<Counters>);

#[derive(Default)]
struct Counters {
    exported: AtomicU64,
    dropped: AtomicU64,
    failed_exports: AtomicU64,
    lag: AtomicU64,
}

/// A reading of [`ExportStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportSnapshot {
    /// Spans the collector accepted.
    pub exported: u64,
    /// Spans never exported: skipped past `max_lag`.
    pub dropped: u64,
    /// Export calls that failed or timed out (their spans are sent again).
    pub failed_exports: u64,
    /// Events recorded here and not yet looked at by the exporter.
    pub lag: u64,
}

impl ExportStats {
    pub fn snapshot(&self) -> ExportSnapshot {
        let c = &self.0;
        ExportSnapshot {
            exported: c.exported.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed_exports: c.failed_exports.load(Ordering::Relaxed),
            lag: c.lag.load(Ordering::Relaxed),
        }
    }

    fn exported(&self, n: usize) {
        self.0.exported.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn dropped(&self, n: u64) {
        self.0.dropped.fetch_add(n, Ordering::Relaxed);
    }

    fn failed(&self) {
        self.0.failed_exports.fetch_add(1, Ordering::Relaxed);
    }

    fn lag(&self, n: u64) {
        self.0.lag.store(n, Ordering::Relaxed);
    }
}
