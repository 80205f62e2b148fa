//! The exporter actor: follows this node's ledger and ships spans.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_actors::ctx::Storage;
use swarmd_config::telemetry::{OtlpProtocol, OtlpTarget, TelemetrySection};
use swarmd_storage::ledger::{LedgerReader, keys, persisted_next_seq};
use swarmd_storage::{Batch, StorageError};
use swarmd_supervisor::ChildSpec;
use tracing::{info, warn};

use super::ExportStats;
use super::spans::span_of;

/// Longest wait between retries of a failing export.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

pub struct TelemetryArgs {
    pub node: String,
    pub storage: Arc<dyn Storage>,
    pub target: OtlpTarget,
    pub config: TelemetrySection,
    pub stats: ExportStats,
    /// Over the node's memory budget, export waits (the ledger keeps the spans).
    pub shedding: swarmd_storage::Shedding,
}

pub fn telemetry_child(args: TelemetryArgs) -> ChildSpec {
    let args = Arc::new(args);
    ChildSpec::for_actor("telemetry", Telemetry, args)
}

pub enum TelemetryMsg {
    Pump,
}

impl ractor::Message for TelemetryMsg {}

#[derive(Clone)]
pub struct Telemetry;

pub struct TelemetryState {
    args: Arc<TelemetryArgs>,
    reader: LedgerReader,
    exporter: SpanExporter,
    scope: InstrumentationScope,
    /// The next seq of this node to look at; spans below it are done with.
    cursor: u64,
    failures: u32,
}

/// What one round did.
enum Round {
    /// A full batch went out: there may be more at once.
    More,
    CaughtUp,
}

#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error("the ledger could not be read: {0}")]
    Ledger(String),
    #[error("the collector refused or failed: {0}")]
    Collector(String),
    #[error("the collector did not answer within {0:?}")]
    Timeout(Duration),
}

impl Actor for Telemetry {
    type Msg = TelemetryMsg;
    type State = TelemetryState;
    type Arguments = Arc<TelemetryArgs>;

    async fn pre_start(
        &self,
        me: ActorRef<TelemetryMsg>,
        args: Arc<TelemetryArgs>,
    ) -> Result<TelemetryState, ActorProcessingErr> {
        let exporter = build_exporter(&args)?;
        let cursor = persisted_cursor(&args)?;
        info!(endpoint = %crate::redacted_url(&args.target.endpoint), protocol = %args.target.protocol, cursor, "exporting spans over OTLP");
        me.cast(TelemetryMsg::Pump)?;
        Ok(TelemetryState {
            reader: LedgerReader::new(args.storage.clone()),
            scope: InstrumentationScope::builder("swarmd").build(),
            args,
            exporter,
            cursor,
            failures: 0,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<TelemetryMsg>,
        TelemetryMsg::Pump: TelemetryMsg,
        state: &mut TelemetryState,
    ) -> Result<(), ActorProcessingErr> {
        if state.args.shedding.skips() {
            me.send_after(state.args.config.poll_interval(), || TelemetryMsg::Pump);
            return Ok(());
        }
        match state.round().await {
            Ok(Round::More) => me.cast(TelemetryMsg::Pump)?,
            Ok(Round::CaughtUp) => {
                me.send_after(state.args.config.poll_interval(), || TelemetryMsg::Pump);
            }
            Err(e) => {
                let delay = state.failed(&e);
                me.send_after(delay, || TelemetryMsg::Pump);
            }
        }
        Ok(())
    }

    /// Flushes what is recorded by now, within one export timeout, then
    /// closes the exporter: the node's shutdown never waits longer.
    async fn post_stop(
        &self,
        _: ActorRef<TelemetryMsg>,
        state: &mut TelemetryState,
    ) -> Result<(), ActorProcessingErr> {
        let budget = state.args.config.export_timeout();
        let flushed = tokio::time::timeout(budget, async {
            while let Ok(Round::More) = state.round().await {}
        })
        .await;
        if flushed.is_err() {
            warn!(
                ?budget,
                "OTLP flush at shutdown cut short; the rest is exported after the restart"
            );
        }
        if let Err(e) = state.exporter.shutdown_with_timeout(budget) {
            warn!(error = %e, "OTLP exporter did not shut down cleanly");
        }
        Ok(())
    }
}

impl TelemetryState {
    /// Exports the next batch of this node's events that are in a trace.
    async fn round(&mut self) -> Result<Round, ExportError> {
        let args = self.args.clone();
        let (node, config) = (&args.node, &args.config);
        let next = persisted_next_seq(&*self.args.storage, node)
            .map_err(|e| ExportError::Ledger(e.to_string()))?;
        self.skip_past_max_lag(next);
        self.args.stats.lag(next.saturating_sub(self.cursor));
        let events = self
            .reader
            .node_log(node, self.cursor, config.max_batch)
            .map_err(|e| ExportError::Ledger(e.to_string()))?;
        let Some(last) = events.last().map(|e| e.id.seq) else {
            self.args.stats.lag(0);
            return Ok(Round::CaughtUp);
        };
        let spans: Vec<SpanData> = events
            .iter()
            .filter_map(|e| span_of(e, &self.scope))
            .collect();
        let count = spans.len();
        if count > 0 {
            let timeout = config.export_timeout();
            tokio::time::timeout(timeout, self.exporter.export(spans))
                .await
                .map_err(|_| ExportError::Timeout(timeout))?
                .map_err(|e| ExportError::Collector(e.to_string()))?;
            self.args.stats.exported(count);
        }
        self.advance(last + 1);
        self.args.stats.lag(next.saturating_sub(self.cursor));
        if self.failures > 0 {
            info!(after = self.failures, "OTLP export recovered");
            self.failures = 0;
        }
        Ok(if events.len() == config.max_batch {
            Round::More
        } else {
            Round::CaughtUp
        })
    }

    /// The ledger is the export queue, bounded by `max_lag` events: the
    /// oldest beyond it are skipped, counted, logged.
    fn skip_past_max_lag(&mut self, next: u64) {
        let max_lag = self.args.config.max_lag;
        if next.saturating_sub(self.cursor) <= max_lag {
            return;
        }
        let skipped = next - max_lag - self.cursor;
        warn!(
            skipped,
            max_lag, "OTLP export fell too far behind; the oldest spans are dropped"
        );
        self.args.stats.dropped(skipped);
        self.advance(next - max_lag);
    }

    /// A lost cursor write (a full disk) only means exporting some spans twice.
    fn advance(&mut self, cursor: u64) {
        self.cursor = cursor;
        let mut batch = Batch::default();
        batch.insert(cursor_key(&self.args.node), cursor.to_be_bytes().to_vec());
        if let Err(e) = self.args.storage.apply(keys::TREE, batch) {
            warn!(error = %e, cursor, "OTLP export cursor not persisted");
        }
    }

    /// Counts and logs a failure (the first, then at powers of two) and
    /// says how long to wait before the next try.
    fn failed(&mut self, e: &ExportError) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.args.stats.failed();
        if self.failures.is_power_of_two() {
            warn!(error = %e, failures = self.failures, endpoint = %crate::redacted_url(&self.args.target.endpoint), "OTLP export failed; the spans wait in the ledger");
        }
        let base = self.args.config.poll_interval();
        base.saturating_mul(1 << self.failures.min(8))
            .min(MAX_BACKOFF)
    }
}

fn cursor_key(node: &str) -> Vec<u8> {
    keys::meta(&format!("otlp_cursor/{node}"))
}

/// Where the last run stopped, else the ledger's end: a node that turns
/// export on exports from then on, not its whole history.
fn persisted_cursor(args: &TelemetryArgs) -> Result<u64, StorageError> {
    match args.storage.get(keys::TREE, &cursor_key(&args.node))? {
        Some(bytes) => Ok(u64::from_be_bytes(bytes.as_slice().try_into().map_err(
            |_| StorageError::Corrupt("the OTLP export cursor is not 8 bytes".into()),
        )?)),
        None => persisted_next_seq(&*args.storage, &args.node)
            .map_err(|e| StorageError::Corrupt(e.to_string())),
    }
}

fn build_exporter(args: &TelemetryArgs) -> Result<SpanExporter, ActorProcessingErr> {
    let t = &args.target;
    let timeout = args.config.export_timeout();
    let mut exporter = match t.protocol {
        OtlpProtocol::Grpc => SpanExporter::builder()
            .with_tonic()
            .with_endpoint(t.endpoint.clone())
            .with_timeout(timeout)
            .build()?,
        OtlpProtocol::HttpProtobuf => SpanExporter::builder()
            .with_http()
            .with_endpoint(http_traces_url(&t.endpoint))
            .with_timeout(timeout)
            .build()?,
    };
    exporter.set_resource(
        &Resource::builder_empty()
            .with_service_name(args.config.service_name.clone())
            .with_attributes([KeyValue::new("service.instance.id", args.node.clone())])
            .build(),
    );
    Ok(exporter)
}

/// OTLP/HTTP posts traces to `/v1/traces`; an endpoint given as a bare
/// base URL gets it appended, as the `OTEL_EXPORTER_OTLP_ENDPOINT` rules say.
fn http_traces_url(endpoint: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    let after_scheme = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    if after_scheme.contains('/') {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v1/traces")
    }
}

#[cfg(test)]
mod tests {
    use super::http_traces_url;

    #[test]
    fn a_base_url_gets_the_traces_path() {
        assert_eq!(http_traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(http_traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            http_traces_url("http://c/otlp/v1/traces"),
            "http://c/otlp/v1/traces"
        );
    }
}
