//! The typed node configuration. Value types parse themselves, so a bad value is
//! reported by serde with its key path; cross-field rules live in `NodeConfig::validate`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
pub use swarmd_messages::Role;
use swarmd_messages::swarm::{Cell, FloorPlan, Workload};

pub use swarmd_messages::swarm::Layout;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub node: NodeSection,
    pub cluster: ClusterSection,
    pub mesh: MeshSection,
    pub storage: StorageSection,
    pub agents: AgentsSection,
    pub world: WorldSection,
    pub missions: MissionsSection,
    pub log: LogSection,
    #[serde(default)]
    pub control: ControlSection,
    #[serde(default)]
    pub http: crate::http::HttpSection,
    #[serde(default)]
    pub telemetry: crate::telemetry::TelemetrySection,
    #[serde(default)]
    pub hub: crate::hub::HubSection,
    #[serde(default)]
    pub resources: crate::lan::ResourcesSection,
    #[serde(default)]
    pub board: crate::board::BoardSection,
    #[serde(default)]
    pub placement: crate::placement::PlacementSection,
    #[serde(default)]
    pub cloud: crate::cloud::CloudSection,
}

/// The operator door (console, HTTP).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSection {
    /// Whether `kill PATH` may inject faults; unset: only on `both` nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_fault_injection: Option<bool>,
}

impl NodeConfig {
    /// `[control] allow_fault_injection`, or its default for the node's role.
    pub fn fault_injection_allowed(&self) -> bool {
        self.control
            .allow_fault_injection
            .unwrap_or(self.node.role == Role::Both)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    pub name: String,
    pub role: Role,
    pub data_dir: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_file: Option<PathBuf>,
    pub tenants: Vec<String>,
    pub shutdown_timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    pub listen: ListenAddr,
    /// The address other nodes dial to reach this one; unset: `listen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise: Option<HostPort>,
    pub seeds: Vec<HostPort>,
    pub dial_timeout_ms: u64,
    pub dial_backoff_min_ms: u64,
    pub dial_backoff_max_ms: u64,
    /// How often a node heartbeats each member.
    pub heartbeat_interval_ms: u64,
    /// Silence after which a member is `suspect`.
    pub suspect_after_ms: u64,
    /// Silence after which a member is `down`.
    pub down_after_ms: u64,
    /// Upper bound on every remote call.
    pub call_timeout_ms: u64,
    /// TLS for cluster sessions; unset: plain TCP with cookie auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSection>,
    /// Announce this node on the LAN and join the nodes it hears (no seeds needed).
    #[serde(default)]
    pub discover: bool,
    #[serde(default)]
    pub discovery: crate::lan::DiscoverySection,
}

/// PEM files. Every node presents `cert` and trusts peers signed by `ca`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsSection {
    /// Agents this node runs at most; a spawn beyond is refused.
    pub max_agents: usize,
    /// Grid agents an edge (or `both`) node starts at boot, named `<node>-<n>`.
    pub boot: usize,
    pub squad: String,
    pub capabilities: Vec<String>,
    pub reflex_hz: u32,
    pub situation_hz: u32,
    pub supervision_hz: u32,
    /// The dead-man's switch, in reflex ticks.
    pub deadman_ticks: u64,
    /// The reflex moves at most once per this many ticks.
    pub move_every_ticks: u64,
    /// Peers' announced states, right of way and yield requests over the
    /// mesh; off, agents know peers from perception alone.
    pub negotiate: bool,
    /// Stigmergic tags: agents mark cells (explored, hazard, congested) for
    /// the tenant's peers, and route around congested ones.
    #[serde(default = "yes")]
    pub stigmergy: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldSection {
    /// The node hosting the grid world. Empty: the cloud node hosts it.
    pub host: String,
    pub width: i32,
    pub height: i32,
    /// One seed, one floor plan.
    pub floor_seed: u64,
    pub layout: Layout,
    /// A MovingAI `.map` file for the floor instead of `layout` (empty: none).
    /// Its size replaces `width` and `height`.
    pub map: String,
    /// Docks of the map as `[x, y]` (empty: the free cells of its outermost
    /// ring that has any; see `map_file`).
    pub docks: Vec<[i32; 2]>,
    /// The floor read from `map` when the config was loaded.
    #[serde(skip)]
    pub floor: Option<FloorPlan>,
    /// Cells agents enter the world at, one per agent in the order they
    /// enter (empty: seeded free cells). Set by the simulator's LoRR runner.
    #[serde(skip)]
    pub starts: Vec<Cell>,
    /// A hazard appears this often (0: never).
    pub hazard_every_ms: u64,
    pub max_hazards: usize,
    /// Agents silent this long leave the floor (the world) or lose their tasks (missions).
    pub agent_timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissionsSection {
    /// The cloud starts a new demo mission whenever none is active.
    pub demo: bool,
    /// Instead, a new fetch mission whenever fewer are active than agents.
    pub continuous: bool,
    /// A recipe file the cloud runs over and over (a new run whenever none
    /// is active), instead of demo missions. Empty: none.
    #[serde(default)]
    pub recipe: String,
    /// The recipe read from `recipe` when the config was loaded.
    #[serde(skip)]
    pub recipe_plan: Option<swarmd_messages::recipe::RecipePlan>,
    /// With `continuous`: these tasks instead of seeded fetches. Set by
    /// the simulator's LoRR runner.
    #[serde(skip)]
    pub workload: Option<std::sync::Arc<Workload>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshSection {
    pub listen: Vec<String>,
    pub connect: Vec<String>,
    pub multicast_scouting: bool,
    pub subscription_capacity: usize,
    /// Mutual TLS for mesh links: then every endpoint must be `tls/...`,
    /// and a peer without a certificate from `ca` cannot connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSection>,
    /// A plain (not TLS) mesh endpoint off loopback lets anyone who reaches
    /// it inject peer states and hazards; refused unless this is set.
    #[serde(default)]
    pub insecure: bool,
    /// With `listen` empty, the mesh listens on the cluster address's port
    /// plus this; with `connect` empty, it connects to each seed's port plus
    /// this, and zenoh's gossip links it to every other member.
    #[serde(default = "default_mesh_port_offset")]
    pub port_offset: u16,
    /// Where external bodies and brains connect (the agent gateway, a zenoh
    /// listener of its own that admits only tenants' agent credentials);
    /// empty: no gateway (opt-in: a listener only a node that hosts
    /// external agents needs).
    #[serde(default)]
    pub agents_listen: Vec<String>,
}

/// The mesh port of a node whose cluster listens on `P` is `P + 1000`.
pub const DEFAULT_MESH_PORT_OFFSET: u16 = 1000;

fn default_mesh_port_offset() -> u16 {
    DEFAULT_MESH_PORT_OFFSET
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    pub cache_capacity_mb: u64,
    pub group_commit_max_events: usize,
    pub group_commit_max_wait_us: u64,
    pub queue_capacity: usize,
    pub append_timeout_ms: u64,
    pub retention_max_age_s: u64,
    pub retention_max_mb: u64,
    pub retention_interval_s: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

impl NodeSection {
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }

    /// The cookie file to read or create: the configured one, else `<data_dir>/cookie`.
    pub fn cookie_path(&self) -> PathBuf {
        self.cookie_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("cookie"))
    }
}

impl ClusterSection {
    pub fn dial_timeout(&self) -> Duration {
        Duration::from_millis(self.dial_timeout_ms)
    }

    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }

    pub fn suspect_after(&self) -> Duration {
        Duration::from_millis(self.suspect_after_ms)
    }

    pub fn down_after(&self) -> Duration {
        Duration::from_millis(self.down_after_ms)
    }

    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
}

/// A socket address to bind, e.g. `127.0.0.1:4697`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl FromStr for ListenAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse()
            .map(ListenAddr)
            .map_err(|_| format!("{s:?} is not a socket address"))
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A peer to dial, `HOST:PORT`, where HOST may be a name or an IP (`[v6]` in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl FromStr for HostPort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not HOST:PORT");
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad());
        }
        match port.parse::<u16>() {
            Ok(port) if port != 0 => Ok(HostPort {
                host: host.to_owned(),
                port,
            }),
            _ => Err(format!("{s:?} has no valid port (1-65535)")),
        }
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

macro_rules! serde_via_str {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_via_str!(ListenAddr);
serde_via_str!(HostPort);

impl NodeConfig {
    /// Cross-field and range rules that a type alone cannot express.
    /// Returns the offending dotted key and the reason.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let n = &self.node;
        if !is_name(&n.name) {
            return Err((
                "node.name",
                format!("{:?} must be 1..=64 of [A-Za-z0-9_.-]", n.name),
            ));
        }
        if n.name.starts_with("swarmd-console.") {
            let why = format!(
                "{:?}: names starting with swarmd-console. are consoles'",
                n.name
            );
            return Err(("node.name", why));
        }
        if n.data_dir.as_os_str().is_empty() {
            return Err(("node.data_dir", "must not be empty".into()));
        }
        if n.tenants.is_empty() {
            return Err(("node.tenants", "must name at least one tenant".into()));
        }
        if n.tenants.len() > MAX_TENANTS {
            return Err(("node.tenants", format!("at most {MAX_TENANTS} tenants")));
        }
        if let Some(t) = n.tenants.iter().find(|t| !is_name(t)) {
            let why = format!("{t:?} is not a valid tenant name (1..=64 of [A-Za-z0-9_.-])");
            return Err(("node.tenants", why));
        }
        self.check_bounds()?;
        let c = &self.cluster;
        if c.dial_backoff_min_ms > c.dial_backoff_max_ms {
            return Err((
                "cluster.dial_backoff_min_ms",
                "must be <= cluster.dial_backoff_max_ms".into(),
            ));
        }
        if c.suspect_after_ms < 2 * c.heartbeat_interval_ms {
            return Err((
                "cluster.suspect_after_ms",
                "must be at least 2 x cluster.heartbeat_interval_ms".into(),
            ));
        }
        if c.down_after_ms <= c.suspect_after_ms {
            return Err((
                "cluster.down_after_ms",
                "must be greater than cluster.suspect_after_ms".into(),
            ));
        }
        self.validate_swarm()?;
        self.telemetry.validate()?;
        self.hub.validate()?;
        self.cluster.discovery.validate()?;
        self.board.validate()?;
        self.placement.validate()?;
        self.cloud.validate(self.hub.backend)?;
        self.validate_mesh()
    }
}

impl ClusterSection {
    /// Where other nodes reach this one.
    pub fn advertised(&self) -> String {
        match &self.advertise {
            Some(address) => address.to_string(),
            None => self.listen.to_string(),
        }
    }
}

impl NodeConfig {
    fn validate_swarm(&self) -> Result<(), (&'static str, String)> {
        let a = &self.agents;
        if a.boot > a.max_agents {
            return Err(("agents.boot", "must not exceed agents.max_agents".into()));
        }
        let w = &self.world;
        // Hazards are placed on free cells: leave most of the floor walkable.
        let cells = (w.width as usize) * (w.height as usize);
        if w.max_hazards > cells / 10 {
            return Err((
                "world.max_hazards",
                format!("must be at most a tenth of the grid's {cells} cells"),
            ));
        }
        Ok(())
    }

    /// The node that hosts the world: `world.host`, or this node if it runs the cloud.
    /// A cloud contending for the cloud tier's lease (`[cloud] ha`).
    pub fn runs_ha(&self) -> bool {
        self.cloud.ha && self.node.role.runs_cloud()
    }

    pub fn hosts_world(&self) -> bool {
        if self.world.host.is_empty() {
            self.node.role.runs_cloud()
        } else {
            self.world.host == self.node.name
        }
    }
}

/// Tenants one node serves, at most.
const MAX_TENANTS: usize = 64;

/// A node or tenant name: 1..=64 of `[A-Za-z0-9_.-]`, safe in keys and paths.
fn is_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}
