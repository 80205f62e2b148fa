//! Ledger figures, each against a baseline measured in the same run:
//! - durable appends/s with group commit vs one sled insert + flush per event,
//!   and vs sled's own unflushed single-key inserts (the disk's ceiling);
//! - append-ack latency at an offered load of 10k events/s;
//! - time to drain a 1M-event backlog to an in-process hub, and RSS meanwhile.
//!
//!     cargo bench -p swarmd-storage --bench ledger

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use ractor::Actor;
use swarmd_messages::{EventDraft, EventKind, TraceContext};
use swarmd_storage::ledger::{
    ForwarderArgs, ForwarderConfig, ForwarderMsg, LedgerHandle, LedgerHub, WriterConfig,
    forwarder_child, ledger_writer,
};
use swarmd_storage::{Reapplying, SledStorage, Storage};
use swarmd_supervisor::seams::{Clock, Entropy};
use swarmd_supervisor::{Strategy, Supervisor, SupervisorSpec};
use tokio::time::Instant;

const EVENT_BYTES: usize = 256;
/// The backlog an edge builds in a long partition, drained in one go.
const DRAIN_EVENTS: u64 = 1_000_000;

struct WallClock;
impl Clock for WallClock {
    #[allow(clippy::disallowed_methods)] // a benchmark harness, not actor logic
    fn wall_now(&self) -> SystemTime {
        SystemTime::now()
    }
}

struct Steps(AtomicU64);
impl Entropy for Steps {
    fn next_u64(&self) -> u64 {
        self.0.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
    }
    fn fill_bytes(&self, dest: &mut [u8]) {
        dest.fill(3);
    }
}

/// A decision whose stored event is about `EVENT_BYTES` long.
fn draft() -> EventDraft {
    EventDraft {
        tenant: "bench".into(),
        agent: Some("agent-1".into()),
        trace: TraceContext::default(),
        kind: EventKind::Decision {
            rationale: "x".repeat(EVENT_BYTES - 90),
            alternatives: vec![],
            confidence: 0.9,
            inputs_hash: 1,
            about: None,
        },
    }
}

/// The production stack: sled under the re-applying guard every node uses.
fn open(dir: &tempfile::TempDir, name: &str) -> Arc<dyn Storage> {
    let sled = SledStorage::open(&dir.path().join(name), 64 << 20).unwrap();
    Arc::new(Reapplying::new(Arc::new(sled)))
}

async fn writer(storage: Arc<dyn Storage>, node: &str) -> LedgerHandle {
    let mut config = WriterConfig::new(node);
    config.queue_capacity = 16_384;
    let (handle, child) = ledger_writer(storage, Arc::new(WallClock), config);
    let spec = SupervisorSpec::new("storage", Strategy::RestForOne).child(child);
    Actor::spawn(None, Supervisor, spec).await.unwrap();
    handle
}

/// Discards everything: shows what the writer itself costs, without the disk.
struct NullStorage;
impl Storage for NullStorage {
    fn get(&self, _: &str, _: &[u8]) -> Result<Option<Vec<u8>>, swarmd_storage::StorageError> {
        Ok(None)
    }
    fn apply(&self, _: &str, _: swarmd_storage::Batch) -> Result<(), swarmd_storage::StorageError> {
        Ok(())
    }
    fn scan(
        &self,
        _: &str,
        _: &[u8],
        _: Option<&[u8]>,
        _: usize,
    ) -> Result<Vec<swarmd_storage::Entry>, swarmd_storage::StorageError> {
        Ok(Vec::new())
    }
    fn last_below(
        &self,
        _: &str,
        _: &[u8],
    ) -> Result<Option<swarmd_storage::Entry>, swarmd_storage::StorageError> {
        Ok(None)
    }
    fn flush(&self) -> BoxFuture<'_, Result<(), swarmd_storage::StorageError>> {
        Box::pin(async { Ok(()) })
    }
}

/// sled alone, one key per event: flushed after each (the naive durable
/// append), or never (what the disk layer can take at most). Events/s.
fn baseline_sled(dir: &tempfile::TempDir, name: &str, events: u64, flush_each: bool) -> f64 {
    let db = sled::Config::new()
        .path(dir.path().join(name))
        .cache_capacity(64 << 20)
        .flush_every_ms(None)
        .open()
        .unwrap();
    let value = vec![7u8; EVENT_BYTES];
    let began = Instant::now();
    for seq in 0..events {
        db.insert(seq.to_be_bytes(), value.as_slice()).unwrap();
        if flush_each {
            db.flush().unwrap();
        }
    }
    events as f64 / began.elapsed().as_secs_f64()
}

async fn group_commit(ledger: &LedgerHandle, events: u64, appenders: u64) -> f64 {
    let began = Instant::now();
    let tasks: Vec<_> = (0..appenders)
        .map(|_| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                for _ in 0..events / appenders {
                    ledger.append(draft()).await.unwrap();
                }
            })
        })
        .collect();
    futures::future::join_all(tasks).await;
    (events / appenders * appenders) as f64 / began.elapsed().as_secs_f64()
}

/// Open loop: one append every 100 µs for `secs`, each timed from its offer.
async fn latency_at_10k(ledger: &LedgerHandle, secs: u64) -> Vec<Duration> {
    let mut tick = tokio::time::interval(Duration::from_micros(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    for _ in 0..secs * 10_000 {
        tick.tick().await;
        let ledger = ledger.clone();
        let offered = Instant::now();
        tasks.push(tokio::spawn(async move {
            ledger.append(draft()).await.unwrap();
            offered.elapsed()
        }));
    }
    let mut times: Vec<Duration> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    times.sort();
    times
}

/// Drains the edge's backlog to `hub`: the time it took and the peak RSS (MB) meanwhile.
async fn drain(
    edge: Arc<dyn Storage>,
    ledger: LedgerHandle,
    hub: Arc<dyn Storage>,
) -> (Duration, f64) {
    let mut config = ForwarderConfig::new("edge");
    config.batch_size = 2000;
    let args = ForwarderArgs {
        storage: edge,
        ledger,
        entropy: Arc::new(Steps(AtomicU64::new(1))),
        hub: Arc::new(LedgerHub::new(hub)),
        config,
    };
    let began = Instant::now();
    let spec = SupervisorSpec::new("fwd", Strategy::OneForOne).child(forwarder_child(args));
    let (sup, _) = Actor::spawn(None, Supervisor, spec).await.unwrap();
    let id = swarmd_supervisor::which_children(&sup).await.unwrap()[0]
        .actor
        .unwrap();
    let forwarder: ractor::ActorRef<ForwarderMsg> =
        ractor::registry::where_is_pid(id).unwrap().into();
    let mut peak_rss = rss_mb();
    while ractor::call_t!(forwarder, ForwarderMsg::Backlog, 10_000).unwrap() > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        peak_rss = peak_rss.max(rss_mb());
    }
    (began.elapsed(), peak_rss)
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Latency first, on a quiet machine; then the baseline before and after
    // the group-commit run, so drift weighs on both sides of the ratio.
    let latency =
        rt.block_on(async { latency_at_10k(&writer(open(&dir, "latency"), "n2").await, 3).await });
    let before = baseline_sled(&dir, "raw-1", 3_000, true);
    let grouped = rt.block_on(async {
        let ledger = writer(open(&dir, "grouped"), "n1").await;
        group_commit(&ledger, 100_000, 1024).await
    });
    let after = baseline_sled(&dir, "raw-2", 3_000, true);
    let baseline = (before + after) / 2.0;
    let unflushed = baseline_sled(&dir, "raw-3", 100_000, false);
    let no_disk = rt.block_on(async {
        group_commit(&writer(Arc::new(NullStorage), "n0").await, 100_000, 1024).await
    });
    println!(
        "sled insert+flush per event: {baseline:>9.0} events/s (baseline; {before:.0} before, {after:.0} after)"
    );
    println!(
        "ledger group commit:         {grouped:>9.0} events/s  = {:.1}x baseline",
        grouped / baseline
    );
    println!("ledger writer, no disk:      {no_disk:>9.0} events/s (its own ceiling)");
    println!(
        "sled unflushed insert:       {unflushed:>9.0} events/s (the disk layer's ceiling; ledger = {:.2}x)",
        grouped / unflushed
    );
    println!(
        "summary: durable_per_s={grouped:.0} flush_per_event_per_s={baseline:.0} unflushed_per_s={unflushed:.0}"
    );
    println!(
        "append-ack latency at 10k/s offered ({} events): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        latency.len(),
        pct(&latency, 0.5),
        pct(&latency, 0.99),
        pct(&latency, 1.0)
    );

    let (recorded, rss_before, (took, peak_rss)) = rt.block_on(async {
        let edge = open(&dir, "edge");
        let ledger = writer(edge.clone(), "edge").await;
        let recorded = group_commit(&ledger, DRAIN_EVENTS, 256).await;
        let rss_before = rss_mb();
        (
            recorded,
            rss_before,
            drain(edge, ledger, open(&dir, "hub")).await,
        )
    });
    println!(
        "drain a {DRAIN_EVENTS}-event backlog (recorded at {recorded:.0} events/s) to an in-process hub: \
         {:.2} s = {:.0} events/s; RSS {rss_before:.0} MB before, {peak_rss:.0} MB at most while draining",
        took.as_secs_f64(),
        DRAIN_EVENTS as f64 / took.as_secs_f64()
    );
    println!(
        "summary: drain_events={DRAIN_EVENTS} drain_s={:.2} drain_rss_growth_mb={:.0}",
        took.as_secs_f64(),
        peak_rss - rss_before
    );
}
