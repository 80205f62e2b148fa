//! Remote messaging between two processes on loopback.
//!
//! `cargo bench -p swarmd-node --bench remote`. The bench runs a cloud node
//! in this process and re-executes itself as the peer (an edge node). It
//! measures, in one run:
//! - bare ractor_cluster casts of N payloads to a remote actor (the baseline),
//! - swarmd casts of the same payloads, batched into gateway frames,
//! - swarmd remote call (echo) latency, p50 / p99,
//! - join time: from starting the peer process with `--join`-equivalent
//!   seeds until both nodes see each other up.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_actors::fleet::{PROBE_KIND, ProbeMsg};
use swarmd_cluster::gateway::{ClusterHandle, ExitCause, MemberState};
use swarmd_messages::{Request, SpawnSpec};
use swarmd_node::Started;
use swarmd_storage::DataDir;

#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
fn now() -> std::time::Instant {
    // The benchmark harness's own clock: it times the system from outside.
    std::time::Instant::now()
}

const PEER_ENV: &str = "SWARMD_BENCH_PEER";
const COOKIE: &str = "BENCHCOOKIEXQZJVKWPMBRTYHGFDSLNC";
const BARE_GROUP: &str = "swarmd-bench-bare";
const PAYLOAD: usize = 64;

fn messages() -> u64 {
    std::env::var("SWARMD_BENCH_MSGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn start_node(
    dir: &std::path::Path,
    name: &str,
    role: &str,
    port: u16,
    seed: Option<u16>,
) -> (Started, DataDir) {
    let cookie = dir.join(format!("{name}.cookie"));
    std::fs::write(&cookie, COOKIE).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o600)).unwrap();
    let seeds = seed
        .map(|p| format!("\"127.0.0.1:{p}\""))
        .unwrap_or_default();
    let text = format!(
        "[node]\nname = \"{name}\"\nrole = \"{role}\"\ndata_dir = {:?}\ncookie_file = {cookie:?}\n\
         [cluster]\nlisten = \"127.0.0.1:{port}\"\nseeds = [{seeds}]\n[log]\nfilter = \"warn\"\n",
        dir.join(name),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    let config = swarmd_config::load(Some(&path), &[]).unwrap();
    let data_dir = DataDir::lock(&config.node.data_dir).unwrap();
    (Started::start(&config, &data_dir).await.unwrap(), data_dir)
}

/// The baseline's receiver: a plain ractor_cluster remote actor.
struct BareCounter;

impl Actor for BareCounter {
    type Msg = Vec<u8>;
    /// (payloads per round, left in this round)
    type State = (u64, u64);
    type Arguments = u64;

    async fn pre_start(
        &self,
        _: ActorRef<Vec<u8>>,
        expect: u64,
    ) -> Result<(u64, u64), ActorProcessingErr> {
        Ok((expect, expect))
    }

    async fn handle(
        &self,
        _: ActorRef<Vec<u8>>,
        _: Vec<u8>,
        (expect, left): &mut (u64, u64),
    ) -> Result<(), ActorProcessingErr> {
        *left -= 1;
        if *left == 0 {
            println!("bare done");
            std::io::stdout().flush()?;
            *left = *expect;
        }
        Ok(())
    }
}

async fn peer() {
    let port: u16 = std::env::var("PEER_PORT").unwrap().parse().unwrap();
    let seed: u16 = std::env::var("SEED_PORT").unwrap().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (node, _lock) = start_node(dir.path(), "peer", "edge", port, Some(seed)).await;
    let (counter, _) = Actor::spawn(None, BareCounter, messages()).await.unwrap();
    ractor::pg::join(BARE_GROUP.into(), vec![counter.get_cell()]);
    // Runs until the parent closes stdin.
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await;
    node.shutdown(Duration::from_secs(5)).await;
}

/// Spawns a probe on the peer, casts `n` payloads to it in hand-offs of
/// `chunk`, stops it, and times until its normal exit is reported back.
async fn swarmd_casts(
    cluster: &ClusterHandle,
    id: &str,
    n: u64,
    payload: &[u8],
    chunk: usize,
) -> Duration {
    let spec = SpawnSpec::new(id, PROBE_KIND, "default");
    let sink = cluster.spawn("peer", spec).await.unwrap();
    let exit = sink.watch().await.unwrap();
    let batch = vec![ProbeMsg::Payload(payload.to_vec()); chunk];
    let started = now();
    let mut left = n as usize;
    while left > 0 {
        let take = left.min(chunk);
        sink.cast_batch(&batch[..take]).unwrap();
        left -= take;
    }
    sink.cast(&ProbeMsg::Stop).unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(120), exit)
        .await
        .unwrap()
        .unwrap();
    let time = started.elapsed();
    assert_eq!(exit.cause, ExitCause::Exited("normal".into()));
    time
}

/// Rounds of each measurement in one run.
const ROUNDS: usize = 3;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn parent() {
    let n = messages();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (cloud, _lock) = start_node(dir.path(), "bench", "cloud", port, None).await;
    let cluster = cloud.cluster.clone();
    let mut changes = cluster.subscribe();

    let joined_at = now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(PEER_ENV, "1")
        .env("PEER_PORT", free_port().to_string())
        .env("SEED_PORT", port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    loop {
        let c = tokio::time::timeout(Duration::from_secs(30), changes.recv())
            .await
            .unwrap()
            .unwrap();
        if c.node == "peer" && c.to == MemberState::Up {
            break;
        }
    }
    let join = joined_at.elapsed();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();

    // Baseline: one ractor_cluster message per payload.
    let bare = loop {
        let members = ractor::pg::get_members(&BARE_GROUP.to_string());
        if let Some(remote) = members.into_iter().find(|c| !c.get_id().is_local()) {
            break ActorRef::<Vec<u8>>::from(remote);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let payload = vec![7u8; PAYLOAD];
    // Rounds of the three, interleaved, so drift weighs on every side; the
    // figures are their medians.
    let (mut bares, mut singles, mut batches) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let started = now();
        for _ in 0..n {
            bare.cast(payload.clone()).unwrap();
        }
        let (line, lines) = tokio::task::spawn_blocking(move || (stdout.next(), stdout))
            .await
            .unwrap();
        stdout = lines;
        assert_eq!(line.unwrap().unwrap(), "bare done");
        bares.push(started.elapsed());
        // swarmd: the same payloads through the gateways, batched into
        // frames; once cast one by one, once handed over 256 at a time.
        singles.push(swarmd_casts(&cluster, &format!("sink-1-{round}"), n, &payload, 1).await);
        batches.push(swarmd_casts(&cluster, &format!("sink-256-{round}"), n, &payload, 256).await);
        println!(
            "  round {round}: batched {:.2}x bare, single {:.2}x bare",
            bares[round].as_secs_f64() / batches[round].as_secs_f64(),
            bares[round].as_secs_f64() / singles[round].as_secs_f64()
        );
    }
    let (bare_time, one_by_one, batched) = (median(bares), median(singles), median(batches));
    let stats = cluster.stats().await.unwrap();
    assert_eq!(stats.dropped_outgoing, 0, "every payload was sent");

    // Remote call latency.
    let mut rtts = Vec::with_capacity(2000);
    for i in 0..2500 {
        let t = now();
        cluster
            .call("peer", Request::Echo(payload.clone()))
            .await
            .unwrap();
        if i >= 500 {
            rtts.push(t.elapsed());
        }
    }
    rtts.sort();

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "remote cast, {n} x {PAYLOAD} B payloads, 2 processes on loopback (median of {ROUNDS} rounds):"
    );
    println!(
        "  bare ractor_cluster cast : {:>10.0} msg/s ({bare_time:?})",
        rate(bare_time)
    );
    for (label, time) in [
        ("swarmd cast, 1 per call   ", one_by_one),
        ("swarmd cast_batch of 256  ", batched),
    ] {
        let ratio = bare_time.as_secs_f64() / time.as_secs_f64();
        println!(
            "  {label}: {:>10.0} msg/s ({time:?}) = {ratio:.2}x bare",
            rate(time)
        );
    }
    println!("  (goal: >= 5x bare with batching)");
    let ratio = |time: Duration| bare_time.as_secs_f64() / time.as_secs_f64();
    println!(
        "summary: batch_ratio={:.2} single_ratio={:.2} bare_msgs_per_s={:.0}",
        ratio(batched),
        ratio(one_by_one),
        rate(bare_time)
    );
    println!("remote call (echo, {PAYLOAD} B), 2000 sequential after 500 warm-up:");
    println!(
        "  p50 {:?}  p99 {:?}",
        percentile(&rtts, 0.50),
        percentile(&rtts, 0.99)
    );
    println!("join: peer process start -> peer up at the cloud: {join:?}");

    drop(child.stdin.take());
    let _ = child.wait();
    cloud.shutdown(Duration::from_secs(5)).await;
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if std::env::var_os(PEER_ENV).is_some() {
        runtime.block_on(peer());
    } else {
        runtime.block_on(parent());
    }
}
