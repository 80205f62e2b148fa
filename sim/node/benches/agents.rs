//! Agents at scale, each figure against a baseline measured in the same run:
//!
//! - `spawn`: 10k grid agents (3 layer actors each) started on one node,
//!   time and RSS, against 10k bare ractor actors;
//! - `lateness`: 1k agents with the reflex at 100 Hz, p50/p99 tick lateness;
//! - `casts`: casts to an agent's reflex layer against a raw tokio mpsc
//!   carrying the same message to a task doing the same work;
//! - `domain`: the domain-neutral runtime (a domain that does nothing)
//!   against the warehouse's agents: spawn time and heap of 10k, and reflex
//!   lateness of 1k at 100 Hz against bare timers.
//!
//!     cargo bench -p swarmd-sim-node --bench agents [-- spawn|lateness|casts|domain]
//!     # ractor without message span propagation:
//!     cargo bench -p swarmd-sim-node --bench agents --no-default-features -- casts

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_actors::ticker::{TickStats, Ticker, quantile};
use swarmd_messages::swarm::Cell;
use swarmd_sim_node::SwarmNode;
use swarmd_warehouse::agent::{Action, GridAgentKind, ReflexMsg};
use swarmd_warehouse::world::GridConfig;
use tokio::time::Instant;

/// Live heap bytes, counted at the allocator, to say where an agent's memory goes.
struct Counting;

static LIVE_HEAP: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_HEAP.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE_HEAP.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            let grown = new_size as isize - layout.size() as isize;
            LIVE_HEAP.fetch_add(grown, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn heap_kb() -> f64 {
    LIVE_HEAP.load(Ordering::Relaxed) as f64 / 1024.0
}

const SPAWN_AGENTS: usize = 10_000;
const LATENESS_AGENTS: usize = 1_000;
const LATENESS_WINDOW: Duration = Duration::from_secs(5);
const CASTS: u64 = 1_000_000;
const CAST_ROUNDS: usize = 5;

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// A floor big enough for every agent to have a cell.
fn big_grid() -> GridConfig {
    GridConfig {
        width: 200,
        height: 200,
        max_agents: SPAWN_AGENTS,
        ..GridConfig::default()
    }
}

struct Idle;

impl Actor for Idle {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

async fn spawn() {
    let rss_before = rss_mb();
    let heap_before = heap_kb();
    let started = Instant::now();
    let mut bare = Vec::with_capacity(SPAWN_AGENTS);
    for _ in 0..SPAWN_AGENTS {
        bare.push(Actor::spawn(None, Idle, ()).await.expect("spawns").0);
    }
    let bare_time = started.elapsed();
    let rss_bare = rss_mb();
    let heap_per_actor = (heap_kb() - heap_before) / SPAWN_AGENTS as f64;
    let heap_per_ticker = ticker_heap_kb(&bare[0]).await;
    for actor in bare {
        actor.stop(None);
    }

    let node = SwarmNode::start("bench", 1, big_grid(), SPAWN_AGENTS).await;
    // Slow layers: the figure is the cost of starting agents, not of running them.
    let kind = GridAgentKind::new(node.router.clone()).defaults(idle_settings());
    let rss_node = rss_mb();
    let heap_node = heap_kb();
    let started = Instant::now();
    let agents = node.spawn_agents(&kind, SPAWN_AGENTS).await;
    let agent_time = started.elapsed();
    let rss_agents = rss_mb();
    let heap_per_agent = (heap_kb() - heap_node) / SPAWN_AGENTS as f64;
    let rest = heap_per_agent - 4.0 * heap_per_actor - 3.0 * heap_per_ticker;
    println!(
        "  live heap per agent {heap_per_agent:.1} KB = 4 actors x {heap_per_actor:.1} KB (supervisor + 3 layers) \
         + 3 tickers x {heap_per_ticker:.2} KB + {rest:.1} KB of layer state, wiring and floor"
    );
    println!(
        "summary: heap_kb_per_agent={heap_per_agent:.1} heap_kb_per_bare_actor={heap_per_actor:.1} \
         heap_kb_per_ticker={heap_per_ticker:.2}"
    );
    println!("spawn {SPAWN_AGENTS} agents (3 layer actors + a supervisor each, 1 Hz layers)");
    println!("  bare ractor actors: {bare_time:>10.2?}  (RSS {rss_before:.0} -> {rss_bare:.0} MB)");
    println!(
        "  grid agents:        {agent_time:>10.2?}  ({:.1}x the bare spawns; goal < 2 s)",
        agent_time.as_secs_f64() / bare_time.as_secs_f64()
    );
    println!(
        "  RSS: {rss_before:.0} MB at start, {rss_node:.0} MB with the node, {rss_agents:.0} MB with the agents \
              ({:.1} KB per agent; goal < 300 MB)",
        (rss_agents - rss_node) * 1024.0 / SPAWN_AGENTS as f64
    );
    println!(
        "summary: agents={SPAWN_AGENTS} rss_mb={:.0} spawn_s={:.2} bare_spawn_s={:.3}",
        rss_agents - rss_node,
        agent_time.as_secs_f64(),
        bare_time.as_secs_f64()
    );
    drop(agents);
    node.root
        .stop_and_wait(None, None)
        .await
        .expect("node stops");
}

/// Live heap of one idle ticker (its task and timer), over 10k of them.
async fn ticker_heap_kb(target: &ActorRef<()>) -> f64 {
    let before = heap_kb();
    let stats = Arc::new(TickStats::default());
    let tickers: Vec<Ticker> = (0..SPAWN_AGENTS)
        .map(|_| {
            Ticker::start(
                Duration::from_secs(3600),
                target.clone(),
                stats.clone(),
                |_| (),
            )
        })
        .collect();
    tokio::task::yield_now().await;
    let per_ticker = (heap_kb() - before) / SPAWN_AGENTS as f64;
    drop(tickers);
    per_ticker
}

fn idle_settings() -> swarmd_warehouse::agent::AgentSettings {
    swarmd_warehouse::agent::AgentSettings {
        reflex_hz: 1,
        situation_hz: 1,
        supervision_hz: 1,
        ..Default::default()
    }
}

/// The baseline: plain tokio tasks sleeping until each tick is due, at the
/// same rate, recording lateness the same way. Returns the window's histogram.
async fn bare_timer_lateness() -> Histogram<u64> {
    let stats = Arc::new(TickStats::default());
    let period = Duration::from_millis(10);
    let tasks: Vec<_> = (0..LATENESS_AGENTS)
        .map(|_| {
            let stats = stats.clone();
            tokio::spawn(async move {
                let mut due = Instant::now() + period;
                loop {
                    tokio::time::sleep_until(due).await;
                    stats.record(Instant::now().saturating_duration_since(due));
                    due += period;
                }
            })
        })
        .collect();
    let window = lateness_window(&stats).await;
    tasks.iter().for_each(|t| t.abort());
    window
}

/// Lateness recorded in `stats` over `LATENESS_WINDOW`, after a warm-up.
async fn lateness_window(stats: &TickStats) -> Histogram<u64> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = stats.lateness();
    tokio::time::sleep(LATENESS_WINDOW).await;
    let mut window = stats.lateness();
    window.subtract(&before).expect("same bounds");
    window
}

fn print_quantiles(label: &str, window: &Histogram<u64>) {
    println!(
        "  {label:<22} p50 {:>9.3?}, p99 {:>9.3?}, p99.9 {:>9.3?}, max {:>9.3?}",
        quantile(window, 0.5),
        quantile(window, 0.99),
        quantile(window, 0.999),
        quantile(window, 1.0)
    );
}

async fn lateness() {
    let baseline = bare_timer_lateness().await;
    let node = SwarmNode::start("bench", 2, big_grid(), LATENESS_AGENTS).await;
    let kind = GridAgentKind::new(node.router.clone());
    let _agents = node.spawn_agents(&kind, LATENESS_AGENTS).await;
    let reflex = kind.stats().reflex.clone();
    let skipped_before = reflex.skipped();
    let window = lateness_window(&reflex).await;
    let ticks = window.len();
    let expected = LATENESS_AGENTS as f64 * 100.0 * LATENESS_WINDOW.as_secs_f64();
    println!(
        "reflex tick lateness, {LATENESS_AGENTS} agents at 100 Hz over {LATENESS_WINDOW:?} (goal: p99 < 2 ms)"
    );
    println!(
        "  reflex ticks handled: {ticks} of {expected:.0} due ({:.1}%), skipped: {}",
        ticks as f64 * 100.0 / expected,
        reflex.skipped() - skipped_before
    );
    print_quantiles("bare tokio timers:", &baseline);
    print_quantiles("agent reflexes:", &window);
    let p99_ms = |w: &Histogram<u64>| quantile(w, 0.99).as_secs_f64() * 1e3;
    println!(
        "summary: lateness_p99_ms={:.3} bare_lateness_p99_ms={:.3}",
        p99_ms(&window),
        p99_ms(&baseline)
    );
    node.root
        .stop_and_wait(None, None)
        .await
        .expect("node stops");
}

async fn mpsc_casts_per_sec() -> f64 {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ReflexMsg>();
    let started = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut last = None;
        let mut n = 0;
        while let Some(msg) = rx.recv().await {
            if let ReflexMsg::Act(action) = msg {
                last = Some(action);
            }
            n += 1;
            if n == CASTS {
                break;
            }
        }
        black_box(last);
    });
    for i in 0..CASTS {
        tx.send(act(i)).expect("consumer alive");
    }
    consumer.await.expect("consumer done");
    CASTS as f64 / started.elapsed().as_secs_f64()
}

fn act(generation: u64) -> ReflexMsg {
    ReflexMsg::Act(Action {
        generation,
        step_to: Some(Cell::new(1, 1)),
    })
}

/// Casts to a live reflex layer; a final call waits until all are handled.
async fn reflex_casts_per_sec() -> f64 {
    let node = SwarmNode::start("bench", 3, GridConfig::default(), 4).await;
    let kind = GridAgentKind::new(node.router.clone()).defaults(idle_settings());
    let agent = node.spawn_agents(&kind, 1).await.remove(0);
    let reflex = agent.reflex.get().expect("reflex runs");
    let started = Instant::now();
    for i in 0..CASTS {
        reflex.cast(act(i)).expect("reflex alive");
    }
    reflex
        .call(ReflexMsg::Inspect, None)
        .await
        .expect("answers");
    let rate = CASTS as f64 / started.elapsed().as_secs_f64();
    node.root
        .stop_and_wait(None, None)
        .await
        .expect("node stops");
    rate
}

/// What ractor itself costs: a bare actor storing each action, no agent around it.
struct BareReflex;

enum BareMsg {
    Act(Action),
    Done(ractor::RpcReplyPort<u64>),
}

impl ractor::Message for BareMsg {}

impl Actor for BareReflex {
    type Msg = BareMsg;
    type State = Option<Action>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<BareMsg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(None)
    }

    async fn handle(
        &self,
        _: ActorRef<BareMsg>,
        msg: BareMsg,
        last: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BareMsg::Act(action) => *last = Some(action),
            BareMsg::Done(reply) => {
                let _ = reply.send(last.as_ref().map_or(0, |a| a.generation));
            }
        }
        Ok(())
    }
}

async fn bare_ractor_casts_per_sec() -> f64 {
    let (actor, handle) = Actor::spawn(None, BareReflex, ()).await.expect("spawns");
    let started = Instant::now();
    for i in 0..CASTS {
        let ReflexMsg::Act(action) = act(i) else {
            unreachable!("act builds an Act")
        };
        actor.cast(BareMsg::Act(action)).expect("alive");
    }
    let last = ractor::call!(actor, BareMsg::Done).expect("answers");
    assert_eq!(last, CASTS - 1, "every cast was handled in order");
    let rate = CASTS as f64 / started.elapsed().as_secs_f64();
    actor.stop(None);
    handle.await.expect("stops");
    rate
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn casts() {
    let span = cfg!(feature = "span-propagation");
    mpsc_casts_per_sec().await; // warm-up
    let (mut baseline, mut bare, mut reflex) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..CAST_ROUNDS {
        baseline.push(mpsc_casts_per_sec().await);
        bare.push(bare_ractor_casts_per_sec().await);
        reflex.push(reflex_casts_per_sec().await);
    }
    let (baseline, bare, reflex) = (median(baseline), median(bare), median(reflex));
    println!(
        "casts to the reflex layer, {CASTS} x {CAST_ROUNDS} rounds, medians (ractor message_span_propogation: {span})"
    );
    println!("  tokio mpsc:        {baseline:>12.0} msgs/s");
    println!(
        "  bare ractor actor: {bare:>12.0} msgs/s  ({:.2} of mpsc: ractor's own floor)",
        bare / baseline
    );
    println!(
        "  reflex layer:      {reflex:>12.0} msgs/s  ({:.2} of mpsc, {:.2} of bare ractor; goal >= 0.3 of mpsc)",
        reflex / baseline,
        reflex / bare
    );
    println!(
        "summary: cast_ratio={:.2} bare_ractor_ratio={:.2}",
        reflex / baseline,
        bare / baseline
    );
}

// The domain runtime's figures, beside the warehouse's.
#[path = "agents/domain.rs"]
mod domain;

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if runs("casts") {
            casts().await;
        }
        if runs("spawn") {
            spawn().await;
        }
        if runs("lateness") {
            lateness().await;
        }
        if runs("domain") {
            domain::domain().await;
        }
    });
}
