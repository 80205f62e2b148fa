//! The root supervision tree (DESIGN §5): `storage`, `cluster`, `agents`
//! (agent subtrees, dynamic) and `cloud` (world host and mission planner,
//! where configured) and `control` (the operator door).

use std::sync::Arc;
use std::time::Duration;
use swarmd_cluster::mesh::{MeshLinkerArgs, mesh_linker_child};

use swarmd_actors::NodeCtx;
use swarmd_actors::fleet::{AgentFactory, AgentKinds, LocalDirectory, NodeServices};
use swarmd_actors::router::Router;
use swarmd_config::NodeConfig;
use swarmd_messages::MemberInfo;
use swarmd_storage::ledger::{Hub, LedgerHub};
use swarmd_supervisor::{ActorSlot, EventSender, Strategy, SupervisorMsg, SupervisorSpec};
use swarmd_warehouse::agent::{AgentStats, PeerLinks};
use tokio::sync::{broadcast, watch};

use swarmd_actors::fleet::Admission;
use swarmd_cluster::discovery::{DiscoveredNodes, DiscoveryArgs, DiscoveryStats, discovery_child};
use swarmd_governance::{GovernanceStats, GovernorArgs, Levers, ResourceProbe, governor_child};
use swarmd_messages::advert::{NodeAdvert, NodeProfile};

use super::cluster_tree;
use super::storage_tree::{StorageChildren, consumes_jetstream, storage_spec};
use super::swarm::{self, CloudSlots, ClusterRouter};
use swarmd_adapters::telemetry;
use swarmd_cluster::gateway::{
    ClusterHandle, FenceArgs, GatewayArgs, GatewayMsg, MEMBER_CHANGES, MemberChange, RemoteOwned,
    fence_child,
};
use swarmd_cluster::transport::{self, SESSION_EVENTS, ServerSlot};
use swarmd_config::http::HttpListen;
use swarmd_control::lan::LanArgs;
use swarmd_control::{ControlArgs, HubStats, control_child};
use swarmd_http as http;
use swarmd_storage::ledger::LedgerReader;

/// How often the fence looks for owners out of sight.
const FENCE_INTERVAL: Duration = Duration::from_millis(250);

/// How often the mesh linker links members not linked yet.
const MESH_LINK_INTERVAL: Duration = Duration::from_secs(1);

/// What the subtrees share: slots of actors others talk to, and channels.
#[derive(Clone)]
pub struct Wiring {
    pub cluster: ClusterHandle,
    pub changes: broadcast::Sender<MemberChange>,
    gateway: ActorSlot<GatewayMsg>,
    pub agents: ActorSlot<SupervisorMsg>,
    dialers: ActorSlot<SupervisorMsg>,
    pub server: ServerSlot,
    sessions: transport::SessionEvents,
    pub directory: LocalDirectory,
    /// How swarm actors on this node reach the world and the cloud.
    pub router: Arc<ClusterRouter>,
    pub cloud: CloudSlots,
    /// Agents other nodes' remote supervisors spawned here.
    pub owned: RemoteOwned,
    tls: Option<transport::Tls>,
    /// swarmd's handshake on every cluster stream, and what each proved.
    pub gate: transport::SessionGate,
    /// The root supervisor, once started (the control actor addresses the tree by it).
    pub root: ActorSlot<SupervisorMsg>,
    /// Tick lateness and counts of this node's grid agents, for /metrics.
    pub agent_stats: AgentStats,
    /// Each tenant's peer board on this node (states, hazards, tags).
    pub peers: PeerLinks,
    /// Mission Control's bearer tokens: the data dir's and `http.token_file`'s.
    http_tokens: Arc<http::TokenStore>,
    /// What the OTLP exporter did, for `stats` and /metrics.
    pub export_stats: swarmd_adapters::telemetry::ExportStats,
    /// What the JetStream consumer did, on a cloud on that hub.
    pub ingest_stats: swarmd_adapters::jetstream::IngestStats,
    /// What the governor measures with, the levers it pulls, what it did.
    resources: Arc<dyn ResourceProbe>,
    pub levers: Levers,
    pub governance: GovernanceStats,
    /// This node's advert (profile and capacity), kept current by the governor.
    pub advert: watch::Sender<NodeAdvert>,
    /// Nodes heard on the LAN, with `cluster.discover`.
    pub discovered: DiscoveredNodes,
    pub discovery: DiscoveryStats,
}

impl Wiring {
    /// Fails when the TLS files or the HTTP token file configured cannot be used.
    pub fn new(
        ctx: &NodeCtx,
        config: &NodeConfig,
        cookie: &str,
        resources: Arc<dyn ResourceProbe>,
        cloud_tier: Option<swarmd_adapters::cloud_tier::CloudTier>,
    ) -> Result<Self, super::StartError> {
        let tls = config
            .cluster
            .tls
            .as_ref()
            .map(transport::Tls::load)
            .transpose()?;
        let gateway = ActorSlot::new();
        let (changes, _) = broadcast::channel(MEMBER_CHANGES);
        let cluster = ClusterHandle::new(
            gateway.clone(),
            changes.clone(),
            config.cluster.call_timeout(),
        );
        let directory = LocalDirectory::default();
        let agent_stats = AgentStats::default();
        let server = ServerSlot::new();
        let gate = transport::session_gate(ctx, config, cookie, &server, &Default::default());
        let router = Arc::new(ClusterRouter::new(
            config,
            cluster.clone(),
            directory.clone(),
        ));
        let advert = watch::channel(NodeAdvert::default()).0;
        let ha = cloud_tier.map(|tier| swarm::HaWiring {
            tier,
            leadership: watch::channel(Default::default()).0,
            advert: advert.clone(),
        });
        Ok(Self {
            cluster,
            changes,
            gateway,
            agents: ActorSlot::new(),
            dialers: ActorSlot::new(),
            server,
            gate,
            sessions: broadcast::channel(SESSION_EVENTS).0,
            directory,
            router,
            cloud: CloudSlots {
                ha,
                ..CloudSlots::default()
            },
            owned: RemoteOwned::default(),
            tls,
            root: ActorSlot::new(),
            levers: Levers {
                admission: Admission::new(&config.node.name, config.agents.capabilities.clone()),
                throttle: agent_stats.throttle.clone(),
                shedding: Default::default(),
            },
            agent_stats,
            peers: PeerLinks::default(),
            resources,
            governance: Default::default(),
            advert,
            discovered: Default::default(),
            discovery: Default::default(),
            http_tokens: Arc::new(http::TokenStore::new(
                http::tokens_dir(&config.node.data_dir),
                http::token_of(config.http.token_file.as_deref())?.as_deref(),
            )),
            export_stats: Default::default(),
            ingest_stats: Default::default(),
        })
    }
}

impl Wiring {
    /// Starts this node's agents, for a local or a remote spawn: the
    /// built-in kinds and the embedding program's `extra` ones. Build it
    /// once per node: its agent kinds share one floor cache.
    pub fn factory(
        &self,
        ctx: &NodeCtx,
        config: &NodeConfig,
        events: &EventSender,
        extra: AgentKinds,
    ) -> Result<AgentFactory, super::StartError> {
        let builtin = swarm::agent_kinds(
            config,
            self.router.clone(),
            events,
            self.agent_stats.clone(),
            self.peers.clone(),
        );
        let kinds = builtin.extend(extra).map_err(super::StartError::Kinds)?;
        let kinds = kinds.bind(&NodeServices {
            router: self.router.clone(),
            events: events.clone(),
            throttle: self.agent_stats.throttle.clone(),
        });
        Ok(AgentFactory {
            ctx: ctx.clone(),
            kinds,
            directory: self.directory.clone(),
            agents: self.agents.clone(),
            tenants: config.node.tenants.clone(),
            placed: Default::default(),
            admission: self.levers.admission.clone(),
        })
    }
}

/// Every supervisor of the tree reports to `events`.
pub fn root_spec(
    ctx: &NodeCtx,
    config: &NodeConfig,
    storage_children: StorageChildren,
    events: &EventSender,
    wiring: &Wiring,
    factory: &AgentFactory,
) -> SupervisorSpec {
    let storage = storage_spec(
        ctx,
        config,
        storage_children,
        wiring.levers.shedding.clone(),
        &wiring.cluster,
    )
    .events(events.clone());
    let gateway = gateway_args(ctx, config, events, wiring, factory.clone());
    let discovery = config
        .cluster
        .discover
        .then(|| discovery_args(ctx, config, wiring, &gateway));
    let mut cluster = cluster_tree::cluster_spec(
        ctx,
        config,
        &wiring.gate,
        gateway,
        wiring.gateway.clone(),
        wiring.dialers.clone(),
        wiring.tls.clone(),
    )
    .events(events.clone());
    if let Some(discovery) = discovery {
        cluster = cluster.child(discovery_child(discovery));
    }
    cluster = cluster.child(mesh_linker_child(MeshLinkerArgs {
        mesh: ctx.mesh.clone(),
        cluster: wiring.cluster.clone(),
        interval: MESH_LINK_INTERVAL,
    }));
    if config.node.role.runs_edge() {
        cluster = cluster.child(fence_child(FenceArgs {
            ctx: ctx.clone(),
            cluster: wiring.cluster.clone(),
            factory: factory.clone(),
            owned: wiring.owned.clone(),
            after: config.placement.grace() / 2,
            interval: FENCE_INTERVAL,
        }));
    }
    let agents = SupervisorSpec::new("agents", Strategy::OneForOne)
        .max_children(config.agents.max_agents)
        .events(events.clone());
    let mut root = SupervisorSpec::new("node", Strategy::OneForOne)
        .intensity(3, Duration::from_secs(30))
        .events(events.clone())
        .child(storage.into_child())
        .child(governor_child(governor_args(ctx, config, wiring, factory)));
    // Right after storage: it stops after everything that records, and
    // flushes their last spans.
    if let Some(target) = config.otlp_target() {
        root = root.child(telemetry::telemetry_child(telemetry::TelemetryArgs {
            node: config.node.name.clone(),
            storage: ctx.storage.clone(),
            target,
            config: config.telemetry.clone(),
            stats: wiring.export_stats.clone(),
            shedding: wiring.levers.shedding.clone(),
        }));
    }
    if consumes_jetstream(config) {
        root = root.child(swarmd_adapters::jetstream::ingest_child(
            swarmd_adapters::jetstream::IngestArgs {
                node: config.node.name.clone(),
                section: config.hub.jetstream.clone(),
                storage: ctx.storage.clone(),
                stats: wiring.ingest_stats.clone(),
                alarms: ctx.ledger.clone(),
            },
        ));
    }
    root = root
        .child(cluster.into_child())
        .child(agents.into_child_in(wiring.agents.clone()));
    let router: Arc<dyn Router> = wiring.router.clone();
    if config.hosts_world() {
        // The world's view shows the tenant's stigmergic tags: hear them.
        wiring.peers.for_tenant(ctx, &swarm::swarm_tenant(config));
    }
    if let Some(cloud) = swarm::cloud_spec(
        ctx,
        config,
        router,
        &wiring.directory,
        events,
        &wiring.cloud,
        &wiring.cluster,
        factory.kinds.task_kinds(),
    ) {
        root = root.child(cloud.into_child());
    }
    let control = control_args(ctx, config, wiring, factory);
    root = root.child(control_child(control.clone()));
    if let Some(listen) = config.http_listen() {
        let metrics = http::MetricsSources {
            control,
            agents: wiring.agent_stats.clone(),
        };
        root = root.child(http::http_child(http::HttpArgs {
            node: config.node.name.clone(),
            listen,
            required: config.http.listen != HttpListen::Auto,
            tokens: wiring.http_tokens.clone(),
            metrics,
        }));
    }
    root
}

fn control_args(
    ctx: &NodeCtx,
    config: &NodeConfig,
    wiring: &Wiring,
    factory: &AgentFactory,
) -> ControlArgs {
    ControlArgs {
        ctx: ctx.clone(),
        node: config.node.name.clone(),
        address: config.cluster.advertised(),
        role: config.node.role,
        tenants: config.node.tenants.clone(),
        allow_fault_injection: config.fault_injection_allowed(),
        root: wiring.root.clone(),
        cluster: wiring.cluster.clone(),
        factory: factory.clone(),
        directory: wiring.directory.clone(),
        reader: LedgerReader::new(ctx.storage.clone()),
        server: wiring.server.clone(),
        missions: wiring.cloud.missions.clone(),
        remote: wiring.cloud.remote.clone(),
        placement: config.placement.clone(),
        world: wiring.cloud.world.clone(),
        peers: wiring.peers.clone(),
        started: ctx.clock.wall_now(),
        telemetry: config.otlp_target().map(|_| wiring.export_stats.clone()),
        hub: HubStats {
            backend: config.hub.backend,
            ingest: consumes_jetstream(config).then(|| wiring.ingest_stats.clone()),
        },
        lan: LanArgs {
            resources: config.resources.clone(),
            governance: wiring.governance.clone(),
            levers: wiring.levers.clone(),
            advert: wiring.advert.subscribe(),
            discovery: config
                .cluster
                .discover
                .then(|| (wiring.discovered.clone(), wiring.discovery.clone())),
        },
        proofs: wiring.gate.proofs.clone(),
        leadership: wiring.cloud.ha.as_ref().map(|ha| ha.leadership.subscribe()),
        fence: swarmd_actors::router::Router::fence(wiring.router.as_ref()).clone(),
    }
}

fn gateway_args(
    ctx: &NodeCtx,
    config: &NodeConfig,
    events: &EventSender,
    wiring: &Wiring,
    factory: AgentFactory,
) -> GatewayArgs {
    let c = &config.cluster;
    let me = MemberInfo {
        name: config.node.name.clone(),
        role: config.node.role,
        cluster_addr: c.advertised(),
        incarnation: ctx.entropy.next_u64(),
    };
    let hub: Option<Arc<dyn Hub>> = config
        .node
        .role
        .runs_cloud()
        .then(|| Arc::new(LedgerHub::new(ctx.storage.clone())) as Arc<dyn Hub>);
    let dial = cluster_tree::dial_launcher(
        ctx,
        config,
        &wiring.gate,
        &wiring.sessions,
        wiring.dialers.clone(),
        wiring.gateway.clone(),
        wiring.tls.clone(),
    );
    let stop_dial = cluster_tree::dial_stopper(wiring.dialers.clone());
    GatewayArgs {
        ctx: ctx.clone(),
        me,
        heartbeat_interval: c.heartbeat_interval(),
        suspect_after: c.suspect_after(),
        down_after: c.down_after(),
        sessions: wiring.sessions.clone(),
        server: wiring.server.clone(),
        changes: wiring.changes.clone(),
        factory,
        directory: wiring.directory.clone(),
        supervision: events.clone(),
        hub,
        dial,
        stop_dial,
        peer_certs: wiring.tls.as_ref().map(|t| t.peer_certs.clone()),
        proofs: wiring.gate.proofs.clone(),
        advert: wiring.advert.subscribe(),
        owned: wiring.owned.clone(),
    }
}

fn governor_args(
    ctx: &NodeCtx,
    config: &NodeConfig,
    wiring: &Wiring,
    factory: &AgentFactory,
) -> GovernorArgs {
    let profile = NodeProfile {
        tenants: config.node.tenants.clone(),
        kinds: factory.kinds.names(),
        squads: vec![config.agents.squad.clone()],
        capabilities: config.agents.capabilities.clone(),
    };
    // Adverts sent before the first sample already say what the node hosts.
    wiring.advert.send_modify(|advert| {
        advert.profile = profile.clone();
        advert.capacity.max_agents = u32::try_from(config.agents.max_agents).unwrap_or(u32::MAX);
        advert.capacity.accepting = true;
    });
    GovernorArgs {
        ctx: ctx.clone(),
        resources: config.resources.clone(),
        probe: wiring.resources.clone(),
        levers: wiring.levers.clone(),
        max_agents: config.agents.max_agents,
        placed: factory.placed.clone(),
        profile,
        advert: wiring.advert.clone(),
        stats: wiring.governance.clone(),
    }
}

fn discovery_args(
    ctx: &NodeCtx,
    config: &NodeConfig,
    wiring: &Wiring,
    gateway: &GatewayArgs,
) -> DiscoveryArgs {
    DiscoveryArgs {
        ctx: ctx.clone(),
        section: config.cluster.discovery.clone(),
        listen_ip: config.cluster.listen.0.ip(),
        me: gateway.me.clone(),
        advert: wiring.advert.subscribe(),
        gateway: wiring.gateway.clone(),
        table: wiring.discovered.clone(),
        stats: wiring.discovery.clone(),
    }
}
