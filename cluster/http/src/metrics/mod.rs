//! `/metrics`: the node's numbers in the Prometheus text format, gathered
//! at each scrape from the same handles the console's `stats` reads (a
//! registry built per scrape: nothing on the actors' paths counts for it).

mod lan;

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::{Registry, Unit};
use serde_json::Value;
use swarmd_actors::missions::{MissionState, PlannerMsg};
use swarmd_actors::ticker::TickStats;
use swarmd_storage::ledger::COMMIT_BUCKETS_US;
use swarmd_supervisor::{TreeSnapshot, snapshot};
use swarmd_warehouse::agent::AgentStats;

use super::Http;
use super::error::ApiError;
use swarmd_control::ControlArgs;

/// What a scrape reads.
#[derive(Clone)]
pub struct MetricsSources {
    pub control: ControlArgs,
    pub agents: AgentStats,
}

pub async fn scrape(State(http): State<Arc<Http>>) -> Result<Response, ApiError> {
    let text = gather(&http.metrics).await;
    let content_type = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

async fn gather(sources: &MetricsSources) -> String {
    let args = &sources.control;
    let mut r = Registry::with_prefix("swarmd");
    let stats = swarmd_control::stats(args).await.unwrap_or(Value::Null);
    node_numbers(&mut r, &stats);
    lan::lan(&mut r, &stats);
    if let Ok(ledger) = args.ctx.ledger.stats().await {
        let buckets = COMMIT_BUCKETS_US
            .iter()
            .map(|us| *us as f64 / 1e6)
            .chain([f64::INFINITY])
            .zip(ledger.commit_us_buckets)
            .collect();
        // Failed commits are timed too: the count is what the buckets hold.
        let latency = ConstHistogram {
            sum: ledger.commit_us_total as f64 / 1e6,
            count: ledger.commit_us_buckets.iter().sum(),
            buckets,
        };
        r.register_with_unit(
            "ledger_commit",
            "Time from a batch's hand-off to storage to its flush",
            Unit::Seconds,
            latency,
        );
    }
    layers(&mut r, &sources.agents);
    members(&mut r, args).await;
    missions(&mut r, args).await;
    restarts(&mut r, args).await;
    process(&mut r);
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut text, &r) {
        text = format!("# encoding failed: {e}\n");
    }
    text
}

pub(super) fn num(v: &Value, path: &[&str]) -> Option<u64> {
    path.iter().try_fold(v, |v, key| v.get(key))?.as_u64()
}

pub(super) fn counter(r: &mut Registry, name: &str, help: &str, value: Option<u64>) {
    if let Some(v) = value {
        r.register(name, help, ConstCounter::new(v));
    }
}

pub(super) fn gauge(r: &mut Registry, name: &str, help: &str, value: Option<u64>) {
    if let Some(v) = value {
        r.register(name, help, ConstGauge::new(v as i64));
    }
}

/// The console's `stats`, number by number.
fn node_numbers(r: &mut Registry, s: &Value) {
    gauge(
        r,
        "uptime_seconds",
        "Seconds since the node started",
        num(s, &["uptime_s"]),
    );
    gauge(
        r,
        "agents",
        "Agents running on this node",
        num(s, &["agents"]),
    );
    counter(
        r,
        "agent_restarts",
        "Restarts of this node's agents",
        num(s, &["agent_restarts"]),
    );
    let ledger = [
        (
            "ledger_events_committed",
            "Events committed to the ledger",
            "committed",
        ),
        ("ledger_batches", "Commit batches flushed", "batches"),
        (
            "ledger_failed_batches",
            "Commit batches that failed",
            "failed_batches",
        ),
    ];
    for (name, help, key) in ledger {
        counter(r, name, help, num(s, &["ledger", key]));
    }
    let otlp = [
        (
            "otlp_spans_exported",
            "Spans the OTLP collector accepted",
            "exported",
        ),
        (
            "otlp_spans_dropped",
            "Spans skipped past telemetry.max_lag, never exported",
            "dropped",
        ),
        (
            "otlp_export_failures",
            "OTLP export calls that failed or timed out",
            "failed_exports",
        ),
    ];
    for (name, help, key) in otlp {
        counter(r, name, help, num(s, &["otlp", key]));
    }
    let hub = [
        (
            "hub_messages_applied",
            "JetStream messages applied to this ledger and acked",
            "applied",
        ),
        (
            "hub_messages_refused",
            "JetStream messages that can never be applied, terminated",
            "refused",
        ),
        (
            "hub_ingest_failures",
            "JetStream fetch or apply rounds that failed",
            "failures",
        ),
    ];
    for (name, help, key) in hub {
        counter(r, name, help, num(s, &["hub", key]));
    }
    gauge(
        r,
        "hub_pending_messages",
        "JetStream messages this cloud has not applied yet",
        num(s, &["hub", "pending"]),
    );
    gauge(
        r,
        "otlp_lag_events",
        "Events recorded here the OTLP exporter has not looked at yet",
        num(s, &["otlp", "lag"]),
    );
    gauge(
        r,
        "forward_backlog_events",
        "Events not yet acknowledged by the hub",
        num(s, &["forward", "backlog"]),
    );
    gauge(
        r,
        "forward_lag_milliseconds",
        "Age of the oldest event not yet forwarded",
        num(s, &["forward", "lag_ms"]),
    );
    let mesh = [
        (
            "mesh_published",
            "Samples published on the mesh",
            "published",
        ),
        (
            "mesh_received",
            "Samples received from the mesh",
            "received",
        ),
        ("mesh_dropped", "Samples dropped (full queues)", "dropped"),
    ];
    for (name, help, key) in mesh {
        counter(r, name, help, num(s, &["mesh", key]));
    }
    let gateway = [
        ("gateway_frames_in", "Cluster frames received", "frames_in"),
        (
            "gateway_undecodable_frames",
            "Cluster frames that did not decode",
            "undecodable_frames",
        ),
        (
            "gateway_refused_frames",
            "Cluster frames refused",
            "refused_frames",
        ),
        (
            "gateway_refused_sessions",
            "Cluster sessions refused",
            "refused_sessions",
        ),
        (
            "gateway_refused_dials",
            "Discovered nodes not dialed (over the discovery dialer caps)",
            "refused_dials",
        ),
        (
            "gateway_undeliverable_casts",
            "Casts with no recipient",
            "undeliverable_casts",
        ),
        (
            "gateway_dropped_outgoing",
            "Outgoing frames dropped (full queues)",
            "dropped_outgoing",
        ),
    ];
    for (name, help, key) in gateway {
        counter(r, name, help, num(s, &["gateway", key]));
    }
    gauge(
        r,
        "gateway_pending_calls",
        "Calls across the cluster awaiting a reply",
        num(s, &["gateway", "pending_calls"]),
    );
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct LayerLabel {
    layer: String,
}

/// Ticks handled and skipped by layer, and the reflex's lateness.
fn layers(r: &mut Registry, agents: &AgentStats) {
    let handled = Family::<LayerLabel, Counter>::default();
    let skipped = Family::<LayerLabel, Counter>::default();
    let throttled = Family::<LayerLabel, Counter>::default();
    let of = [
        ("reflex", &agents.reflex),
        ("situation", &agents.situation),
        ("supervision", &agents.supervision),
    ];
    for (layer, stats) in of {
        let label = LayerLabel {
            layer: layer.into(),
        };
        handled.get_or_create(&label).inc_by(stats.handled());
        skipped.get_or_create(&label).inc_by(stats.skipped());
        throttled.get_or_create(&label).inc_by(stats.throttled());
    }
    r.register(
        "layer_ticks_throttled",
        "Ticks not delivered because the governor throttled the layer",
        throttled,
    );
    r.register(
        "layer_ticks_handled",
        "Ticks (messages) handled by the agents' layers",
        handled,
    );
    r.register(
        "layer_ticks_skipped",
        "Ticks skipped because a layer was behind",
        skipped,
    );
    r.register_with_unit(
        "reflex_tick_lateness",
        "How late reflex ticks ran after they were due",
        Unit::Seconds,
        lateness(&agents.reflex),
    );
}

/// Bounds (µs) of the lateness histogram's buckets.
const LATENESS_BUCKETS_US: [u64; 12] = [
    100, 250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 1_000_000,
];

fn lateness(stats: &TickStats) -> ConstHistogram {
    let h = stats.lateness();
    let mut below = 0;
    let mut buckets = Vec::new();
    for bound in LATENESS_BUCKETS_US {
        let upto = h.count_between(0, bound);
        buckets.push((bound as f64 / 1e6, upto - below));
        below = upto;
    }
    buckets.push((f64::INFINITY, h.len() - below));
    ConstHistogram {
        sum: h.mean() * h.len() as f64 / 1e6,
        count: h.len(),
        buckets,
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct MemberLabel {
    member: String,
    state: String,
}

async fn members(r: &mut Registry, args: &ControlArgs) {
    let Ok(members) = args.cluster.members().await else {
        return;
    };
    let family = Family::<MemberLabel, Gauge>::default();
    for m in &members {
        for state in ["up", "suspect", "down"] {
            let label = MemberLabel {
                member: m.info.name.clone(),
                state: state.into(),
            };
            family
                .get_or_create(&label)
                .set(i64::from(m.state.to_string() == state));
        }
    }
    r.register(
        "member_state",
        "Each member's state as this node sees it (1 = in it)",
        family,
    );
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

async fn missions(r: &mut Registry, args: &ControlArgs) {
    let Some(planner) = args.missions.get() else {
        return;
    };
    let Ok(missions) = ractor::call_t!(planner, PlannerMsg::Missions, 2_000) else {
        return;
    };
    let family = Family::<OutcomeLabel, Gauge>::default();
    for outcome in ["active", "completed", "failed"] {
        family
            .get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            })
            .set(0);
    }
    for m in &missions {
        let outcome = match m.state {
            MissionState::Active => "active",
            MissionState::Completed => "completed",
            MissionState::Failed(_) => "failed",
        };
        family
            .get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            })
            .inc();
    }
    r.register("missions", "Missions the planner holds, by outcome", family);
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct SupervisorLabel {
    supervisor: String,
}

/// Restarts of children, summed by supervisor; agents' own supervisors are
/// one series (`node/agents/*`), so the series do not grow with agents.
async fn restarts(r: &mut Registry, args: &ControlArgs) {
    let Some(root) = args.root.get() else {
        return;
    };
    let Ok(tree) = snapshot(&root).await else {
        return;
    };
    let family = Family::<SupervisorLabel, Counter>::default();
    add_restarts(&family, &tree, &tree.name);
    r.register(
        "supervisor_restarts",
        "Child restarts by supervisor",
        family,
    );
}

fn add_restarts(family: &Family<SupervisorLabel, Counter>, tree: &TreeSnapshot, path: &str) {
    let restarts: u64 = tree
        .children
        .iter()
        .map(|c| u64::from(c.info.restarts))
        .sum();
    let label = SupervisorLabel {
        supervisor: path.to_string(),
    };
    family.get_or_create(&label).inc_by(restarts);
    for child in &tree.children {
        if let Some(sub) = &child.subtree {
            let id = if path.ends_with("/agents") {
                "*"
            } else {
                &child.info.id
            };
            add_restarts(family, sub, &format!("{path}/{id}"));
        }
    }
}

/// Resident memory and CPU time of this process, from /proc.
fn process(r: &mut Registry) {
    use swarmd_governance::{ProcResources, ResourceProbe};
    let sample = ProcResources.sample();
    gauge(
        r,
        "process_resident_memory_bytes",
        "Resident memory of the process",
        Some(sample.rss_bytes).filter(|b| *b > 0),
    );
    r.register_with_unit(
        "process_cpu",
        "CPU time the process used",
        Unit::Seconds,
        ConstCounter::new(sample.cpu_time.as_secs_f64()),
    );
}

/// A histogram whose buckets were counted elsewhere (per bucket, not cumulative).
#[derive(Debug)]
struct ConstHistogram {
    sum: f64,
    count: u64,
    buckets: Vec<(f64, u64)>,
}

impl EncodeMetric for ConstHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, &self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}
