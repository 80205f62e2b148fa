//! Drones on a continuous plane: the second swarmd domain, and the worked
//! example of README's "Writing a domain". It is built on swarmd's public
//! domain API alone ([`swarmd_actors::domain`]).
//!
//! - The body is an airframe of the [`Sky`] (the simulated world): it flies
//!   at the velocity commanded, drains its battery and charges on its pad.
//! - The reflex's safety rules: speed limit, geofence (the airspace),
//!   separation from every airframe sensed or peer heard, and a battery
//!   reserve that allows only flight towards the pad. Its safe command is
//!   to hover.
//! - The world model checks each fix against the last: a jump no flight
//!   could make, or a battery that rose away from the pad, is a violation.
//! - The planner flies a task's waypoints in order, gives a task up when
//!   the battery runs low, and flies home when idle.
//! - Tasks: `survey` (an area swept in strips, split among the drones, or
//!   waypoints) and `deliver` (to a point).

mod geometry;
mod sky;
mod tasks;

use serde::{Deserialize, Serialize};
use swarmd_actors::NodeCtx;
use swarmd_actors::domain::{Body, Domain, Plan, Refusal, View};
use swarmd_actors::fleet::SpecError;
use swarmd_messages::SpawnSpec;
use swarmd_messages::stable_hash;
use swarmd_messages::task::TaskSpec;

pub use geometry::{Area, Point};
pub use sky::{Airframe, CONTACT_M, Contact, SENSE_RANGE_M, Sky};
pub use tasks::{Flight, MAX_WAYPOINTS};

/// The kind drones are spawned as.
pub const DRONE_KIND: &str = "drone";
pub const MAX_SPEED_MPS: f64 = 8.0;
/// The reflex keeps this far from every other airframe.
pub const SEPARATION_M: f64 = 4.0;
/// Below this battery the reflex allows only flight towards the pad.
pub const RESERVE: f64 = 0.15;
/// Below this battery the planner gives its task up and flies home.
pub const RETURN_AT: f64 = 0.25;
/// A drone at most this battery charged does not ask for work.
pub const READY_AT: f64 = 0.5;
/// A waypoint this close is reached.
pub const REACHED_M: f64 = 1.0;
/// The reflex judges a command by where it leads in this long.
const LOOKAHEAD_S: f64 = 0.5;

/// What an airframe senses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percept {
    pub at: Point,
    pub velocity: Point,
    /// 0 (flat) to 1 (full).
    pub battery: f64,
    pub home: Point,
    /// Other airframes within sensing range.
    pub near: Vec<Point>,
    /// On the body's clock, in ms.
    pub t_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    Hover,
    Fly { velocity: Point },
}

impl Command {
    fn velocity(&self) -> Point {
        match self {
            Command::Hover => Point::default(),
            Command::Fly { velocity } => *velocity,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Hover,
    GoTo { to: Point },
}

/// What supervision plans on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub at: Point,
    pub battery: f64,
    pub home: Point,
}

/// What a drone tells its peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerState {
    pub at: Point,
    pub velocity: Point,
}

/// Situation's world model: the last fix, and the peers' last states.
#[derive(Debug, Default)]
pub struct Model {
    last: Option<Percept>,
}

/// The drones domain over `airspace`, its airframes in `sky`.
#[derive(Clone)]
pub struct Drones {
    pub airspace: Area,
    pub sky: Sky,
}

impl Drones {
    pub fn new(airspace: Area, sky: Sky) -> Self {
        Self { airspace, sky }
    }

    /// A 200 m square, in a sky of its own.
    pub fn standard() -> Self {
        let airspace = Area {
            min: Point(0.0, 0.0),
            max: Point(200.0, 200.0),
        };
        Self::new(airspace, Sky::default())
    }

    /// The pad of `spec`'s drone: its `home` parameter (`x,y`), else a
    /// spot along the airspace's south edge chosen by its id.
    fn home(&self, spec: &SpawnSpec) -> Result<Point, SpecError> {
        let Some(value) = spec.params.get("home") else {
            let slots = ((self.airspace.width() - 10.0) / 5.0).max(1.0) as u64;
            let slot = stable_hash(&spec.id) % slots;
            let x = self.airspace.min.0 + 5.0 + 5.0 * slot as f64;
            return Ok(Point(x, self.airspace.min.1 + 2.0));
        };
        let bad = |why: &str| SpecError::Parameter {
            key: "home".into(),
            value: value.clone(),
            why: why.to_string(),
        };
        let parts: Vec<f64> = value
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad("expected x,y in metres"))?;
        let [x, y] = parts[..] else {
            return Err(bad("expected x,y in metres"));
        };
        let home = Point(x, y);
        if !home.is_finite() || !self.airspace.contains(home) {
            return Err(bad("outside the airspace"));
        }
        Ok(home)
    }
}

impl Domain for Drones {
    type Percept = Percept;
    type Command = Command;
    type Intent = Intent;
    type Task = Flight;
    type Summary = Summary;
    type PeerState = PeerState;
    type Model = Model;

    fn name(&self) -> &str {
        DRONE_KIND
    }

    fn task_kinds(&self) -> Vec<String> {
        vec!["survey".into(), "deliver".into()]
    }

    fn task(&self, spec: &TaskSpec) -> Result<Flight, String> {
        tasks::parse(spec, &self.airspace)
    }

    fn split(&self, spec: &TaskSpec, workers: usize) -> Result<Vec<Flight>, String> {
        tasks::split(spec, &self.airspace, workers)
    }

    fn cost(&self, task: &Flight) -> u32 {
        task.length_m().ceil().min(f64::from(u32::MAX)) as u32
    }

    fn body(&self, spec: &SpawnSpec, _: &NodeCtx) -> Result<Box<dyn Body<Self>>, SpecError> {
        let home = self.home(spec)?;
        Ok(Box::new(self.sky.airframe(&spec.id, home)))
    }

    fn safe_command(&self, _: Option<&Percept>) -> Command {
        Command::Hover
    }

    fn check(&self, p: &Percept, peers: &[PeerState], command: &Command) -> Result<(), Refusal> {
        let v = command.velocity();
        if !v.is_finite() || v.norm() > MAX_SPEED_MPS + 1e-9 {
            return Err(Refusal::new("speed", format!("{:.1} m/s", v.norm())));
        }
        let next = p.at.plus(v.times(LOOKAHEAD_S));
        if v.norm() > 0.0 && !self.airspace.contains(next) {
            return Err(Refusal::new("geofence", format!("{next} is outside")));
        }
        let homeward = p.home.minus(p.at);
        if p.battery < RESERVE && v.norm() > 0.0 && v.dot(homeward) <= 0.0 {
            let why = format!("battery {:.0}%: only towards the pad", p.battery * 100.0);
            return Err(Refusal::new("battery", why));
        }
        let others = p.near.iter().copied().chain(peers.iter().map(|s| s.at));
        #[cfg(feature = "bug-no-separation")]
        let others = others.take(0);
        for o in others {
            let (now, then) = (p.at.distance(o), next.distance(o));
            if then < SEPARATION_M && then < now {
                let why = format!("{then:.1} m from the airframe at {o}");
                return Err(Refusal::new("separation", why));
            }
        }
        Ok(())
    }

    fn model(&self, _: &SpawnSpec) -> Model {
        Model::default()
    }

    fn observe(&self, model: &mut Model, p: &Percept) -> Result<(), String> {
        let last = model.last.replace(p.clone());
        let Some(last) = last else { return Ok(()) };
        let dt = p.t_ms.saturating_sub(last.t_ms) as f64 / 1000.0;
        let moved = p.at.distance(last.at);
        if moved > MAX_SPEED_MPS * dt * 1.5 + 0.5 {
            return Err(format!(
                "moved {moved:.1} m in {dt:.2} s, from {} to {}",
                last.at, p.at
            ));
        }
        let on_pad = p.at.distance(p.home) <= sky::ON_PAD_M;
        if p.battery > last.battery + 1e-9 && !on_pad {
            return Err("the battery charged away from the pad".into());
        }
        Ok(())
    }

    fn command(&self, model: &Model, intent: &Intent, peers: &[PeerState]) -> Command {
        let Some(p) = &model.last else {
            return Command::Hover;
        };
        let Intent::GoTo { to } = intent else {
            return Command::Hover;
        };
        let way = to.minus(p.at);
        let distance = way.norm();
        if distance < REACHED_M / 2.0 {
            return Command::Hover;
        }
        let want = way.times(MAX_SPEED_MPS.min(distance) / distance);
        let others = p.near.iter().copied().chain(peers.iter().map(|s| s.at));
        #[cfg(feature = "bug-no-separation")]
        let others = others.take(0);
        let avoid = others.fold(Point::default(), |acc, o| acc.plus(avoidance(p.at, o)));
        Command::Fly {
            velocity: want.plus(avoid).clamped(MAX_SPEED_MPS),
        }
    }

    fn summary(&self, model: &Model) -> Summary {
        let p = model.last.clone().unwrap_or_default();
        Summary {
            at: p.at,
            battery: p.battery,
            home: p.home,
        }
    }

    fn peer_state(&self, model: &Model) -> Option<PeerState> {
        model.last.as_ref().map(|p| PeerState {
            at: p.at,
            velocity: p.velocity,
        })
    }

    fn view(&self, s: &Summary, intent: Option<&Intent>, halted: bool) -> Option<View> {
        let xy = |p: Point| [p.0, p.1];
        let flying = matches!(intent, Some(Intent::GoTo { .. }));
        let doing = match (halted, flying) {
            (true, _) => "held",
            (false, true) => "flying",
            (false, false) => "hovering",
        };
        Some(View {
            domain: DRONE_KIND.into(),
            space: [xy(self.airspace.min), xy(self.airspace.max)],
            at: xy(s.at),
            shape: "triangle".into(),
            state: format!("{doing}, battery {:.0}%", s.battery * 100.0),
            towards: match intent {
                Some(Intent::GoTo { to }) => Some(xy(*to)),
                _ => None,
            },
            home: Some(xy(s.home)),
        })
    }

    fn ready(&self, s: &Summary) -> bool {
        s.battery > READY_AT
    }

    fn plan(&self, s: &Summary, task: Option<&mut Flight>) -> Plan<Intent> {
        let Some(flight) = task else {
            let home = s.at.distance(s.home) > REACHED_M / 2.0;
            return Plan::Go(if home {
                Intent::GoTo { to: s.home }
            } else {
                Intent::Hover
            });
        };
        if s.battery < RETURN_AT {
            let why = format!("battery at {:.0}%: back to the pad", s.battery * 100.0);
            return Plan::Failed(why);
        }
        match flight.next_waypoint(s.at) {
            Some(to) => Plan::Go(Intent::GoTo { to }),
            None => Plan::Done,
        }
    }
}

/// Steering away from an airframe at `o`: away from it and to the right
/// (two drones meeting head on both turn right), stronger the closer it is.
fn avoidance(at: Point, o: Point) -> Point {
    let range = 2.5 * SEPARATION_M;
    let away = at.minus(o);
    let d = away.norm();
    if d >= range || d == 0.0 {
        return Point::default();
    }
    let push = MAX_SPEED_MPS * (range - d) / range;
    let dir = away.times(1.0 / d);
    dir.plus(dir.right().times(-1.0)).times(push)
}
