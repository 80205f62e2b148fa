//! Resource governance (`[resources]`): the node measures its own RSS and
//! CPU, and keeps itself within its budgets. Over the memory budget it
//! refuses new agents and sheds background work (retention, span export);
//! under CPU pressure it slows the slow layers of its lowest-priority agents,
//! never a reflex. Every action is a `governance` event in the ledger and a
//! counter in /metrics.
//!
//! The governor also publishes what the node offers and how much more it
//! can take (its [`NodeAdvert`]); the gateway gossips it to members and
//! discovery announces it on the LAN.

mod policy;
mod probe;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_actors::NodeCtx;
use swarmd_actors::fleet::{Admission, AgentTenants};
use swarmd_actors::throttle::{Priority, Throttle};
use swarmd_config::lan::ResourcesSection;
use swarmd_messages::advert::{NodeAdvert, NodeCapacity, NodeProfile};
use swarmd_messages::{EventDraft, EventKind, GovernanceAction, SYSTEM_TENANT, TraceContext};
use swarmd_storage::Shedding;
use swarmd_supervisor::ChildSpec;
use tokio::sync::watch;
use tracing::{info, warn};

pub use policy::{Action, Budgets, Policy, Usage};
pub use probe::{FixedResources, ProcResources, ProcessSample, ResourceProbe, cpu_time};

const MB: u64 = 1024 * 1024;

/// What the governor measured and did, for `stats` and /metrics.
#[derive(Clone, Default)]
pub struct GovernanceStats(Arc<Counters>);

#[derive(Default)]
struct Counters {
    rss_mb: AtomicU64,
    cpu_percent: AtomicU64,
    memory_over_budget: AtomicU64,
    memory_recovered: AtomicU64,
    throttled: AtomicU64,
    released: AtomicU64,
}

/// A copy of the counters.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GovernanceSnapshot {
    pub rss_mb: u64,
    pub cpu_percent: u64,
    pub memory_over_budget: u64,
    pub memory_recovered: u64,
    pub throttled: u64,
    pub released: u64,
}

impl GovernanceStats {
    pub fn snapshot(&self) -> GovernanceSnapshot {
        let c = &self.0;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        GovernanceSnapshot {
            rss_mb: get(&c.rss_mb),
            cpu_percent: get(&c.cpu_percent),
            memory_over_budget: get(&c.memory_over_budget),
            memory_recovered: get(&c.memory_recovered),
            throttled: get(&c.throttled),
            released: get(&c.released),
        }
    }

    fn count(&self, action: &Action) {
        let c = &self.0;
        let counter = match action {
            Action::MemoryOverBudget => &c.memory_over_budget,
            Action::MemoryRecovered => &c.memory_recovered,
            Action::Throttle { .. } => &c.throttled,
            Action::Release { .. } => &c.released,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The levers the governor pulls, shared with the parts they slow or stop.
#[derive(Clone, Default)]
pub struct Levers {
    pub admission: Admission,
    pub throttle: Throttle,
    pub shedding: Shedding,
}

#[derive(Clone)]
pub struct GovernorArgs {
    pub ctx: NodeCtx,
    pub resources: ResourcesSection,
    pub probe: Arc<dyn ResourceProbe>,
    pub levers: Levers,
    pub max_agents: usize,
    /// The agents on this node (their count is the running figure).
    pub placed: AgentTenants,
    pub profile: NodeProfile,
    pub advert: watch::Sender<NodeAdvert>,
    pub stats: GovernanceStats,
}

pub fn governor_child(args: GovernorArgs) -> ChildSpec {
    ChildSpec::for_actor("governor", Governor, args)
}

#[derive(Clone)]
pub struct Governor;

pub struct GovernorState {
    args: GovernorArgs,
    policy: Policy,
    /// The previous reading, for the CPU used between two.
    last: Option<(SystemTime, Duration)>,
}

pub struct Sample;

impl ractor::Message for Sample {}

impl Actor for Governor {
    type Msg = Sample;
    type State = GovernorState;
    type Arguments = GovernorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Sample>,
        args: GovernorArgs,
    ) -> Result<GovernorState, ActorProcessingErr> {
        let r = &args.resources;
        let policy = Policy::new(Budgets {
            memory_mb: r.memory_budget_mb(),
            cpu_percent: r.cpu_budget_percent(),
            throttle_factor: u32::try_from(r.throttle_factor).unwrap_or(u32::MAX),
        });
        myself.cast(Sample)?;
        myself.send_interval(r.sample_interval(), || Sample);
        Ok(GovernorState {
            args,
            policy,
            last: None,
        })
    }

    async fn handle(
        &self,
        _: ActorRef<Sample>,
        _: Sample,
        state: &mut GovernorState,
    ) -> Result<(), ActorProcessingErr> {
        state.sample().await;
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<Sample>,
        state: &mut GovernorState,
    ) -> Result<(), ActorProcessingErr> {
        // A restarted governor starts from a clean slate: lift what this one set.
        let levers = &state.args.levers;
        levers.admission.set_over_budget(None);
        levers.shedding.set(false);
        for priority in Priority::ALL {
            levers.throttle.set(priority, 1);
        }
        Ok(())
    }
}

impl GovernorState {
    async fn sample(&mut self) {
        let reading = self.args.probe.sample();
        let now = self.args.ctx.clock.wall_now();
        let usage = Usage {
            rss_mb: reading.rss_bytes / MB,
            cpu_percent: self.cpu_percent(now, reading.cpu_time),
        };
        let stats = &self.args.stats.0;
        stats.rss_mb.store(usage.rss_mb, Ordering::Relaxed);
        stats
            .cpu_percent
            .store(usage.cpu_percent, Ordering::Relaxed);
        for action in self.policy.observe(usage) {
            self.apply(&action, usage).await;
        }
        self.publish(usage, reading.host_available_bytes);
    }

    /// CPU used since the last reading, in percent of one core.
    fn cpu_percent(&mut self, now: SystemTime, cpu: Duration) -> u64 {
        let percent = match self.last {
            Some((then, cpu_then)) => {
                let wall = now.duration_since(then).unwrap_or_default();
                let used = cpu.saturating_sub(cpu_then);
                if wall.is_zero() {
                    0
                } else {
                    (used.as_micros() * 100 / wall.as_micros()) as u64
                }
            }
            None => 0,
        };
        self.last = Some((now, cpu));
        percent
    }

    async fn apply(&self, action: &Action, usage: Usage) {
        let levers = &self.args.levers;
        let r = &self.args.resources;
        let recorded = match *action {
            Action::MemoryOverBudget => {
                levers
                    .admission
                    .set_over_budget(Some((usage.rss_mb, r.max_memory_mb)));
                levers.shedding.set(true);
                GovernanceAction::MemoryOverBudget
            }
            Action::MemoryRecovered => {
                levers.admission.set_over_budget(None);
                levers.shedding.set(false);
                GovernanceAction::MemoryRecovered
            }
            Action::Throttle { priority, factor } => {
                levers.throttle.set(priority, factor);
                let priority = priority.name().to_string();
                GovernanceAction::Throttled { priority, factor }
            }
            Action::Release { priority } => {
                levers.throttle.set(priority, 1);
                GovernanceAction::Released
            }
        };
        self.args.stats.count(action);
        let detail = format!(
            "rss {} MB (budget {}), cpu {}% (budget {}){}",
            usage.rss_mb,
            budget_text(r.memory_budget_mb(), "MB"),
            usage.cpu_percent,
            budget_text(r.cpu_budget_percent(), "%"),
            match action {
                Action::Release { priority } => format!(", {} released", priority.name()),
                _ => String::new(),
            }
        );
        info!(action = ?recorded, %detail, "governance");
        let draft = EventDraft {
            tenant: SYSTEM_TENANT.into(),
            agent: None,
            trace: TraceContext::default(),
            kind: EventKind::Governance {
                action: recorded,
                detail,
            },
        };
        if let Err(e) = self.args.ctx.ledger.append(draft).await {
            warn!(error = %e, "governance event not recorded");
        }
    }

    fn publish(&self, usage: Usage, host_available: Option<u64>) {
        let budget = self.args.resources.memory_budget_mb();
        let free_memory_mb = match budget {
            Some(b) => b.saturating_sub(usage.rss_mb),
            None => host_available.unwrap_or(0) / MB,
        };
        let capacity = NodeCapacity {
            max_agents: u32::try_from(self.args.max_agents).unwrap_or(u32::MAX),
            running_agents: u32::try_from(self.args.placed.len()).unwrap_or(u32::MAX),
            rss_mb: usage.rss_mb,
            memory_budget_mb: budget,
            free_memory_mb,
            cpu_percent: u32::try_from(usage.cpu_percent).unwrap_or(u32::MAX),
            accepting: !self.policy.over_memory(),
        };
        // The lease (`leads`) is the cloud tier's to set: kept as it is.
        self.args.advert.send_modify(|advert| {
            advert.profile = self.args.profile.clone();
            advert.capacity = capacity;
            advert.mesh = self.args.ctx.mesh.identity();
        });
    }
}

fn budget_text(budget: Option<u64>, unit: &str) -> String {
    budget.map_or("none".into(), |b| format!("{b} {unit}"))
}
