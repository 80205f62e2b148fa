//! Tracing export on vs off, in one run: reflex tick lateness of 1k agents
//! at 100 Hz, and casts to one agent's reflex layer, on a node that also
//! records `TRACED_PER_S` traced events, with
//!
//! - `off`: no exporter (the baseline);
//! - `on`: the OTLP exporter shipping every span to a collector (in this
//!   process, over gRPC on loopback);
//! - `unreachable`: the exporter stuck on a collector that accepts
//!   connections and never answers (each call times out).
//!
//!     cargo bench -p swarmd-adapters --bench telemetry

use std::sync::Arc;
use std::time::Duration;

use fake_opentelemetry_collector::FakeCollectorServer;
use ractor::Actor;
use swarmd_actors::ctx::LedgerHandle;
use swarmd_actors::journal::Journal;
use swarmd_actors::ticker::{TickStats, quantile};
use swarmd_adapters::telemetry::{ExportSnapshot, ExportStats, Telemetry, TelemetryArgs};
use swarmd_config::telemetry::{OtlpProtocol, OtlpTarget, TelemetrySection};
use swarmd_messages::TraceContext;
use swarmd_messages::swarm::Cell;
use swarmd_sim_node::SwarmNode;
use swarmd_warehouse::agent::{Action, AgentWiring, GridAgentKind, ReflexMsg};
use swarmd_warehouse::world::GridConfig;
use tokio::time::Instant;

const AGENTS: usize = 1_000;
const WINDOW: Duration = Duration::from_secs(5);
/// Traced records per second besides the agents' own (untraced) ones,
/// unless `SWARMD_BENCH_TRACED_PER_S` says otherwise (0: the agents alone).
const TRACED_PER_S: u64 = 2_000;
const TRACED_EVERY: Duration = Duration::from_millis(10);
const CASTS: u64 = 200_000;
const ROUNDS: usize = 3;

struct Figures {
    lateness_p99_ms: f64,
    casts_per_s: f64,
    export: ExportSnapshot,
}

fn grid() -> GridConfig {
    GridConfig {
        width: 200,
        height: 200,
        max_agents: AGENTS,
        ..GridConfig::default()
    }
}

/// Records `TRACED_PER_S` decisions in one trace, without waiting, as busy
/// agents working tasks do.
async fn traced_load(ledger: LedgerHandle) {
    let journal = Journal::new(ledger, "t", "load");
    journal.follow(TraceContext::root([7; 16], [7; 8]));
    let per_tick = traced_per_s() * TRACED_EVERY.as_millis() as u64 / 1000;
    let mut every = tokio::time::interval(TRACED_EVERY);
    for n in 0u64.. {
        every.tick().await;
        for i in 0..per_tick {
            journal.decision_now(format!("load {n}/{i}"), Vec::new(), 1.0);
        }
    }
}

fn traced_per_s() -> u64 {
    std::env::var("SWARMD_BENCH_TRACED_PER_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TRACED_PER_S)
}

fn exporter_args(node: &SwarmNode, endpoint: &str, stats: ExportStats) -> TelemetryArgs {
    TelemetryArgs {
        shedding: Default::default(),
        node: node.ctx.node.to_string(),
        storage: node.ctx.storage.clone(),
        target: OtlpTarget {
            endpoint: endpoint.to_string(),
            protocol: OtlpProtocol::Grpc,
        },
        config: TelemetrySection {
            export_timeout_ms: 500,
            ..TelemetrySection::default()
        },
        stats,
    }
}

async fn lateness_p99_ms(stats: &TickStats) -> f64 {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = stats.lateness();
    tokio::time::sleep(WINDOW).await;
    let mut window = stats.lateness();
    window.subtract(&before).expect("same bounds");
    quantile(&window, 0.99).as_secs_f64() * 1e3
}

fn act(generation: u64) -> ReflexMsg {
    ReflexMsg::Act(Action {
        generation,
        step_to: Some(Cell::new(1, 1)),
    })
}

async fn casts_per_s(agent: &AgentWiring) -> f64 {
    let reflex = agent.reflex.get().expect("reflex runs");
    let started = Instant::now();
    for i in 0..CASTS {
        reflex.cast(act(i)).expect("reflex alive");
    }
    reflex
        .call(ReflexMsg::Inspect, None)
        .await
        .expect("answers");
    CASTS as f64 / started.elapsed().as_secs_f64()
}

/// One node, its agents and the traced load, exporting to `endpoint` if any.
async fn measure(endpoint: Option<&str>) -> Figures {
    let node = SwarmNode::start("bench", 2, grid(), AGENTS).await;
    let kind = GridAgentKind::new(node.router.clone());
    let agents = node.spawn_agents(&kind, AGENTS).await;
    let load = tokio::spawn(traced_load(node.ctx.ledger.clone()));
    let stats = ExportStats::default();
    let exporter = match endpoint {
        Some(at) => {
            let args = Arc::new(exporter_args(&node, at, stats.clone()));
            Some(
                Actor::spawn(None, Telemetry, args)
                    .await
                    .expect("exporter starts")
                    .0,
            )
        }
        None => None,
    };
    let lateness_p99_ms = lateness_p99_ms(&kind.stats().reflex).await;
    let casts_per_s = casts_per_s(&agents[0]).await;
    let export = stats.snapshot();
    load.abort();
    if let Some(exporter) = exporter {
        exporter
            .stop_and_wait(None, None)
            .await
            .expect("exporter stops");
    }
    node.root
        .stop_and_wait(None, None)
        .await
        .expect("node stops");
    Figures {
        lateness_p99_ms,
        casts_per_s,
        export,
    }
}

/// The in-process collector, drained all the time (its queue holds 64
/// spans and holds up the export call while full).
async fn collector() -> (String, tokio::task::JoinHandle<()>) {
    let mut server = FakeCollectorServer::start()
        .await
        .expect("collector listens");
    let endpoint = server.endpoint();
    let drain = tokio::spawn(async move {
        loop {
            let spans = server.exported_spans(1, Duration::from_millis(20)).await;
            std::hint::black_box(spans);
        }
    });
    (endpoint, drain)
}

fn print(label: &str, f: &Figures, off: &Figures) {
    println!(
        "  {label:<12} reflex p99 {:>7.3} ms, casts {:>10.0}/s ({:.2} of off), spans exported {:>6}, failed exports {}",
        f.lateness_p99_ms,
        f.casts_per_s,
        f.casts_per_s / off.casts_per_s,
        f.export.exported,
        f.export.failed_exports
    );
}

/// The run with the median reflex lateness, and the median cast rate.
fn median(mut runs: Vec<Figures>) -> Figures {
    runs.sort_by(|a, b| a.casts_per_s.total_cmp(&b.casts_per_s));
    let casts_per_s = runs[runs.len() / 2].casts_per_s;
    runs.sort_by(|a, b| a.lateness_p99_ms.total_cmp(&b.lateness_p99_ms));
    let mid = runs.swap_remove(runs.len() / 2);
    Figures { casts_per_s, ..mid }
}

async fn bench() {
    let (endpoint, drain) = collector().await;
    let hole = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let unreachable = format!("http://{}", hole.local_addr().expect("bound"));
    let modes = [None, Some(endpoint.as_str()), Some(unreachable.as_str())];
    let labels = ["off", "on", "unreachable"];
    // The first node of a process pays for growing the heap: not counted.
    measure(None).await;
    let mut runs: [Vec<Figures>; 3] = Default::default();
    for _ in 0..ROUNDS {
        for ((mode, label), runs) in modes.iter().zip(labels).zip(runs.iter_mut()) {
            let f = measure(*mode).await;
            println!(
                "  round: {label:<12} reflex p99 {:>7.3} ms, casts {:>8.0}/s",
                f.lateness_p99_ms, f.casts_per_s
            );
            runs.push(f);
        }
    }
    drain.abort();
    let [off, on, stuck] = runs.map(median);
    let traced = traced_per_s();
    if traced > 0 {
        assert!(on.export.exported > 0, "the collector received spans");
        assert!(
            stuck.export.failed_exports > 0,
            "the black hole failed exports"
        );
    }
    println!(
        "tracing export on vs off: {AGENTS} agents at 100 Hz, {traced} traced records/s, {WINDOW:?} windows, {CASTS} casts; medians of {ROUNDS} rounds"
    );
    print("off:", &off, &off);
    print("on:", &on, &off);
    print("unreachable:", &stuck, &off);
    println!(
        "summary: lateness_p99_ms_off={:.3} lateness_p99_ms_on={:.3} lateness_p99_ms_unreachable={:.3} cast_ratio_on={:.2} cast_ratio_unreachable={:.2} spans_exported={}",
        off.lateness_p99_ms,
        on.lateness_p99_ms,
        stuck.lateness_p99_ms,
        on.casts_per_s / off.casts_per_s,
        stuck.casts_per_s / off.casts_per_s,
        on.export.exported
    );
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}
