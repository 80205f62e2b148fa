//! Forwarding through the hub, JetStream vs the embedded ledger hub, in one
//! run, with the same events and the same cloud ledger (sled on disk):
//!
//! - throughput: `EVENTS` events delivered by one edge in batches of
//!   `BATCH`, until all are in the cloud's ledger;
//! - lag: `LAG_EVENTS` events one at a time, from delivery to readable in
//!   the cloud's ledger (p50, p99).
//!
//! The embedded hub is measured at its receiving end in this process (what
//! a cloud does with a forwarded batch), without the cluster hop an edge's
//! call adds; JetStream's figures include a real `nats-server` on loopback
//! and the cloud's consumer.
//!
//!     cargo bench -p swarmd-adapters --bench hub    # needs nats-server (apt install nats-server)

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use swarmd_actors::ctx::Storage;
use swarmd_adapters::jetstream::{IngestArgs, IngestStats, JetStreamHub, JetStreamIngest};
use swarmd_config::hub::JetStreamSection;
use swarmd_messages::{Event, EventId, EventKind, TraceContext};
use swarmd_storage::SledStorage;
use swarmd_storage::ledger::{Hub, LedgerHub, LedgerReader};
use tokio::time::Instant;

const EVENTS: u64 = 50_000;
const BATCH: usize = 500;
const LAG_EVENTS: u64 = 300;
const NATS_SERVER: &str = "/usr/sbin/nats-server";

fn event(seq: u64) -> Event {
    Event {
        id: EventId {
            node: "edge-1".into(),
            seq,
        },
        tenant: "default".into(),
        agent: Some(format!("edge-1-{}", seq % 8)),
        trace: TraceContext::default(),
        time_us: 1_700_000_000_000_000 + seq,
        kind: EventKind::Decision {
            rationale: format!("step {seq} toward the next waypoint"),
            alternatives: vec!["wait".into()],
            confidence: 0.9,
            inputs_hash: seq,
            about: None,
        },
    }
}

fn ledger(dir: &Path, name: &str) -> Arc<dyn Storage> {
    Arc::new(SledStorage::open(&dir.join(name), 64 << 20).expect("sled opens"))
}

fn held(reader: &LedgerReader, seq: u64) -> bool {
    reader
        .node_log("edge-1", seq, 1)
        .is_ok_and(|e| e.first().is_some_and(|e| e.id.seq == seq))
}

/// Delivers every event, then waits until the last one is readable.
async fn throughput(hub: &dyn Hub, reader: &LedgerReader, first: u64) -> f64 {
    let started = Instant::now();
    let seqs: Vec<u64> = (first..first + EVENTS).collect();
    for chunk in seqs.chunks(BATCH) {
        let events = chunk.iter().copied().map(event).collect();
        hub.deliver(events).await.expect("delivered");
    }
    while !held(reader, first + EVENTS - 1) {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    EVENTS as f64 / started.elapsed().as_secs_f64()
}

/// Delivery to readable, one event at a time; sorted, in ms.
async fn lags(hub: &dyn Hub, reader: &LedgerReader, first: u64) -> Vec<f64> {
    let mut out = Vec::new();
    for seq in first..first + LAG_EVENTS {
        let started = Instant::now();
        hub.deliver(vec![event(seq)]).await.expect("delivered");
        while !held(reader, seq) {
            tokio::time::sleep(Duration::from_micros(100)).await;
        }
        out.push(started.elapsed().as_secs_f64() * 1e3);
    }
    out.sort_by(f64::total_cmp);
    out
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn nats_server(dir: &Path) -> (tokio::process::Child, String) {
    assert!(
        Path::new(NATS_SERVER).exists(),
        "{NATS_SERVER} is missing: apt install nats-server"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = tokio::process::Command::new(NATS_SERVER)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
        .arg("-sd")
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("nats-server starts");
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(&addr).await.is_err() {
        assert!(Instant::now() < deadline, "nats-server is not listening");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (child, format!("nats://{addr}"))
}

async fn bench() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let embedded_store = ledger(dir.path(), "embedded");
    let embedded = LedgerHub::new(embedded_store.clone());
    let embedded_reader = LedgerReader::new(embedded_store);

    let (_server, url) = nats_server(&dir.path().join("nats")).await;
    let section = JetStreamSection {
        url,
        ..JetStreamSection::default()
    };
    let cloud_store = ledger(dir.path(), "cloud");
    let stats = IngestStats::default();
    // The consumer's alarms (none in this run) go to a ledger writer of its own.
    let clock = Arc::new(swarmd_cluster::seams::SystemClock);
    let (alarms, writer) = swarmd_storage::ledger::ledger_writer(
        cloud_store.clone(),
        clock,
        swarmd_storage::ledger::WriterConfig::new("cloud"),
    );
    let writers =
        swarmd_supervisor::SupervisorSpec::new("storage", swarmd_supervisor::Strategy::RestForOne)
            .child(writer);
    let (_writers, _) = ractor::Actor::spawn(None, swarmd_supervisor::Supervisor, writers)
        .await
        .expect("the ledger writer starts");
    let args = IngestArgs {
        node: "cloud".into(),
        section: section.clone(),
        storage: cloud_store.clone(),
        stats,
        alarms,
    };
    let (ingest, _) = ractor::Actor::spawn(None, JetStreamIngest, Arc::new(args))
        .await
        .expect("the consumer starts");
    let jetstream = JetStreamHub::new("edge-1", section);
    let jetstream_reader = LedgerReader::new(cloud_store);

    let embedded_per_s = throughput(&embedded, &embedded_reader, 1).await;
    let jetstream_per_s = throughput(&jetstream, &jetstream_reader, 1).await;
    let lag_from = EVENTS + 1;
    let embedded_lag = lags(&embedded, &embedded_reader, lag_from).await;
    let jetstream_lag = lags(&jetstream, &jetstream_reader, lag_from).await;
    ingest.stop(None);

    println!("the hub: {EVENTS} events in batches of {BATCH}, then {LAG_EVENTS} one at a time");
    println!(
        "  embedded ledger hub: {embedded_per_s:>9.0} events/s, lag p50 {:.3} ms, p99 {:.3} ms",
        quantile(&embedded_lag, 0.5),
        quantile(&embedded_lag, 0.99)
    );
    println!(
        "  JetStream:           {jetstream_per_s:>9.0} events/s ({:.2} of embedded), lag p50 {:.3} ms, p99 {:.3} ms",
        jetstream_per_s / embedded_per_s,
        quantile(&jetstream_lag, 0.5),
        quantile(&jetstream_lag, 0.99)
    );
    println!(
        "summary: embedded_per_s={embedded_per_s:.0} jetstream_per_s={jetstream_per_s:.0} ratio={:.2} embedded_lag_p50_ms={:.3} embedded_lag_p99_ms={:.3} jetstream_lag_p50_ms={:.3} jetstream_lag_p99_ms={:.3}",
        jetstream_per_s / embedded_per_s,
        quantile(&embedded_lag, 0.5),
        quantile(&embedded_lag, 0.99),
        quantile(&jetstream_lag, 0.5),
        quantile(&jetstream_lag, 0.99)
    );
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}
