//! The simulated world of the drones domain: every airframe of the process
//! in one sky, moved by the commands its reflex gives, draining its battery
//! as it flies and charging it on its pad. The sky also keeps the truth a
//! checker needs: the closest two airframes ever came, and every contact.
//!
//! An airframe belongs to the sky, not to the agent: when the agent's
//! software restarts (its layers, or its whole node) the airframe is where
//! it was, as a real machine would be.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use swarmd_actors::domain::Body;
use tokio::time::Instant;

use crate::geometry::Point;
use crate::{Command, Drones, Percept};

/// Two airframes closer than this have collided.
pub const CONTACT_M: f64 = 1.0;
/// Other airframes within this range are sensed directly.
pub const SENSE_RANGE_M: f64 = 20.0;
/// A step integrates at most this long (a body not commanded for longer,
/// its software down, hovered meanwhile).
const MAX_STEP: Duration = Duration::from_millis(200);
/// Battery per second: hovering, and per m/s of speed on top.
const DRAIN_HOVER: f64 = 0.002;
const DRAIN_PER_MPS: f64 = 0.0008;
/// Battery per second on the pad.
const CHARGE: f64 = 0.05;
/// Within this of its pad, an airframe at rest charges.
pub const ON_PAD_M: f64 = 1.0;

#[derive(Debug, Clone)]
struct Frame {
    at: Point,
    velocity: Point,
    battery: f64,
    home: Point,
    stepped: Option<Instant>,
}

/// A contact: two airframes closer than [`CONTACT_M`].
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub between: (String, String),
    pub distance: f64,
    pub at: Point,
}

#[derive(Default)]
struct State {
    frames: BTreeMap<String, Frame>,
    epoch: Option<Instant>,
    closest: Option<f64>,
    contacts: Vec<Contact>,
    /// Pairs in contact now, so one contact is counted once.
    touching: Vec<(String, String)>,
}

/// The sky every airframe of this process flies in.
#[derive(Clone, Default)]
pub struct Sky(Arc<Mutex<State>>);

impl Sky {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The airframe `id` flies, placed on its pad `home` if it is new.
    pub fn airframe(&self, id: &str, home: Point) -> Airframe {
        let mut s = self.state();
        s.frames.entry(id.to_string()).or_insert(Frame {
            at: home,
            velocity: Point::default(),
            battery: 1.0,
            home,
            stepped: None,
        });
        Airframe {
            sky: self.clone(),
            id: id.to_string(),
        }
    }

    /// The closest any two airframes came, if two ever flew.
    pub fn closest(&self) -> Option<f64> {
        self.state().closest
    }

    /// Every contact so far.
    pub fn contacts(&self) -> Vec<Contact> {
        self.state().contacts.clone()
    }

    /// Where `id` is, if it exists.
    pub fn position(&self, id: &str) -> Option<Point> {
        self.state().frames.get(id).map(|f| f.at)
    }

    pub fn battery(&self, id: &str) -> Option<f64> {
        self.state().frames.get(id).map(|f| f.battery)
    }

    /// A fault: a gust (or a bad fix) moves `id` by `by` at once.
    pub fn gust(&self, id: &str, by: Point) {
        if let Some(f) = self.state().frames.get_mut(id) {
            f.at = f.at.plus(by);
        }
    }

    /// A fault: `id`'s battery drops to `level` (0..=1).
    pub fn drain(&self, id: &str, level: f64) {
        if let Some(f) = self.state().frames.get_mut(id) {
            f.battery = level.clamp(0.0, 1.0);
        }
    }

    fn step(&self, id: &str, command: &Command, max_speed: f64) {
        let now = Instant::now();
        let mut s = self.state();
        s.epoch.get_or_insert(now);
        let Some(f) = s.frames.get_mut(id) else {
            return;
        };
        let dt = f
            .stepped
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
            .min(MAX_STEP)
            .as_secs_f64();
        f.stepped = Some(now);
        let speed = f.velocity.norm();
        f.at = f.at.plus(f.velocity.times(dt));
        f.battery = (f.battery - (DRAIN_HOVER + DRAIN_PER_MPS * speed) * dt).max(0.0);
        if speed < 0.01 && f.at.distance(f.home) <= ON_PAD_M {
            f.battery = (f.battery + CHARGE * dt).min(1.0);
        }
        f.velocity = match command {
            _ if f.battery <= 0.0 => Point::default(),
            Command::Hover => Point::default(),
            Command::Fly { velocity } => velocity.clamped(max_speed),
        };
        let at = f.at;
        s.observe_distances(id, at);
    }

    fn sense(&self, id: &str) -> Option<Percept> {
        let s = self.state();
        let f = s.frames.get(id)?;
        let elapsed = match (s.epoch, f.stepped) {
            (Some(e), Some(t)) => t.saturating_duration_since(e),
            _ => Duration::ZERO,
        };
        let near = s
            .frames
            .iter()
            .filter(|(other, o)| *other != id && o.at.distance(f.at) <= SENSE_RANGE_M)
            .map(|(_, o)| o.at)
            .collect();
        Some(Percept {
            at: f.at,
            velocity: f.velocity,
            battery: f.battery,
            home: f.home,
            near,
            t_ms: elapsed.as_millis() as u64,
        })
    }
}

impl State {
    fn observe_distances(&mut self, id: &str, at: Point) {
        let mut now_touching = Vec::new();
        for (other, o) in &self.frames {
            if other == id {
                continue;
            }
            let d = o.at.distance(at);
            self.closest = Some(self.closest.map_or(d, |c| c.min(d)));
            let pair = if id < other.as_str() {
                (id.to_string(), other.clone())
            } else {
                (other.clone(), id.to_string())
            };
            if d < CONTACT_M {
                now_touching.push(pair);
            } else {
                self.touching.retain(|p| *p != pair);
            }
        }
        for pair in now_touching {
            if !self.touching.contains(&pair) {
                let distance = self.frames[&pair.0].at.distance(self.frames[&pair.1].at);
                self.contacts.push(Contact {
                    between: pair.clone(),
                    distance,
                    at,
                });
                self.touching.push(pair);
            }
        }
    }
}

/// One airframe of the sky: the body of one drone.
pub struct Airframe {
    sky: Sky,
    id: String,
}

impl Body<Drones> for Airframe {
    fn sense(&mut self) -> Option<Percept> {
        self.sky.sense(&self.id)
    }

    fn act(&mut self, command: &Command) {
        self.sky.step(&self.id, command, crate::MAX_SPEED_MPS);
    }
}
