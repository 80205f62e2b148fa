//! A whole swarmd cluster in one process: every node runs the production
//! node tree (`Started::start_on`) on simulated seams, its sessions carried
//! by [`SimNet`], its disk a [`SimStorage`] that survives the node's crashes
//! as a disk would (minus what was not flushed), its mesh a [`SimMesh`] view.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use swarmd_actors::ctx::Connection;
use swarmd_config::{HostPort, ListenAddr, NodeConfig, Role};
use swarmd_node::{Seams, StartError, Started};

use crate::net::{NetFaults, SimNet};
use crate::tier::SimTier;
use crate::{MAX_FSYNC, SeededEntropy, SimClock, SimMesh, SimStorage, SkewedClock};
use swarmd_actors::ctx::Clock;
use swarmd_actors::fleet::AgentKinds;
use swarmd_adapters::cloud_tier::CloudTier;
use swarmd_messages::stable_hash;

/// Every simulated node's cookie (and the rogue's, which has it too).
pub const COOKIE: &str = "simulated-cluster-cookie-with-enough-entropy";

/// Why a simulated node could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("no simulated node {0:?}")]
    NoSuchNode(String),
    #[error("the simulation has no cloud node yet")]
    NoCloud,
    #[error("{0}")]
    Refused(String),
    #[error("node {node}: {source}")]
    Start {
        node: String,
        #[source]
        source: StartError,
    },
}

pub struct SimCluster {
    pub net: Arc<SimNet>,
    pub mesh: Arc<SimMesh>,
    /// One clock for every node and incarnation: a restart does not turn time back.
    pub clock: Arc<SimClock>,
    /// The clouds' lease and state log (`[cloud] ha`), shared by all.
    pub tier: Arc<SimTier>,
    /// The test's own agent kinds, on every node started from now on.
    pub kinds: AgentKinds,
    seed: u64,
    members: BTreeMap<String, Member>,
    /// Disks replaced by `wipe`, with their node's name: what those
    /// incarnations had acknowledged must still be at the hub.
    pub retired: Vec<(String, Arc<SimStorage>)>,
}

pub struct Member {
    pub config: NodeConfig,
    /// The node's wall clock: the cluster's, or a skewed view of it.
    pub clock: Arc<dyn Clock>,
    pub storage: Arc<SimStorage>,
    /// `None` while crashed.
    pub node: Option<Started>,
    pub incarnation: u64,
}

/// A node's config for the simulator: fast failure detection, an address of
/// its own on SimNet (`sim-<name>:4697`), and `seeds` to join. The node
/// server insists on binding a real listener; it binds a free loopback port
/// that nothing uses, so parallel simulations never clash.
pub fn node_config(name: &str, role: Role, seeds: &[HostPort]) -> NodeConfig {
    let mut config = swarmd_config::load(None, &[]).expect("the embedded defaults load");
    config.node.name = name.into();
    config.node.role = role;
    config.cluster.listen = ListenAddr("127.0.0.1:0".parse().expect("a socket address"));
    config.cluster.advertise = Some(HostPort {
        host: format!("sim-{name}"),
        port: 4697,
    });
    config.cluster.seeds = seeds.to_vec();
    config.cluster.heartbeat_interval_ms = 100;
    config.cluster.suspect_after_ms = 400;
    config.cluster.down_after_ms = 1200;
    config.cluster.dial_backoff_max_ms = 500;
    // Mission Control is real HTTP on a real socket: no part of a simulation.
    config.http.listen = swarmd_config::http::HttpListen::Off;
    config
}

/// The address other nodes dial to reach `config`'s node.
pub fn address_of(config: &NodeConfig) -> HostPort {
    config
        .cluster
        .advertise
        .clone()
        .expect("simulated nodes advertise an address")
}

impl SimCluster {
    pub fn new(seed: u64, faults: NetFaults) -> Self {
        let entropy = |stream: u64| Arc::new(SeededEntropy::new(seed ^ stream));
        Self {
            net: SimNet::new(entropy(0x6e65_7400), faults),
            mesh: SimMesh::new(entropy(0x6d65_7368), Duration::from_millis(5), 1024),
            clock: Arc::new(SimClock::new()),
            tier: Arc::default(),
            kinds: AgentKinds::default(),
            seed,
            members: BTreeMap::new(),
            retired: Vec::new(),
        }
    }

    /// Adds a node and starts it.
    pub async fn add(&mut self, config: NodeConfig) -> Result<(), SimError> {
        self.add_skewed(config, 0, 0).await
    }

    /// Adds a node whose wall clock is `offset_us` off the cluster's and
    /// drifts by `drift_ppm`, and starts it.
    pub async fn add_skewed(
        &mut self,
        config: NodeConfig,
        offset_us: i64,
        drift_ppm: i64,
    ) -> Result<(), SimError> {
        let name = config.node.name.clone();
        let clock: Arc<dyn Clock> = if (offset_us, drift_ppm) == (0, 0) {
            self.clock.clone()
        } else {
            Arc::new(SkewedClock::new(self.clock.clone(), offset_us, drift_ppm))
        };
        let storage = Arc::new(SimStorage::new(
            Arc::new(SeededEntropy::new(self.seed ^ stable_hash(&name))),
            MAX_FSYNC,
        ));
        let member = Member {
            config,
            clock,
            storage,
            node: None,
            incarnation: 0,
        };
        self.members.insert(name.clone(), member);
        self.start(&name).await
    }

    async fn start(&mut self, name: &str) -> Result<(), SimError> {
        let member = self
            .members
            .get_mut(name)
            .ok_or_else(|| SimError::NoSuchNode(name.into()))?;
        member.incarnation += 1;
        let stream = stable_hash(name) ^ member.incarnation.rotate_left(32);
        let seams = Seams {
            clock: member.clock.clone(),
            entropy: Arc::new(SeededEntropy::new(self.seed ^ stream)),
            storage: member.storage.clone(),
            mesh: Arc::new(self.mesh.join(name)),
            dialer: Arc::new(self.net.dialer(name)),
            // The host's memory and CPU must not steer a seed's run.
            resources: Arc::new(swarmd_governance::FixedResources::default()),
            cloud_tier: member.config.runs_ha().then(|| {
                let lease = CloudTier::lease_of(&member.config);
                let connector = self.tier.connector(name, lease.ttl);
                CloudTier::new(lease, connector)
            }),
        };
        let kinds = self.kinds.clone();
        let node = Started::start_on_with(&member.config, COOKIE.into(), seams, kinds)
            .await
            .map_err(|source| SimError::Start {
                node: name.into(),
                source,
            })?;
        // Every accepted link passes the node's handshake, as over TCP; each
        // gets a label of its own (the gate records its proof under it).
        let (gate, accepted) = (node.gate.clone(), Arc::new(AtomicU64::new(0)));
        let accept = Arc::new(move |connection: Connection| {
            let label = format!("sim#{}", accepted.fetch_add(1, Ordering::Relaxed));
            let gate = gate.clone();
            tokio::spawn(async move {
                // A refusal shows as a failed attempt on the dialing side.
                let _ = gate.accept(connection, label).await;
            });
        });
        let address = address_of(&member.config);
        self.net
            .listen(&format!("{}:{}", address.host, address.port), name, accept);
        member.node = Some(node);
        Ok(())
    }

    /// The node dies at once: its tree is killed, its links reset, and its
    /// disk loses what was not flushed.
    pub async fn crash(&mut self, name: &str) {
        let Some(member) = self.members.get_mut(name) else {
            return;
        };
        let Some(node) = member.node.take() else {
            return;
        };
        self.net.crash(name);
        node.kill().await;
        member.storage.crash();
    }

    /// A crashed node's disk is replaced by an empty one (re-provisioned
    /// under its old name); the old disk is kept in `retired` for the checks.
    pub fn wipe(&mut self, name: &str) -> Result<(), SimError> {
        let member = self
            .members
            .get_mut(name)
            .ok_or_else(|| SimError::NoSuchNode(name.into()))?;
        assert!(member.node.is_none(), "only a crashed node's disk is wiped");
        let entropy = SeededEntropy::new(self.seed ^ stable_hash(name) ^ member.incarnation);
        let fresh = Arc::new(SimStorage::new(Arc::new(entropy), MAX_FSYNC));
        let old = std::mem::replace(&mut member.storage, fresh);
        self.retired.push((name.to_string(), old));
        Ok(())
    }

    /// Starts a crashed node again, same name, same disk.
    pub async fn restart(&mut self, name: &str) -> Result<(), SimError> {
        self.start(name).await
    }

    pub fn partition(&self, a: &str, b: &str) {
        self.net.partition(a, b);
        self.mesh.partition(a, b);
    }

    pub fn heal(&self, a: &str, b: &str) {
        self.net.heal(a, b);
        self.mesh.heal(a, b);
    }

    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.get(name)
    }

    pub fn members(&self) -> impl Iterator<Item = (&String, &Member)> {
        self.members.iter()
    }

    /// Every node dies at once, in reverse name order, and every disk keeps
    /// only what was flushed: what the checkers then read is what survives.
    pub async fn power_off(&mut self) {
        let names: Vec<String> = self.members.keys().rev().cloned().collect();
        for name in names {
            self.crash(&name).await;
            self.members[&name].storage.crash();
        }
        for (_, old) in &self.retired {
            old.crash();
        }
    }
}
