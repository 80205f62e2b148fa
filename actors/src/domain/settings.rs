//! The runtime's settings of one agent of a domain, read from its spawn
//! parameters; the other parameters are the domain's own.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::fleet::SpecError;
use crate::throttle::Priority;

/// The runtime's settings of one agent, from its spawn parameters; the
/// other parameters are the domain's (its body reads them).
#[derive(Debug, Clone, PartialEq)]
pub struct DomainSettings {
    pub reflex_hz: u32,
    pub situation_hz: u32,
    pub supervision_hz: u32,
    /// The dead-man's switch: no fresh command for this many reflex ticks →
    /// the domain's safe command.
    pub deadman_ticks: u64,
    /// The reflex hands situation a percept every this many ticks.
    pub percept_every_ticks: u64,
    /// Situation tells peers its state every this many of its ticks.
    pub announce_every_ticks: u64,
    /// A peer's state not renewed for this long is forgotten.
    pub peer_ttl: Duration,
    /// A task not done in this long fails (unless the task gives its own).
    pub task_timeout: Duration,
    pub priority: Priority,
    /// The body is an external process over the mesh (`body = "remote"`).
    pub remote_body: bool,
    /// The brain is an external process over the mesh (`brain = "remote"`).
    pub remote_brain: bool,
    /// An external body not heard for this long is silent: the agent halts.
    pub body_silent: Duration,
    /// An external brain's answer later than this is missed: the domain's
    /// own planner decides instead.
    pub brain_deadline: Duration,
}

impl Default for DomainSettings {
    fn default() -> Self {
        Self {
            reflex_hz: 50,
            situation_hz: 10,
            supervision_hz: 2,
            deadman_ticks: 25,
            percept_every_ticks: 5,
            announce_every_ticks: 2,
            peer_ttl: Duration::from_secs(2),
            task_timeout: Duration::from_secs(120),
            priority: Priority::Normal,
            remote_body: false,
            remote_brain: false,
            body_silent: Duration::from_millis(500),
            brain_deadline: Duration::from_secs(2),
        }
    }
}

impl DomainSettings {
    /// `self` overridden by the runtime's keys of `params`.
    pub fn from_params(&self, params: &BTreeMap<String, String>) -> Result<Self, SpecError> {
        let mut s = self.clone();
        for (key, value) in params {
            let bad = |why: &str| SpecError::Parameter {
                key: key.clone(),
                value: value.clone(),
                why: why.to_string(),
            };
            let n = || value.trim().parse::<u64>().map_err(|_| bad("not a number"));
            let hz = || n().map(|v| v.min(u64::from(u32::MAX)) as u32);
            match key.as_str() {
                "reflex_hz" => s.reflex_hz = hz()?,
                "situation_hz" => s.situation_hz = hz()?,
                "supervision_hz" => s.supervision_hz = hz()?,
                "deadman_ticks" => s.deadman_ticks = n()?,
                "percept_every_ticks" => s.percept_every_ticks = n()?,
                "task_timeout_ms" => s.task_timeout = Duration::from_millis(n()?),
                "peer_ttl_ms" => s.peer_ttl = Duration::from_millis(n()?),
                "priority" => s.priority = value.parse().map_err(|e: String| bad(&e))?,
                "body" => s.remote_body = side(value).map_err(bad)?,
                "brain" => s.remote_brain = side(value).map_err(bad)?,
                "body_silent_ms" => s.body_silent = Duration::from_millis(n()?),
                "brain_deadline_ms" => s.brain_deadline = Duration::from_millis(n()?),
                _ => {}
            }
        }
        let rates = [s.reflex_hz, s.situation_hz, s.supervision_hz];
        if rates.iter().any(|hz| !(1..=1000).contains(hz)) {
            return Err(SpecError::Invalid("layer rates must be 1..=1000 Hz".into()));
        }
        let waits = [s.peer_ttl, s.body_silent, s.brain_deadline];
        if s.deadman_ticks == 0 || s.percept_every_ticks == 0 || waits.iter().any(|w| w.is_zero()) {
            return Err(SpecError::Invalid(
                "tick counts, the peer TTL and external waits must be at least 1".into(),
            ));
        }
        Ok(s)
    }
}

/// Whether a side (`body`, `brain`) is `remote` (an external process) or `local`.
fn side(value: &str) -> Result<bool, &'static str> {
    match value.trim() {
        "remote" => Ok(true),
        "local" => Ok(false),
        _ => Err("\"remote\" or \"local\""),
    }
}
