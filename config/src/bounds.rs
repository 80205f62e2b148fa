//! The range of every numeric key, in one table: `config check` enforces it
//! and names the key, so no value it accepts can panic or wedge a node
//! (a zero queue, a zero-period timer, a grid too small to walk).

use std::ops::RangeInclusive;

use crate::NodeConfig;

/// One numeric key: its dotted name, the values it may take, and how to read it.
pub struct Bound {
    pub key: &'static str,
    pub range: RangeInclusive<u64>,
    read: fn(&NodeConfig) -> u64,
}

const fn bound(
    key: &'static str,
    range: RangeInclusive<u64>,
    read: fn(&NodeConfig) -> u64,
) -> Bound {
    Bound { key, range, read }
}

fn wide(n: usize) -> u64 {
    n as u64
}

/// A grid size; a negative one maps to 0, below every lower bound.
fn size(n: i32) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Every numeric key of the config.
#[rustfmt::skip]
pub const BOUNDS: &[Bound] = &[
    bound("node.shutdown_timeout_ms", 100..=600_000, |c| c.node.shutdown_timeout_ms),
    bound("cluster.dial_timeout_ms", 10..=60_000, |c| c.cluster.dial_timeout_ms),
    bound("cluster.dial_backoff_min_ms", 1..=600_000, |c| c.cluster.dial_backoff_min_ms),
    bound("cluster.dial_backoff_max_ms", 1..=600_000, |c| c.cluster.dial_backoff_max_ms),
    bound("cluster.heartbeat_interval_ms", 10..=60_000, |c| c.cluster.heartbeat_interval_ms),
    bound("cluster.suspect_after_ms", 20..=3_600_000, |c| c.cluster.suspect_after_ms),
    bound("cluster.down_after_ms", 30..=86_400_000, |c| c.cluster.down_after_ms),
    bound("cluster.call_timeout_ms", 10..=600_000, |c| c.cluster.call_timeout_ms),
    bound("cluster.discovery.interval_ms", 50..=60_000, |c| c.cluster.discovery.interval_ms),
    bound("cluster.discovery.expire_after_ms", 100..=3_600_000, |c| c.cluster.discovery.expire_after_ms),
    bound("cloud.lease_ttl_ms", 300..=600_000, |c| c.cloud.lease_ttl_ms),
    bound("placement.grace_ms", 100..=86_400_000, |c| c.placement.grace_ms),
    bound("placement.max_restarts", 0..=10_000, |c| c.placement.max_restarts),
    bound("placement.restart_period_ms", 100..=86_400_000, |c| c.placement.restart_period_ms),
    bound("mesh.subscription_capacity", 1..=1_000_000, |c| wide(c.mesh.subscription_capacity)),
    bound("storage.cache_capacity_mb", 1..=65_536, |c| c.storage.cache_capacity_mb),
    bound("storage.group_commit_max_events", 1..=65_536, |c| wide(c.storage.group_commit_max_events)),
    bound("storage.group_commit_max_wait_us", 1..=1_000_000, |c| c.storage.group_commit_max_wait_us),
    bound("storage.queue_capacity", 1..=1_000_000, |c| wide(c.storage.queue_capacity)),
    bound("storage.append_timeout_ms", 1..=600_000, |c| c.storage.append_timeout_ms),
    bound("storage.retention_max_age_s", 60..=315_360_000, |c| c.storage.retention_max_age_s),
    bound("storage.retention_max_mb", 1..=16_777_216, |c| c.storage.retention_max_mb),
    bound("storage.retention_interval_s", 1..=86_400, |c| c.storage.retention_interval_s),
    bound("agents.max_agents", 1..=1_000_000, |c| wide(c.agents.max_agents)),
    bound("agents.boot", 0..=1_000_000, |c| wide(c.agents.boot)),
    bound("agents.reflex_hz", 1..=1000, |c| u64::from(c.agents.reflex_hz)),
    bound("agents.situation_hz", 1..=1000, |c| u64::from(c.agents.situation_hz)),
    bound("agents.supervision_hz", 1..=1000, |c| u64::from(c.agents.supervision_hz)),
    bound("agents.deadman_ticks", 1..=1_000_000, |c| c.agents.deadman_ticks),
    bound("agents.move_every_ticks", 1..=1_000_000, |c| c.agents.move_every_ticks),
    bound("world.width", 8..=1000, |c| size(c.world.width)),
    bound("world.height", 6..=1000, |c| size(c.world.height)),
    bound("world.hazard_every_ms", 0..=86_400_000, |c| c.world.hazard_every_ms),
    bound("world.max_hazards", 0..=1000, |c| wide(c.world.max_hazards)),
    bound("world.agent_timeout_ms", 100..=3_600_000, |c| c.world.agent_timeout_ms),
    bound("resources.max_memory_mb", 0..=16_777_216, |c| c.resources.max_memory_mb),
    bound("resources.max_cpu_percent", 0..=102_400, |c| c.resources.max_cpu_percent),
    bound("resources.sample_interval_ms", 50..=60_000, |c| c.resources.sample_interval_ms),
    bound("resources.throttle_factor", 2..=1000, |c| c.resources.throttle_factor),
    bound("board.capacity", 1..=1_000_000, |c| c.board.capacity),
    bound("board.lease_ms", 100..=86_400_000, |c| c.board.lease_ms),
    bound("board.max_attempts", 1..=100, |c| c.board.max_attempts),
    bound("board.tasks_per_agent", 1..=64, |c| c.board.tasks_per_agent),
    bound("board.claims_per_s", 0..=1_000_000, |c| c.board.claims_per_s),
    bound("board.claim_burst", 1..=1_000_000, |c| c.board.claim_burst),
    bound("board.breaker_failures", 1..=1000, |c| c.board.breaker_failures),
    bound("board.breaker_cool_down_ms", 10..=86_400_000, |c| c.board.breaker_cool_down_ms),
];

impl NodeConfig {
    /// The first numeric key outside its range, with the range.
    pub(crate) fn check_bounds(&self) -> Result<(), (&'static str, String)> {
        for Bound { key, range, read } in BOUNDS {
            let value = read(self);
            if !range.contains(&value) {
                let (min, max) = (range.start(), range.end());
                return Err((key, format!("{value} is outside {min}..={max}")));
            }
        }
        Ok(())
    }
}
