//! The range of every numeric key, in one table: `config check` enforces it
//! and names the key, so no value it accepts can panic or wedge a node
//! (a zero queue, a zero-period timer, a grid too small to walk).

use std::ops::RangeInclusive;

use crate::NodeConfig;

/// Every numeric key and the values it may take.
pub const BOUNDS: &[(&str, RangeInclusive<u64>)] = &[
    ("node.shutdown_timeout_ms", 100..=600_000),
    ("cluster.dial_timeout_ms", 10..=60_000),
    ("cluster.dial_backoff_min_ms", 1..=600_000),
    ("cluster.dial_backoff_max_ms", 1..=600_000),
    ("cluster.heartbeat_interval_ms", 10..=60_000),
    ("cluster.suspect_after_ms", 20..=3_600_000),
    ("cluster.down_after_ms", 30..=86_400_000),
    ("cluster.call_timeout_ms", 10..=600_000),
    ("mesh.subscription_capacity", 1..=1_000_000),
    ("storage.cache_capacity_mb", 1..=65_536),
    ("storage.group_commit_max_events", 1..=65_536),
    ("storage.group_commit_max_wait_us", 1..=1_000_000),
    ("storage.queue_capacity", 1..=1_000_000),
    ("storage.append_timeout_ms", 1..=600_000),
    ("storage.retention_max_age_s", 60..=315_360_000),
    ("storage.retention_max_mb", 1..=16_777_216),
    ("storage.retention_interval_s", 1..=86_400),
    ("agents.max_agents", 1..=1_000_000),
    ("agents.boot", 0..=1_000_000),
    ("agents.reflex_hz", 1..=1000),
    ("agents.situation_hz", 1..=1000),
    ("agents.supervision_hz", 1..=1000),
    ("agents.deadman_ticks", 1..=1_000_000),
    ("agents.move_every_ticks", 1..=1_000_000),
    ("world.width", 8..=1000),
    ("world.height", 6..=1000),
    ("world.hazard_every_ms", 0..=86_400_000),
    ("world.max_hazards", 0..=1000),
    ("world.agent_timeout_ms", 100..=3_600_000),
];

impl NodeConfig {
    /// The value of every key in [`BOUNDS`], by key.
    fn numeric(&self) -> [(&'static str, u64); BOUNDS.len()] {
        let (c, s, a, w) = (&self.cluster, &self.storage, &self.agents, &self.world);
        let wide = |n: usize| n as u64;
        // Negative grid sizes map to 0, below every lower bound.
        let size = |n: i32| u64::try_from(n).unwrap_or(0);
        [
            ("node.shutdown_timeout_ms", self.node.shutdown_timeout_ms),
            ("cluster.dial_timeout_ms", c.dial_timeout_ms),
            ("cluster.dial_backoff_min_ms", c.dial_backoff_min_ms),
            ("cluster.dial_backoff_max_ms", c.dial_backoff_max_ms),
            ("cluster.heartbeat_interval_ms", c.heartbeat_interval_ms),
            ("cluster.suspect_after_ms", c.suspect_after_ms),
            ("cluster.down_after_ms", c.down_after_ms),
            ("cluster.call_timeout_ms", c.call_timeout_ms),
            (
                "mesh.subscription_capacity",
                wide(self.mesh.subscription_capacity),
            ),
            ("storage.cache_capacity_mb", s.cache_capacity_mb),
            (
                "storage.group_commit_max_events",
                wide(s.group_commit_max_events),
            ),
            (
                "storage.group_commit_max_wait_us",
                s.group_commit_max_wait_us,
            ),
            ("storage.queue_capacity", wide(s.queue_capacity)),
            ("storage.append_timeout_ms", s.append_timeout_ms),
            ("storage.retention_max_age_s", s.retention_max_age_s),
            ("storage.retention_max_mb", s.retention_max_mb),
            ("storage.retention_interval_s", s.retention_interval_s),
            ("agents.max_agents", wide(a.max_agents)),
            ("agents.boot", wide(a.boot)),
            ("agents.reflex_hz", u64::from(a.reflex_hz)),
            ("agents.situation_hz", u64::from(a.situation_hz)),
            ("agents.supervision_hz", u64::from(a.supervision_hz)),
            ("agents.deadman_ticks", a.deadman_ticks),
            ("agents.move_every_ticks", a.move_every_ticks),
            ("world.width", size(w.width)),
            ("world.height", size(w.height)),
            ("world.hazard_every_ms", w.hazard_every_ms),
            ("world.max_hazards", wide(w.max_hazards)),
            ("world.agent_timeout_ms", w.agent_timeout_ms),
        ]
    }

    /// The first numeric key outside its range, with the range.
    pub(crate) fn check_bounds(&self) -> Result<(), (&'static str, String)> {
        for ((key, value), (bound_key, range)) in self.numeric().iter().zip(BOUNDS) {
            debug_assert_eq!(
                key, bound_key,
                "BOUNDS and numeric() list keys in one order"
            );
            if !range.contains(value) {
                let (min, max) = (range.start(), range.end());
                return Err((key, format!("{value} is outside {min}..={max}")));
            }
        }
        Ok(())
    }
}
