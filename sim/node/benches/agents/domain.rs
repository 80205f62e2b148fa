//! The domain-neutral runtime against the warehouse's agents, in one run:
//! a domain that does nothing, so its figures are the generic layers' cost.

use std::sync::Arc;

use hdrhistogram::Histogram;
use swarmd_actors::NodeCtx;
use swarmd_actors::domain::{Body, Domain, DomainKind, DomainSettings, Plan, Refusal};
use swarmd_actors::fleet::{AgentKind, NodeServices, SpecError};
use swarmd_actors::ticker::quantile;
use swarmd_messages::SpawnSpec;
use swarmd_sim_node::SwarmNode;
use swarmd_warehouse::agent::GridAgentKind;
use tokio::time::Instant;

use super::{
    LATENESS_AGENTS, LATENESS_WINDOW, SPAWN_AGENTS, bare_timer_lateness, big_grid, heap_kb,
    idle_settings, lateness_window, print_quantiles,
};

/// The runtime alone: a domain whose body, rules, model and planner do
/// nothing, so its figures are the generic layers' cost.
struct Null;

impl Domain for Null {
    type Percept = u64;
    type Command = u8;
    type Intent = u8;
    type Task = u8;
    type Summary = u64;
    type PeerState = u8;
    type Model = u64;

    fn name(&self) -> &str {
        "null"
    }
    fn task_kinds(&self) -> Vec<String> {
        Vec::new()
    }
    fn body(&self, _: &SpawnSpec, _: &NodeCtx) -> Result<Box<dyn Body<Self>>, SpecError> {
        Ok(Box::new(NullBody(0)))
    }
    fn safe_command(&self, _: Option<&u64>) -> u8 {
        0
    }
    fn check(&self, _: &u64, _: &[u8], _: &u8) -> Result<(), Refusal> {
        Ok(())
    }
    fn model(&self, _: &SpawnSpec) -> u64 {
        0
    }
    fn observe(&self, model: &mut u64, p: &u64) -> Result<(), String> {
        *model = *p;
        Ok(())
    }
    fn command(&self, _: &u64, intent: &u8, _: &[u8]) -> u8 {
        *intent
    }
    fn summary(&self, model: &u64) -> u64 {
        *model
    }
    fn peer_state(&self, _: &u64) -> Option<u8> {
        None
    }
    fn plan(&self, _: &u64, _: Option<&mut u8>) -> Plan<u8> {
        Plan::Go(1)
    }
}

struct NullBody(u64);

impl Body<Null> for NullBody {
    fn sense(&mut self) -> Option<u64> {
        Some(self.0)
    }
    fn act(&mut self, command: &u8) {
        self.0 += u64::from(*command);
    }
}

fn bound(kind: &DomainKind<Null>, node: &SwarmNode) -> Arc<dyn AgentKind> {
    let (events, _) = swarmd_supervisor::event_channel(1024);
    let services = NodeServices {
        router: node.router.clone(),
        events,
        throttle: Default::default(),
    };
    kind.bind(&services).expect("a domain binds to its node")
}

/// The generic runtime against the warehouse's agents, in one run: spawn
/// time and live heap of 10k agents, and reflex lateness of 1k at 100 Hz.
pub async fn domain() {
    let node = SwarmNode::start("bench", 4, big_grid(), SPAWN_AGENTS).await;
    let grid = GridAgentKind::new(node.router.clone()).defaults(idle_settings());
    let (heap, started) = (heap_kb(), Instant::now());
    let grid_agents = node.spawn_agents(&grid, SPAWN_AGENTS).await;
    let (grid_time, grid_heap) = (started.elapsed(), (heap_kb() - heap) / SPAWN_AGENTS as f64);
    drop(grid_agents);
    node.root
        .stop_and_wait(None, None)
        .await
        .expect("node stops");
    let node = SwarmNode::start("bench", 4, big_grid(), SPAWN_AGENTS).await;
    let idle = DomainSettings {
        reflex_hz: 1,
        situation_hz: 1,
        supervision_hz: 1,
        ..Default::default()
    };
    let kind = DomainKind::new(Null).defaults(idle);
    let (heap, started) = (heap_kb(), Instant::now());
    node.spawn_kind(bound(&kind, &node).as_ref(), "null", SPAWN_AGENTS)
        .await;
    let (null_time, null_heap) = (started.elapsed(), (heap_kb() - heap) / SPAWN_AGENTS as f64);
    println!(
        "spawn {SPAWN_AGENTS} agents of a domain (the generic layers) against warehouse agents"
    );
    println!("  warehouse agents: {grid_time:>10.2?}, live heap {grid_heap:.1} KB per agent");
    println!(
        "  domain agents:    {null_time:>10.2?}, live heap {null_heap:.1} KB per agent ({:.2}x the time, {:.2}x the heap)",
        null_time.as_secs_f64() / grid_time.as_secs_f64(),
        null_heap / grid_heap
    );
    node.root
        .stop_and_wait(None, None)
        .await
        .expect("node stops");

    let baseline = bare_timer_lateness().await;
    let node = SwarmNode::start("bench", 5, big_grid(), LATENESS_AGENTS).await;
    let kind = DomainKind::new(Null).defaults(DomainSettings {
        reflex_hz: 100,
        ..Default::default()
    });
    node.spawn_kind(bound(&kind, &node).as_ref(), "null", LATENESS_AGENTS)
        .await;
    let window = lateness_window(&kind.stats().reflex).await;
    println!(
        "domain reflex tick lateness, {LATENESS_AGENTS} agents at 100 Hz over {LATENESS_WINDOW:?}"
    );
    print_quantiles("bare tokio timers:", &baseline);
    print_quantiles("domain reflexes:", &window);
    let p99_ms = |w: &Histogram<u64>| quantile(w, 0.99).as_secs_f64() * 1e3;
    println!(
        "summary: domain_spawn_ratio={:.2} domain_heap_ratio={:.2} domain_lateness_p99_ms={:.3} bare_lateness_p99_ms={:.3}",
        null_time.as_secs_f64() / grid_time.as_secs_f64(),
        null_heap / grid_heap,
        p99_ms(&window),
        p99_ms(&baseline)
    );
    node.root
        .stop_and_wait(None, None)
        .await
        .expect("node stops");
}
