//! An agent's settings, read from its spawn spec's parameters. Every key is
//! optional; an unknown key or a bad value refuses the spawn with a reason.

use std::collections::BTreeMap;
use std::time::Duration;

use swarmd_messages::swarm::{Cell, Rect};

use swarmd_actors::fleet::SpecError;
use swarmd_actors::sandbox::SandboxLimits;
use swarmd_actors::throttle::Priority;

#[derive(Debug, Clone, PartialEq)]
pub struct AgentSettings {
    pub reflex_hz: u32,
    pub situation_hz: u32,
    pub supervision_hz: u32,
    /// The dead-man's switch: no fresh action for this many reflex ticks → safe state.
    pub deadman_ticks: u64,
    /// The reflex moves at most once per this many ticks.
    pub move_every_ticks: u64,
    /// With nothing to do, the reflex still senses every this many ticks.
    pub sense_every_ticks: u64,
    pub geofence: Option<Rect>,
    pub start: Option<Cell>,
    /// Peers' announced states, right of way and yield requests over the
    /// mesh (off: reflex safety only, peers known from perception alone).
    pub negotiate: bool,
    /// Mark cells for peers and route around congested ones.
    pub stigmergy: bool,
    /// A task without progress for this long fails, with the last reason known.
    pub task_timeout: Duration,
    /// Wasm (text or binary) of a sandboxed planner, if any.
    pub sandbox: Option<Vec<u8>>,
    pub sandbox_limits: SandboxLimits,
    /// Under CPU pressure the governor slows the slow layers of the lowest
    /// priorities first; never the reflex.
    pub priority: Priority,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            reflex_hz: 100,
            situation_hz: 10,
            supervision_hz: 1,
            deadman_ticks: 50,
            move_every_ticks: 10,
            sense_every_ticks: 10,
            geofence: None,
            start: None,
            negotiate: true,
            stigmergy: true,
            task_timeout: Duration::from_secs(60),
            sandbox: None,
            sandbox_limits: SandboxLimits::default(),
            priority: Priority::Normal,
        }
    }
}

pub const KEYS: [&str; 13] = [
    "reflex_hz",
    "situation_hz",
    "supervision_hz",
    "deadman_ticks",
    "move_every_ticks",
    "sense_every_ticks",
    "geofence",
    "start",
    "task_timeout_ms",
    "sandbox_wat",
    "sandbox_fuel",
    "sandbox_deadline_ms",
    "priority",
];

impl AgentSettings {
    /// `defaults` overridden by `params`.
    pub fn from_params(
        defaults: &AgentSettings,
        params: &BTreeMap<String, String>,
    ) -> Result<Self, SpecError> {
        let mut s = defaults.clone();
        for (key, value) in params {
            s.set(key, value).map_err(|why| SpecError::Parameter {
                key: key.clone(),
                value: value.clone(),
                why,
            })?;
        }
        s.check().map_err(SpecError::Invalid)?;
        Ok(s)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "reflex_hz" => self.reflex_hz = number(value)?,
            "situation_hz" => self.situation_hz = number(value)?,
            "supervision_hz" => self.supervision_hz = number(value)?,
            "deadman_ticks" => self.deadman_ticks = number(value)?,
            "move_every_ticks" => self.move_every_ticks = number(value)?,
            "sense_every_ticks" => self.sense_every_ticks = number(value)?,
            "geofence" => self.geofence = Some(rect(value)?),
            "start" => self.start = Some(cell(value)?),
            "task_timeout_ms" => self.task_timeout = Duration::from_millis(number(value)?),
            "sandbox_wat" => self.sandbox = Some(value.as_bytes().to_vec()),
            "sandbox_fuel" => self.sandbox_limits.fuel_per_call = number(value)?,
            "priority" => self.priority = value.parse()?,
            "sandbox_deadline_ms" => {
                self.sandbox_limits.deadline = Duration::from_millis(number(value)?)
            }
            _ => return Err(format!("unknown; known: {KEYS:?}")),
        }
        Ok(())
    }

    fn check(&self) -> Result<(), String> {
        let rates = [self.reflex_hz, self.situation_hz, self.supervision_hz];
        if rates.iter().any(|hz| !(1..=1000).contains(hz)) {
            return Err("layer rates must be 1..=1000 Hz".into());
        }
        if self.deadman_ticks == 0 || self.move_every_ticks == 0 || self.sense_every_ticks == 0 {
            return Err("tick counts must be at least 1".into());
        }
        if self.sandbox_limits.fuel_per_call < self.sandbox_limits.fuel_slice {
            return Err("sandbox_fuel must be at least one fuel slice".into());
        }
        Ok(())
    }
}

fn number<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    value.trim().parse().map_err(|_| "not a number".to_string())
}

fn numbers(value: &str, n: usize) -> Result<Vec<i32>, String> {
    let parts: Vec<i32> = value.split(',').map(number).collect::<Result<_, _>>()?;
    if parts.len() != n {
        return Err(format!("expected {n} comma-separated numbers"));
    }
    Ok(parts)
}

/// `x,y`.
fn cell(value: &str) -> Result<Cell, String> {
    let v = numbers(value, 2)?;
    Ok(Cell::new(v[0], v[1]))
}

/// `x0,y0,x1,y1`, inclusive.
fn rect(value: &str) -> Result<Rect, String> {
    let v = numbers(value, 4)?;
    if v[0] > v[2] || v[1] > v[3] {
        return Err("min corner beyond max corner".into());
    }
    Ok(Rect {
        min: Cell::new(v[0], v[1]),
        max: Cell::new(v[2], v[3]),
    })
}
